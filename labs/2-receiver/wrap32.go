package receiver

// Wrap32 is a 32-bit TCP sequence number. It wraps around: after 2^32 - 1
// comes 0. A connection starts counting at a random initial sequence number
// (the ISN, or zero point), so a Wrap32 means nothing without it.
//
// Inside the stack positions are absolute sequence numbers: uint64s that
// start at 0 for the SYN and never wrap. Wrap and Unwrap convert between the
// two.
type Wrap32 uint32

// Wrap returns the sequence number of absolute sequence number n for a
// connection whose zero point is zeroPoint.
func Wrap(n uint64, zeroPoint Wrap32) Wrap32 {
	//lab:solution begin
	return zeroPoint + Wrap32(uint32(n))
	//lab:solution end
}

// Unwrap returns the absolute sequence number that wraps to w and is closest
// to checkpoint. Many absolute numbers wrap to w (they are 2^32 apart); the
// checkpoint, a recent absolute sequence number, picks the right one. The
// answer is never negative: near the start of a stream the closest candidate
// at or above zero wins.
func (w Wrap32) Unwrap(zeroPoint Wrap32, checkpoint uint64) uint64 {
	//lab:solution begin
	// The signed 32-bit distance from the checkpoint's own wrapped value to
	// w is how far the answer lies from the checkpoint (ties go below).
	delta := int32(uint32(w) - uint32(Wrap(checkpoint, zeroPoint)))
	if delta < 0 && uint64(-int64(delta)) > checkpoint {
		// Below zero: the next candidate up is the closest legal one.
		return checkpoint + uint64(int64(delta)) + 1<<32
	}
	return checkpoint + uint64(int64(delta))
	//lab:solution end
}

// Less reports whether w comes before v, treating the 32-bit space as a
// circle (correct while the two are less than 2^31 apart).
func (w Wrap32) Less(v Wrap32) bool { return int32(w-v) < 0 }
