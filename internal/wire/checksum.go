package wire

import "tcplab/internal/checksum"

// The Internet checksum itself lives in package checksum, shared with the
// device; these short names keep the encoder and the parser readable, and
// inline to nothing.

func sum(acc uint64, b []byte) uint64 { return checksum.Sum(acc, b) }

func fold(acc uint64) uint16 { return checksum.Fold(acc) }

// pseudoHeaderSum is the sum of the TCP pseudo-header (RFC 9293 §3.1).
func pseudoHeaderSum(src, dst [4]byte, tcpLen int) uint64 {
	return checksum.PseudoHeaderIPv4(protoTCP, src, dst, tcpLen)
}

// Checksum returns the RFC 1071 Internet checksum of b: the ones'
// complement of the ones'-complement sum of its 16-bit words. Data whose
// checksum field holds the right value checksums to zero.
func Checksum(b []byte) uint16 { return checksum.Checksum(b) }
