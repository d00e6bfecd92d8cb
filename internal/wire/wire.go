// Package wire turns IPv4 datagrams carrying TCP into connection.Messages
// and back: the layer between a device (raw datagrams) and the stack
// (connections demultiplexed by address and port).
package wire

import (
	"errors"
	"net/netip"

	"tcplab/labs/4-connection"
)

// Segment is one IPv4 datagram carrying one TCP segment, as the stack sees
// it: the two endpoints and the message.
type Segment struct {
	Src, Dst netip.AddrPort
	connection.Message
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

// Parse decodes an IPv4 datagram carrying TCP. The returned Payload aliases
// b. TODO(wire helper): implement.
func Parse(b []byte) (Segment, error) {
	return Segment{}, ErrTruncated
}

// AppendTo appends s, encoded as an IPv4 datagram with valid checksums, to
// buf and returns the extended buffer. TODO(wire helper): implement.
func (s Segment) AppendTo(buf []byte) []byte {
	return buf
}
