package wire

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"

	"tcplab/labs/2-receiver"
)

var (
	lab    = netip.MustParseAddrPort("169.254.144.9:40000")
	kernel = netip.MustParseAddrPort("169.254.144.1:80")

	cmpSegment = cmpopts.EquateComparable(netip.AddrPort{})
)

// seg builds a segment from lab to kernel.
func seg(snd receiver.SenderMessage, rcv receiver.ReceiverMessage, mss uint16) Segment {
	return Segment{Src: lab, Dst: kernel, Message: receiver.Message{Sender: snd, Receiver: rcv}, MSS: mss}
}

// canonical is what Parse should give back for s after AppendTo: RST in
// the sender half, no empty non-nil payload, and an MSS only on a SYN.
func canonical(s Segment) Segment {
	s.Sender.RST = s.IsRST()
	s.Receiver.RST = false
	if len(s.Sender.Payload) == 0 {
		s.Sender.Payload = nil
	}
	if !s.Sender.SYN {
		s.MSS = 0
	}
	s.Src = netip.AddrPortFrom(s.Src.Addr().Unmap(), s.Src.Port())
	s.Dst = netip.AddrPortFrom(s.Dst.Addr().Unmap(), s.Dst.Port())
	return s
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	require.NoError(t, err)
	return b
}

// payloadOf returns n deterministic bytes.
func payloadOf(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7 + 3)
	}
	return p
}

func TestRoundTrip(t *testing.T) {
	payloads := []struct {
		name string
		p    []byte
	}{
		{"no payload", nil},
		{"empty non-nil payload", []byte{}},
		{"1 byte", payloadOf(1)},
		{"1459 bytes (odd, for the checksum's padding)", payloadOf(1459)},
		{"1460 bytes", payloadOf(1460)},
	}
	for flags := range 32 {
		syn, fin, srst, rrst, ack := flags&1 != 0, flags&2 != 0, flags&4 != 0, flags&8 != 0, flags&16 != 0
		for _, pl := range payloads {
			for _, mss := range []uint16{0, 1460} {
				s := seg(
					receiver.SenderMessage{Seqno: 0xfffffff0 + receiver.Wrap32(flags), SYN: syn, FIN: fin, RST: srst, Payload: pl.p},
					receiver.ReceiverMessage{ACK: ack, Ackno: 0x80000001, WindowSize: 64000 + uint16(flags), RST: rrst},
					mss)
				name := fmt.Sprintf("%s (sender RST %t, receiver RST %t), %s, MSS %d", flagNames(s), srst, rrst, pl.name, mss)
				t.Run(name, func(t *testing.T) {
					prefix := []byte("prefix")
					b := s.AppendTo(bytes.Clone(prefix))
					require.Equal(t, prefix, b[:len(prefix)], "AppendTo must keep what buf held")
					d := b[len(prefix):]
					require.Len(t, d, s.Len())
					got, err := Parse(d)
					require.NoError(t, err)
					if diff := cmp.Diff(canonical(s), got, cmpSegment); diff != "" {
						t.Errorf("Parse(AppendTo(s)) (-want +got):\n%s", diff)
					}
				})
			}
		}
	}
}

func flagNames(s Segment) string {
	var f []string
	for _, x := range []struct {
		on   bool
		name string
	}{{s.Sender.SYN, "SYN"}, {s.Receiver.ACK, "ACK"}, {s.Sender.FIN, "FIN"}, {s.IsRST(), "RST"}} {
		if x.on {
			f = append(f, x.name)
		}
	}
	if len(f) == 0 {
		return "no flags"
	}
	return strings.Join(f, "+")
}

func TestAppendToLayout(t *testing.T) {
	// Fields a peer depends on but Parse ignores, checked byte by byte.
	syn := seg(receiver.SenderMessage{Seqno: 6969, SYN: true}, receiver.ReceiverMessage{WindowSize: 64000}, 1460)
	data := seg(receiver.SenderMessage{Seqno: 7000, Payload: []byte("hi")}, receiver.ReceiverMessage{ACK: true, Ackno: 1, WindowSize: 100}, 1460)
	tests := []struct {
		name string
		s    Segment
		want string
	}{
		{
			"our SYN carries only the MSS option, 4 bytes, no padding needed",
			syn,
			// Checksums checked against an independent 16-bit sum in Python.
			`45 00 002c 0000 4000 40 06 c6c4 a9fe9009 a9fe9001
			 9c40 0050 00001b39 00000000 60 02 fa00 7254 0000
			 02 04 05b4`,
		},
		{
			"a data segment has PSH, and no MSS option even when MSS is set",
			data,
			`45 00 002a 0000 4000 40 06 c6c6 a9fe9009 a9fe9001
			 9c40 0050 00001b58 00000001 50 18 0064 1b0c 0000
			 6869`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.s.AppendTo(nil)
			if diff := cmp.Diff(mustHex(t, tt.want), got); diff != "" {
				t.Errorf("AppendTo (-want +got):\n%s", diff)
			}
			require.Zero(t, Checksum(got[:IPv4HeaderLen]), "IPv4 header checksum")
		})
	}
}

// Datagrams Linux 6.18 wrote into tun144 (captured from the TUN device,
// checksums as the kernel computed them), with the segments they hold.
var captured = []struct {
	name string
	hex  string
	want Segment
}{
	{
		name: "Linux SYN with MSS, SACK-permitted, timestamps and window scale",
		hex: `4500003c44c54000400681efa9fe9001a9fe9009
		      95ba0050d2bc879500000000a002faf06a2e0000
		      020405b4 0402 080a6c4b122e00000000 01 03030a`,
		want: Segment{
			Src: netip.MustParseAddrPort("169.254.144.1:38330"), Dst: netip.MustParseAddrPort("169.254.144.9:80"),
			Message: receiver.Message{
				Sender:   receiver.SenderMessage{Seqno: 3535570837, SYN: true},
				Receiver: receiver.ReceiverMessage{WindowSize: 64240},
			},
			MSS: 1460,
		},
	},
	{
		name: "Linux ACK with timestamps after NOP NOP",
		hex: `4500003444c64000400681f6a9fe9001a9fe9009
		      95ba0050d2bc8796000003e98010003f5f7c0000
		      0101080a6c4b122f00003039`,
		want: Segment{
			Src: netip.MustParseAddrPort("169.254.144.1:38330"), Dst: netip.MustParseAddrPort("169.254.144.9:80"),
			Message: receiver.Message{
				Sender:   receiver.SenderMessage{Seqno: 3535570838},
				Receiver: receiver.ReceiverMessage{ACK: true, Ackno: 1001, WindowSize: 63},
			},
		},
	},
	{
		name: "Linux data segment with timestamps (PSH+ACK, an HTTP request)",
		hex: `4500005b44c74000400681cea9fe9001a9fe9009
		      95ba0050d2bc8796000003e98018003f146e0000
		      0101080a6c4b122f00003039
		      474554202f20485454502f312e310d0a486f73743a203136392e3235342e3134342e390d0a0d0a`,
		want: Segment{
			Src: netip.MustParseAddrPort("169.254.144.1:38330"), Dst: netip.MustParseAddrPort("169.254.144.9:80"),
			Message: receiver.Message{
				Sender:   receiver.SenderMessage{Seqno: 3535570838, Payload: []byte("GET / HTTP/1.1\r\nHost: 169.254.144.9\r\n\r\n")},
				Receiver: receiver.ReceiverMessage{ACK: true, Ackno: 1001, WindowSize: 63},
			},
		},
	},
	{
		name: "Linux data segment without options (the peer offered none)",
		hex: `4500004ff73a40004006cf66a9fe9001a9fe9009
		      aa340050994a321a000003e95018faf07bfb0000
		      474554202f20485454502f312e310d0a486f73743a203136392e3235342e3134342e390d0a0d0a`,
		want: Segment{
			Src: netip.MustParseAddrPort("169.254.144.1:43572"), Dst: netip.MustParseAddrPort("169.254.144.9:80"),
			Message: receiver.Message{
				Sender:   receiver.SenderMessage{Seqno: 2571776538, Payload: []byte("GET / HTTP/1.1\r\nHost: 169.254.144.9\r\n\r\n")},
				Receiver: receiver.ReceiverMessage{ACK: true, Ackno: 1001, WindowSize: 64240},
			},
		},
	},
}

// An IPv6 router solicitation: what a fresh TUN device receives first.
const capturedIPv6RS = `6000000000083afffe80000000000000e3c5c042d7f776d6ff02000000000000000000000000000285008a6000000000`

func TestCapturedLinuxDatagrams(t *testing.T) {
	for _, c := range captured {
		t.Run(c.name, func(t *testing.T) {
			b := mustHex(t, c.hex)
			got, err := Parse(b)
			require.NoError(t, err)
			if diff := cmp.Diff(c.want, got, cmpSegment); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
			// What we would send with the same contents must parse the same.
			again, err := Parse(got.AppendTo(nil))
			require.NoError(t, err)
			if diff := cmp.Diff(c.want, again, cmpSegment); diff != "" {
				t.Errorf("Parse(AppendTo) (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("the IPv6 router solicitation is not ours", func(t *testing.T) {
		_, err := Parse(mustHex(t, capturedIPv6RS))
		require.ErrorIs(t, err, ErrNotIPv4)
	})
}

func TestParsePayloadAliasesInput(t *testing.T) {
	b := seg(receiver.SenderMessage{Payload: []byte("abc")}, receiver.ReceiverMessage{}, 0).AppendTo(nil)
	b = append(b, "pad"...) // a device may pad
	s, err := Parse(b)
	require.NoError(t, err)
	require.Equal(t, "abc", string(s.Sender.Payload))
	b[len(b)-4] = 'C'
	require.Equal(t, "abC", string(s.Sender.Payload), "the payload should alias b, not copy it")
	require.Equal(t, 3, cap(s.Sender.Payload), "appending to the payload must not overwrite the padding")
}

// fixIP recomputes the IPv4 header checksum of b after a test edited it.
func fixIP(b []byte) []byte {
	ihl := int(b[0]&0xf) * 4
	binary.BigEndian.PutUint16(b[10:], 0)
	binary.BigEndian.PutUint16(b[10:], Checksum(b[:ihl]))
	return b
}

// fixTCP recomputes the TCP checksum of b (IPv4 header of ihl bytes,
// total length from the header) after a test edited it.
func fixTCP(b []byte) []byte {
	ihl := int(b[0]&0xf) * 4
	tcp := b[ihl:binary.BigEndian.Uint16(b[2:])]
	binary.BigEndian.PutUint16(tcp[16:], 0)
	binary.BigEndian.PutUint16(tcp[16:], ^fold(sum(pseudoHeaderSum([4]byte(b[12:16]), [4]byte(b[16:20]), len(tcp)), tcp)))
	return b
}

func TestParseRejectsMalformed(t *testing.T) {
	good := func() []byte {
		return seg(receiver.SenderMessage{Seqno: 1, Payload: []byte("hello")}, receiver.ReceiverMessage{ACK: true, WindowSize: 1000}, 0).AppendTo(nil)
	}
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"an empty datagram is truncated", nil, ErrTruncated},
		{"19 bytes cannot hold an IPv4 header", good()[:19], ErrTruncated},
		{"an IPv6 packet is not IPv4", mustHex(t, capturedIPv6RS), ErrNotIPv4},
		{"version 5 is not IPv4", func() []byte { b := good(); b[0] = 0x55; return fixIP(b) }(), ErrNotIPv4},
		{"version 0 is not IPv4", make([]byte, 40), ErrNotIPv4},
		{"IHL 4 is shorter than the fixed header", func() []byte { b := good(); b[0] = 0x44; return b }(), ErrBadLength},
		{"IHL 0", func() []byte { b := good(); b[0] = 0x40; return b }(), ErrBadLength},
		{"total length below the header length", func() []byte { b := good(); binary.BigEndian.PutUint16(b[2:], 19); return fixIP(b) }(), ErrBadLength},
		{"IHL 15 past the total length", func() []byte { b := good(); b[0] = 0x4f; return b }(), ErrBadLength},
		{"total length past the bytes received", func() []byte { b := good(); return b[:len(b)-1] }(), ErrTruncated},
		{"a flipped bit in the IPv4 header", func() []byte { b := good(); b[8] ^= 1; return b }(), ErrBadChecksum},
		{"a zeroed IPv4 checksum", func() []byte { b := good(); b[10], b[11] = 0, 0; return b }(), ErrBadChecksum},
		{"UDP is not TCP", func() []byte { b := good(); b[9] = 17; return fixIP(b) }(), ErrNotTCP},
		{"ICMP is not TCP", func() []byte { b := good(); b[9] = 1; return fixIP(b) }(), ErrNotTCP},
		{"a first fragment has MF set", func() []byte { b := good(); b[6] = 0x20; return fixIP(b) }(), ErrFragment},
		{"a later fragment has an offset", func() []byte { b := good(); b[6], b[7] = 0, 1; return fixIP(b) }(), ErrFragment},
		{"a TCP header cut to 19 bytes", func() []byte {
			b := good()[:39]
			binary.BigEndian.PutUint16(b[2:], 39)
			return fixIP(b)
		}(), ErrTruncated},
		{"TCP data offset 4", func() []byte { b := good(); b[32] = 0x40; return fixTCP(b) }(), ErrBadLength},
		{"TCP data offset past the segment's end", func() []byte { b := good(); b[32] = 0x70; return fixTCP(b) }(), ErrBadLength},
		{"a flipped bit in the payload", func() []byte { b := good(); b[len(b)-1] ^= 0x80; return b }(), ErrBadChecksum},
		{"a flipped bit in the TCP header", func() []byte { b := good(); b[33] ^= flagFIN; return b }(), ErrBadChecksum},
		{"a changed address fails the pseudo-header", func() []byte { b := good(); b[19]++; return fixIP(b) }(), ErrBadChecksum},
		{"a changed total length fails the pseudo-header", func() []byte {
			b := append(good(), 0)
			binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
			return fixIP(b)
		}(), ErrBadChecksum},
	}
	sentinels := []error{ErrTruncated, ErrNotIPv4, ErrNotTCP, ErrFragment, ErrBadLength, ErrBadChecksum}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(tt.b)
			require.ErrorIs(t, err, tt.want, "Parse gave %v", s)
			for _, other := range sentinels {
				if other != tt.want && errors.Is(err, other) {
					t.Errorf("error %q also matches %q", err, other)
				}
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	base := seg(receiver.SenderMessage{Seqno: 7, SYN: true, Payload: []byte("data")}, receiver.ReceiverMessage{WindowSize: 9}, 0)
	want := canonical(base)
	withMSS := want
	withMSS.MSS = 1400
	// insertTCPOptions rebuilds base's datagram with opts after the TCP
	// header (opts must be a multiple of 4 bytes).
	insertTCPOptions := func(flags byte, opts ...byte) []byte {
		b := base.AppendTo(nil)
		b = append(b[:40:40], append(opts, b[40:]...)...)
		binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
		b[32] = byte(5+len(opts)/4) << 4
		b[33] = flags
		return fixTCP(fixIP(b))
	}
	noSYN := want
	noSYN.Sender.SYN = false
	tests := []struct {
		name string
		b    []byte
		want Segment
	}{
		{"padding past the total length is ignored", append(base.AppendTo(nil), 0, 0, 0, 0, 0, 0), want},
		{"IP options are skipped by IHL", func() []byte {
			b := base.AppendTo(nil)
			// Router alert (kind 148, length 4), then an end of options.
			b = append(b[:20:20], append([]byte{148, 4, 0, 0, 0, 0, 0, 0}, b[20:]...)...)
			b[0] = 0x47
			binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
			return fixTCP(fixIP(b))
		}(), want},
		{"the MSS option after others", insertTCPOptions(flagSYN, 1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8, 2, 4, 0x05, 0x78), withMSS},
		{"options after an end-of-options are not read", insertTCPOptions(flagSYN, 0, 2, 4, 0x05, 0x78, 0, 0, 0), want},
		{"an MSS option of the wrong length is not an MSS", insertTCPOptions(flagSYN, 2, 6, 0x05, 0x78, 0, 0, 0, 0), want},
		{"an option of length 0 ends option parsing, not the segment", insertTCPOptions(flagSYN, 3, 0, 2, 4, 0x05, 0x78, 0, 0), want},
		{"an option running past the header ends option parsing", insertTCPOptions(flagSYN, 1, 1, 1, 3, 9, 0, 0, 0, 1, 2, 4, 0x05), want},
		{"the MSS option on a non-SYN is ignored", insertTCPOptions(flagPSH, 2, 4, 0x05, 0x78), noSYN},
		{"URG, ECE and CWR are ignored", func() []byte {
			b := base.AppendTo(nil)
			b[33] |= 0x20 | 0x40 | 0x80
			return fixTCP(b)
		}(), want},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.b)
			require.NoError(t, err)
			if diff := cmp.Diff(tt.want, got, cmpSegment); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
		})
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		name string
		s    Segment
		want string
	}{
		{"a SYN with its MSS",
			seg(receiver.SenderMessage{Seqno: 6969, SYN: true}, receiver.ReceiverMessage{WindowSize: 64000}, 1460),
			"169.254.144.9:40000 → 169.254.144.1:80 SYN seq=6969 ack=0 win=64000 len=0 mss=1460"},
		{"a data segment",
			seg(receiver.SenderMessage{Seqno: 7, Payload: []byte("hello")}, receiver.ReceiverMessage{ACK: true, Ackno: 4294967295, WindowSize: 1}, 0),
			"169.254.144.9:40000 → 169.254.144.1:80 ACK seq=7 ack=4294967295 win=1 len=5"},
		{"all the flags in order, RST from the receiver half",
			seg(receiver.SenderMessage{SYN: true, FIN: true}, receiver.ReceiverMessage{ACK: true, RST: true}, 0),
			"169.254.144.9:40000 → 169.254.144.1:80 SYN ACK FIN RST seq=0 ack=0 win=0 len=0"},
		{"no flags at all",
			seg(receiver.SenderMessage{}, receiver.ReceiverMessage{}, 0),
			"169.254.144.9:40000 → 169.254.144.1:80 seq=0 ack=0 win=0 len=0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.s.String())
			require.Equal(t, "> "+tt.want, string(tt.s.AppendText([]byte("> "))))
		})
	}
}

func TestMSSForMTU(t *testing.T) {
	for _, tt := range []struct {
		mtu  int
		want uint16
	}{{1500, 1460}, {576, 536}, {65535, 65495}, {1 << 20, 65535}, {30, 0}} {
		t.Run(fmt.Sprintf("MTU %d", tt.mtu), func(t *testing.T) {
			require.Equal(t, tt.want, MSSForMTU(tt.mtu))
		})
	}
}

func TestAppendToPanicsOnCallerBugs(t *testing.T) {
	tests := []struct {
		name string
		s    Segment
	}{
		{"an IPv6 source", Segment{Src: netip.MustParseAddrPort("[::1]:1"), Dst: kernel}},
		{"a zero destination", Segment{Src: lab}},
		{"a payload too big for IPv4", seg(receiver.SenderMessage{Payload: make([]byte, MaxDatagramLen-39)}, receiver.ReceiverMessage{}, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Panics(t, func() { tt.s.AppendTo(nil) })
		})
	}
	t.Run("the largest payload fits, and IPv4-mapped addresses are IPv4", func(t *testing.T) {
		s := seg(receiver.SenderMessage{Payload: make([]byte, MaxDatagramLen-40)}, receiver.ReceiverMessage{}, 0)
		s.Src = netip.AddrPortFrom(netip.AddrFrom16(s.Src.Addr().As16()), s.Src.Port())
		got, err := Parse(s.AppendTo(nil))
		require.NoError(t, err)
		if diff := cmp.Diff(canonical(s), got, cmpSegment); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}

func TestNoAllocations(t *testing.T) {
	s := seg(receiver.SenderMessage{Seqno: 1, SYN: true, Payload: payloadOf(1460)}, receiver.ReceiverMessage{ACK: true, WindowSize: 1}, 1460)
	buf := make([]byte, 0, 2048)
	b := s.AppendTo(buf)
	require.Zero(t, testing.AllocsPerRun(100, func() { s.AppendTo(buf) }), "AppendTo into a buffer with room")
	require.Zero(t, testing.AllocsPerRun(100, func() { _, _ = Parse(b) }), "Parse")
	require.Zero(t, testing.AllocsPerRun(100, func() { s.AppendText(buf) }), "AppendText")
}

func TestParseVouched(t *testing.T) {
	good := seg(receiver.SenderMessage{Seqno: 1, Payload: []byte("hello")}, receiver.ReceiverMessage{ACK: true, WindowSize: 1000}, 0)
	// A kernel-made datagram with checksum offload: the field holds the
	// pseudo-header's sum only, which Parse rejects.
	partial := good.AppendTo(nil)
	binary.BigEndian.PutUint16(partial[36:], fold(pseudoHeaderSum([4]byte(partial[12:16]), [4]byte(partial[16:20]), len(partial)-20)))
	_, err := Parse(partial)
	require.ErrorIs(t, err, ErrBadChecksum)
	got, err := ParseVouched(partial)
	require.NoError(t, err)
	if diff := cmp.Diff(canonical(good), got, cmpSegment); diff != "" {
		t.Errorf("ParseVouched (-want +got):\n%s", diff)
	}
	// The IPv4 header's checksum is still the stack's to check.
	badIP := good.AppendTo(nil)
	badIP[8] ^= 1
	_, err = ParseVouched(badIP)
	require.ErrorIs(t, err, ErrBadChecksum)
}

func TestClearPSH(t *testing.T) {
	for _, n := range []int{1, 2, 999, 1460} {
		s := seg(receiver.SenderMessage{Seqno: 1, Payload: payloadOf(n)}, receiver.ReceiverMessage{ACK: true, Ackno: 7, WindowSize: 1000}, 0)
		b := s.AppendTo(nil)
		require.NotZero(t, b[33]&flagPSH, "AppendTo sets PSH with data")
		ClearPSH(b)
		require.Zero(t, b[33]&flagPSH)
		got, err := Parse(b)
		require.NoError(t, err, "the checksum was mended")
		if diff := cmp.Diff(canonical(s), got, cmpSegment); diff != "" {
			t.Errorf("ClearPSH changed more than PSH (-want +got):\n%s", diff)
		}
		want := append([]byte(nil), b...)
		ClearPSH(b)
		require.Equal(t, want, b, "clearing a clear PSH changes nothing")
	}
}

func TestContinues(t *testing.T) {
	data := func(seq uint32, n int) []byte {
		return seg(receiver.SenderMessage{Seqno: receiver.Wrap32(seq), Payload: payloadOf(n)}, receiver.ReceiverMessage{ACK: true}, 0).AppendTo(nil)
	}
	other := seg(receiver.SenderMessage{Seqno: 101, Payload: payloadOf(10)}, receiver.ReceiverMessage{ACK: true}, 0)
	other.Src = netip.AddrPortFrom(lab.Addr(), lab.Port()+1)
	tests := []struct {
		name string
		a, b []byte
		want bool
	}{
		{"the next bytes", data(1, 100), data(101, 10), true},
		{"across the wrap", data(0xffffff9c, 100), data(0, 10), true},
		{"a gap", data(1, 100), data(102, 10), false},
		{"the same bytes again", data(1, 100), data(1, 100), false},
		{"another connection", data(1, 100), other.AppendTo(nil), false},
		{"a bare ACK after data", data(1, 100), data(101, 0), false},
		{"data after a bare ACK", data(1, 0), data(1, 10), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, Continues(tt.a, tt.b))
		})
	}
}
