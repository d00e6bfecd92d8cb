package bench

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/link/fdbased"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"

	"tcplab/internal/device"
	"tcplab/internal/sandbox"
	tcplabstack "tcplab/internal/stack"
)

// transferSize is what each iteration of BenchmarkTUNDownload fetches
// (and BenchmarkTUNUpload sends).
const transferSize = 100 << 20

// peer is one stack on the lab side of tun144: open readies it inside the
// sandbox and returns how to dial the kernel's server through it.
type peer struct {
	name string
	open func(b *testing.B) (dial func(addr string) (net.Conn, error), stats func() string)
	host string // the server's address: the kernel's side of tun144, or loopback
}

var tunPeers = []peer{
	{"tcplab", openTcplab(false), device.KernelAddr.Addr().String()},
	{"tcplab-offload", openTcplab(true), device.KernelAddr.Addr().String()},
	{"gvisor", openGVisorPlain, device.KernelAddr.Addr().String()},
	{"gvisor-offload", openGVisorOffload, device.KernelAddr.Addr().String()},
	{"kernel-loopback", openKernel, "127.0.0.1"},
}

// BenchmarkTUNDownload downloads 100 MiB from a kernel server through
// tun144 into each peer in turn, in the same run, and prints a table of
// Gbit/s with the ratios to tcplab and to the kernel's own TCP over
// loopback:
//
//   - tcplab: the lab stack on the plain TUN device (one datagram per read
//     and per write);
//   - tcplab-offload: the same stack on device.OffloadTUN as a batch
//     device (stack.NewBatch): each 64 KiB super-packet is read whole and
//     given to the lab Connection as one segment (the kernel vouches for
//     its checksum), and what one loop turn sends is one batch write, a
//     connection's consecutive segments joined into a super-packet;
//   - gvisor: gVisor's netstack on its fdbased endpoint, one datagram per
//     readv;
//   - gvisor-offload: gVisor's netstack given the TUN with IFF_VNET_HDR
//     and TSO, taking each 64 KiB super-packet whole (the kernel vouches
//     for its checksum). fdbased turns GSO on only for socket file
//     descriptors, never a TUN's, so here a channel endpoint is fed from
//     the device: one read per super-packet, one write per ACK;
//   - kernel-loopback: two kernel sockets over lo.
//
// Each peer runs in a sandbox of its own (a benchmark cannot run inside
// sandbox.Run), re-running this binary for exactly b.N downloads. Run from
// this folder, as root or where user namespaces are allowed:
//
//	go test -run '^$' -bench TUNDownload -benchtime 2x -args -rounds 3
func BenchmarkTUNDownload(b *testing.B) { benchTUN(b, "download") }

// BenchmarkTUNUpload is BenchmarkTUNDownload the other way: 100 MiB from
// each peer to a kernel server. tcplab's lab sender sees at most a 16-bit
// window, so its uploads are window-bound; gVisor's channel endpoint has no
// GSO, so its offload peer writes one segment per system call.
func BenchmarkTUNUpload(b *testing.B) { benchTUN(b, "upload") }

// benchTUN runs the rounds of BenchmarkTUNDownload or BenchmarkTUNUpload
// (direction "download" or "upload").
func benchTUN(b *testing.B, direction string) {
	var all []map[string]float64
	for round := 1; round <= *rounds; round++ {
		got := map[string]float64{}
		b.Run(fmt.Sprintf("round=%d", round), func(b *testing.B) {
			for _, p := range tunPeers {
				b.Run("peer="+p.name, func(b *testing.B) {
					if !sandbox.Inside() {
						if g, ok := benchInSandbox(b); ok {
							got[p.name] = g
						}
						return
					}
					o := openOnce(b, p)
					benchTUNTransfer(b, o.dial, p.host, direction == "upload")
					if o.stats != nil {
						b.Logf("%s", o.stats())
					}
				})
			}
		})
		if !sandbox.Inside() && len(got) > 0 {
			printTable(os.Stdout, direction, fmt.Sprintf("round %d of %d", round, *rounds), got)
			all = append(all, got)
		}
	}
	if len(all) > 1 {
		median := map[string]float64{}
		for _, p := range tunPeers {
			var v []float64
			for _, got := range all {
				if g, ok := got[p.name]; ok {
					v = append(v, g)
				}
			}
			if len(v) > 0 {
				slices.Sort(v)
				median[p.name] = v[len(v)/2]
			}
		}
		printTable(os.Stdout, direction, fmt.Sprintf("median of %d rounds", len(all)), median)
	}
}

// rounds is how many times BenchmarkTUNDownload runs every peer: each
// round is one table, all peers under the same conditions. (-count would
// run each peer count times in a row instead.)
var rounds = flag.Int("rounds", 1, "rounds of BenchmarkTUNDownload, every peer in each")

// opened is a peer made ready in this process. A sandboxed child opens its
// one peer once and keeps it until it exits: the framework calls the
// benchmark more than once (b.N = 1 first), and a TUN file descriptor
// that a blocked reader still holds cannot be reopened.
type opened struct {
	dial  func(addr string) (net.Conn, error)
	stats func() string
}

var (
	openedPeers = map[string]opened{}
	// transfers counts the transfers done in this process, for the
	// per-transfer figures.
	transfers uint64
)

func openOnce(b *testing.B, p peer) opened {
	o, ok := openedPeers[p.name]
	if !ok {
		o.dial, o.stats = p.open(b)
		openedPeers[p.name] = o
	}
	return o
}

func printTable(w io.Writer, direction, title string, got map[string]float64) {
	fmt.Fprintf(w, "\n100 MiB %s through a TUN, %s:\n", direction, title)
	fmt.Fprintf(w, "%-16s %8s %10s %18s\n", "peer", "Gbit/s", "vs tcplab", "vs kernel loopback")
	ratio := func(v float64, of string) string {
		if d, ok := got[of]; ok && d > 0 {
			return fmt.Sprintf("%.2f×", v/d)
		}
		return "-"
	}
	for _, p := range tunPeers {
		v, ok := got[p.name]
		if !ok {
			continue
		}
		fmt.Fprintf(w, "%-16s %8.2f %10s %18s\n", p.name, v, ratio(v, "tcplab"), ratio(v, "kernel-loopback"))
	}
	fmt.Fprintln(w)
}

func openTcplab(offload bool) func(b *testing.B) (func(string) (net.Conn, error), func() string) {
	return func(b *testing.B) (func(string) (net.Conn, error), func() string) {
		var s *tcplabstack.Stack
		var stats func() string
		cfg := tcplabstack.Config{Addr: device.LabAddr}
		if offload {
			t, err := device.OpenOffloadTUN(device.DefaultName, sandbox.MTU, device.AllOffloads)
			if err != nil {
				b.Fatal(err)
			}
			if t.Offloads() != device.AllOffloads {
				b.Fatalf("%s: offloads %v: %v", t.Name(), t.Offloads(), t.Fallback())
			}
			if s, err = tcplabstack.NewBatch(t, cfg); err != nil {
				t.Close()
				b.Fatal(err)
			}
			stats = func() string {
				d, o, st := t.Stats(), t.OffloadStats(), s.Stats()
				return fmt.Sprintf("per transfer: %d datagrams in %d reads (%d super-packets); "+
					"%d datagrams written in %d writes; stack: %d segments in (%d checksums checked, %d vouched), %d out in %d batches",
					d.Read/transfers, o.ReadCalls/transfers, o.SuperPackets/transfers, d.Written/transfers, o.WriteCalls/transfers,
					st.Received/transfers, st.ChecksumsChecked/transfers, st.ChecksumsVouched/transfers, st.Sent/transfers, st.WriteCalls/transfers)
			}
		} else {
			t, err := device.OpenTUN(device.DefaultName, sandbox.MTU)
			if err != nil {
				b.Fatal(err)
			}
			if s, err = tcplabstack.New(t, cfg); err != nil {
				t.Close()
				b.Fatal(err)
			}
			stats = func() string {
				d := device.StatsOf(t)
				return fmt.Sprintf("per transfer: %d reads, %d writes", d.Read/transfers, d.Written/transfers)
			}
		}
		return func(addr string) (net.Conn, error) { return s.Dial(context.Background(), addr) }, stats
	}
}

// gvisorOnLink makes a netstack with the lab address on NIC 1, the link
// ep, with receive buffers large enough for window scaling to matter (up
// to 8 MiB, moderated, as Linux does).
func gvisorOnLink(b *testing.B, ep stack.LinkEndpoint) func(string) (net.Conn, error) {
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol},
	})
	rcv := tcpip.TCPReceiveBufferSizeRangeOption{Min: 4 << 10, Default: 1 << 20, Max: 8 << 20}
	if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, &rcv); err != nil {
		b.Fatalf("gvisor receive buffer: %v", err)
	}
	// SACK on, as Linux has it and as production users of netstack set
	// it: without it every queue overflow at the TUN costs a round trip
	// per lost segment.
	sack := tcpip.TCPSACKEnabled(true)
	if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, &sack); err != nil {
		b.Fatalf("gvisor SACK: %v", err)
	}
	moderate := tcpip.TCPModerateReceiveBufferOption(true)
	if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, &moderate); err != nil {
		b.Fatalf("gvisor receive buffer moderation: %v", err)
	}
	if err := s.CreateNIC(1, ep); err != nil {
		b.Fatalf("gvisor create NIC: %v", err)
	}
	lab := tcpip.AddrFrom4(device.LabAddr.As4())
	prefix := tcpip.AddressWithPrefix{Address: lab, PrefixLen: device.KernelAddr.Bits()}
	pa := tcpip.ProtocolAddress{Protocol: ipv4.ProtocolNumber, AddressWithPrefix: prefix}
	if err := s.AddProtocolAddress(1, pa, stack.AddressProperties{}); err != nil {
		b.Fatalf("gvisor add address: %v", err)
	}
	s.SetRouteTable([]tcpip.Route{{Destination: prefix.Subnet(), NIC: 1}})
	return func(addr string) (net.Conn, error) {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil {
			return nil, err
		}
		return gonet.DialContextTCP(context.Background(), s,
			tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFrom4(ap.Addr().As4()), Port: ap.Port()}, ipv4.ProtocolNumber)
	}
}

func openGVisorPlain(b *testing.B) (func(string) (net.Conn, error), func() string) {
	fd, _, _, err := device.OpenTUNFD(device.DefaultName, 0)
	if err != nil {
		b.Fatal(err)
	}
	ep, err := fdbased.New(&fdbased.Options{FDs: []int{fd}, MTU: sandbox.MTU, PacketDispatchMode: fdbased.Readv})
	if err != nil {
		b.Fatalf("gvisor fdbased: %v", err)
	}
	return gvisorOnLink(b, ep), func() string {
		return fmt.Sprintf("per transfer: %s datagrams dropped by the kernel at tun144 (queue full)", tunDrops())
	}
}

// tunDrops is how many datagrams the kernel dropped at tun144 per
// transfer because its queue was full: the reader fell behind.
func tunDrops() string {
	link, err := netlink.LinkByName(device.DefaultName)
	if err != nil || link.Attrs().Statistics == nil {
		return "?"
	}
	return strconv.FormatUint(link.Attrs().Statistics.TxDropped/transfers, 10)
}

func openGVisorOffload(b *testing.B) (func(string) (net.Conn, error), func() string) {
	fd, got, why, err := device.OpenTUNFD(device.DefaultName, device.AllOffloads)
	if err != nil {
		b.Fatal(err)
	}
	if got != device.AllOffloads {
		b.Fatalf("tun144: offloads %v: %v", got, why)
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		b.Fatal(err)
	}
	ep := channel.New(1024, sandbox.MTU, "")
	// The kernel hands over super-packets with the checksum partial, and
	// vouches for it.
	ep.LinkEPCapabilities |= stack.CapabilityRXChecksumOffload
	l := &vnetLink{fd: fd, ep: ep}
	ep.AddNotify(l)
	go l.readLoop()
	return gvisorOnLink(b, ep), func() string {
		return fmt.Sprintf("per transfer: %d reads (%d super-packets), %d writes",
			l.reads.Load()/transfers, l.supers.Load()/transfers, l.writes.Load()/transfers)
	}
}

func openKernel(*testing.B) (func(string) (net.Conn, error), func() string) {
	return func(addr string) (net.Conn, error) { return net.Dial("tcp4", addr) }, nil
}

// benchTUNTransfer times b.N transfers of transferSize bytes between a
// kernel server on host and a peer, each over a fresh connection: a
// download (the server writes, the peer reads) or an upload (the peer
// writes; the clock stops when the server has read every byte).
func benchTUNTransfer(b *testing.B, dial func(addr string) (net.Conn, error), host string, upload bool) {
	l, err := net.Listen("tcp4", net.JoinHostPort(host, "0"))
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	chunk := bytes.Repeat([]byte("tcplab, gvisor and linux "), (1<<20)/25+1)[:1<<20]
	received := make(chan error, 1)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if upload {
					n, err := io.CopyBuffer(io.Discard, io.LimitReader(onlyReader{c}, transferSize), make([]byte, 64<<10))
					if err == nil && n != transferSize {
						err = fmt.Errorf("the server read %d of %d bytes", n, transferSize)
					}
					received <- err
					return
				}
				for range transferSize / len(chunk) {
					if _, err := c.Write(chunk); err != nil {
						return
					}
				}
			}()
		}
	}()
	buf := make([]byte, 64<<10)
	b.SetBytes(transferSize)
	var elapsed time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		c, err := dial(l.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		if upload {
			for range transferSize / len(buf) {
				if _, err = c.Write(buf); err != nil {
					break
				}
			}
			if err == nil {
				err = <-received
			}
		} else {
			var n int64
			n, err = io.CopyBuffer(io.Discard, onlyReader{c}, buf)
			if err == nil && n != transferSize {
				err = fmt.Errorf("downloaded %d of %d bytes", n, transferSize)
			}
		}
		elapsed += time.Since(start)
		b.StopTimer()
		c.Close()
		if err != nil {
			b.Fatal(err)
		}
		transfers++
		b.StartTimer()
	}
	b.ReportMetric(float64(transferSize)*8*float64(b.N)/elapsed.Seconds()/1e9, "Gbit/s")
}

// onlyReader hides WriterTo so every peer is read the same way.
type onlyReader struct{ io.Reader }

var benchLineRE = regexp.MustCompile(`^Benchmark\S+\s+(\d+)\s+(.*)$`)

// benchInSandbox runs this sub-benchmark in a sandboxed child for b.N
// iterations, reports its figures as this benchmark's, and returns its
// Gbit/s. (internal/interop's BenchmarkTUNDownload does the same; a test
// helper cannot be shared across modules.)
func benchInSandbox(b *testing.B) (float64, bool) {
	if err := sandbox.Available(); err != nil {
		b.Skip(err)
	}
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	pattern := "^" + strings.ReplaceAll(regexp.QuoteMeta(b.Name()), "/", "$/^") + "$"
	cmd, err := sandbox.Command(self, "-test.run=^$", "-test.bench="+pattern,
		fmt.Sprintf("-test.benchtime=%dx", b.N), "-test.count=1", "-test.v", fmt.Sprintf("-rounds=%d", *rounds))
	if err != nil {
		b.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		b.Fatalf("the sandboxed benchmark failed: %v\n%s", err, out.String())
	}
	gbps, found := 0.0, false
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, "per transfer:"); i >= 0 {
			b.Log(line[i:])
		}
		m := benchLineRE.FindStringSubmatch(line)
		if m == nil || found {
			continue
		}
		f := strings.Fields(m[2])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			b.ReportMetric(v, f[i+1])
			if f[i+1] == "Gbit/s" {
				gbps, found = v, true
			}
		}
	}
	if !found {
		b.Fatalf("no result from the sandboxed benchmark:\n%s", out.String())
	}
	return gbps, true
}

// vnetLink joins a gVisor channel endpoint to a TUN file descriptor
// opened with IFF_VNET_HDR and TSO: each read is one super-packet (or
// datagram) behind its virtio header, handed to gVisor whole; each packet
// gVisor sends is written with an empty virtio header (its checksums are
// complete).
type vnetLink struct {
	fd int
	ep *channel.Endpoint

	wmu  sync.Mutex
	wbuf []byte

	reads, supers, writes atomic.Uint64
}

func (l *vnetLink) readLoop() {
	buf := make([]byte, device.VirtioNetHdrLen+65535)
	for {
		n, err := unix.Read(l.fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n < device.VirtioNetHdrLen {
			return
		}
		l.reads.Add(1)
		h, _ := device.DecodeVirtioNetHdr(buf)
		if h.GSOType != device.VirtioGSONone {
			l.supers.Add(1)
		}
		pkt := buf[device.VirtioNetHdrLen:n]
		if len(pkt) == 0 || pkt[0]>>4 != 4 {
			continue // IPv6 chatter
		}
		pb := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(pkt)})
		l.ep.InjectInbound(ipv4.ProtocolNumber, pb)
		pb.DecRef()
	}
}

// WriteNotify is called by the channel endpoint when gVisor has queued a
// packet: write out everything queued.
func (l *vnetLink) WriteNotify() {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	for {
		pkt := l.ep.Read()
		if pkt == nil {
			return
		}
		l.wbuf = append(l.wbuf[:0], make([]byte, device.VirtioNetHdrLen)...)
		for _, s := range pkt.AsSlices() {
			l.wbuf = append(l.wbuf, s...)
		}
		pkt.DecRef()
		for {
			_, err := unix.Write(l.fd, l.wbuf)
			if err == unix.EINTR {
				continue
			}
			break
		}
		l.writes.Add(1)
	}
}
