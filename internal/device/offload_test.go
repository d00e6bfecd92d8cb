package device

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/stretchr/testify/require"
)

// gopacket is the oracle here, as it is for package wire: every datagram
// SplitGSO makes and every super-packet coalesce makes must decode there,
// with the checksums it computes, and carry the bytes they were made from.

var (
	src4, dst4 = net.IP{169, 254, 144, 1}, net.IP{169, 254, 144, 9}
	src6, dst6 = net.ParseIP("fe80::1"), net.ParseIP("fe80::9")
)

// tcpSpec is one TCP segment (or super-segment) to build with gopacket.
type tcpSpec struct {
	v6               bool
	srcPort, dstPort uint16
	seq, ack         uint32
	flags            uint8 // FIN, SYN, RST, PSH, ACK, URG, ECE, CWR from bit 0
	window           uint16
	opts             int // bytes of NOP options, a multiple of 4
	id               uint16
	payload          []byte
}

func (s tcpSpec) build(t testing.TB) []byte {
	t.Helper()
	tcp := &layers.TCP{
		SrcPort: layers.TCPPort(s.srcPort), DstPort: layers.TCPPort(s.dstPort),
		Seq: s.seq, Ack: s.ack, Window: s.window,
		FIN: s.flags&0x01 != 0, SYN: s.flags&0x02 != 0, RST: s.flags&0x04 != 0, PSH: s.flags&0x08 != 0,
		ACK: s.flags&0x10 != 0, URG: s.flags&0x20 != 0, ECE: s.flags&0x40 != 0, CWR: s.flags&0x80 != 0,
	}
	for range s.opts {
		tcp.Options = append(tcp.Options, layers.TCPOption{OptionType: layers.TCPOptionKindNop})
	}
	var net gopacket.SerializableLayer
	if s.v6 {
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: src6, DstIP: dst6}
		require.NoError(t, tcp.SetNetworkLayerForChecksum(ip))
		net = ip
	} else {
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: s.id, Flags: layers.IPv4DontFragment, Protocol: layers.IPProtocolTCP, SrcIP: src4, DstIP: dst4}
		require.NoError(t, tcp.SetNetworkLayerForChecksum(ip))
		net = ip
	}
	buf := gopacket.NewSerializeBuffer()
	require.NoError(t, gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true, FixLengths: true},
		net, tcp, gopacket.Payload(s.payload)))
	return bytes.Clone(buf.Bytes())
}

// sum16 is the textbook RFC 1071 sum, independent of the device's own.
func sum16(acc uint32, b []byte) uint32 {
	for i := 0; i+1 < len(b); i += 2 {
		acc += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		acc += uint32(b[len(b)-1]) << 8
	}
	for acc > 0xffff {
		acc = acc>>16 + acc&0xffff
	}
	return acc
}

// pseudoSum is the TCP pseudo-header's sum for datagram pkt, as the
// kernel leaves it in a partial checksum.
func pseudoSum(pkt []byte) uint16 {
	var acc uint32
	if pkt[0]>>4 == 6 {
		acc = sum16(sum16(0, pkt[8:24]), pkt[24:40])
		acc += uint32(len(pkt) - 40)
	} else {
		ihl := int(pkt[0]&0xf) * 4
		acc = sum16(sum16(0, pkt[12:16]), pkt[16:20])
		acc += uint32(len(pkt) - ihl)
	}
	return uint16(sum16(acc+protoTCP, nil))
}

// decoded is a datagram as gopacket reads it, checksums checked.
type decoded struct {
	ip4     *layers.IPv4
	ip6     *layers.IPv6
	tcp     *layers.TCP
	payload []byte
}

// decode reads pkt with gopacket and checks both checksums with it.
func decode(t testing.TB, pkt []byte) decoded {
	t.Helper()
	first := layers.LayerTypeIPv4
	if len(pkt) > 0 && pkt[0]>>4 == 6 {
		first = layers.LayerTypeIPv6
	}
	p := gopacket.NewPacket(bytes.Clone(pkt), first, gopacket.Default)
	if e := p.ErrorLayer(); e != nil {
		t.Fatalf("gopacket cannot decode %x: %v", pkt, e.Error())
	}
	var d decoded
	d.tcp, _ = p.Layer(layers.LayerTypeTCP).(*layers.TCP)
	require.NotNil(t, d.tcp, "no TCP layer in %v", p.Layers())
	var nl gopacket.NetworkLayer
	if first == layers.LayerTypeIPv4 {
		d.ip4 = p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		require.Equal(t, int(d.ip4.Length), len(pkt), "IPv4 total length")
		ip := *d.ip4
		require.NoError(t, ip.SerializeTo(gopacket.NewSerializeBuffer(), gopacket.SerializeOptions{ComputeChecksums: true}))
		require.Equal(t, ip.Checksum, d.ip4.Checksum, "IPv4 header checksum")
		nl = d.ip4
	} else {
		d.ip6 = p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
		require.Equal(t, int(d.ip6.Length), len(pkt)-40, "IPv6 payload length")
		nl = d.ip6
	}
	tcp := *d.tcp
	require.NoError(t, tcp.SetNetworkLayerForChecksum(nl))
	want := tcp.Checksum
	zeroed := bytes.Clone(pkt)
	at := len(pkt) - len(d.tcp.Contents) - len(d.tcp.Payload) + 16
	zeroed[at], zeroed[at+1] = 0, 0
	zp := gopacket.NewPacket(zeroed, first, gopacket.Default)
	ztcp := zp.Layer(layers.LayerTypeTCP).(*layers.TCP)
	require.NoError(t, ztcp.SetNetworkLayerForChecksum(zp.NetworkLayer()))
	got, err := ztcp.ComputeChecksum()
	require.NoError(t, err)
	require.Equal(t, got, want, "TCP checksum")
	d.payload = d.tcp.Payload
	return d
}

// superPacket makes what a TUN with TSO hands over: one datagram with all
// of s's payload and the TCP checksum partial, behind its virtio header.
func superPacket(t testing.TB, s tcpSpec, mss uint16) (VirtioNetHdr, []byte) {
	pkt := s.build(t)
	iphLen := 20
	typ := uint8(VirtioGSOTCPv4)
	if s.v6 {
		iphLen, typ = 40, VirtioGSOTCPv6
	}
	binary.BigEndian.PutUint16(pkt[iphLen+16:], pseudoSum(pkt))
	return VirtioNetHdr{
		Flags: VirtioNeedsCsum, GSOType: typ, HdrLen: uint16(iphLen + 20 + s.opts),
		GSOSize: mss, CsumStart: uint16(iphLen), CsumOffset: 16,
	}, pkt
}

func buffers(n, size, offset int) ([][]byte, []int) {
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = make([]byte, offset+size)
	}
	return bufs, make([]int, n)
}

// checkSplit splits a super-packet made from s and checks every segment
// against s with gopacket.
func checkSplit(t testing.TB, s tcpSpec, mss uint16) {
	t.Helper()
	hdr, pkt := superPacket(t, s, mss)
	const offset = 3
	want := max(1, (len(s.payload)+int(mss)-1)/int(mss))
	// As many buffers as segments (the fuzzer's large MSSs would make 128
	// of them slow), but never more than a device offers.
	bufs, sizes := buffers(min(want, 128), int(hdr.HdrLen)+int(mss), offset)
	n, err := SplitGSO(hdr, pkt, bufs, sizes, offset)
	if want > len(bufs) {
		require.ErrorIs(t, err, ErrTooManySegments)
		return
	}
	require.NoError(t, err)
	require.Equal(t, want, n, "segments")
	var joined []byte
	for i := range n {
		d := decode(t, bufs[i][offset:offset+sizes[i]])
		last := i == n-1
		if !last {
			require.Len(t, d.payload, int(mss), "segment %d", i)
		}
		require.LessOrEqual(t, len(d.payload), int(mss))
		require.Equal(t, s.seq+uint32(len(joined)), d.tcp.Seq, "segment %d seq", i)
		require.Equal(t, s.ack, d.tcp.Ack)
		require.Equal(t, s.window, d.tcp.Window)
		require.Equal(t, s.flags&0x01 != 0 && last, d.tcp.FIN, "FIN on the last segment only")
		require.Equal(t, s.flags&0x08 != 0 && last, d.tcp.PSH, "PSH on the last segment only")
		require.Equal(t, s.flags&0x80 != 0 && i == 0, d.tcp.CWR, "CWR on the first segment only")
		require.Equal(t, s.flags&0x10 != 0, d.tcp.ACK)
		require.Len(t, d.tcp.Options, s.opts)
		if d.ip4 != nil {
			require.Equal(t, s.id+uint16(i), d.ip4.Id, "IPv4 identification counts up")
		}
		joined = append(joined, d.payload...)
	}
	if diff := cmp.Diff(s.payload, joined, cmp.Comparer(bytes.Equal)); diff != "" {
		t.Fatalf("payloads joined differ from the super-packet's (-want +got):\n%s", diff)
	}
}

func payloadOf(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func TestSplitGSO(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec tcpSpec
		mss  uint16
	}{
		{"64 KiB over IPv4 in 1448-byte segments", tcpSpec{seq: 1000, ack: 5, flags: 0x18, window: 512, id: 77, payload: payloadOf(65535 - 40 - 12), opts: 12}, 1448},
		{"an odd tail", tcpSpec{seq: 1, ack: 1, flags: 0x10, payload: payloadOf(1460*3 + 7)}, 1460},
		{"FIN stays on the last segment", tcpSpec{seq: 9, flags: 0x19, payload: payloadOf(3000)}, 1000},
		{"CWR stays on the first segment", tcpSpec{seq: 9, flags: 0x90, payload: payloadOf(3000)}, 1000},
		{"sequence numbers wrap", tcpSpec{seq: 0xffffff00, flags: 0x10, payload: payloadOf(4000)}, 1000},
		{"IPv4 identification wraps", tcpSpec{id: 0xffff, flags: 0x10, payload: payloadOf(4000)}, 1000},
		{"one segment", tcpSpec{flags: 0x10, payload: payloadOf(500)}, 1000},
		{"IPv6", tcpSpec{v6: true, seq: 3, flags: 0x18, payload: payloadOf(20000), opts: 8}, 1220},
		{"more segments than buffers", tcpSpec{flags: 0x10, payload: payloadOf(1000)}, 7},
	} {
		t.Run(tc.name, func(t *testing.T) { checkSplit(t, tc.spec, tc.mss) })
	}
}

func TestSplitGSOPassesOrdinaryDatagrams(t *testing.T) {
	s := tcpSpec{seq: 5, flags: 0x18, payload: payloadOf(100)}
	pkt := s.build(t)
	bufs, sizes := buffers(1, 1500, 0)

	n, err := SplitGSO(VirtioNetHdr{}, bytes.Clone(pkt), bufs, sizes, 0)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, pkt, bufs[0][:sizes[0]], "a datagram without offloads is copied as it is")

	// A partial checksum (the kernel's CHECKSUM_PARTIAL) is finished.
	partial := bytes.Clone(pkt)
	binary.BigEndian.PutUint16(partial[36:], pseudoSum(pkt))
	hdr := VirtioNetHdr{Flags: VirtioNeedsCsum, CsumStart: 20, CsumOffset: 16}
	n, err = SplitGSO(hdr, partial, bufs, sizes, 0)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, pkt, bufs[0][:sizes[0]], "the finished checksum is the one gopacket computed")
	decode(t, bufs[0][:sizes[0]])

	_, err = SplitGSO(VirtioNetHdr{}, pkt, bufs, sizes, 1500-len(pkt)+1)
	require.ErrorIs(t, err, ErrTooManySegments, "a buffer one byte short")
}

func TestSplitGSORejectsHeadersThatDoNotFit(t *testing.T) {
	s := tcpSpec{flags: 0x10, payload: payloadOf(3000)}
	good, pkt := superPacket(t, s, 1000)
	for _, tc := range []struct {
		name string
		edit func(h *VirtioNetHdr, p []byte) []byte
	}{
		{"GSO size zero", func(h *VirtioNetHdr, p []byte) []byte { h.GSOSize = 0; return p }},
		{"UDP GSO", func(h *VirtioNetHdr, p []byte) []byte { h.GSOType = VirtioGSOUDPL4; return p }},
		{"TCPv6 type on IPv4", func(h *VirtioNetHdr, p []byte) []byte { h.GSOType = VirtioGSOTCPv6; return p }},
		{"checksum start inside the IP header", func(h *VirtioNetHdr, p []byte) []byte { h.CsumStart = 12; return p }},
		{"checksum offset not TCP's", func(h *VirtioNetHdr, p []byte) []byte { h.CsumOffset = 6; return p }},
		{"not TCP", func(h *VirtioNetHdr, p []byte) []byte { p[9] = 17; return p }},
		{"TCP header cut short", func(h *VirtioNetHdr, p []byte) []byte { return p[:30] }},
		{"TCP data offset past the end", func(h *VirtioNetHdr, p []byte) []byte { p[32] = 0xf0; return p[:50] }},
		{"empty", func(h *VirtioNetHdr, p []byte) []byte { return nil }},
		{"partial checksum past the end", func(h *VirtioNetHdr, p []byte) []byte {
			*h = VirtioNetHdr{Flags: VirtioNeedsCsum, CsumStart: 20, CsumOffset: 4000}
			return p
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := good
			p := tc.edit(&h, bytes.Clone(pkt))
			bufs, sizes := buffers(8, 4096, 0)
			_, err := SplitGSO(h, p, bufs, sizes, 0)
			require.ErrorIs(t, err, ErrBadVirtioHdr)
		})
	}
}

func TestVirtioNetHdrRoundTrip(t *testing.T) {
	h := VirtioNetHdr{Flags: VirtioNeedsCsum, GSOType: VirtioGSOTCPv4, HdrLen: 52, GSOSize: 1448, CsumStart: 20, CsumOffset: 16}
	b := make([]byte, VirtioNetHdrLen)
	h.Encode(b)
	got, err := DecodeVirtioNetHdr(b)
	require.NoError(t, err)
	require.Equal(t, h, got)
	require.Equal(t, uint16(1448), binary.NativeEndian.Uint16(b[4:]), "the kernel reads the host's byte order")
	_, err = DecodeVirtioNetHdr(b[:9])
	require.Error(t, err)
}

func FuzzVirtioNetHdr(f *testing.F) {
	f.Add([]byte{1, 1, 52, 0, 0xa8, 5, 20, 0, 16, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := DecodeVirtioNetHdr(b)
		if err != nil {
			require.Less(t, len(b), VirtioNetHdrLen)
			return
		}
		out := make([]byte, VirtioNetHdrLen)
		h.Encode(out)
		require.Equal(t, b[:VirtioNetHdrLen], out)
	})
}

// FuzzSplitGSO builds super-packets from the fuzzer's numbers with
// gopacket and checks the segments against them (checkSplit), then hands
// the raw bytes, header and all, to SplitGSO as a hostile kernel would:
// no panic, errors from the list, and whatever comes out decodes with
// good checksums.
func FuzzSplitGSO(f *testing.F) {
	f.Add(uint16(1448), uint16(10000), uint8(0x18), false, uint8(3), uint32(7), []byte{})
	f.Add(uint16(1220), uint16(3000), uint8(0x19), true, uint8(0), uint32(0xfffffff0), []byte{1, 2})
	f.Add(uint16(1), uint16(2), uint8(0x90), false, uint8(10), uint32(0), []byte{})
	f.Fuzz(func(t *testing.T, mss, size uint16, flags uint8, v6 bool, opts uint8, seq uint32, raw []byte) {
		if mss == 0 {
			mss = 1
		}
		opts = opts % 11
		limit := 65535 - 60 - int(opts)*4
		if v6 {
			limit = 65535 - 40 - int(opts)*4
		}
		s := tcpSpec{v6: v6, seq: seq, ack: seq ^ 0x5555, flags: flags &^ 0x06, window: mss,
			opts: int(opts) * 4, id: uint16(seq), payload: payloadOf(int(size) % limit)}
		checkSplit(t, s, mss)

		// The same super-packet with the fuzzer's bytes laid over its
		// front: header fields and packet bytes the kernel never sends.
		hdr, pkt := superPacket(t, s, mss)
		hb := make([]byte, VirtioNetHdrLen)
		hdr.Encode(hb)
		all := append(hb, pkt...)
		copy(all, raw)
		hdr, _ = DecodeVirtioNetHdr(all)
		bufs, sizes := buffers(64, 1600, 0)
		n, err := SplitGSO(hdr, all[VirtioNetHdrLen:], bufs, sizes, 0)
		if err != nil {
			if !errors.Is(err, ErrBadVirtioHdr) && !errors.Is(err, ErrTooManySegments) {
				t.Fatalf("error %v is neither ErrBadVirtioHdr nor ErrTooManySegments", err)
			}
			return
		}
		if hdr.GSOType == VirtioGSONone {
			return // copied as it is (or its checksum finished): nothing to promise
		}
		for i := range n {
			seg := bufs[i][:sizes[i]]
			if hdrIsIPv4(seg) {
				require.Equal(t, uint16(0xffff), uint16(sum16(0, seg[:int(seg[0]&0xf)*4])), "IPv4 header checksum of segment %d", i)
			}
			require.True(t, tcpChecksumOK(seg, int(hdr.CsumStart)), "segment %d TCP checksum", i)
		}
	})
}

func hdrIsIPv4(b []byte) bool { return b[0]>>4 == 4 }

// tcpChecksumOK checks seg's TCP checksum with the textbook sum.
func tcpChecksumOK(seg []byte, iphLen int) bool {
	var acc uint32
	if seg[0]>>4 == 6 {
		acc = sum16(sum16(0, seg[8:24]), seg[24:40])
	} else {
		acc = sum16(sum16(0, seg[12:16]), seg[16:20])
	}
	acc += uint32(len(seg)-iphLen) + protoTCP
	return sum16(acc+sum16(0, seg[iphLen:]), nil) == 0xffff
}
