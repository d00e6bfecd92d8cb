package loadtest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"tcplab/internal/device"
	"tcplab/internal/stack"
	"tcplab/internal/wire"
	"tcplab/labs/2-receiver"
)

// labStack starts the lab stack on dev (tun144 inside the sandbox).
func labStack(tb testing.TB, dev device.Device, cfg stack.Config) *stack.Stack {
	tb.Helper()
	cfg.Addr = device.LabAddr
	s, err := stack.New(dev, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// body returns n reproducible bytes.
func body(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.NewChaCha8([32]byte{7}).Read(b)
	return b
}

// serveHTTP serves body at "/" on l until the test ends. Connections are
// not kept alive: every request is a connection, so the workload is
// handshakes and closes as much as bytes.
func serveHTTP(tb testing.TB, l net.Listener, body []byte) {
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = w.Write(body)
		}),
		ErrorLog: nil,
	}
	srv.SetKeepAlivesEnabled(false)
	go func() { _ = srv.Serve(l) }()
	tb.Cleanup(func() { srv.Close() })
}

// load is the outcome of a run of requests.
type load struct {
	requests, failures int
	firstErr           error
	elapsed            time.Duration
}

func (l load) String() string {
	s := fmt.Sprintf("%d requests, %d failed, %.0f req/s", l.requests, l.failures, float64(l.requests)/l.elapsed.Seconds())
	if l.firstErr != nil {
		s += fmt.Sprintf(" (first failure: %v)", l.firstErr)
	}
	return s
}

// httpLoad makes n GET requests to url, concurrent at a time, each on a
// fresh connection that dial opens, and checks each body's length.
func httpLoad(url string, n, concurrent, size int, dial func(ctx context.Context, network, addr string) (net.Conn, error)) load {
	tr := &http.Transport{DialContext: dial, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	var next atomic.Int64
	var mu sync.Mutex
	res := load{requests: n}
	var wg sync.WaitGroup
	start := time.Now()
	for range concurrent {
		wg.Go(func() {
			buf := make([]byte, 64<<10)
			for next.Add(1) <= int64(n) {
				err := get(hc, url, size, buf)
				if err != nil {
					mu.Lock()
					res.failures++
					if res.firstErr == nil {
						res.firstErr = err
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	return res
}

func get(hc *http.Client, url string, size int, buf []byte) error {
	resp, err := hc.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	n, err := io.CopyBuffer(io.Discard, resp.Body, buf)
	if err != nil {
		return err
	}
	if n != int64(size) {
		return fmt.Errorf("%d bytes, want %d", n, size)
	}
	return nil
}

// kernelDial dials with the kernel's TCP.
func kernelDial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// peakRSS returns the process's peak resident set since the last
// resetPeakRSS, in bytes (Linux: VmHWM).
func peakRSS() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// resetPeakRSS starts a new peak (writing 5 to clear_refs resets VmHWM).
func resetPeakRSS() {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// flooder sends spoofed SYNs through a raw socket: from addresses on
// tun144's link that nobody holds, so what answers them goes nowhere.
type flooder struct {
	fd   int
	sent atomic.Uint64
}

func newFlooder(tb testing.TB) *flooder {
	tb.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_RAW)
	if err != nil {
		tb.Skipf("no raw socket for spoofed SYNs: %v", err)
	}
	tb.Cleanup(func() { syscall.Close(fd) })
	return &flooder{fd: fd}
}

// run sends rate SYNs a second to dst until ctx ends. It keeps to the rate
// on average: a late tick sends what it owes.
func (f *flooder) run(ctx context.Context, dst netip.AddrPort, rate int) {
	rng := rand.New(rand.NewPCG(1, 2))
	to := &syscall.SockaddrInet4{Addr: dst.Addr().As4()}
	var buf []byte
	start := time.Now()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		owed := int64(time.Since(start).Seconds()*float64(rate)) - int64(f.sent.Load())
		for range min(owed, int64(rate)) {
			src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{169, 254, 144, byte(100 + rng.IntN(150))}), uint16(1024+rng.IntN(60000)))
			seg := wire.Segment{Src: src, Dst: dst, MSS: 1460}
			seg.Sender.SYN = true
			seg.Sender.Seqno = receiver.Wrap32(rng.Uint32())
			seg.Receiver.WindowSize = 65535
			buf = seg.AppendTo(buf[:0])
			if err := syscall.Sendto(f.fd, buf, 0, to); err == nil {
				f.sent.Add(1)
			}
		}
	}
}

// connects is what a client connecting at a steady rate saw.
type connects struct {
	tried, ok, within1s int
	worst               time.Duration
	firstErr            error
}

func (c connects) String() string {
	s := fmt.Sprintf("%d connects: %d succeeded, %d (%.1f%%) within 1 s, the slowest %v",
		c.tried, c.ok, c.within1s, 100*float64(c.within1s)/float64(max(c.tried, 1)), c.worst.Round(time.Millisecond))
	if c.firstErr != nil {
		s += fmt.Sprintf(" (first failure: %v)", c.firstErr)
	}
	return s
}

// connectAtRate opens a kernel connection to addr rate times a second for
// d, each given up to timeout, and closes each at once.
func connectAtRate(addr string, rate int, d, timeout time.Duration) connects {
	var mu sync.Mutex
	var res connects
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		<-tick.C
		wg.Go(func() {
			start := time.Now()
			c, err := net.DialTimeout("tcp4", addr, timeout)
			took := time.Since(start)
			mu.Lock()
			defer mu.Unlock()
			res.tried++
			if err != nil {
				if res.firstErr == nil {
					res.firstErr = err
				}
				return
			}
			c.Close()
			res.ok++
			if took <= time.Second {
				res.within1s++
			}
			res.worst = max(res.worst, took)
		})
	}
	wg.Wait()
	return res
}

// acceptAndClose accepts on l and closes each connection, until l closes.
func acceptAndClose(l net.Listener) {
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}
