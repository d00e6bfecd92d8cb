package stack

import (
	"testing"

	"github.com/stretchr/testify/require"

	"tcplab/internal/device"
)

// On a device that hands over super-packets whole, the reader's buffers are
// 64 KiB each. A flood of small datagrams must queue as many as a plain
// device would, not as many 64 KiB buffers as the limit's bytes allow.
func TestTheReceiveQueueCopiesSmallDatagramsOutOfBigBuffers(t *testing.T) {
	const mtu, big = 1500, device.Headroom + 65535
	small := device.Headroom + mtu
	tests := []struct {
		name       string
		smallSize  int // 0: a plain device's queue
		bufSize    int
		sizes      []int
		wantQueued int
	}{
		{"plain device: ten MTU buffers' worth", 0, small, repeat(40, 12), 10},
		{"whole: forty ACKs, ten fit as copies", small, big, repeat(40, 40), 10},
		{"whole: a datagram of the MTU is still copied", small, big, repeat(mtu, 12), 10},
		// The limit is ten datagrams of the MTU, about 15 KB: a
		// super-packet keeps its 64 KiB buffer, which does not fit.
		{"whole: a super-packet takes its buffer's bytes", small, big, []int{60000}, 0},
		{"plain device: one datagram, one buffer", 0, small, []int{1400}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := rxQueue{limit: 10 * small, smallSize: tc.smallSize}
			bufs, before := make([][]byte, len(tc.sizes)), make([][]byte, len(tc.sizes))
			for i := range bufs {
				bufs[i] = make([]byte, tc.bufSize)
				bufs[i][device.Headroom] = byte(i)
				before[i] = bufs[i]
			}
			dropped := q.put(bufs, tc.sizes, len(tc.sizes), tc.bufSize)
			require.Equal(t, tc.wantQueued, q.len(), "queued")
			require.Equal(t, len(tc.sizes)-tc.wantQueued, dropped, "dropped")
			got, _ := q.take(nil, len(tc.sizes))
			for i, b := range got {
				require.Equal(t, device.Headroom+tc.sizes[i], len(b), "datagram %d keeps its length", i)
				require.Equal(t, byte(i), b[device.Headroom], "datagram %d keeps its bytes", i)
				if tc.smallSize > 0 && len(b) <= tc.smallSize {
					require.Equal(t, tc.smallSize, cap(b), "a small datagram is in a small buffer")
					require.Same(t, &before[i][0], &bufs[i][0], "the reader keeps its big buffer")
				}
			}
			require.Zero(t, q.queued, "taking them frees their bytes")
			q.recycle(got)
			// The steady state: buffers go round, nothing is allocated.
			allocs := testing.AllocsPerRun(100, func() {
				q.put(bufs, tc.sizes, len(tc.sizes), tc.bufSize)
				got, _ = q.take(got[:0], len(tc.sizes))
				q.recycle(got)
			})
			require.Zero(t, allocs, "allocations per round")
		})
	}
}

func repeat(size, n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = size
	}
	return s
}
