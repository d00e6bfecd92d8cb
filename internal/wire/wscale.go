package wire

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// Window scaling (RFC 7323 §2). Each side may put a shift count on its SYN;
// if both did, every later window field is read as window << shift, so a
// receive window can exceed 64 KiB -- which a TUN's 64 KiB super-packets
// need. The lab receiver's window stays 16-bit: these functions let the
// stack offer and read the option and scale at the edge.

const (
	optWindowScale = 3
	windowScaleLen = 3

	// MaxWindowScale is the largest shift RFC 7323 §2.3 allows; a larger
	// one received is taken as 14, and none larger is sent.
	MaxWindowScale = 14
	// WindowScaleOptionLen is what AppendWindowScale adds: a NOP and the
	// 3-byte option, keeping the options in whole 32-bit words as Linux
	// sends them.
	WindowScaleOptionLen = 4

	maxTCPHeaderLen = 60
)

// findOption returns the value of the first option of the given kind and
// total length among TCP options. An option of that kind with another
// length is skipped, as Linux skips it; malformed options end the search.
func findOption(opts []byte, kind, length byte) ([]byte, bool) {
	for len(opts) > 0 {
		switch opts[0] {
		case optEnd:
			return nil, false
		case optNOP:
			opts = opts[1:]
			continue
		}
		if len(opts) < 2 || opts[1] < 2 || int(opts[1]) > len(opts) {
			return nil, false
		}
		if opts[0] == kind && opts[1] == length {
			return opts[2:length], true
		}
		opts = opts[opts[1]:]
	}
	return nil, false
}

// ParseWindowScale returns the shift of the window scale option among
// TCP options (the bytes between the fixed 20-byte header and the data
// offset), capped at MaxWindowScale. ok is false when there is none.
// RFC 7323 gives the option meaning on a SYN only: callers look for it
// there.
func ParseWindowScale(opts []byte) (shift uint8, ok bool) {
	v, ok := findOption(opts, optWindowScale, windowScaleLen)
	if !ok {
		return 0, false
	}
	return min(v[0], MaxWindowScale), true
}

// WindowScaleOf reads the window scale option of the SYN in IPv4 datagram
// b. ok is false for anything else: not a SYN, no option, or headers too
// short to hold what they claim. It checks no checksum; call it on a
// datagram Parse accepted.
func WindowScaleOf(b []byte) (shift uint8, ok bool) {
	if len(b) < IPv4HeaderLen || b[0]>>4 != 4 {
		return 0, false
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < IPv4HeaderLen || len(b) < ihl+TCPHeaderLen {
		return 0, false
	}
	tcp := b[ihl:]
	doff := int(tcp[12]>>4) * 4
	if tcp[13]&flagSYN == 0 || doff < TCPHeaderLen || doff > len(tcp) {
		return 0, false
	}
	return ParseWindowScale(tcp[TCPHeaderLen:doff])
}

// AppendWindowScale appends a NOP and the window scale option offering
// shift (capped at MaxWindowScale) to opts, for AppendWithOptions.
func AppendWindowScale(opts []byte, shift uint8) []byte {
	return append(opts, optNOP, optWindowScale, windowScaleLen, min(shift, MaxWindowScale))
}

// AppendWithOptions appends s as AppendTo does, with the TCP options opts
// after the MSS option (if s has one). A SYN that offers window scaling:
//
//	buf = seg.AppendWithOptions(buf, wire.AppendWindowScale(nil, 7))
//
// opts must be whole 32-bit words and fit beside the MSS option in TCP's
// 40 bytes of options; like AppendTo, it panics on what only a bug in the
// caller could give it.
func (s Segment) AppendWithOptions(buf, opts []byte) []byte {
	thl := s.tcpHeaderLen()
	if len(opts)%4 != 0 || thl+len(opts) > maxTCPHeaderLen {
		panic(fmt.Sprintf("wire: %d bytes of options beside a %d-byte TCP header", len(opts), thl))
	}
	start := len(buf)
	buf = s.AppendTo(buf)
	if len(opts) == 0 {
		return buf
	}
	n := len(buf) - start + len(opts)
	if n > MaxDatagramLen {
		panic(fmt.Sprintf("wire: options make a %d-byte datagram, over the IPv4 limit of %d", n, MaxDatagramLen))
	}
	buf = slices.Insert(buf, start+IPv4HeaderLen+thl, opts...)
	b := buf[start:]
	ip := b[:IPv4HeaderLen]
	binary.BigEndian.PutUint16(ip[2:], uint16(n))
	binary.BigEndian.PutUint16(ip[10:], 0)
	binary.BigEndian.PutUint16(ip[10:], Checksum(ip))
	tcp := b[IPv4HeaderLen:]
	tcp[12] = byte((thl+len(opts))/4) << 4
	binary.BigEndian.PutUint16(tcp[16:], 0)
	src, dst := [4]byte(ip[12:16]), [4]byte(ip[16:20])
	binary.BigEndian.PutUint16(tcp[16:], ^fold(sum(pseudoHeaderSum(src, dst, len(tcp)), tcp)))
	return buf
}
