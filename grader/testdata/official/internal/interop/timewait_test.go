package interop

import (
	"context"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"tcplab/internal/sandbox"
)

// serveAndCloseFirst answers every connection on l with a short reply and
// closes it at once: the server closes first, so the kernel keeps each
// 4-tuple in TIME_WAIT for a minute after.
func serveAndCloseFirst(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			c.Write([]byte("hello\n"))
			c.Close()
		}()
	}
}

// shortConnections makes n connections to addr one after another with
// dial, each reading the reply to EOF, and returns how long each took.
func shortConnections(t *testing.T, n int, addr string, dial func(ctx context.Context, addr string) (net.Conn, error)) []time.Duration {
	t.Helper()
	took := make([]time.Duration, n)
	for i := range n {
		start := time.Now()
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		c, err := dial(ctx, addr)
		cancel()
		require.NoError(t, err, "connection %d", i)
		require.NoError(t, c.SetDeadline(time.Now().Add(30*time.Second)))
		got, err := io.ReadAll(c)
		require.NoError(t, err, "connection %d", i)
		require.Equal(t, "hello\n", string(got))
		require.NoError(t, c.Close())
		took[i] = time.Since(start)
	}
	return took
}

func TestSequentialConnectionsToAServerThatClosesFirst(t *testing.T) {
	// Issue 12: a Dial hung about 100 s when the kernel still held its
	// 4-tuple in TIME_WAIT and answered our SYN with an ACK of the old
	// connection. Ports picked as Linux picks them do not come back while
	// TIME_WAIT lasts; and if a 4-tuple does collide, the RST RFC 9293
	// prescribes clears the kernel's TIME_WAIT and the SYN goes again.
	const n = 1000
	sandbox.Run(t, func(t *testing.T, env *sandbox.Env) {
		l := newLab(t, env, labConfig{})
		kl := kernelListen(t, env)
		go serveAndCloseFirst(kl)
		took := shortConnections(t, n, kl.Addr().String(), func(ctx context.Context, addr string) (net.Conn, error) {
			return l.Dial(ctx, addr)
		})
		var d net.Dialer
		kernel := shortConnections(t, n, kl.Addr().String(), func(ctx context.Context, addr string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp4", addr)
		})
		// A 4-tuple that collided with the kernel's TIME_WAIT shows as a
		// flow with our RST in its handshake. RSTs after a flow closed
		// cleanly (LateRSTs) are not collisions: on a loaded machine a
		// retransmission (ours or the kernel's) can draw an answer that
		// arrives after we forgot the connection, and RFC 9293 answers
		// that with an RST. So the stack's ResetsSent, which counts those
		// too, is reported, not asserted; nor is how long a connection
		// took, which the machine decides (a Dial that hangs fails on its
		// own 30 s deadline).
		var reset []Flow
		var synRetx, late uint64 // SYNs sent again unanswered; RSTs after a clean close
		flows := l.watch.Flows()
		for _, f := range flows {
			if f.RSTOut || f.RSTIn {
				reset = append(reset, f)
			}
			if f.RetransmitsOut > 0 && f.SegmentsIn == 0 {
				synRetx++
			}
			late += f.LateRSTs
		}
		slices.Sort(took)
		slices.Sort(kernel)
		t.Logf("%d connections, slowest 3: lab %v, kernel %v; median: lab %v, kernel %v",
			n, took[n-3:], kernel[n-3:], took[n/2], kernel[n/2])
		t.Logf("lab: %d flows, %d RSTs sent in all, %d flows reset, %d RSTs after a clean close, %d flows with unanswered SYN retransmissions",
			len(flows), l.Stats().ResetsSent, len(reset), late, synRetx)
		require.Len(t, flows, n)
		require.Empty(t, reset, "flows reset (a 4-tuple collided with the kernel's TIME_WAIT?)")
	})
}
