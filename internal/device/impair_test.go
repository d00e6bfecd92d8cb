package device

import (
	"encoding/binary"
	"math"
	"net"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// numbered is a device that reads as datagrams 0..n-1 (each its number,
// big-endian) and then as closed, and records what is written to it: both
// ends of an impaired link, without goroutines or queues in the way.
type numbered struct {
	n, next uint32
	written []uint32
}

func (d *numbered) Read(p []byte) (int, error) {
	if d.next == d.n {
		return 0, net.ErrClosed
	}
	d.next++
	return copy(p, binary.BigEndian.AppendUint32(nil, d.next-1)), nil
}

func (d *numbered) Write(p []byte) (int, error) {
	d.written = append(d.written, binary.BigEndian.Uint32(p))
	return len(p), nil
}

func (d *numbered) MTU() int     { return 1500 }
func (d *numbered) Name() string { return "numbered" }
func (d *numbered) Close() error { return nil }

// sendNumbered passes datagrams 0..n-1 through imp, on the write side or the
// read side, and returns the numbers in the order they came out with the
// impaired device's Stats.
func sendNumbered(t *testing.T, n int, imp Impairment, onReads bool) ([]uint32, Stats) {
	t.Helper()
	d := &numbered{n: uint32(n)}
	if !onReads {
		w := Impair(d, imp)
		buf := make([]byte, 1500)
		for {
			m, err := d.Read(buf)
			if err != nil {
				break
			}
			_, err = w.Write(buf[:m])
			require.NoError(t, err)
		}
		return d.written, StatsOf(w)
	}
	r := ImpairReads(d, imp)
	var got []uint32
	buf := make([]byte, 1500)
	for {
		m, err := r.Read(buf)
		if err != nil {
			require.ErrorIs(t, err, net.ErrClosed)
			break
		}
		got = append(got, binary.BigEndian.Uint32(buf[:m]))
	}
	return got, StatsOf(r)
}

func TestImpairment(t *testing.T) {
	const n = 20000
	const seed = 144
	bad := Impairment{Loss: 0.10, Reorder: 0.05, Duplicate: 0.05, Seed: seed}
	t.Logf("seed %d, %d datagrams", seed, n)

	for _, side := range []struct {
		name    string
		onReads bool
	}{{"on writes", false}, {"on reads", true}} {
		t.Run("a perfect link changes nothing "+side.name, func(t *testing.T) {
			got, s := sendNumbered(t, 1000, Impairment{Seed: seed}, side.onReads)
			want := make([]uint32, 1000)
			for i := range want {
				want[i] = uint32(i)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("(-sent +received):\n%s", d)
			}
			require.Zero(t, s.Lost+s.Reordered+s.Duplicated)
		})

		t.Run("loss, reordering and duplication happen as often as asked "+side.name, func(t *testing.T) {
			got, s := sendNumbered(t, n, bad, side.onReads)
			t.Logf("stats %+v", s)
			near := func(what string, count uint64, of int, p float64) {
				t.Helper()
				rate := float64(count) / float64(of)
				// Five standard deviations of a binomial: a correct
				// implementation essentially never fails, a wrong
				// probability (or none) always does.
				tol := 5 * math.Sqrt(p*(1-p)/float64(of))
				require.InDelta(t, p, rate, tol, "%s: %d of %d", what, count, of)
			}
			near("lost", s.Lost, n, bad.Loss)
			delivered := n - int(s.Lost)
			near("duplicated", s.Duplicated, delivered-int(s.Reordered), bad.Duplicate)
			// A datagram can't be held while another is: slightly fewer
			// reorderings than Reorder × delivered.
			near("reordered", s.Reordered, delivered, bad.Reorder*(1-bad.Reorder))

			seen := map[uint32]int{}
			overtaken := 0
			for i, v := range got {
				seen[v]++
				if i > 0 && v < got[i-1] && seen[v] == 1 {
					overtaken++
				}
			}
			dups := 0
			for _, c := range seen {
				require.LessOrEqual(t, c, 2, "nothing arrives three times")
				dups += c - 1
			}
			require.Equal(t, int(s.Duplicated), dups, "every duplicate counted arrived twice")
			held := 0
			if len(seen) < delivered {
				held = 1 // the last reordered datagram still waits for a successor
			}
			require.Equal(t, delivered-held, len(seen), "everything not lost arrives")
			require.InDelta(t, int(s.Reordered)-held, overtaken, 0, "each reordered datagram arrives after a later one")
		})

		t.Run("the same seed replays the same fates "+side.name, func(t *testing.T) {
			first, _ := sendNumbered(t, 2000, bad, side.onReads)
			again, _ := sendNumbered(t, 2000, bad, side.onReads)
			if d := cmp.Diff(first, again); d != "" {
				t.Errorf("seed %d gave two different runs:\n%s", seed, d)
			}
			other := bad
			other.Seed = seed + 1
			different, _ := sendNumbered(t, 2000, other, side.onReads)
			require.NotEqual(t, first, different, "seeds %d and %d gave the same run", seed, seed+1)
		})
	}

	t.Run("total loss delivers nothing", func(t *testing.T) {
		got, s := sendNumbered(t, 100, Impairment{Loss: 1, Seed: seed}, false)
		require.Empty(t, got)
		require.Equal(t, uint64(100), s.Lost)
	})
}
