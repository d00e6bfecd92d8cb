package device_test

import (
	"bytes"
	"io"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/stretchr/testify/require"

	"tcplab/internal/device"
	"tcplab/internal/sandbox"
)

// The offload device is tested on a link of its own, tun148, beside the
// sandbox's tun144, with a hand-made TCP peer on our side: the kernel's
// TCP sends to it as it would to any stack, in super-packets if the device
// took TSO.
var (
	offloadKernel = netip.MustParsePrefix("169.254.148.1/24")
	offloadLab    = netip.MustParseAddr("169.254.148.9")
)

func openOffloadLink(t *testing.T, want device.Offloads) *device.OffloadTUN {
	t.Helper()
	dev, err := device.OpenOffloadTUN("tun148", sandbox.MTU, want)
	require.NoError(t, err)
	t.Cleanup(func() { dev.Close() })
	require.NoError(t, device.Configure(dev.Name(), device.Config{MTU: sandbox.MTU, KernelAddr: offloadKernel}))
	return dev
}

// tcpPeer is just enough TCP to open a connection to a kernel server and
// take its data in order: no retransmission, an ACK after every batch.
type tcpPeer struct {
	t              *testing.T
	dev            *device.OffloadTUN
	local, remote  netip.AddrPort
	sndNxt, rcvNxt uint32
	bufs           [][]byte
	sizes          []int

	// whole: the device hands super-packets over whole (SetWhole); read
	// splits them itself and counts the largest.
	whole   bool
	largest int
	segs    [][]byte
	segSize []int
}

func newTCPPeer(t *testing.T, dev *device.OffloadTUN, remote netip.AddrPort, whole bool) *tcpPeer {
	p := &tcpPeer{t: t, dev: dev, local: netip.AddrPortFrom(offloadLab, 40000), remote: remote, sndNxt: 1000,
		bufs: make([][]byte, dev.BatchSize()), sizes: make([]int, dev.BatchSize()), whole: whole}
	size := dev.MTU()
	if whole {
		dev.SetWhole(true)
		size = device.Headroom + 65535
		p.segs, p.segSize = make([][]byte, device.OffloadBatch), make([]int, device.OffloadBatch)
		for i := range p.segs {
			p.segs[i] = make([]byte, dev.MTU())
		}
	}
	for i := range p.bufs {
		p.bufs[i] = make([]byte, size)
	}
	return p
}

// segment builds a datagram from us to the kernel, at Headroom in a
// buffer with room for Write to join more to it.
func (p *tcpPeer) segment(seq uint32, flags func(*layers.TCP), payload []byte) []byte {
	ip := &layers.IPv4{Version: 4, TTL: 64, Flags: layers.IPv4DontFragment, Protocol: layers.IPProtocolTCP,
		SrcIP: p.local.Addr().AsSlice(), DstIP: p.remote.Addr().AsSlice()}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(p.local.Port()), DstPort: layers.TCPPort(p.remote.Port()),
		Seq: seq, Ack: p.rcvNxt, ACK: true, Window: 65535}
	flags(tcp)
	require.NoError(p.t, tcp.SetNetworkLayerForChecksum(ip))
	sb := gopacket.NewSerializeBuffer()
	require.NoError(p.t, gopacket.SerializeLayers(sb, gopacket.SerializeOptions{ComputeChecksums: true, FixLengths: true},
		ip, tcp, gopacket.Payload(payload)))
	b := make([]byte, device.Headroom, device.Headroom+65535)
	return append(b, sb.Bytes()...)
}

func (p *tcpPeer) write(bufs ...[]byte) {
	p.t.Helper()
	n, err := p.dev.Write(bufs, device.Headroom)
	require.NoError(p.t, err)
	require.Equal(p.t, len(bufs), n)
}

// read returns the kernel's TCP segments to us from one batch, each
// checked with gopacket: no larger than the MTU, checksums good.
func (p *tcpPeer) read() []*layers.TCP {
	p.t.Helper()
	offset := 0
	if p.whole {
		offset = device.Headroom
	}
	n, err := p.dev.Read(p.bufs, p.sizes, offset)
	require.NoError(p.t, err)
	datagrams := make([][]byte, 0, n)
	for i := range n {
		b := p.bufs[i][offset : offset+p.sizes[i]]
		if !p.whole {
			datagrams = append(datagrams, b)
			continue
		}
		// What SetWhole hands over: the kernel's virtio header, then the
		// datagram as the kernel made it. Split it as the stack would.
		hdr, err := device.DecodeVirtioNetHdr(p.bufs[i])
		require.NoError(p.t, err)
		p.largest = max(p.largest, len(b))
		k, err := device.SplitGSO(hdr, b, p.segs, p.segSize, 0)
		require.NoError(p.t, err)
		for j := range k {
			datagrams = append(datagrams, bytes.Clone(p.segs[j][:p.segSize[j]]))
		}
	}
	var segs []*layers.TCP
	for _, b := range datagrams {
		require.LessOrEqual(p.t, len(b), p.dev.MTU(), "a datagram larger than the MTU reached the caller")
		pkt := gopacket.NewPacket(bytes.Clone(b), layers.LayerTypeIPv4, gopacket.Default)
		tcp, ok := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if !ok || pkt.ErrorLayer() != nil {
			continue // the IPv6 chatter of a new link
		}
		requireTCPChecksum(p.t, b, tcp)
		segs = append(segs, tcp)
	}
	return segs
}

// requireTCPChecksum checks the TCP checksum of datagram b with gopacket:
// it computes the checksum of a copy whose checksum field is zeroed.
func requireTCPChecksum(t *testing.T, b []byte, tcp *layers.TCP) {
	t.Helper()
	zeroed := bytes.Clone(b)
	ihl := int(b[0]&0xf) * 4
	zeroed[ihl+16], zeroed[ihl+17] = 0, 0
	pkt := gopacket.NewPacket(zeroed, layers.LayerTypeIPv4, gopacket.Default)
	ztcp := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
	require.NoError(t, ztcp.SetNetworkLayerForChecksum(pkt.NetworkLayer()))
	sum, err := ztcp.ComputeChecksum()
	require.NoError(t, err)
	require.Equal(t, tcp.Checksum, sum, "TCP checksum")
}

func (p *tcpPeer) connect() {
	syn := p.segment(p.sndNxt, func(h *layers.TCP) {
		h.SYN, h.ACK, h.Ack = true, false, 0
		h.Options = []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}}}
	}, nil)
	p.write(syn)
	for range 20 {
		for _, s := range p.read() {
			if s.SYN && s.ACK && s.Ack == p.sndNxt+1 && uint16(s.SrcPort) == p.remote.Port() {
				p.sndNxt++
				p.rcvNxt = s.Seq + 1
				p.write(p.segment(p.sndNxt, func(*layers.TCP) {}, nil))
				return
			}
		}
	}
	p.t.Fatal("no SYN-ACK from the kernel")
}

// receive takes n bytes from the kernel, in order, acknowledging each
// batch; a segment out of order (a retransmission of something already
// taken on a slow machine) is skipped.
func (p *tcpPeer) receive(n int) []byte {
	var got []byte
	for len(got) < n {
		for _, s := range p.read() {
			if s.Seq == p.rcvNxt && len(s.Payload) > 0 && uint16(s.SrcPort) == p.remote.Port() {
				got = append(got, s.Payload...)
				p.rcvNxt += uint32(len(s.Payload))
			}
		}
		p.write(p.segment(p.sndNxt, func(*layers.TCP) {}, nil))
	}
	return got
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + i>>10)
	}
	return b
}

func TestOffloadTUNAgainstLinux(t *testing.T) {
	const down = 4 << 20
	const upSegs, mss = 40, 1448
	for _, tc := range []struct {
		name    string
		want    device.Offloads
		offload bool
		whole   bool
		// small: whole, but into buffers of the MTU, so each super-packet
		// is split after all; the buffers start full of 0xff, so a split
		// segment without its own header reads as garbage.
		small bool
	}{
		{"with offloads: super-packets in, split; segments out, joined", device.AllOffloads, true, false, false},
		{"with offloads: super-packets handed over whole", device.AllOffloads, true, true, false},
		{"with offloads: whole asked, buffers too small: split, each with its header", device.AllOffloads, true, true, true},
		{"without offloads: a datagram per read and per write", 0, false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sandbox.Run(t, func(t *testing.T, env *sandbox.Env) {
				dev := openOffloadLink(t, tc.want)
				t.Logf("%s: offloads %v (fallback: %v)", dev.Name(), dev.Offloads(), dev.Fallback())
				if tc.offload {
					require.Equal(t, device.AllOffloads, dev.Offloads(), "this kernel grants TSO on a TUN: %v", dev.Fallback())
				} else {
					require.Equal(t, device.Offloads(0), dev.Offloads())
				}
				// Reads block: a stuck kernel fails the test instead of
				// hanging it.
				watchdog := time.AfterFunc(2*time.Minute, func() { dev.Close() })
				defer watchdog.Stop()

				l, err := net.Listen("tcp4", net.JoinHostPort(offloadKernel.Addr().String(), "0"))
				require.NoError(t, err)
				defer l.Close()
				upload := make(chan []byte, 1)
				var wg sync.WaitGroup
				defer wg.Wait()
				wg.Go(func() {
					c, err := l.Accept()
					if err != nil {
						upload <- nil
						return
					}
					defer c.Close()
					c.SetDeadline(time.Now().Add(2 * time.Minute))
					if _, err := c.Write(pattern(down)); err != nil {
						upload <- nil
						return
					}
					got := make([]byte, upSegs*mss)
					if _, err := io.ReadFull(c, got); err != nil {
						upload <- nil
						return
					}
					upload <- got
				})

				p := newTCPPeer(t, dev, netip.MustParseAddrPort(l.Addr().String()), tc.whole)
				if tc.small {
					for i := range p.bufs {
						p.bufs[i] = bytes.Repeat([]byte{0xff}, device.Headroom+dev.MTU())
					}
				}
				p.connect()
				before := dev.OffloadStats()
				got := p.receive(down)
				require.True(t, bytes.Equal(pattern(down), got[:down]), "the download arrived changed")
				st, in := dev.OffloadStats(), dev.Stats()
				t.Logf("download: %d datagrams in %d reads, %d of them super-packets", in.Read, st.ReadCalls, st.SuperPackets)
				switch {
				case tc.small:
					require.NotZero(t, st.SuperPackets-before.SuperPackets, "the kernel sent no super-packet")
					require.LessOrEqual(t, p.largest, dev.MTU(), "nothing larger than the buffers")
					require.Greater(t, in.Read, 2*st.ReadCalls, "super-packets split into the buffers")
				case tc.whole:
					require.NotZero(t, st.SuperPackets-before.SuperPackets, "the kernel sent no super-packet")
					require.Greater(t, p.largest, dev.MTU(), "super-packets come whole, larger than the MTU")
					require.Equal(t, in.Read, st.ReadCalls, "one datagram per read: nothing split")
				case tc.offload:
					require.NotZero(t, st.SuperPackets-before.SuperPackets, "the kernel sent no super-packet")
					require.Greater(t, in.Read, 2*st.ReadCalls, "super-packets should carry many segments each")
				default:
					require.Zero(t, st.SuperPackets)
					require.Equal(t, in.Read, st.ReadCalls, "a plain device reads one datagram per call")
				}
				require.Zero(t, st.Bad)

				// Upload: one batch of consecutive segments.
				data := pattern(upSegs * mss)
				var bufs [][]byte
				for i := range upSegs {
					last := i == upSegs-1
					bufs = append(bufs, p.segment(p.sndNxt+uint32(i*mss), func(h *layers.TCP) { h.PSH = last }, data[i*mss:(i+1)*mss]))
				}
				before = dev.OffloadStats()
				p.write(bufs...)
				after := dev.OffloadStats()
				calls := after.WriteCalls - before.WriteCalls
				t.Logf("upload: %d segments in %d writes", upSegs, calls)
				if tc.offload {
					require.Equal(t, uint64(1), calls, "one super-packet for the whole batch")
					require.Equal(t, uint64(upSegs-1), after.Joined-before.Joined)
				} else {
					require.Equal(t, uint64(upSegs), calls)
				}
				// The kernel takes the upload only if every checksum it
				// finished or checked was right.
				go func() {
					for {
						if _, err := dev.Read(p.bufs, p.sizes, 0); err != nil {
							return
						}
					}
				}()
				select {
				case up := <-upload:
					require.True(t, bytes.Equal(data, up), "the kernel's server did not read the upload as written")
				case <-time.After(time.Minute):
					t.Fatal("the kernel's server did not get the upload")
				}
			})
		})
	}
}

func TestOffloadTUNFallsBack(t *testing.T) {
	refuse := func(what int) func(fd, flags int) error {
		return func(fd, flags int) error {
			if flags&what != 0 {
				return syscall.EINVAL
			}
			return nil
		}
	}
	for _, tc := range []struct {
		name   string
		refuse int
		want   device.Offloads
		says   string
	}{
		{"a kernel without TSO on TUN: checksum offload only", 0x2 | 0x4, device.VnetHdr | device.Csum, "TUNSETOFFLOAD csum+tso4+tso6 refused"},
		{"a kernel that refuses every offload: the plain device", 0x1, 0, "the device is plain"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sandbox.Run(t, func(t *testing.T, env *sandbox.Env) {
				defer device.SetOffloadHook(refuse(tc.refuse))()
				dev := openOffloadLink(t, device.AllOffloads)
				require.Equal(t, tc.want, dev.Offloads())
				require.ErrorContains(t, dev.Fallback(), tc.says)
				require.ErrorIs(t, dev.Fallback(), syscall.EINVAL, "the kernel's answer is kept")

				// The device works either way: the kernel's SYN arrives.
				l, err := net.Listen("tcp4", net.JoinHostPort(offloadKernel.Addr().String(), "0"))
				require.NoError(t, err)
				l.Close()
				watchdog := time.AfterFunc(time.Minute, func() { dev.Close() })
				defer watchdog.Stop()
				p := newTCPPeer(t, dev, netip.AddrPortFrom(offloadLab, 80), false)
				go func() {
					d := net.Dialer{Timeout: 5 * time.Second}
					if c, err := d.Dial("tcp4", net.JoinHostPort(offloadLab.String(), "80")); err == nil {
						c.Close()
					}
				}()
				for range 50 {
					for _, s := range p.read() {
						if s.SYN && uint16(s.DstPort) == 80 {
							return
						}
					}
				}
				t.Fatal("no SYN from the kernel")
			})
		})
	}
}

func TestOffloadTUNClose(t *testing.T) {
	sandbox.Run(t, func(t *testing.T, env *sandbox.Env) {
		dev := openOffloadLink(t, device.AllOffloads)
		errc := make(chan error)
		go func() {
			// The kernel may hand over a datagram of its own (a router
			// solicitation, say) before Close: read until an error.
			bufs, sizes := [][]byte{make([]byte, 1500)}, []int{0}
			for {
				if _, err := dev.Read(bufs, sizes, 0); err != nil {
					errc <- err
					return
				}
			}
		}()
		require.NoError(t, dev.Close())
		select {
		case err := <-errc:
			require.ErrorIs(t, err, net.ErrClosed, "a blocked reader is released")
		case <-time.After(time.Minute):
			t.Fatal("Close did not release the reader")
		}
		_, err := dev.Write([][]byte{make([]byte, device.Headroom+40)}, device.Headroom)
		require.ErrorIs(t, err, net.ErrClosed)
		_, err = net.InterfaceByName("tun148")
		require.Error(t, err, "a TUN device that was not persistent goes when closed")
	})
}
