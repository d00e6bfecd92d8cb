package interop

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"tcplab/internal/sandbox"
)

// probeCounter counts, from the moment the kernel first advertises a zero
// window, the segments with data the lab sends (its zero-window probes).
type probeCounter struct {
	mu       sync.Mutex
	shutAt   time.Time
	probesAt []time.Duration
}

func (p *probeCounter) Observe(dir Dir, at time.Time, b []byte, vouched bool) {
	seg, err := parseSeen(b, vouched)
	if err != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case dir == In && seg.Receiver.ACK && seg.Receiver.WindowSize == 0 && p.shutAt.IsZero():
		p.shutAt = at
	case dir == Out && len(seg.Sender.Payload) > 0 && !p.shutAt.IsZero():
		p.probesAt = append(p.probesAt, at.Sub(p.shutAt))
	}
}

func (p *probeCounter) probes() (shut bool, at []time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.shutAt.IsZero(), append([]time.Duration(nil), p.probesAt...)
}

func TestZeroWindowProbesBackOff(t *testing.T) {
	// Issue 12: facing a kernel that stopped reading, the lab sender
	// probed about 4.7 times a second (every RTO, never backing off, as
	// the course's sender does). The stack lets its probes through at
	// doubling intervals, like a persist timer. A loaded machine can only
	// make fewer probes, so an upper bound on the count holds.
	t.Parallel()
	const watch = 12 * time.Second
	sandbox.Run(t, func(t *testing.T, env *sandbox.Env) {
		var pc probeCounter
		l := newLab(t, env, labConfig{observe: []Observer{pc.Observe}})
		kl := kernelListen(t, env)
		c, err := l.Dial(t.Context(), kl.Addr().String())
		require.NoError(t, err)
		kc := accept(t, kl, 30*time.Second)
		defer kc.Close() // never read
		go func() {
			_ = c.SetWriteDeadline(time.Now().Add(watch + 30*time.Second))
			c.Write(make([]byte, 8<<20)) // more than the kernel buffers
		}()
		deadline := time.Now().Add(30 * time.Second)
		for {
			if shut, _ := pc.probes(); shut {
				break
			}
			require.True(t, time.Now().Before(deadline), "the kernel never closed its window")
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(watch)
		_, at := pc.probes()
		// testRTO is 100 ms: 120 probes in 12 s without backoff; with it
		// 0.1, 0.3, 0.7, 1.5, 3.1, 6.3 s (plus the first probe at once).
		t.Logf("%d probes in %v after the kernel's window closed, at %v", len(at), watch, at)
		require.LessOrEqual(t, len(at), 10, "probes in %v", watch)
		require.NoError(t, c.Close())
	})
}
