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
		var synRetx, rstOut uint64 // SYNs sent again unanswered; our RSTs
		flows := l.watch.Flows()
		for _, f := range flows {
			if f.RSTOut {
				rstOut++
			}
			if f.RetransmitsOut > 0 && f.SegmentsIn == 0 {
				synRetx++
			}
		}
		slices.Sort(took)
		slices.Sort(kernel)
		t.Logf("%d connections, slowest 3: lab %v, kernel %v; median: lab %v, kernel %v",
			n, took[n-3:], kernel[n-3:], took[n/2], kernel[n/2])
		t.Logf("lab: %d flows, %d handshake RSTs sent (TIME_WAIT collisions), %d flows with our RST, %d with unanswered SYN retransmissions",
			len(flows), l.Stats().ResetsSent, rstOut, synRetx)
		require.Len(t, flows, n)
		require.Zero(t, l.Stats().ResetsSent, "no 4-tuple collided with the kernel's TIME_WAIT")
		// Generous: a collision that waited for a retransmission timeout
		// (or for the connection to give up) would take seconds.
		require.Less(t, took[n-1], 5*time.Second, "the slowest connection")
	})
}
