package device

import (
	"encoding/binary"
	"errors"
	"fmt"

	"tcplab/internal/checksum"
)

// Errors from SplitGSO (wrapped with detail). A device counts the
// datagrams it could not split and goes on reading.
var (
	// ErrBadVirtioHdr: the virtio header does not fit the datagram after it.
	ErrBadVirtioHdr = errors.New("virtio header does not fit the datagram")
	// ErrTooManySegments: the super-packet has more segments than buffers
	// were offered, or a buffer is too short for its segment.
	ErrTooManySegments = errors.New("super-packet does not fit the buffers")
)

const (
	protoTCP    = 6
	tcpFlagFIN  = 0x01
	tcpFlagPSH  = 0x08
	tcpFlagACK  = 0x10
	tcpFlagCWR  = 0x80
	tcpCsumOff  = 16
	ipv6HdrLen  = 40
	maxIPv4Size = 0xffff
)

// SplitGSO turns what a TUN with offloads read -- hdr and the datagram pkt
// that followed it -- into ordinary datagrams with complete checksums, one
// per bufs[i][offset:], their lengths in sizes, and returns how many.
//
// A datagram that is not a super-packet (GSO type none) is copied to
// bufs[0] as it is, its transport checksum finished first if the header
// says it is partial. A TCP super-packet (IPv4 or IPv6) is cut into
// segments of hdr.GSOSize payload bytes, as the kernel's tcp_gso_segment
// would have: each gets the first one's headers with its own sequence
// number, IPv4 identification, lengths and checksums; FIN and PSH stay on
// the last segment only and CWR on the first. pkt is not modified, and
// nothing is written when the error is ErrTooManySegments, so the caller
// may keep pkt and split it again into fresh buffers.
//
// Everything in hdr and pkt is checked before it is used: a header that
// does not describe pkt is an error wrapping ErrBadVirtioHdr, never a
// panic.
func SplitGSO(hdr VirtioNetHdr, pkt []byte, bufs [][]byte, sizes []int, offset int) (int, error) {
	if len(bufs) == 0 || len(sizes) < len(bufs) {
		return 0, fmt.Errorf("split: %d buffers, %d sizes: %w", len(bufs), len(sizes), ErrTooManySegments)
	}
	if hdr.GSOType == VirtioGSONone {
		if offset > len(bufs[0]) || len(pkt) > len(bufs[0])-offset {
			return 0, fmt.Errorf("split: %d-byte datagram, %d-byte buffer: %w", len(pkt), len(bufs[0])-offset, ErrTooManySegments)
		}
		out := bufs[0][offset : offset+len(pkt)]
		copy(out, pkt)
		if hdr.Flags&VirtioNeedsCsum != 0 {
			if err := finishChecksum(out, int(hdr.CsumStart), int(hdr.CsumOffset)); err != nil {
				return 0, err
			}
		}
		sizes[0] = len(out)
		return 1, nil
	}
	var v6 bool
	switch hdr.GSOType {
	case VirtioGSOTCPv4:
	case VirtioGSOTCPv6:
		v6 = true
	default:
		return 0, fmt.Errorf("split: GSO type %#x: %w", hdr.GSOType, ErrBadVirtioHdr)
	}
	iphLen, err := gsoIPHeaderLen(pkt, v6)
	if err != nil {
		return 0, err
	}
	// The transport header starts where the IP header ends; a header that
	// says otherwise describes some other datagram.
	if int(hdr.CsumStart) != iphLen || hdr.CsumOffset != tcpCsumOff {
		return 0, fmt.Errorf("split: checksum at %d+%d, TCP header at %d: %w", hdr.CsumStart, hdr.CsumOffset, iphLen, ErrBadVirtioHdr)
	}
	if len(pkt) < iphLen+20 {
		return 0, fmt.Errorf("split: %d bytes, no room for a TCP header: %w", len(pkt), ErrBadVirtioHdr)
	}
	tcphLen := int(pkt[iphLen+12]>>4) * 4
	hdrLen := iphLen + tcphLen
	if tcphLen < 20 || len(pkt) < hdrLen {
		return 0, fmt.Errorf("split: TCP header length %d in %d bytes: %w", tcphLen, len(pkt), ErrBadVirtioHdr)
	}
	if hdr.GSOSize == 0 {
		return 0, fmt.Errorf("split: GSO size 0: %w", ErrBadVirtioHdr)
	}
	payload := len(pkt) - hdrLen
	mss := int(hdr.GSOSize)
	n := max(1, (payload+mss-1)/mss)
	if n > len(bufs) {
		return 0, fmt.Errorf("split: %d segments of %d bytes, %d buffers: %w", n, mss, len(bufs), ErrTooManySegments)
	}
	for i := range n {
		end := min(payload, (i+1)*mss)
		if offset > len(bufs[i]) || len(bufs[i])-offset < hdrLen+end-i*mss {
			return 0, fmt.Errorf("split: segment %d needs %d bytes: %w", i, hdrLen+end-i*mss, ErrTooManySegments)
		}
	}

	src, dst := pkt[12:16], pkt[16:20]
	if v6 {
		src, dst = pkt[8:24], pkt[24:40]
	}
	firstSeq := binary.BigEndian.Uint32(pkt[iphLen+4:])
	flags := pkt[iphLen+13]
	for i := range n {
		start, end := i*mss, min(payload, (i+1)*mss)
		out := bufs[i][offset:]
		size := copy(out, pkt[:hdrLen])
		size += copy(out[hdrLen:], pkt[hdrLen+start:hdrLen+end])
		sizes[i] = size
		out = out[:size]

		if v6 {
			binary.BigEndian.PutUint16(out[4:], uint16(size-ipv6HdrLen))
		} else {
			binary.BigEndian.PutUint16(out[2:], uint16(size))
			id := binary.BigEndian.Uint16(pkt[4:]) + uint16(i)
			binary.BigEndian.PutUint16(out[4:], id)
			out[10], out[11] = 0, 0
			binary.BigEndian.PutUint16(out[10:], ^checksum.Fold(checksum.Sum(0, out[:iphLen])))
		}
		tcp := out[iphLen:]
		binary.BigEndian.PutUint32(tcp[4:], firstSeq+uint32(start))
		f := flags
		if i > 0 {
			f &^= tcpFlagCWR
		}
		if i < n-1 {
			f &^= tcpFlagFIN | tcpFlagPSH
		}
		tcp[13] = f
		tcp[16], tcp[17] = 0, 0
		acc := checksum.PseudoHeader(protoTCP, src, dst, len(tcp))
		binary.BigEndian.PutUint16(tcp[16:], ^checksum.Fold(checksum.Sum(acc, tcp)))
	}
	return n, nil
}

// gsoIPHeaderLen checks the IP header of a TCP super-packet and returns
// its length. The super-packet's own length fields cover the whole of it
// and are rewritten per segment, so only the version, the header length
// and the protocol matter.
func gsoIPHeaderLen(pkt []byte, v6 bool) (int, error) {
	if len(pkt) == 0 {
		return 0, fmt.Errorf("split: empty super-packet: %w", ErrBadVirtioHdr)
	}
	if v6 {
		if pkt[0]>>4 != 6 || len(pkt) < ipv6HdrLen || pkt[6] != protoTCP {
			return 0, fmt.Errorf("split: TCPv6 super-packet that is not IPv6 carrying TCP: %w", ErrBadVirtioHdr)
		}
		if len(pkt)-ipv6HdrLen > 0xffff {
			return 0, fmt.Errorf("split: %d bytes, too long for IPv6 without jumbograms: %w", len(pkt), ErrBadVirtioHdr)
		}
		return ipv6HdrLen, nil
	}
	if pkt[0]>>4 != 4 || len(pkt) < 20 || pkt[9] != protoTCP {
		return 0, fmt.Errorf("split: TCPv4 super-packet that is not IPv4 carrying TCP: %w", ErrBadVirtioHdr)
	}
	ihl := int(pkt[0]&0x0f) * 4
	if ihl < 20 || len(pkt) < ihl || len(pkt) > maxIPv4Size {
		return 0, fmt.Errorf("split: IPv4 header length %d in %d bytes: %w", ihl, len(pkt), ErrBadVirtioHdr)
	}
	return ihl, nil
}

// finishChecksum completes a partial transport checksum: the field at
// start+off holds the pseudo-header's sum; the checksum covers everything
// from start to the end of pkt.
func finishChecksum(pkt []byte, start, off int) error {
	if off < 0 || start+off+2 > len(pkt) {
		return fmt.Errorf("finish checksum at %d+%d of %d bytes: %w", start, off, len(pkt), ErrBadVirtioHdr)
	}
	if start%2 != 0 {
		// Checksums are sums of 16-bit words from the transport header's
		// start, and no IP header has an odd length.
		return fmt.Errorf("finish checksum from odd offset %d: %w", start, ErrBadVirtioHdr)
	}
	at := start + off
	partial := uint64(binary.BigEndian.Uint16(pkt[at:]))
	pkt[at], pkt[at+1] = 0, 0
	binary.BigEndian.PutUint16(pkt[at:], ^checksum.Fold(checksum.Sum(partial, pkt[start:])))
	return nil
}
