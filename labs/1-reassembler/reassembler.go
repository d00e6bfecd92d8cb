// Package reassembler is lab 1: it puts substrings of a byte stream, which
// may arrive out of order, overlapping or more than once, back in order and
// writes them into a bytestream.ByteStream.
//
// Each substring is named by the index of its first byte in the whole
// stream. Bytes are written as soon as every byte before them has been;
// bytes that cannot be written yet are kept, but only those that would fit in
// the output stream's free capacity: anything further is dropped, and the
// sender will send it again. So memory never exceeds the stream's capacity.
package reassembler

import "tcplab/labs/0-bytestream"

// Reassembler turns indexed substrings into an in-order byte stream.
type Reassembler struct {
	output *bytestream.ByteStream
	//lab:solution begin
	// pending holds bytes that arrived before the bytes ahead of them, in a
	// ring: stream byte i is kept at pending[i % len(pending)]. Every held
	// byte lies in [next, end of the last held range), and the ring is kept
	// at least that long, so no two of them share a slot. It starts empty
	// and grows (at least doubling, at most to the output's capacity) when
	// a substring lands past its reach, so memory follows how far ahead
	// bytes arrive, not the capacity: a connection allowed megabytes that
	// loses one segment holds about what is in flight behind the hole. It
	// keeps its size while the stream runs, so that filling holes over and
	// over allocates nothing, and is dropped once the stream has ended.
	pending []byte
	// held lists the stored ranges of stream indexes, sorted, disjoint and
	// not touching (touching ranges are merged).
	held []span
	// heldBytes is the total length of held, so BytesPending is O(1).
	heldBytes uint64
	// end is the index one past the stream's last byte, once known.
	end    uint64
	hasEnd bool
	//lab:solution end
}

//lab:solution begin

// span is the half-open range of stream indexes [start, end).
type span struct{ start, end uint64 }

// minPending is the smallest ring the reassembler takes, so that a few
// early bytes do not make it grow through every tiny size.
const minPending = 64

//lab:solution end

// New returns a reassembler that writes into output.
func New(output *bytestream.ByteStream) *Reassembler {
	return &Reassembler{output: output}
}

// Insert stores data, the substring of the stream that starts at firstIndex,
// and writes every byte that is now in order. isLastSubstring says that data
// ends the stream: once every byte before its end has been written, the
// output is closed.
func (r *Reassembler) Insert(firstIndex uint64, data []byte, isLastSubstring bool) {
	//lab:solution begin
	w := r.output.Writer()
	if isLastSubstring {
		// The end is where the substring ends, even if capacity cuts it.
		r.end, r.hasEnd = firstIndex+uint64(len(data)), true
		r.forgetFrom(r.end)
	}
	next := w.BytesPushed()
	limit := next + w.AvailableCapacity() // first index we cannot hold
	if r.hasEnd {
		// Bytes past the end are not part of the stream; writing them
		// would also keep the stream from ever reaching its end.
		limit = min(limit, r.end)
	}

	// Trim data to the window [next, limit).
	start, stop := firstIndex, firstIndex+uint64(len(data))
	start, stop = max(start, next), min(stop, limit)
	if start < stop {
		data = data[start-firstIndex : stop-firstIndex]
		if start == next {
			// In order: straight into the stream, one copy.
			w.Push(data)
			if len(r.held) > 0 {
				r.drain()
			}
		} else {
			r.store(start, data)
		}
	}
	if r.hasEnd && w.BytesPushed() == r.end {
		w.Close()
		// Nothing can be held past the end, and nothing more will come.
		r.pending = nil
	}
	//lab:solution end
}

//lab:solution begin

// store keeps data, which starts at index start and lies wholly inside the
// window, and merges its range into held.
func (r *Reassembler) store(start uint64, data []byte) {
	s := span{start, start + uint64(len(data))}
	reach := s.end
	if len(r.held) > 0 {
		reach = max(reach, r.held[len(r.held)-1].end)
	}
	if need := reach - r.output.Writer().BytesPushed(); need > uint64(len(r.pending)) {
		r.grow(need)
	}
	put(r.pending, start, data)

	// Find the held ranges that overlap or touch s and replace them by
	// their union with s.
	i := 0
	for i < len(r.held) && r.held[i].end < s.start {
		i++
	}
	j := i
	for j < len(r.held) && r.held[j].start <= s.end {
		s.start = min(s.start, r.held[j].start)
		s.end = max(s.end, r.held[j].end)
		r.heldBytes -= r.held[j].end - r.held[j].start
		j++
	}
	r.heldBytes += s.end - s.start
	if i == j {
		r.held = append(r.held, span{})
		copy(r.held[i+1:], r.held[i:])
		r.held[i] = s
		return
	}
	r.held[i] = s
	r.held = append(r.held[:i+1], r.held[j:]...)
}

// grow replaces the ring by one at least need bytes long and moves the held
// bytes into it. Where a byte lives depends on the ring's length, so each
// held range is copied to its new place, not the ring as a whole. Because
// the ring at least doubles, all the growing over a stream's life copies
// fewer bytes than its last ring holds.
func (r *Reassembler) grow(need uint64) {
	size := min(max(need, 2*uint64(len(r.pending)), minPending), r.output.Capacity())
	pending := make([]byte, size)
	for _, h := range r.held {
		for i := h.start; i < h.end; {
			chunk := r.heldChunk(i, h.end)
			put(pending, i, chunk)
			i += uint64(len(chunk))
		}
	}
	r.pending = pending
}

// heldChunk returns the held bytes from index i up to end, or those of them
// that lie before the end of the ring: the rest wrapped to its start.
func (r *Reassembler) heldChunk(i, end uint64) []byte {
	size := uint64(len(r.pending))
	at := i % size
	return r.pending[at:min(size, at+(end-i))]
}

// put copies data into ring as the bytes from stream index i on, wrapping
// past the ring's end to its start.
func put(ring []byte, i uint64, data []byte) {
	at := i % uint64(len(ring))
	n := copy(ring[at:], data)
	copy(ring, data[n:])
}

// forgetFrom drops held bytes at index end and beyond: they arrived before
// the end of the stream was known.
func (r *Reassembler) forgetFrom(end uint64) {
	for len(r.held) > 0 {
		h := &r.held[len(r.held)-1]
		if h.end <= end {
			return
		}
		if h.start < end {
			r.heldBytes -= h.end - end
			h.end = end
			return
		}
		r.heldBytes -= h.end - h.start
		r.held = r.held[:len(r.held)-1]
	}
}

// drain writes every held byte that is now in order and forgets every held
// byte that has already been written.
func (r *Reassembler) drain() {
	w := r.output.Writer()
	next := w.BytesPushed()
	done := 0
	for _, h := range r.held {
		if h.start > next {
			break
		}
		done++
		r.heldBytes -= h.end - h.start
		for i := next; i < h.end; {
			chunk := r.heldChunk(i, h.end)
			w.Push(chunk)
			i += uint64(len(chunk))
		}
		next = w.BytesPushed()
	}
	// Shift down rather than reslice, so the slice keeps its capacity.
	r.held = append(r.held[:0], r.held[done:]...)
}

//lab:solution end

// BytesPending is how many bytes are stored but not yet written. A byte
// stored twice counts once.
func (r *Reassembler) BytesPending() uint64 {
	//lab:solution begin
	return r.heldBytes
	//lab:solution end
}

// Reader returns the reading end of the output stream.
func (r *Reassembler) Reader() *bytestream.Reader { return r.output.Reader() }

// Writer returns the writing end of the output stream.
func (r *Reassembler) Writer() *bytestream.Writer { return r.output.Writer() }
