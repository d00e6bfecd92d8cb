package interop

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
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
// A benchmark cannot run inside sandbox.Run (that takes a *testing.T), so
// the parent re-runs this test binary in a sandbox for exactly b.N
// iterations and reports the child's figures as its own.
func BenchmarkTUNDownload(b *testing.B) {
	b.Run("lab", func(b *testing.B) {
		if !sandbox.Inside() {
			benchInSandbox(b)
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
			benchInSandbox(b)
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

var benchLineRE = regexp.MustCompile(`^Benchmark\S+\s+(\d+)\s+(.*)$`)

// benchInSandbox runs this sub-benchmark in a sandboxed child for b.N
// iterations and reports its figures.
func benchInSandbox(b *testing.B) {
	if err := sandbox.Available(); err != nil {
		if os.Getenv(sandbox.EnvRequire) == "1" {
			b.Fatal(err)
		}
		b.Skip(err)
	}
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	pattern := "^" + strings.ReplaceAll(regexp.QuoteMeta(b.Name()), "/", "$/^") + "$"
	cmd, err := sandbox.Command(self, "-test.run=^$", "-test.bench="+pattern,
		fmt.Sprintf("-test.benchtime=%dx", b.N), "-test.benchmem", "-test.count=1")
	if err != nil {
		b.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// The timer runs through the child, start-up and all, so that the
	// framework picks the next b.N from a time near the real one; the
	// child's own ns/op replaces it below.
	if err := cmd.Run(); err != nil {
		b.Fatalf("the sandboxed benchmark failed: %v\n%s", err, out.String())
	}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		m := benchLineRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		f := strings.Fields(m[2])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			b.ReportMetric(v, f[i+1])
		}
		return
	}
	b.Fatalf("no result from the sandboxed benchmark:\n%s", out.String())
}
