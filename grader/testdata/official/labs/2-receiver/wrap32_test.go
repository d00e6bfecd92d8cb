package receiver

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

const (
	two31 = uint64(1) << 31
	two32 = uint64(1) << 32
)

func TestWrap32Less(t *testing.T) {
	tests := []struct {
		name string
		w, v Wrap32
		want bool
	}{
		{"1 comes before 3", 1, 3, true},
		{"3 does not come before 1", 3, 1, false},
		{"a seqno does not come before itself", 6969, 6969, false},
		{"2^32-1 comes before 0: the circle wraps", math.MaxUint32, 0, true},
		{"0 does not come before 2^32-1", 0, math.MaxUint32, false},
		{"2^32-10 comes before 5", math.MaxUint32 - 9, 5, true},
		{"5 does not come before 2^32-10", 5, math.MaxUint32 - 9, false},
		{"2^31-1 ahead is still ahead", 0, 1<<31 - 1, true},
		{"2^31-1 behind is still behind", 1<<31 - 1, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.w.Less(tt.v), "Wrap32(%d).Less(%d)", tt.w, tt.v)
		})
	}

	const seed = 144
	t.Run(fmt.Sprintf("random pairs less than 2^31 apart (seed %d)", seed), func(t *testing.T) {
		t.Logf("seed %d", seed)
		rng := rand.New(rand.NewPCG(seed, seed))
		for range 10000 {
			w := Wrap32(rng.Uint32())
			d := Wrap32(1 + rng.Uint32N(1<<31-1)) // 1 .. 2^31-1
			if !w.Less(w+d) || (w + d).Less(w) {
				t.Fatalf("%d and %d (%d apart): Less(ahead)=%v, ahead.Less(w)=%v; want true, false",
					w, w+d, d, w.Less(w+d), (w + d).Less(w))
			}
		}
	})
}

func TestWrap(t *testing.T) {
	tests := []struct {
		name string
		n    uint64
		zero Wrap32
		want Wrap32
	}{
		{"absolute 0 is the zero point 0", 0, 0, 0},
		{"absolute 0 is the zero point, whatever it is", 0, 6969, 6969},
		{"absolute 1 is one past the zero point", 1, 6969, 6970},
		{"2^32 wraps once, back to the zero point", two32, 6969, 6969},
		{"3·2^32 with zero point 0 is 0", 3 * two32, 0, 0},
		{"3·2^32+17 with zero point 15 is 32", 3*two32 + 17, 15, 32},
		{"7·2^32-2 with zero point 15 is 13", 7*two32 - 2, 15, 13},
		{"zero point 2^32-1: absolute 1 wraps to 0", 1, math.MaxUint32, 0},
		{"zero point 2^32-1: absolute 5 wraps to 4", 5, math.MaxUint32, 4},
		{"zero point 2^32-2: absolute 2^32+1 is 2^32-1", two32 + 1, math.MaxUint32 - 1, math.MaxUint32},
		{"zero point 2^31: absolute 2^31 wraps to 0", two31, 1 << 31, 0},
		{"2^63 with zero point 1 is 1", 1 << 63, 1, 1},
		{"2^64-1 with zero point 0 is 2^32-1", math.MaxUint64, 0, math.MaxUint32},
		{"2^64-1 with zero point 1 is 0", math.MaxUint64, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, Wrap(tt.n, tt.zero)); d != "" {
				t.Fatalf("Wrap(%d, %d) (-want +got):\n%s", tt.n, tt.zero, d)
			}
		})
	}
}

func TestUnwrap(t *testing.T) {
	tests := []struct {
		name       string
		w, zero    Wrap32
		checkpoint uint64
		want       uint64
	}{
		// Near the start: the checkpoint is 0 or small, and the candidate
		// below zero is not allowed.
		{"checkpoint 0: the zero point is absolute 0", 16, 16, 0, 0},
		{"checkpoint 0: the zero point 0 is absolute 0", 0, 0, 0, 0},
		{"checkpoint 0: the first byte after the ISN is 1", 1, 0, 0, 1},
		{"checkpoint 0: one seqno before the ISN is 2^32-1, not -1", 15, 16, 0, two32 - 1},
		{"checkpoint 0: 2^32-1 with zero point 0 is 2^32-1", math.MaxUint32, 0, 0, two32 - 1},
		{"checkpoint 0: 0 with zero point 2^31-1 is 2^31+1", 0, math.MaxInt32, 0, two31 + 1},
		{"checkpoint 0: exactly 2^31 ahead is 2^31 (the other candidate is negative)", math.MaxUint32, math.MaxInt32, 0, two31},
		{"checkpoint 0: just under 2^31 ahead is 2^31-1", math.MaxUint32, 1 << 31, 0, two31 - 1},
		{"checkpoint 5: three seqnos before the ISN is 2^32-3, not below zero", 6966, 6969, 5, two32 - 3},
		{"checkpoint 2^31-1: the ISN itself is 0", 6969, 6969, two31 - 1, 0},
		{"checkpoint 2^31: one before the ISN is 2^32-1 (the other candidate is -1)", 6968, 6969, two31, two32 - 1},

		// Around 2^32.
		{"checkpoint 2^32-1: the first byte after the first wrap is 2^32+1", 1, 0, two32 - 1, two32 + 1},
		{"checkpoint 2^32: one before the ISN is 2^32-1", 6968, 6969, two32, two32 - 1},
		{"checkpoint 2^32+5: 2^32-3 lies behind, across the wrap", 6969 - 3, 6969, two32 + 5, two32 - 3},
		{"checkpoint 2^32-5: 2^32+3 lies ahead, across the wrap", 6969 + 3, 6969, two32 - 5, two32 + 3},
		{"Wrap32(3e9) with zero point 3e9 and checkpoint 3e9 is 2^32, the near candidate", 3e9, 3e9, 3e9, two32},
		{"the last seqno before the third wrap, checkpoint 3·2^32", math.MaxUint32 - 1, 0, 3 * two32, 3*two32 - 2},
		{"the 10th from last seqno before the third wrap, checkpoint 3·2^32", math.MaxUint32 - 10, 0, 3 * two32, 3*two32 - 11},
		{"zero point 10: 2^32-1 near checkpoint 3·2^32 is 3·2^32-11", math.MaxUint32, 10, 3 * two32, 3*two32 - 11},

		// Huge checkpoints: the answer stays near them.
		{"checkpoint 2^40: the zero point is 2^40", 6969, 6969, 1 << 40, 1 << 40},
		{"checkpoint 2^63: the zero point is 2^63", 6969, 6969, 1 << 63, 1 << 63},
		{"checkpoint 2^63: one before the zero point is 2^63-1", 6968, 6969, 1 << 63, 1<<63 - 1},
		{"checkpoint 2^63+2^31-1: the zero point is 2^63", 6969, 6969, 1<<63 + two31 - 1, 1 << 63},
		{"checkpoint 2^63+2^31+1: the zero point is 2^63+2^32", 6969, 6969, 1<<63 + two31 + 1, 1<<63 + two32},
		{"checkpoint 2^64-2^32: the zero point is 2^64-2^32", 0, 0, math.MaxUint64 - two32 + 1, math.MaxUint64 - two32 + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.w.Unwrap(tt.zero, tt.checkpoint)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Fatalf("Wrap32(%d).Unwrap(%d, %d) (-want +got):\n%s", tt.w, tt.zero, tt.checkpoint, d)
			}
		})
	}
}

// A checkpoint exactly 2^31 from two candidates sits in the middle: either
// answer is the closest, and nothing else is.
func TestUnwrapTie(t *testing.T) {
	tests := []struct {
		name       string
		w, zero    Wrap32
		checkpoint uint64
		lo, hi     uint64
	}{
		{"checkpoint 2^31 between 0 and 2^32", 0, 0, two31, 0, two32},
		{"checkpoint 3·2^31 between 2^32 and 2^33", 6969, 6969, 3 * two31, two32, 2 * two32},
		{"checkpoint 2^31+7 between 7 and 2^32+7", 7, 0, two31 + 7, 7, two32 + 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.w.Unwrap(tt.zero, tt.checkpoint)
			require.Contains(t, []uint64{tt.lo, tt.hi}, got,
				"Wrap32(%d).Unwrap(%d, %d) is %d apart from both; want one of them", tt.w, tt.zero, tt.checkpoint, two31)
		})
	}
}

// TestWrapUnwrapRoundTrip is the randomized check: an absolute seqno less
// than 2^31 from the checkpoint comes back unchanged.
func TestWrapUnwrapRoundTrip(t *testing.T) {
	const seed = 6969
	t.Run(fmt.Sprintf("random seqnos within 2^31-1 of the checkpoint (seed %d)", seed), func(t *testing.T) {
		t.Logf("seed %d", seed)
		rng := rand.New(rand.NewPCG(seed, seed))
		for range 100000 {
			zero := Wrap32(rng.Uint32())
			checkpoint := rng.Uint64() >> 1
			if rng.IntN(4) == 0 {
				// A quarter near the start, where going below zero is the trap.
				checkpoint = rng.Uint64N(two32)
			}
			offset := rng.Uint64N(two31 - 1)
			for _, n := range []uint64{
				checkpoint, checkpoint + 1, checkpoint - 1,
				checkpoint + offset, checkpoint - offset,
				checkpoint + two31 - 1, checkpoint - (two31 - 1),
			} {
				if n > checkpoint+two31 { // below zero, wrapped around
					continue
				}
				if got := Wrap(n, zero).Unwrap(zero, checkpoint); got != n {
					t.Fatalf("Wrap(%d, %d) = %d, which unwraps with checkpoint %d to %d; want %d",
						n, zero, Wrap(n, zero), checkpoint, got, n)
				}
			}
		}
	})
}

// closest lists the absolute seqnos >= 0 that wrap to w and are closest to
// checkpoint (two of them on a tie), worked out the slow way. It assumes
// checkpoint+2^32 does not overflow.
func closest(w, zero Wrap32, checkpoint uint64) []uint64 {
	base := checkpoint&^(two32-1) + uint64(uint32(w-zero))
	candidates := []uint64{base, base + two32}
	if base >= two32 {
		candidates = append(candidates, base-two32)
	}
	dist := func(n uint64) uint64 { return max(n, checkpoint) - min(n, checkpoint) }
	best := uint64(math.MaxUint64)
	var out []uint64
	for _, c := range candidates {
		switch d := dist(c); {
		case d < best:
			best, out = d, []uint64{c}
		case d == best:
			out = append(out, c)
		}
	}
	return out
}

// FuzzWrapRoundTrip checks Unwrap against the slow oracle for any seqno,
// zero point and checkpoint, and the round trip for a checkpoint near the
// absolute seqno (near is the low 32 bits of drift, read as a signed offset).
func FuzzWrapRoundTrip(f *testing.F) {
	f.Add(uint64(0), uint32(0), uint64(0), uint32(0))
	f.Add(uint64(two32), uint32(3e9), uint64(3e9), uint32(1<<31-1))
	f.Add(uint64(3), uint32(6969), uint64(0), uint32(1<<31))
	f.Add(uint64(1<<63), uint32(math.MaxUint32), uint64(1<<63+two31), uint32(math.MaxUint32))
	f.Add(uint64(two31), uint32(math.MaxInt32), uint64(two31), uint32(12345))
	f.Fuzz(func(t *testing.T, n uint64, zero uint32, checkpoint uint64, drift uint32) {
		z := Wrap32(zero)
		w := Wrap(n, z)
		if checkpoint <= math.MaxUint64-two32 {
			// Past that the closest candidate may not fit in 64 bits; no
			// stream gets there.
			got := w.Unwrap(z, checkpoint)
			if back := Wrap(got, z); back != w {
				t.Fatalf("Wrap32(%d).Unwrap(%d, %d) = %d, which wraps to %d, not back to %d", w, z, checkpoint, got, back, w)
			}
			if want := closest(w, z, checkpoint); !slices.Contains(want, got) {
				t.Fatalf("Wrap32(%d).Unwrap(%d, %d) = %d; the closest candidate >= 0 is %v", w, z, checkpoint, got, want)
			}
		}
		near := int64(int32(drift))
		if near == math.MinInt32 {
			return // exactly 2^31 away: a tie, not a round trip
		}
		cp := n + uint64(near)
		if (near < 0 && cp > n) || (near > 0 && cp < n) {
			return // the checkpoint would be below 0 or past 2^64-1
		}
		if got := w.Unwrap(z, cp); got != n {
			t.Fatalf("Wrap(%d, %d) = %d, which unwraps with checkpoint %d (n%+d) to %d; want %d", n, z, w, cp, near, got, n)
		}
	})
}
