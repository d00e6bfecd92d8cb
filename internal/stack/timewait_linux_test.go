package stack

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"tcplab/internal/sandbox"
)

func TestAnRSTClearsTheKernelsTimeWait(t *testing.T) {
	// The one test here that needs Linux: it must pick the same port
	// again, which only the package itself can. The kernel server closes
	// first and keeps the 4-tuple in TIME_WAIT; a new SYN on it is taken
	// when its ISN is above the old connection's, and otherwise answered
	// with an ACK of the old one. Our RST (RFC 9293 §3.10.7.3) clears the
	// TIME_WAIT and the SYN sent again at once opens the connection.
	const reuses = 20
	sandbox.Run(t, func(t *testing.T, env *sandbox.Env) {
		// An RTO longer than the Dial's deadline: a SYN that waited for
		// its retransmission timeout instead of going again at once fails
		// the Dial, whatever the machine's speed, with no clock to read.
		cfg := Config{Addr: env.LabAddr}
		cfg.Connection.InitialRTO = time.Minute
		s, err := New(env.Dev, cfg)
		require.NoError(t, err)
		defer s.Close()
		kl, err := net.Listen("tcp4", env.KernelAddr.String()+":0")
		require.NoError(t, err)
		defer kl.Close()
		go func() {
			for {
				c, err := kl.Accept()
				if err != nil {
					return
				}
				c.Write([]byte("hi"))
				c.Close()
			}
		}()
		var saved portPicker
		require.NoError(t, s.call(func() { saved = *s.ports }))
		var slowest time.Duration
		for i := range reuses {
			// The same picker state every time: the same port.
			require.NoError(t, s.call(func() { p := saved; s.ports = &p }))
			start := time.Now()
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			c, err := s.Dial(ctx, kl.Addr().String())
			cancel()
			require.NoError(t, err, "connection %d", i)
			require.NoError(t, c.SetDeadline(time.Now().Add(30*time.Second)))
			b, err := io.ReadAll(c)
			require.NoError(t, err)
			require.Equal(t, "hi", string(b))
			require.NoError(t, c.Close())
			slowest = max(slowest, time.Since(start))
		}
		collisions := s.Stats().ResetsSent
		t.Logf("%d connections on one 4-tuple: %d met the kernel's TIME_WAIT; slowest %v", reuses, collisions, slowest)
		// Each reuse collides with probability about 1/2 (the ISNs are
		// random): none in 19 would be a one-in-500,000 run.
		require.Positive(t, collisions, "no collision: the test did not test")
	})
}
