// Package wire turns IPv4 datagrams carrying TCP into receiver.Messages (the
// segments lab Connections send and receive) and back: the layer between a
// device (raw datagrams) and the stack (connections demultiplexed by address
// and port). It needs lab 2's message type only, not lab 4.
//
// Segments are values, like net/netip's: Parse reads one out of a datagram
// without copying its payload, and AppendTo writes one into a caller's
// buffer, so the stack's hot path allocates nothing. Both sides check and
// compute the RFC 1071 checksums; Linux drops a datagram with a bad one
// silently, so a mistake here would show only as a missing reply.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"

	"tcplab/labs/2-receiver"
)

// Segment is one IPv4 datagram carrying one TCP segment, as the stack sees
// it: the two endpoints and the message.
type Segment struct {
	Src, Dst netip.AddrPort
	receiver.Message
	// MSS is the maximum segment size option, sent and read on SYNs only;
	// zero when absent.
	MSS uint16
}

// Errors Parse returns (wrapped with detail); the stack counts drops by them.
var (
	ErrTruncated   = errors.New("truncated datagram")
	ErrNotIPv4     = errors.New("not IPv4")
	ErrNotTCP      = errors.New("not TCP")
	ErrFragment    = errors.New("IP fragment")
	ErrBadLength   = errors.New("bad length field")
	ErrBadChecksum = errors.New("bad checksum")
)

// Sizes of what AppendTo writes.
const (
	IPv4HeaderLen = 20 // no IP options
	TCPHeaderLen  = 20 // without options
	mssOptionLen  = 4  // kind 2, length 4, the value: already 32-bit aligned
	// MaxHeaderLen is the most header AppendTo puts before a payload.
	MaxHeaderLen = IPv4HeaderLen + TCPHeaderLen + mssOptionLen
	// MaxDatagramLen is the IPv4 limit, set by the 16-bit total length.
	MaxDatagramLen = 0xffff
)

// MSSForMTU is the MSS to announce on a link with the given MTU: what
// remains of a datagram after option-less IPv4 and TCP headers (1460 on a
// 1500-byte MTU). Without an MSS option Linux assumes 536.
func MSSForMTU(mtu int) uint16 {
	return uint16(max(0, min(mtu-IPv4HeaderLen-TCPHeaderLen, 0xffff)))
}

const (
	protoTCP = 6

	// TCP flag bits (byte 13 of the TCP header).
	flagFIN = 0x01
	flagSYN = 0x02
	flagRST = 0x04
	flagPSH = 0x08
	flagACK = 0x10

	// IPv4 flags and fragment offset (bytes 6-7).
	ipFlagDF      = 0x4000
	ipFlagMF      = 0x2000
	ipFragOffMask = 0x1fff

	ttl = 64

	optEnd = 0
	optNOP = 1
	optMSS = 2
)

// Parse decodes an IPv4 datagram carrying TCP. The returned Payload aliases
// b (capped at the segment's end, so appending to it cannot overwrite b);
// it is nil when the segment carries no data.
//
// Bytes past the IPv4 total length are ignored (devices may pad). IP and
// TCP options are skipped by their length fields; the MSS option is read
// on SYNs only, where RFC 9293 allows it, and malformed TCP options end
// option parsing without failing the segment, as Linux does. The RST flag
// is reported in Sender.RST.
//
// Errors wrap one of the Err sentinels: ErrNotIPv4 and ErrNotTCP are
// traffic that is simply not ours (a TUN receives IPv6 router
// solicitations, for one); the others are damaged or unsupported datagrams.
func Parse(b []byte) (Segment, error) { return parse(b, true) }

// ParseVouched is Parse for a datagram whose TCP checksum someone else
// has already answered for: a TUN device with checksum offload marks what
// the kernel made or verified itself (VIRTIO_NET_HDR_F_NEEDS_CSUM,
// DATA_VALID), and the field of a kernel-made super-packet holds only a
// partial sum, so checking it would reject good data. Everything else,
// the IPv4 header checksum included, is checked as Parse does.
func ParseVouched(b []byte) (Segment, error) { return parse(b, false) }

func parse(b []byte, checkTCP bool) (Segment, error) {
	if len(b) == 0 {
		return Segment{}, fmt.Errorf("empty datagram: %w", ErrTruncated)
	}
	if v := b[0] >> 4; v != 4 {
		return Segment{}, fmt.Errorf("IP version %d: %w", v, ErrNotIPv4)
	}
	if len(b) < IPv4HeaderLen {
		return Segment{}, fmt.Errorf("%d bytes, shorter than an IPv4 header: %w", len(b), ErrTruncated)
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < IPv4HeaderLen {
		return Segment{}, fmt.Errorf("IPv4 header length %d: %w", ihl, ErrBadLength)
	}
	total := int(binary.BigEndian.Uint16(b[2:]))
	if total < ihl {
		return Segment{}, fmt.Errorf("IPv4 total length %d < header length %d: %w", total, ihl, ErrBadLength)
	}
	if total > len(b) {
		return Segment{}, fmt.Errorf("IPv4 total length %d > %d bytes received: %w", total, len(b), ErrTruncated)
	}
	ip := b[:ihl]
	if fold(sum(0, ip)) != 0xffff {
		return Segment{}, fmt.Errorf("IPv4 header: %w", ErrBadChecksum)
	}
	if p := ip[9]; p != protoTCP {
		return Segment{}, fmt.Errorf("IP protocol %d: %w", p, ErrNotTCP)
	}
	if frag := binary.BigEndian.Uint16(ip[6:]); frag&(ipFlagMF|ipFragOffMask) != 0 {
		return Segment{}, fmt.Errorf("MF=%t offset=%d: %w", frag&ipFlagMF != 0, (frag&ipFragOffMask)*8, ErrFragment)
	}

	tcp := b[ihl:total]
	if len(tcp) < TCPHeaderLen {
		return Segment{}, fmt.Errorf("%d bytes, shorter than a TCP header: %w", len(tcp), ErrTruncated)
	}
	doff := int(tcp[12]>>4) * 4
	if doff < TCPHeaderLen || doff > len(tcp) {
		return Segment{}, fmt.Errorf("TCP data offset %d in a %d-byte segment: %w", doff, len(tcp), ErrBadLength)
	}
	src, dst := [4]byte(ip[12:16]), [4]byte(ip[16:20])
	if checkTCP && fold(sum(pseudoHeaderSum(src, dst, len(tcp)), tcp)) != 0xffff {
		return Segment{}, fmt.Errorf("TCP: %w", ErrBadChecksum)
	}

	flags := tcp[13]
	var s Segment
	s.Src = netip.AddrPortFrom(netip.AddrFrom4(src), binary.BigEndian.Uint16(tcp[0:]))
	s.Dst = netip.AddrPortFrom(netip.AddrFrom4(dst), binary.BigEndian.Uint16(tcp[2:]))
	s.Sender = receiver.SenderMessage{
		Seqno: receiver.Wrap32(binary.BigEndian.Uint32(tcp[4:])),
		SYN:   flags&flagSYN != 0,
		FIN:   flags&flagFIN != 0,
		RST:   flags&flagRST != 0,
	}
	if len(tcp) > doff {
		s.Sender.Payload = tcp[doff:len(tcp):len(tcp)]
	}
	s.Receiver = receiver.ReceiverMessage{
		ACK:        flags&flagACK != 0,
		Ackno:      receiver.Wrap32(binary.BigEndian.Uint32(tcp[8:])),
		WindowSize: binary.BigEndian.Uint16(tcp[14:]),
	}
	if s.Sender.SYN {
		s.MSS = parseMSS(tcp[TCPHeaderLen:doff])
	}
	return s, nil
}

// parseMSS finds the MSS option among TCP options, or returns 0.
func parseMSS(opts []byte) uint16 {
	for len(opts) > 0 {
		switch opts[0] {
		case optEnd:
			return 0
		case optNOP:
			opts = opts[1:]
			continue
		}
		if len(opts) < 2 || int(opts[1]) < 2 || int(opts[1]) > len(opts) {
			return 0 // malformed: ignore the rest, as Linux does
		}
		if opts[0] == optMSS && opts[1] == mssOptionLen {
			return binary.BigEndian.Uint16(opts[2:])
		}
		opts = opts[opts[1]:]
	}
	return 0
}

// Len is the number of bytes AppendTo writes for s.
func (s Segment) Len() int {
	return IPv4HeaderLen + s.tcpHeaderLen() + len(s.Sender.Payload)
}

func (s Segment) tcpHeaderLen() int {
	if s.Sender.SYN && s.MSS != 0 {
		return TCPHeaderLen + mssOptionLen
	}
	return TCPHeaderLen
}

// AppendTo appends s, encoded as an IPv4 datagram with valid checksums, to
// buf and returns the extended buffer. It allocates only when buf lacks
// the capacity for s.Len() more bytes.
//
// The datagram has TTL 64, Don't Fragment set and ID 0 (RFC 6864 allows a
// zero ID on atomic datagrams). The TCP RST flag is set when either half
// of the message carries RST, PSH when there is payload (as Linux does),
// and a SYN with a nonzero MSS carries the MSS option.
//
// Src and Dst must be IPv4 addresses and s.Len() at most MaxDatagramLen
// (any segment Parse returns qualifies); anything else is a bug in the
// caller, and AppendTo panics rather than send a corrupt datagram.
func (s Segment) AppendTo(buf []byte) []byte {
	thl := s.tcpHeaderLen()
	n := IPv4HeaderLen + thl + len(s.Sender.Payload)
	if n > MaxDatagramLen {
		panic(fmt.Sprintf("wire: %d-byte payload makes a %d-byte datagram, over the IPv4 limit of %d", len(s.Sender.Payload), n, MaxDatagramLen))
	}
	if !s.Src.Addr().Unmap().Is4() || !s.Dst.Addr().Unmap().Is4() {
		panic(fmt.Sprintf("wire: %v → %v: not IPv4 addresses", s.Src, s.Dst))
	}
	src, dst := s.Src.Addr().As4(), s.Dst.Addr().As4()
	start := len(buf)
	buf = slices.Grow(buf, n)[:start+n]
	b := buf[start:]

	ip := b[:IPv4HeaderLen]
	ip[0] = 4<<4 | IPv4HeaderLen/4
	ip[1] = 0 // DSCP/ECN
	binary.BigEndian.PutUint16(ip[2:], uint16(n))
	binary.BigEndian.PutUint16(ip[4:], 0) // ID
	binary.BigEndian.PutUint16(ip[6:], ipFlagDF)
	ip[8] = ttl
	ip[9] = protoTCP
	binary.BigEndian.PutUint16(ip[10:], 0)
	copy(ip[12:16], src[:])
	copy(ip[16:20], dst[:])
	binary.BigEndian.PutUint16(ip[10:], Checksum(ip))

	tcp := b[IPv4HeaderLen:]
	binary.BigEndian.PutUint16(tcp[0:], s.Src.Port())
	binary.BigEndian.PutUint16(tcp[2:], s.Dst.Port())
	binary.BigEndian.PutUint32(tcp[4:], uint32(s.Sender.Seqno))
	binary.BigEndian.PutUint32(tcp[8:], uint32(s.Receiver.Ackno))
	tcp[12] = byte(thl/4) << 4
	tcp[13] = s.flags()
	binary.BigEndian.PutUint16(tcp[14:], s.Receiver.WindowSize)
	binary.BigEndian.PutUint16(tcp[16:], 0) // checksum, filled in below
	binary.BigEndian.PutUint16(tcp[18:], 0) // urgent pointer
	if thl > TCPHeaderLen {
		tcp[20] = optMSS
		tcp[21] = mssOptionLen
		binary.BigEndian.PutUint16(tcp[22:], s.MSS)
	}
	copy(tcp[thl:], s.Sender.Payload)
	binary.BigEndian.PutUint16(tcp[16:], ^fold(sum(pseudoHeaderSum(src, dst, len(tcp)), tcp)))
	return buf
}

// flags is the TCP flags byte for s.
func (s Segment) flags() byte {
	var f byte
	if s.Sender.SYN {
		f |= flagSYN
	}
	if s.Sender.FIN {
		f |= flagFIN
	}
	if s.IsRST() {
		f |= flagRST
	}
	if s.Receiver.ACK {
		f |= flagACK
	}
	if len(s.Sender.Payload) > 0 {
		f |= flagPSH
	}
	return f
}

// String formats s on one line for traces, as
//
//	169.254.144.9:40000 → 169.254.144.1:80 SYN seq=6969 ack=0 win=64000 len=0 mss=1460
//
// Flags come in the order SYN, ACK, FIN, RST; ack is printed even when the
// ACK flag is clear (it is what the field holds); mss only when present;
// len is the payload length.
func (s Segment) String() string {
	return string(s.AppendText(make([]byte, 0, 96)))
}

// AppendText appends the String form of s to b, for tracers that reuse a
// buffer.
func (s Segment) AppendText(b []byte) []byte {
	b = s.Src.AppendTo(b)
	b = append(b, " → "...)
	b = s.Dst.AppendTo(b)
	for _, f := range [...]struct {
		on   bool
		name string
	}{
		{s.Sender.SYN, "SYN"},
		{s.Receiver.ACK, "ACK"},
		{s.Sender.FIN, "FIN"},
		{s.IsRST(), "RST"},
	} {
		if f.on {
			b = append(b, ' ')
			b = append(b, f.name...)
		}
	}
	b = append(b, " seq="...)
	b = strconv.AppendUint(b, uint64(s.Sender.Seqno), 10)
	b = append(b, " ack="...)
	b = strconv.AppendUint(b, uint64(s.Receiver.Ackno), 10)
	b = append(b, " win="...)
	b = strconv.AppendUint(b, uint64(s.Receiver.WindowSize), 10)
	b = append(b, " len="...)
	b = strconv.AppendInt(b, int64(len(s.Sender.Payload)), 10)
	if s.MSS != 0 {
		b = append(b, " mss="...)
		b = strconv.AppendUint(b, uint64(s.MSS), 10)
	}
	return b
}

// ClearPSH clears the PSH flag of the segment in b, an IPv4 datagram
// carrying TCP that AppendTo made (or Parse accepted), and mends its TCP
// checksum for the change (RFC 1624) instead of summing it all again.
// AppendTo sets PSH on every segment with data; a stack that sends a
// burst clears it on all but the last, as Linux does, so that a device
// may join the burst into one super-packet (PSH ends one).
func ClearPSH(b []byte) {
	ihl := int(b[0]&0x0f) * 4
	tcp := b[ihl:]
	if tcp[13]&flagPSH == 0 {
		return
	}
	old := binary.BigEndian.Uint16(tcp[12:])
	tcp[13] &^= flagPSH
	csum := binary.BigEndian.Uint16(tcp[16:])
	// HC' = ~(~HC + ~m + m')
	acc := uint64(^csum) + uint64(^old) + uint64(binary.BigEndian.Uint16(tcp[12:]))
	binary.BigEndian.PutUint16(tcp[16:], ^fold(acc))
}

// Continues reports whether b, like a an IPv4 datagram carrying TCP that
// AppendTo made, carries the data that follows a's on the same
// connection: same addresses and ports, both with data, b's seqno right
// after a's last byte.
func Continues(a, b []byte) bool {
	ta, tb := a[int(a[0]&0x0f)*4:], b[int(b[0]&0x0f)*4:]
	pa := len(ta) - int(ta[12]>>4)*4
	pb := len(tb) - int(tb[12]>>4)*4
	return pa > 0 && pb > 0 &&
		[8]byte(a[12:20]) == [8]byte(b[12:20]) && [4]byte(ta[:4]) == [4]byte(tb[:4]) &&
		binary.BigEndian.Uint32(ta[4:])+uint32(pa) == binary.BigEndian.Uint32(tb[4:])
}
