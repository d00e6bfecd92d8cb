package device

import (
	"encoding/binary"
	"math/bits"
)

// The device finishes and makes transport checksums when it splits and
// joins TCP segments. Package wire has the stack's own (faster) RFC 1071
// code, but the device sits below wire in the data flow and does not
// import it; this is the plain version of the same sum.

// checksumAdd adds b, read as big-endian 16-bit words starting at an even
// offset, to the unfolded ones'-complement sum acc. Eight bytes are added
// at a time with an end-around carry: a word's place in a wider sum does
// not change the folded result (RFC 1071 §2).
func checksumAdd(acc uint64, b []byte) uint64 {
	// Two accumulators with their own carry chains let the additions of a
	// 32-byte block run side by side.
	var s, c, s2, c2 uint64
	for len(b) >= 32 {
		s, c = bits.Add64(s, binary.BigEndian.Uint64(b), c)
		s2, c2 = bits.Add64(s2, binary.BigEndian.Uint64(b[8:]), c2)
		s, c = bits.Add64(s, binary.BigEndian.Uint64(b[16:]), c)
		s2, c2 = bits.Add64(s2, binary.BigEndian.Uint64(b[24:]), c2)
		b = b[32:]
	}
	s, c = bits.Add64(s, s2, c)
	s, c3 := bits.Add64(s, c2, 0)
	c += c3 // at most 2
	for len(b) >= 8 {
		s, c3 = bits.Add64(s, binary.BigEndian.Uint64(b), 0)
		c += c3
		b = b[8:]
	}
	s, c = bits.Add64(s, c, 0) // c was small; the new c is at most 1
	var tail uint64
	for len(b) >= 2 {
		tail += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		tail += uint64(b[0]) << 8
	}
	s, c = bits.Add64(s, tail, c)
	s += c // s is small when c is 1
	// Fold s to 32 bits before adding it to acc so acc cannot overflow.
	return acc + (s >> 32) + (s & 0xffffffff)
}

// checksumFold folds an unfolded ones'-complement sum to 16 bits.
func checksumFold(acc uint64) uint16 {
	for acc > 0xffff {
		acc = (acc >> 16) + (acc & 0xffff)
	}
	return uint16(acc)
}

// pseudoHeaderSum is the unfolded sum of the TCP/UDP pseudo-header (RFC
// 9293 §3.1, RFC 8200 §8.1): both addresses (4 or 16 bytes each), the
// protocol and the transport length.
func pseudoHeaderSum(proto uint8, src, dst []byte, length int) uint64 {
	acc := checksumAdd(0, src)
	acc = checksumAdd(acc, dst)
	return acc + uint64(proto) + uint64(length)
}
