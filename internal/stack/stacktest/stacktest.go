// Package stacktest builds tcplab stacks joined in memory for tests and
// benchmarks, here and in other modules (the bench/ comparison with gVisor's
// netstack calls Pair and Conns, and measures with Bulk, so both stacks are
// timed the same way).
package stacktest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"tcplab/internal/device"
	"tcplab/internal/stack"
)

// MTU is the pair's link MTU: Ethernet's, so segments carry 1460 bytes.
const MTU = 1500

// The pair's addresses: the lab side and the kernel side of tun144, so
// traces read the same as on the real device.
var (
	ClientAddr = netip.MustParseAddr("169.254.144.9")
	ServerAddr = netip.MustParseAddr("169.254.144.1")
)

// Pair returns two stacks joined by device.Pipe(MTU), closed when tb ends.
// cfg is the template for both (its Addr is set per side).
func Pair(tb testing.TB, cfg stack.Config) (client, server *stack.Stack) {
	tb.Helper()
	a, b := device.Pipe(MTU)
	cfg.Addr = ClientAddr
	client, err := stack.New(a, cfg)
	if err != nil {
		tb.Fatalf("client stack: %v", err)
	}
	tb.Cleanup(func() { client.Close() })
	cfg.Addr = ServerAddr
	server, err = stack.New(b, cfg)
	if err != nil {
		tb.Fatalf("server stack: %v", err)
	}
	tb.Cleanup(func() { server.Close() })
	return client, server
}

// Connect dials from client to a fresh listener on server's port and
// returns both ends; the listener is closed again.
func Connect(ctx context.Context, client, server *stack.Stack, port uint16) (c, s net.Conn, err error) {
	l, err := server.Listen(port)
	if err != nil {
		return nil, nil, err
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	acceptErr := make(chan error, 1)
	go func() {
		conn, err := l.Accept()
		if err != nil {
			acceptErr <- err
			return
		}
		accepted <- conn
	}()
	c, err = client.DialAddrPort(ctx, netip.AddrPortFrom(server.Addr(), port))
	if err != nil {
		return nil, nil, err
	}
	select {
	case s = <-accepted:
		return c, s, nil
	case err = <-acceptErr:
		c.Close()
		return nil, nil, err
	}
}

// Conns returns a connected client/server pair of net.Conns over a fresh
// Pair with default settings; everything is closed when tb ends.
func Conns(tb testing.TB) (client, server net.Conn) {
	tb.Helper()
	cs, ss := Pair(tb, stack.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, s, err := Connect(ctx, cs, ss, 80)
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	tb.Cleanup(func() { c.Close(); s.Close() })
	return c, s
}

// Bulk measures one-way throughput: b.N writes of size bytes from w, read
// and discarded at r, reporting Gbit/s. It is shaped like gVisor's own
// benchmarks so the two stacks compare fairly.
func Bulk(b *testing.B, w, r net.Conn, size int) {
	b.Helper()
	b.ReportAllocs()
	b.SetBytes(int64(size))
	buf := make([]byte, size)
	want := int64(size) * int64(b.N)
	done := make(chan error, 1)
	go func() {
		rbuf := make([]byte, 64<<10)
		n, err := io.CopyBuffer(io.Discard, io.LimitReader(r, want), rbuf)
		if err == nil && n != want {
			err = fmt.Errorf("read %d bytes, want %d", n, want)
		}
		done <- err
	}()
	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now()
	for range b.N {
		if _, err := w.Write(buf); err != nil {
			b.Fatalf("write: %v", err)
		}
	}
	if err := <-done; err != nil {
		b.Fatalf("read: %v", err)
	}
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	b.StopTimer()
	b.ReportMetric(float64(want)*8/elapsed.Seconds()/1e9, "Gbit/s")
	// CPU time per byte holds still on a busy machine, where Gbit/s does
	// not: it compares two stacks fairly even when other work competes.
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(want)*1460, "cpu-ns/segment")
}

// cpuTime is the CPU time (user + system) the process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
