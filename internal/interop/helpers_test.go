package interop

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"tcplab/internal/device"
	"tcplab/internal/sandbox"
	"tcplab/internal/stack"
)

// testRTO is the lab stack's retransmission timeout in these tests. The
// round trip through tun144 is well under a millisecond, so a short RTO
// keeps lossy transfers quick; but the lab's linger (TIME_WAIT) is 10 × RTO,
// and it must outlast Linux's own retransmissions of its FIN (200 ms, then
// 400 ms later, ...) in case our last ACK is lost. With 20 ms the linger
// ended first and the next FIN from Linux drew an RST.
const testRTO = 100 * time.Millisecond

// lab is the lab stack on the sandbox's tun144, with a Watcher on the wire.
type lab struct {
	*stack.Stack
	watch *Watcher
	env   *sandbox.Env
	// offloads is what the offload TUN under a batch stack was granted
	// (the stack then takes super-packets whole and writes in batches);
	// zero on the plain device, and under impairments (see newLab).
	offloads device.Offloads
}

// labConfig says how to build the lab side of a test.
type labConfig struct {
	capacity uint64  // the send and the receive buffer (0: the stack's defaults)
	loss     float64 // dropped each way, by our own device
	seed     uint64
	observe  []Observer
	offload  bool // attach through an offload TUN (see offloadDevice)
}

func newLab(t *testing.T, env *sandbox.Env, c labConfig) *lab {
	t.Helper()
	w := NewWatcher()
	obs := append([]Observer{w.Observe}, c.observe...)
	cfg := stack.Config{Addr: env.LabAddr}
	cfg.Connection.Capacity = c.capacity
	cfg.ReceiveBuffer = c.capacity
	cfg.Connection.InitialRTO = testRTO
	dev := env.Dev
	if c.offload {
		tun := offloadDevice(t, env)
		if c.loss == 0 {
			// The stack's own path on this device: batches both ways,
			// the kernel's super-packets taken whole.
			s, err := stack.NewBatch(NewBatchTap(tun, obs...), cfg)
			require.NoError(t, err)
			t.Cleanup(func() { s.Close() })
			return &lab{Stack: s, watch: w, env: env, offloads: tun.Offloads()}
		}
		// The impairments drop single datagrams of a Device, so with
		// loss the stack sees the device as one: super-packets split
		// before our loss cuts them, as a lossy path would.
		dev = device.Single(tun)
	}
	dev = NewTap(dev, obs...)
	if c.loss > 0 {
		t.Logf("loss %.0f%% each way, seeds %d (lab→kernel) and %d (kernel→lab)", 100*c.loss, c.seed, c.seed+1)
		dev = device.Impair(dev, device.Impairment{Loss: c.loss, Seed: c.seed})
		dev = device.ImpairReads(dev, device.Impairment{Loss: c.loss, Seed: c.seed + 1})
	}
	s, err := stack.New(dev, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return &lab{Stack: s, watch: w, env: env}
}

// open connects the lab stack and the kernel: the lab dials a kernel
// listener (labClient) or the kernel dials a lab listener (labServer).
func (l *lab) open(t *testing.T, env *sandbox.Env, r role) (labConn, kernelConn net.Conn) {
	t.Helper()
	switch r {
	case labClient:
		kl := kernelListen(t, env)
		// The kernel answers a SYN at once; 30 s leaves room for lost
		// SYNs and a loaded machine, and bounds a stack that never sends.
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		c, err := l.Dial(ctx, kl.Addr().String())
		require.NoError(t, err, "dial the kernel")
		return c, accept(t, kl, 30*time.Second)
	default:
		const port = 5001
		ll, err := l.Listen(port)
		require.NoError(t, err)
		t.Cleanup(func() { ll.Close() })
		d := net.Dialer{Timeout: 30 * time.Second}
		kc, err := d.Dial("tcp4", netip.AddrPortFrom(env.LabAddr, port).String())
		require.NoError(t, err, "the kernel dials the lab stack")
		return accept(t, ll, 30*time.Second), kc
	}
}

// The lab stack meets Linux over two kinds of tun144: the plain one the
// sandbox opens, one datagram of at most the MTU per read and write, and
// one with the kernel's offloads, where the kernel hands over 64 KiB
// super-packets with partial checksums that the device splits and
// completes before the stack sees them. Tests that run both ways have the
// subtests offload=off and offload=on.
var offloadModes = []struct {
	name    string
	offload bool
}{{"offload=off", false}, {"offload=on", true}}

// eachOffloadMode runs body once per kind of tun144, as parallel subtests.
func eachOffloadMode(t *testing.T, body func(t *testing.T, offload bool)) {
	for _, m := range offloadModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			body(t, m.offload)
		})
	}
}

// offloadDevice replaces the sandbox's plain tun144 with one opened with
// every offload the kernel grants. A TUN device without IFF_MULTI_QUEUE
// takes one opener, so the plain one is closed first, which removes the
// link; the new one is configured as the sandbox configures its own. A
// kernel that grants no offload at all skips the test: offload=off covers
// that device.
func offloadDevice(t *testing.T, env *sandbox.Env) *device.OffloadTUN {
	t.Helper()
	require.NoError(t, env.Dev.Close())
	tun, err := device.OpenOffloadTUN(device.DefaultName, sandbox.MTU, device.AllOffloads)
	require.NoError(t, err)
	if tun.Offloads() == 0 {
		tun.Close()
		t.Skipf("%s: the kernel grants no offloads: %v", tun.Name(), tun.Fallback())
	}
	t.Cleanup(func() {
		s, o := tun.Stats(), tun.OffloadStats()
		t.Logf("%s with offloads %v: %d datagrams read in %d reads (%d super-packets), %d written in %d writes (%d joined)",
			tun.Name(), tun.Offloads(), s.Read, o.ReadCalls, o.SuperPackets, s.Written, o.WriteCalls, o.Joined)
		tun.Close()
	})
	require.NoError(t, device.Configure(device.DefaultName, device.Config{MTU: sandbox.MTU}))
	if why := tun.Fallback(); why != nil {
		t.Logf("%s: offloads %v, fewer than asked for: %v", tun.Name(), tun.Offloads(), why)
	}
	return tun
}

// checkOffloadPath checks, on a stack over the offload TUN, that the
// stack took the path it exists for, from what does not depend on timing.
// The kernel hands a TUN with TSO its bulk data as super-packets whenever
// it has more than one segment's worth ready, which a download of a
// megabyte always has at some point: at least one is taken whole. The
// stack writes what one turn of its loop sends in one call, and its first
// turn with data sends all the kernel's initial window allows, more than
// one segment of an upload of 32 KiB or more.
func (l *lab) checkOffloadPath(t *testing.T, received, sent int) {
	t.Helper()
	if l.offloads == 0 {
		return
	}
	st := l.Stats()
	t.Logf("offload path (%v): %d super-segments taken whole, %d checksums vouched for and %d checked; %d datagrams sent in %d writes",
		l.offloads, st.SuperSegments, st.ChecksumsVouched, st.ChecksumsChecked, st.Sent, st.WriteCalls)
	if received >= 1<<20 {
		if l.offloads&device.TSO4 == 0 {
			t.Logf("no super-segments to expect: the kernel granted no TSO (%v)", l.offloads)
		} else {
			require.Positive(t, st.SuperSegments, "super-segments taken whole in a %s download", sizeName(received))
		}
	}
	if sent >= 32<<10 {
		require.Less(t, st.WriteCalls, st.Sent, "writes for the datagrams of a %s upload", sizeName(sent))
	}
}

// seedFor gives each test its own fixed seed, printed by the test.
func seedFor(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return h.Sum64()
}

// payload returns n reproducible bytes.
func payload(n int, seed uint64) []byte {
	var key [32]byte
	for i := range 8 {
		key[i] = byte(seed >> (8 * i))
	}
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(key).Read(b)
	return b
}

// endResult is what one end of a transfer saw.
type endResult struct {
	sum      [32]byte
	n        int64
	readErr  error // from reading to EOF (nil: EOF arrived)
	writeErr error
	closeErr error
}

// exchange runs one end of a transfer on c: it sends out, then half-closes
// (so the other end reads EOF), reads everything until EOF, and closes.
// Sending and receiving run at once, so "both at once" needs nothing more.
func exchange(c net.Conn, out []byte, deadline time.Time) endResult {
	var r endResult
	_ = c.SetDeadline(deadline)
	wrote := make(chan error, 1)
	go func() {
		_, err := c.Write(out)
		if err == nil {
			err = c.(interface{ CloseWrite() error }).CloseWrite()
		}
		wrote <- err
	}()
	h := sha256.New()
	r.n, r.readErr = io.Copy(h, c)
	copy(r.sum[:], h.Sum(nil))
	r.writeErr = <-wrote
	r.closeErr = c.Close()
	return r
}

// waitClosed waits until the Watcher saw the connection end cleanly: both
// FINs sent and acknowledged, no RST. It returns what it saw.
func (l *lab) waitClosed(t *testing.T, local, remote net.Addr, within time.Duration) Flow {
	t.Helper()
	lap, rap := addrPort(local), addrPort(remote)
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	err := l.watch.Wait(ctx, func(w *Watcher) bool {
		f, ok := w.Flow(lap, rap)
		return ok && f.Done()
	})
	f, _ := l.watch.Flow(lap, rap)
	require.NoError(t, err, "the connection never finished: %v", f)
	require.True(t, f.Closed(), "the connection ended, but not cleanly: %v", f)
	return f
}

func addrPort(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		ap := ta.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return netip.MustParseAddrPort(a.String())
}

// kernelListen listens on the kernel's side of tun144.
func kernelListen(t *testing.T, env *sandbox.Env) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp4", netip.AddrPortFrom(env.KernelAddr, 0).String())
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l
}

// accept returns the next connection on l, or fails after within.
func accept(t *testing.T, l net.Listener, within time.Duration) net.Conn {
	t.Helper()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := l.Accept()
		ch <- res{c, err}
	}()
	select {
	case r := <-ch:
		require.NoError(t, r.err)
		return r.c
	case <-time.After(within):
		l.Close()
		t.Fatalf("no connection on %v within %v", l.Addr(), within)
		return nil
	}
}

func sizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// traceOnFailure records every segment and prints the trace if t fails.
func traceOnFailure(t *testing.T) []Observer {
	var buf lockedBuffer
	tr := NewTracer(&buf)
	t.Cleanup(func() {
		if t.Failed() {
			tr.Flush()
			t.Logf("trace (→ lab to kernel, ← kernel to lab):\n%s", buf.String())
		}
	})
	return []Observer{tr.Observe}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
