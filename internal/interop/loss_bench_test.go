package interop

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"tcplab/internal/device"
	"tcplab/internal/sandbox"
	"tcplab/internal/stack"
)

// lossySize is what each iteration of BenchmarkLossyTransfer moves.
const lossySize = 4 << 20

// BenchmarkLossyTransfer moves 4 MiB through 10% loss each way, dropped
// where the sender cannot see it (a datagram the kernel's own output hook
// drops is an error its TCP notices and retries, not a loss): nftables'
// input hook drops what the kernel receives, and the lab's device what the
// lab receives. Into the lab stack from a kernel server
// ("lab-receives": Linux's fast retransmit works from our duplicate ACKs),
// out of it to a kernel server ("lab-sends": the lab sender recovers by
// timeouts only, as the course defines it), and between two kernel sockets
// over the loopback, cut to the same 1500-byte MTU and dropping the same
// share ("kernel-loopback"). Run it with -benchtime 1x: one transfer takes
// seconds.
func BenchmarkLossyTransfer(b *testing.B) {
	lab := func(b *testing.B, upload bool) {
		if !sandbox.Inside() {
			sandbox.Bench(b)
			return
		}
		dropOn(b, `iifname "tun144"`)
		tun, err := device.OpenTUN(device.DefaultName, sandbox.MTU)
		if err != nil {
			b.Fatal(err)
		}
		// The firewall must see datagrams, not GSO super-packets.
		if err := device.Configure(device.DefaultName, device.Config{MTU: sandbox.MTU, GSOMaxSegs: 1}); err != nil {
			tun.Close()
			b.Fatal(err)
		}
		cfg := stack.Config{Addr: device.LabAddr}
		cfg.Connection.InitialRTO = 200 * time.Millisecond // as webget and tcpcat
		s, err := stack.New(device.ImpairReads(tun, device.Impairment{Loss: 0.1, Seed: 12}), cfg)
		if err != nil {
			tun.Close()
			b.Fatal(err)
		}
		defer s.Close()
		benchLossy(b, upload, device.KernelAddr.Addr().String(), func(ctx context.Context, addr string) (net.Conn, error) {
			return s.Dial(ctx, addr)
		})
	}
	b.Run("lab-receives", func(b *testing.B) { lab(b, false) })
	b.Run("lab-sends", func(b *testing.B) { lab(b, true) })
	b.Run("kernel-loopback", func(b *testing.B) {
		if !sandbox.Inside() {
			sandbox.Bench(b)
			return
		}
		lo, err := netlink.LinkByName("lo")
		if err == nil {
			err = netlink.LinkSetMTU(lo, sandbox.MTU)
		}
		if err == nil {
			err = netlink.LinkSetGSOMaxSegs(lo, 1)
		}
		if err != nil {
			b.Fatal(err)
		}
		// Every datagram on the loopback passes the input hook once.
		dropOn(b, `iifname "lo"`)
		var d net.Dialer
		benchLossy(b, false, "127.0.0.1", func(ctx context.Context, addr string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp4", addr)
		})
	})
}

// dropOn makes nftables drop 10% of the datagrams the kernel receives
// that match cond.
func dropOn(b *testing.B, cond string) {
	nft, err := exec.LookPath("nft")
	if err != nil {
		b.Skip("nft is not installed (apt-get install nftables)")
	}
	rules := fmt.Sprintf("table ip tcplab {\n  chain in { type filter hook input priority 0; %s numgen random mod 10 == 0 drop; }\n}\n", cond)
	cmd := exec.Command(nft, "-f", "-")
	cmd.Stdin = bytes.NewReader([]byte(rules))
	if o, err := cmd.CombinedOutput(); err != nil {
		b.Skipf("nft cannot add rules here: %v: %s", err, o)
	}
}

// benchLossy times b.N transfers of lossySize bytes between a kernel
// server on host and a client dial opens: the server sends, or with
// upload the client does.
func benchLossy(b *testing.B, upload bool, host string, dial func(ctx context.Context, addr string) (net.Conn, error)) {
	l, err := net.Listen("tcp4", net.JoinHostPort(host, "0"))
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	data := payload(lossySize, 11)
	got := make(chan int64, 1)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if upload {
				n, _ := io.Copy(io.Discard, c)
				c.Close()
				got <- n
				continue
			}
			c.Write(data)
			c.Close()
		}
	}()
	b.SetBytes(lossySize)
	var elapsed time.Duration
	before := kernelTCPCounters(b)
	b.ResetTimer()
	for range b.N {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		start := time.Now()
		c, err := dial(ctx, l.Addr().String())
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Minute))
		var n int64
		if upload {
			_, err = c.Write(data)
			if err == nil {
				err = c.(interface{ CloseWrite() error }).CloseWrite()
			}
			if err == nil {
				_, err = io.Copy(io.Discard, c)
			}
			n = <-got
		} else {
			n, err = io.Copy(io.Discard, onlyReader{c})
		}
		elapsed += time.Since(start)
		c.Close()
		if err != nil || n != lossySize {
			b.Fatalf("moved %d of %d bytes: %v", n, lossySize, err)
		}
	}
	b.ReportMetric(elapsed.Seconds()/float64(b.N), "s/transfer")
	// How the kernel's senders recovered: by fast retransmit (duplicate
	// ACKs) or by their timer. Unlike the time, these do not depend on
	// how loaded the machine is.
	after := kernelTCPCounters(b)
	for _, name := range []string{"TCPFastRetrans", "TCPTimeouts"} {
		b.ReportMetric(float64(after[name]-before[name])/float64(b.N), name+"/transfer")
	}
}

// kernelTCPCounters reads the network namespace's TcpExt counters.
func kernelTCPCounters(b *testing.B) map[string]int64 {
	data, err := os.ReadFile("/proc/net/netstat")
	if err != nil {
		b.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	counters := make(map[string]int64)
	for i := 0; i+1 < len(lines); i++ {
		names, values := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		if len(names) == 0 || names[0] != "TcpExt:" || len(values) != len(names) {
			continue
		}
		for j := 1; j < len(names); j++ {
			counters[names[j]], _ = strconv.ParseInt(values[j], 10, 64)
		}
		break
	}
	return counters
}
