package interop

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"tcplab/internal/device"
	"tcplab/internal/sandbox"
	"tcplab/internal/stack"
)

// downloadSize is what each iteration of BenchmarkTUNDownload fetches.
const downloadSize = 100 << 20

// BenchmarkTUNDownload downloads 100 MiB from a server on the kernel's side
// of tun144 into the lab stack ("lab"), and the same 100 MiB between two
// kernel sockets over the loopback ("kernel-loopback"), for the ratio.
//
// Each runs in a sandboxed child (sandbox.Bench), which reports its
// figures as the benchmark's own.
func BenchmarkTUNDownload(b *testing.B) {
	b.Run("lab", func(b *testing.B) {
		if !sandbox.Inside() {
			sandbox.Bench(b)
			return
		}
		benchDownload(b, func(addr string) (net.Conn, func(), error) {
			tun, err := device.OpenTUN(device.DefaultName, sandbox.MTU)
			if err != nil {
				return nil, nil, err
			}
			s, err := stack.New(tun, stack.Config{Addr: device.LabAddr})
			if err != nil {
				tun.Close()
				return nil, nil, err
			}
			c, err := s.Dial(context.Background(), addr)
			if err != nil {
				s.Close()
				return nil, nil, err
			}
			return c, func() { s.Close() }, nil
		}, device.KernelAddr.Addr().String())
	})
	b.Run("kernel-loopback", func(b *testing.B) {
		if !sandbox.Inside() {
			sandbox.Bench(b)
			return
		}
		benchDownload(b, func(addr string) (net.Conn, func(), error) {
			c, err := net.Dial("tcp4", addr)
			return c, func() {}, err
		}, "127.0.0.1")
	})
}

// benchDownload times b.N downloads of downloadSize bytes from a kernel
// server on host, each over a fresh connection that dial opens.
func benchDownload(b *testing.B, dial func(addr string) (net.Conn, func(), error), host string) {
	l, err := net.Listen("tcp4", net.JoinHostPort(host, "0"))
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	chunk := payload(1<<20, 9)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				for range downloadSize / len(chunk) {
					if _, err := c.Write(chunk); err != nil {
						return
					}
				}
			}()
		}
	}()
	buf := make([]byte, 64<<10)
	b.ReportAllocs()
	b.SetBytes(downloadSize)
	var elapsed time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		c, closeFn, err := dial(l.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		n, err := io.CopyBuffer(io.Discard, onlyReader{c}, buf)
		elapsed += time.Since(start)
		b.StopTimer()
		c.Close()
		closeFn()
		if err != nil || n != downloadSize {
			b.Fatalf("downloaded %d of %d bytes: %v", n, downloadSize, err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(downloadSize)*8*float64(b.N)/elapsed.Seconds()/1e9, "Gbit/s")
}

// onlyReader hides WriterTo/ReaderFrom so both sides copy the same way.
type onlyReader struct{ io.Reader }
