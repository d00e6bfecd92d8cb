package wire

import (
	"encoding/binary"
	"math/bits"
)

// sum adds b, read as big-endian 16-bit words, to the ones'-complement sum
// acc (RFC 1071) and returns the new sum, still unfolded in 64 bits.
//
// Ones'-complement addition does not care where a 16-bit word sits, only
// that it is 16-bit aligned (2^16 ≡ 1 mod 2^16-1), so the bytes can be taken
// eight at a time as one uint64 with an end-around carry. That is four
// times fewer additions than the textbook loop. b must start at an even
// offset of the checksummed data; an odd final byte is padded with zero.
func sum(acc uint64, b []byte) uint64 {
	var carry uint64
	for len(b) >= 32 {
		acc, carry = bits.Add64(acc, binary.BigEndian.Uint64(b), carry)
		acc, carry = bits.Add64(acc, binary.BigEndian.Uint64(b[8:]), carry)
		acc, carry = bits.Add64(acc, binary.BigEndian.Uint64(b[16:]), carry)
		acc, carry = bits.Add64(acc, binary.BigEndian.Uint64(b[24:]), carry)
		b = b[32:]
	}
	for len(b) >= 8 {
		acc, carry = bits.Add64(acc, binary.BigEndian.Uint64(b), carry)
		b = b[8:]
	}
	if len(b) >= 4 {
		acc, carry = bits.Add64(acc, uint64(binary.BigEndian.Uint32(b)), carry)
		b = b[4:]
	}
	if len(b) >= 2 {
		acc, carry = bits.Add64(acc, uint64(binary.BigEndian.Uint16(b)), carry)
		b = b[2:]
	}
	if len(b) == 1 {
		acc, carry = bits.Add64(acc, uint64(b[0])<<8, carry)
	}
	// The end-around carry: adding it back can carry again only when acc
	// wrapped to zero, and then the second add cannot.
	acc, carry = bits.Add64(acc, carry, 0)
	return acc + carry
}

// fold reduces a 64-bit ones'-complement sum to 16 bits.
func fold(acc uint64) uint16 {
	acc = (acc >> 32) + (acc & 0xffffffff) // at most 33 bits
	acc = (acc >> 32) + (acc & 0xffffffff) // at most 32 bits
	acc = (acc >> 16) + (acc & 0xffff)     // at most 17 bits
	acc = (acc >> 16) + (acc & 0xffff)     // 16 bits
	return uint16(acc)
}

// pseudoHeaderSum is the sum of the TCP pseudo-header (RFC 9293 §3.1):
// source and destination address, protocol 6 and the TCP length. 32-bit
// values may be added whole for the same reason sum reads 64 bits at once.
func pseudoHeaderSum(src, dst [4]byte, tcpLen int) uint64 {
	return uint64(binary.BigEndian.Uint32(src[:])) +
		uint64(binary.BigEndian.Uint32(dst[:])) +
		protoTCP + uint64(tcpLen)
}

// Checksum returns the RFC 1071 Internet checksum of b: the ones'
// complement of the ones'-complement sum of its 16-bit words. Data whose
// checksum field holds the right value checksums to zero.
func Checksum(b []byte) uint16 { return ^fold(sum(0, b)) }
