package stack

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// noDeadline is a read deadline that never passes.
var noDeadline = make(chan struct{})

// TestReadBufferMatchesAByteQueue puts and reads bytes in random sizes
// (smaller and larger than a chunk) and checks every Read against a plain
// queue of bytes.
func TestReadBufferMatchesAByteQueue(t *testing.T) {
	for seed := range uint64(8) {
		rng := rand.New(rand.NewPCG(seed, 1))
		r := newReadBuffer()
		var model bytes.Buffer
		next := byte(0)
		for range 200 {
			if rng.IntN(2) == 0 {
				p := make([]byte, rng.IntN(3*readChunkSize))
				for i := range p {
					p[i] = next
					next++
				}
				r.put(p)
				model.Write(p)
			} else if model.Len() > 0 {
				p := make([]byte, 1+rng.IntN(2*readChunkSize))
				n, nudge, err := r.read(p, noDeadline)
				require.NoError(t, err)
				require.False(t, nudge, "nobody asked to hear of reads")
				want := model.Next(len(p))
				require.Equal(t, len(want), n, "a Read takes as much as it can")
				require.Equal(t, want, p[:n], "seed %d: bytes come out in order", seed)
			}
			require.Equal(t, uint64(model.Len()), r.unread())
		}
		for model.Len() > 0 {
			p := make([]byte, readChunkSize)
			n, _, err := r.read(p, noDeadline)
			require.NoError(t, err)
			require.Equal(t, model.Next(n), p[:n])
		}
		require.Empty(t, r.chunks, "a drained buffer keeps no chunk")
	}
}

func TestReadBufferEnds(t *testing.T) {
	reset := errors.New("reset")
	cases := []struct {
		name string
		end  func(r *readBuffer)
		want []byte // what Reads return before the error
		err  error
	}{
		{"the FIN: the bytes, then EOF", func(r *readBuffer) { r.finish(io.EOF) }, []byte("hello"), io.EOF},
		{"a reset: the error at once, the bytes lost", func(r *readBuffer) { r.fail(reset) }, nil, reset},
		{"a reset after the FIN: still EOF, the bytes lost", func(r *readBuffer) { r.finish(io.EOF); r.fail(reset) }, nil, io.EOF},
		{"the FIN after a reset: still the reset", func(r *readBuffer) { r.fail(reset); r.finish(io.EOF) }, nil, reset},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newReadBuffer()
			r.put([]byte("hello"))
			tc.end(r)
			r.put([]byte("late"))
			var got []byte
			p := make([]byte, 2)
			for {
				n, _, err := r.read(p, noDeadline)
				got = append(got, p[:n]...)
				if err != nil {
					require.Equal(t, tc.err, err)
					require.Zero(t, n)
					break
				}
			}
			require.Equal(t, string(tc.want), string(got), "bytes put after the end are dropped")
			_, _, err := r.read(p, noDeadline)
			require.Equal(t, tc.err, err, "the end stays")
		})
	}
}

func TestAReadWaitsForBytesTheEndOrItsDeadline(t *testing.T) {
	type outcome struct {
		n   int
		err error
	}
	cases := []struct {
		name string
		wake func(r *readBuffer, deadline chan struct{})
		want outcome
	}{
		{"bytes", func(r *readBuffer, _ chan struct{}) { r.put([]byte("abc")) }, outcome{3, nil}},
		{"the FIN", func(r *readBuffer, _ chan struct{}) { r.finish(io.EOF) }, outcome{0, io.EOF}},
		{"the socket closed", func(r *readBuffer, _ chan struct{}) { r.fail(net.ErrClosed) }, outcome{0, net.ErrClosed}},
		{"the deadline", func(_ *readBuffer, d chan struct{}) { close(d) }, outcome{0, os.ErrDeadlineExceeded}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r, deadline := newReadBuffer(), make(chan struct{})
				got := make(chan outcome, 1)
				go func() {
					n, _, err := r.read(make([]byte, 8), deadline)
					got <- outcome{n, err}
				}()
				synctest.Wait()
				require.Empty(t, got, "the Read waits")
				tc.wake(r, deadline)
				synctest.Wait()
				require.Equal(t, tc.want, <-got)
			})
		})
	}
}

func TestBytesPutAfterAReadGaveUpAreStillRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newReadBuffer()
		deadline := make(chan struct{})
		time.AfterFunc(time.Second, func() { close(deadline) })
		_, _, err := r.read(make([]byte, 8), deadline)
		require.Equal(t, os.ErrDeadlineExceeded, err)
		r.put([]byte("xyz"))
		p := make([]byte, 8)
		n, _, err := r.read(p, noDeadline)
		require.NoError(t, err)
		require.Equal(t, "xyz", string(p[:n]))
	})
}

// TestTheReadThatDrainsTheBufferFarEnoughNudgesTheLoop: the loop watches
// for the buffer to drain to some size (a window update is then due);
// exactly the Read that gets it there reports it, once.
func TestTheReadThatDrainsTheBufferFarEnoughNudgesTheLoop(t *testing.T) {
	r := newReadBuffer()
	r.put(make([]byte, 100))
	require.False(t, r.watch(40), "100 bytes held is more than 40")
	var nudges []bool
	for range 5 {
		_, nudge, err := r.read(make([]byte, 20), noDeadline)
		require.NoError(t, err)
		nudges = append(nudges, nudge)
	}
	require.Equal(t, []bool{false, false, true, false, false}, nudges, "held after each read: 80, 60, 40, 20, 0")

	r.put(make([]byte, 10))
	require.True(t, r.watch(10), "already drained that far: the loop need not wait")
	_, nudge, _ := r.read(make([]byte, 5), noDeadline)
	require.False(t, nudge, "the loop heard already")

	require.False(t, r.watch(2))
	require.False(t, r.watch(-1), "the loop withdraws its watch")
	_, nudge, _ = r.read(make([]byte, 5), noDeadline)
	require.False(t, nudge, "nobody watches")
}
