// Package checksum is the Internet checksum (RFC 1071) that IPv4, TCP and
// UDP carry, in the one place both packages that need it import: wire,
// which checks and makes the stack's datagrams, and device, which
// finishes, splits and joins them below the stack (and may import
// nothing of the stack's or the labs').
//
// Sums are kept unfolded in a uint64 while they are built, so a datagram
// can be summed in pieces (pseudo-header, header, payload) and folded
// once.
package checksum

import (
	"encoding/binary"
	"math/bits"
)

// Sum adds b, read as big-endian 16-bit words, to the ones'-complement sum
// acc and returns the new sum, still unfolded. b must start at an even
// offset of the checksummed data; an odd final byte is padded with zero.
//
// Three properties of the ones'-complement sum (RFC 1071 §2) make this
// fast. A 16-bit word's place does not matter, only its alignment
// (2^16 ≡ 1 mod 2^16-1), so eight bytes can be added at once as a uint64
// with an end-around carry. Byte order does not matter either, so the
// words are loaded little-endian (the order of amd64 and arm64) and the
// folded result swapped once. And the sum is associative, so two
// accumulators with their own carry chains run side by side.
func Sum(acc uint64, b []byte) uint64 {
	var a0, a1, c0, c1 uint64
	for len(b) >= 32 {
		a0, c0 = bits.Add64(a0, binary.LittleEndian.Uint64(b), c0)
		a1, c1 = bits.Add64(a1, binary.LittleEndian.Uint64(b[8:]), c1)
		a0, c0 = bits.Add64(a0, binary.LittleEndian.Uint64(b[16:]), c0)
		a1, c1 = bits.Add64(a1, binary.LittleEndian.Uint64(b[24:]), c1)
		b = b[32:]
	}
	for len(b) >= 8 {
		a0, c0 = bits.Add64(a0, binary.LittleEndian.Uint64(b), c0)
		b = b[8:]
	}
	var tail uint64 // at most 7 bytes: no carries
	if len(b) >= 4 {
		tail += uint64(binary.LittleEndian.Uint32(b))
		b = b[4:]
	}
	if len(b) >= 2 {
		tail += uint64(binary.LittleEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		tail += uint64(b[0]) // the low byte of a little-endian word
	}
	x, k1 := bits.Add64(a0, a1, 0)
	x, k2 := bits.Add64(x, tail, 0)
	// The carries, at most 4, go back in (end-around); if that carries
	// again, x is now at most 3, so the last one cannot.
	x, k3 := bits.Add64(x, c0+c1+k1+k2, 0)
	le := Fold(x + k3)
	acc, k := bits.Add64(acc, uint64(bits.ReverseBytes16(le)), 0)
	return acc + k // acc is small if k is 1
}

// Fold reduces a 64-bit ones'-complement sum to 16 bits.
func Fold(acc uint64) uint16 {
	acc = (acc >> 32) + (acc & 0xffffffff) // at most 33 bits
	acc = (acc >> 32) + (acc & 0xffffffff) // at most 32 bits
	acc = (acc >> 16) + (acc & 0xffff)     // at most 17 bits
	acc = (acc >> 16) + (acc & 0xffff)     // 16 bits
	return uint16(acc)
}

// PseudoHeader is the sum of a TCP or UDP pseudo-header (RFC 9293 §3.1,
// RFC 8200 §8.1): both addresses (4 bytes each for IPv4, 16 for IPv6),
// the protocol and the transport length.
func PseudoHeader(proto uint8, src, dst []byte, length int) uint64 {
	return Sum(Sum(0, src), dst) + uint64(proto) + uint64(length)
}

// PseudoHeaderIPv4 is PseudoHeader for IPv4, on the hot path of every
// segment: 32-bit values may be added whole for the same reason Sum reads
// 64 bits at once.
func PseudoHeaderIPv4(proto uint8, src, dst [4]byte, length int) uint64 {
	return uint64(binary.BigEndian.Uint32(src[:])) +
		uint64(binary.BigEndian.Uint32(dst[:])) +
		uint64(proto) + uint64(length)
}

// Checksum returns the RFC 1071 Internet checksum of b: the ones'
// complement of the ones'-complement sum of its 16-bit words. Data whose
// checksum field holds the right value checksums to zero.
func Checksum(b []byte) uint16 { return ^Fold(Sum(0, b)) }
