package stack_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"tcplab/internal/stack"
	"tcplab/internal/stack/stacktest"
	"tcplab/labs/4-connection"
)

// BenchmarkConnectionMemory measures what the stacks hold per connection
// through its life: connections that each moved 1 KiB each way and stay
// open, then the same connections after FIN both ways and both sockets'
// Close (the client closed first, so it keeps a TIME_WAIT record; the
// server forgets the connection). The figures are heap bytes per
// connection, both stacks together, after a collection: the streams grow
// with use, so a large capacity should cost nothing a connection does not
// use, and a closed connection should cost only its TIME_WAIT record.
func BenchmarkConnectionMemory(b *testing.B) {
	const conns, size = 64, 1 << 10
	for _, capacity := range []uint64{stack.DefaultCapacity, 4 << 20} {
		b.Run(fmt.Sprintf("capacity=%dKiB", capacity>>10), func(b *testing.B) {
			var open, closed float64
			for range b.N {
				open, closed = connectionMemory(b, capacity, conns, size)
			}
			b.ReportMetric(open, "B/conn-open")
			b.ReportMetric(closed, "B/conn-closed")
		})
	}
}

// connectionMemory opens n connections between two fresh stacks, moves
// size bytes each way on each, and returns the heap per connection while
// they are open and once they are closed.
func connectionMemory(b *testing.B, capacity uint64, n, size int) (open, closed float64) {
	client, server := stacktest.Pair(b, stack.Config{Connection: connection.Config{Capacity: capacity}})
	ctx, cancel := context.WithTimeout(b.Context(), 30*time.Second)
	defer cancel()
	l, err := server.Listen(80)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, n)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()

	msg := make([]byte, size)
	base := heapAlloc()
	cs, ss := make([]net.Conn, n), make([]net.Conn, n)
	for i := range n {
		c, err := client.DialAddrPort(ctx, netip.AddrPortFrom(server.Addr(), 80))
		if err != nil {
			b.Fatal(err)
		}
		var s net.Conn
		select {
		case s = <-accepted:
		case <-ctx.Done():
			b.Fatal("no connection accepted")
		}
		cs[i], ss[i] = c, s
		for _, dir := range [][2]net.Conn{{c, s}, {s, c}} {
			if _, err := dir[0].Write(msg); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(dir[1], msg); err != nil {
				b.Fatal(err)
			}
		}
	}
	open = float64(heapAlloc()-base) / float64(n)

	for i := range n {
		cs[i].Close()
		if _, err := ss[i].Read(msg); err != io.EOF {
			b.Fatalf("server read %v, want EOF", err)
		}
		ss[i].Close()
	}
	clear(cs)
	clear(ss)
	for {
		cc, _ := stack.Held(client)
		sc, _ := stack.Held(server)
		if cc == 0 && sc == 0 {
			break
		}
		select {
		case <-ctx.Done():
			b.Fatalf("connections still held: %d client, %d server", cc, sc)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if _, tw := stack.Held(client); tw != n {
		b.Logf("%d TIME_WAIT records, want %d", tw, n)
	}
	closed = float64(int64(heapAlloc())-int64(base)) / float64(n)
	return open, closed
}

// heapAlloc is the live heap after a collection.
func heapAlloc() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
