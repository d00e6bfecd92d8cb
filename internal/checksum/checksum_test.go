package checksum

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// naive is RFC 1071 as its section 4.1 writes it, 16 bits at a time: the
// reference for the 64-bit version.
func naive(acc uint32, b []byte) uint16 {
	s := acc
	for ; len(b) >= 2; b = b[2:] {
		s += uint32(b[0])<<8 | uint32(b[1])
		s = s&0xffff + s>>16
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

func TestChecksum(t *testing.T) {
	t.Run("RFC 1071's worked example", func(t *testing.T) {
		// Section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
		require.Equal(t, ^uint16(0xddf2), Checksum([]byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}))
	})
	t.Run("all ones carries on every add", func(t *testing.T) {
		for n := range 300 {
			b := bytes.Repeat([]byte{0xff}, n)
			require.Equal(t, ^naive(0, b), Checksum(b), "%d bytes of ff", n)
		}
	})
	const seed = 144
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	t.Run("random data of every length up to 2 KiB agrees with the 16-bit loop", func(t *testing.T) {
		for n := range 2049 {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			require.Equal(t, ^naive(0, b), Checksum(b), "%d bytes: %x", n, b)
		}
	})
	t.Run("a sum carried in agrees with the 16-bit loop", func(t *testing.T) {
		for n := range 300 {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			acc := uint64(rng.Uint32())
			require.Equal(t, naive(uint32(Fold(acc)), b), Fold(Sum(acc, b)), "%d bytes", n)
		}
	})
	t.Run("a datagram summed in pieces equals it summed whole", func(t *testing.T) {
		b := make([]byte, 1500)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		for cut := 0; cut <= len(b); cut += 2 {
			require.Equal(t, Checksum(b), ^Fold(Sum(Sum(0, b[:cut]), b[cut:])), "cut at %d", cut)
		}
	})
}

func TestPseudoHeader(t *testing.T) {
	src, dst := [4]byte{169, 254, 144, 9}, [4]byte{169, 254, 144, 1}
	// The pseudo-header as bytes: addresses, a zero, the protocol, the length.
	b := append(append(src[:], dst[:]...), 0, 6, 0x05, 0xdc)
	want := naive(0, b)
	require.Equal(t, want, Fold(PseudoHeader(6, src[:], dst[:], 1500)))
	require.Equal(t, want, Fold(PseudoHeaderIPv4(6, src, dst, 1500)))
}

func BenchmarkChecksum(b *testing.B) {
	d := make([]byte, 1480)
	for i := range d {
		d[i] = byte(i*7 + 3)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(d)))
	for b.Loop() {
		Checksum(d)
	}
}

// BenchmarkChecksumNaive is the 16-bit loop, to show what reading eight
// bytes at a time buys.
func BenchmarkChecksumNaive(b *testing.B) {
	d := make([]byte, 1480)
	for i := range d {
		d[i] = byte(i*7 + 3)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(d)))
	for b.Loop() {
		naive(0, d)
	}
}
