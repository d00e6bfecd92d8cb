package device

import (
	"encoding/binary"
	"fmt"
	"io"
)

// VirtioNetHdrLen is the size of the virtio_net_hdr that a TUN device
// opened with IFF_VNET_HDR puts before every datagram it reads and expects
// before every datagram written to it (linux/virtio_net.h; the legacy
// layout, without num_buffers).
const VirtioNetHdrLen = 10

// Flags and GSO types of a virtio_net_hdr (linux/virtio_net.h).
const (
	// VirtioNeedsCsum: the transport checksum is partial. The field at
	// CsumStart+CsumOffset holds the pseudo-header's sum, and whoever
	// takes the datagram must checksum from CsumStart onwards and put the
	// complemented result there (CHECKSUM_PARTIAL in the kernel's skb).
	VirtioNeedsCsum = 1
	// VirtioDataValid: the kernel has verified the transport checksum
	// (or made the datagram itself), so the reader need not.
	VirtioDataValid = 2

	VirtioGSONone  = 0
	VirtioGSOTCPv4 = 1
	VirtioGSOUDP   = 3
	VirtioGSOTCPv6 = 4
	VirtioGSOUDPL4 = 5
	// VirtioGSOECN is or-ed into a TCP GSO type when the segments carry
	// ECN's CWR; tcplab never asks for it (no TUN_F_TSO_ECN).
	VirtioGSOECN = 0x80
)

// VirtioNetHdr describes the datagram that follows it: whether its
// transport checksum is still to be finished, and, for a GSO super-packet,
// the segment size its payload is to be cut into. Its fields are in the
// host's byte order (a TUN's legacy virtio header, TUNSETVNETLE unset).
type VirtioNetHdr struct {
	Flags   uint8
	GSOType uint8
	// HdrLen is the length of the IP and transport headers. Linux fills it
	// in loosely (the whole first packet on some forwarding paths), so
	// SplitGSO recomputes it from the TCP header.
	HdrLen uint16
	// GSOSize is the payload length of every segment but the last (the MSS).
	GSOSize uint16
	// CsumStart is where the transport header starts (the IP header's
	// length); CsumOffset is the checksum field's place within it (16 for
	// TCP).
	CsumStart, CsumOffset uint16
}

// DecodeVirtioNetHdr reads the header at the front of b.
func DecodeVirtioNetHdr(b []byte) (VirtioNetHdr, error) {
	if len(b) < VirtioNetHdrLen {
		return VirtioNetHdr{}, fmt.Errorf("virtio_net_hdr: %d bytes, want %d: %w", len(b), VirtioNetHdrLen, io.ErrShortBuffer)
	}
	e := binary.NativeEndian
	return VirtioNetHdr{
		Flags:      b[0],
		GSOType:    b[1],
		HdrLen:     e.Uint16(b[2:]),
		GSOSize:    e.Uint16(b[4:]),
		CsumStart:  e.Uint16(b[6:]),
		CsumOffset: e.Uint16(b[8:]),
	}, nil
}

// Encode writes h into the first VirtioNetHdrLen bytes of b, which must be
// that long.
func (h VirtioNetHdr) Encode(b []byte) {
	_ = b[VirtioNetHdrLen-1]
	e := binary.NativeEndian
	b[0], b[1] = h.Flags, h.GSOType
	e.PutUint16(b[2:], h.HdrLen)
	e.PutUint16(b[4:], h.GSOSize)
	e.PutUint16(b[6:], h.CsumStart)
	e.PutUint16(b[8:], h.CsumOffset)
}

func (h VirtioNetHdr) String() string {
	return fmt.Sprintf("virtio_net_hdr{flags %#x gso %#x hdr %d size %d csum %d+%d}",
		h.Flags, h.GSOType, h.HdrLen, h.GSOSize, h.CsumStart, h.CsumOffset)
}
