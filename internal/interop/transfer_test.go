package interop

import (
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"tcplab/internal/sandbox"
)

// The original course ran its stack against Linux's TCP through a TUN
// device in 18 transfers, all at 10% loss: the lab stack as client and as
// server, sending, receiving and both at once, with small windows. These are
// the same transfers at 0% and 10% loss each way, 60 in all, over the plain
// tun144, and a subset of them over the offload one (overOffloads). Each
// runs in its own sandbox (a fresh namespace with its own tun144), in
// parallel.

type role int

const (
	labClient role = iota // the lab stack dials the kernel
	labServer             // the kernel dials the lab stack
)

type direction int

const (
	labSends direction = iota
	labReceives
	bothWays
)

type transfer struct {
	role   role
	dir    direction
	size   int
	window uint64 // the lab side's stream capacity, which bounds its window
	loss   float64
	// connected, when set, runs once both ends hold the connection and
	// before any byte is sent (the loss tests start dropping there).
	connected func(t *testing.T)
	offload   bool // over the offload TUN (see offloadDevice)
}

func (tr transfer) name() string {
	who := [...]string{"lab client", "lab server"}[tr.role]
	what := [...]string{"sends", "receives", "sends and receives"}[tr.dir]
	s := fmt.Sprintf("%s %s %s", who, what, sizeName(tr.size))
	if tr.window != 0 {
		s += fmt.Sprintf(" with a %s window", sizeName(int(tr.window)))
	}
	return s + fmt.Sprintf(" at %.0f%% loss", 100*tr.loss)
}

func transfers() []transfer {
	shapes := []struct {
		size   int
		window uint64
	}{
		{32, 0},
		{16, 1}, // one byte in flight at a time, probes and all
		{32 << 10, 0},
		{128 << 10, 8 << 10},
		{1 << 20, 32 << 10},
	}
	var out []transfer
	for _, loss := range []float64{0, 0.1} {
		for _, r := range []role{labClient, labServer} {
			for _, d := range []direction{labSends, labReceives, bothWays} {
				for _, s := range shapes {
					size := s.size
					if loss > 0 && size > 256<<10 && d != labSends {
						// Linux recovers from our receiver's losses by
						// timeouts of 200 ms and more (we send no SACK),
						// so a lossy megabyte from the kernel takes
						// 20-90 s; a quarter of it tests the same.
						size = 256 << 10
					}
					out = append(out, transfer{role: r, dir: d, size: size, window: s.window, loss: loss})
				}
			}
		}
	}
	return out
}

// timeLimit bounds tr's exchange. A window of one byte at 10% loss is
// Linux's persist timer and Karn's rule against our dice: a one-byte
// probe that loses itself or its ACK doubles Linux's RTO, and only an
// answered probe that was not retransmitted brings it back (no
// timestamps), so a run of unlucky probes takes 10 to 60 s or more, as
// the stray IPv6 datagrams that share the dice happen to fall.
func (tr transfer) timeLimit() time.Duration {
	if tr.loss > 0 && tr.window > 0 && tr.window < 64 {
		return 150 * time.Second
	}
	return 60 * time.Second
}

// overOffloads says whether tr runs over the offload TUN too. Offloads
// change how datagrams cross the device, not how the stack recovers from
// loss, and the lossy transfers take most of this test's time: so every
// transfer without loss runs both ways, and of the lossy ones only the
// largest the kernel sends, where its super-packets are cut by our loss.
func (tr transfer) overOffloads() bool {
	return tr.loss == 0 || (tr.dir == labReceives && tr.size >= 256<<10)
}

func TestTransfersWithLinux(t *testing.T) {
	eachOffloadMode(t, func(t *testing.T, offload bool) {
		for _, tr := range transfers() {
			if offload && !tr.overOffloads() {
				continue
			}
			tr.offload = offload
			t.Run(tr.name(), func(t *testing.T) {
				t.Parallel()
				sandbox.Run(t, func(t *testing.T, env *sandbox.Env) {
					runTransfer(t, env, tr)
				})
			})
		}
	})
}

func runTransfer(t *testing.T, env *sandbox.Env, tr transfer) {
	seed := seedFor(t.Name())
	t.Logf("seed %d", seed)
	l := newLab(t, env, labConfig{capacity: tr.window, loss: tr.loss, seed: seed, observe: traceOnFailure(t), offload: tr.offload})
	runTransferOn(t, env, l, tr)
}

// runTransferOn runs tr on an existing lab stack.
func runTransferOn(t *testing.T, env *sandbox.Env, l *lab, tr transfer) {
	seed := seedFor(t.Name())
	deadline := time.Now().Add(tr.timeLimit())

	labConn, kernelConn := l.open(t, env, tr.role)
	if tr.connected != nil {
		tr.connected(t)
	}
	var labOut, kernelOut []byte
	if tr.dir != labReceives {
		labOut = payload(tr.size, seed)
	}
	if tr.dir != labSends {
		kernelOut = payload(tr.size, ^seed)
	}
	kernelDone := make(chan endResult, 1)
	go func() { kernelDone <- exchange(kernelConn, kernelOut, deadline) }()
	labRes := exchange(labConn, labOut, deadline)
	kernelRes := <-kernelDone

	for _, side := range []struct {
		who  string
		got  endResult
		want []byte
	}{
		{"the kernel", kernelRes, labOut},
		{"the lab stack", labRes, kernelOut},
	} {
		require.NoError(t, side.got.writeErr, "%s: sending", side.who)
		require.NoError(t, side.got.readErr, "%s: reading until EOF", side.who)
		require.NoError(t, side.got.closeErr, "%s: closing", side.who)
		want := sha256.Sum256(side.want)
		if d := cmp.Diff(fmt.Sprintf("%x (%d bytes)", want, len(side.want)), fmt.Sprintf("%x (%d bytes)", side.got.sum, side.got.n)); d != "" {
			t.Errorf("SHA-256 of what %s received (-sent +arrived):\n%s", side.who, d)
		}
	}
	f := l.waitClosed(t, labConn.LocalAddr(), labConn.RemoteAddr(), 30*time.Second)
	t.Logf("%v", f)
	t.Logf("stack: %+v", l.Stats())
	// The Watcher's own count of the streams, super-packets and all.
	require.Equal(t, []uint64{uint64(len(labOut)), uint64(len(kernelOut))}, []uint64{f.BytesOut, f.BytesIn},
		"stream bytes the Watcher saw each way (lab → kernel, kernel → lab)")
	l.checkOffloadPath(t, len(kernelOut), len(labOut))
}
