package interop

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"tcplab/internal/device"
	"tcplab/internal/sandbox"
	"tcplab/internal/stack"
)

// lossySize is what each iteration of BenchmarkLossyTransfer moves.
const lossySize = 4 << 20

// BenchmarkLossyTransfer moves 4 MiB through 10% loss each way, made by
// nftables on the kernel's side: into the lab stack from a kernel server
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
		dropOn(b, `iifname "tun144"`, `oifname "tun144"`)
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
		s, err := stack.New(tun, cfg)
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

// dropOn makes nftables drop 10% of the datagrams matching each of the
// conditions: the first on the input hook, the second (if any) on output.
func dropOn(b *testing.B, in string, out ...string) {
	nft, err := exec.LookPath("nft")
	if err != nil {
		b.Skip("nft is not installed (apt-get install nftables)")
	}
	rules := "table ip tcplab {\n" +
		fmt.Sprintf("  chain in { type filter hook input priority 0; %s numgen random mod 10 == 0 drop; }\n", in)
	if len(out) > 0 {
		rules += fmt.Sprintf("  chain out { type filter hook output priority 0; %s numgen random mod 10 == 0 drop; }\n", out[0])
	}
	rules += "}\n"
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
}
