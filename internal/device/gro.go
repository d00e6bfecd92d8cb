package device

import (
	"bytes"
	"encoding/binary"

	"tcplab/internal/checksum"
)

// coalescer joins consecutive TCP segments of one connection, written in
// one batch, into GSO super-packets that the kernel cuts up again (the
// receive-offload half of wireguard-go's tun/offload_linux.go, for what a
// stack writes). One write system call and one trip through the kernel's
// IP layer then carries up to 64 KiB.
//
// A segment joins the connection's open super-packet only if it continues
// it exactly: the next sequence number, the same acknowledgment, window,
// TCP options and IP header fields (the kernel gives every segment the
// first one's headers), no PSH before it, payload no longer than the
// first's and the one before it full-sized. Anything else -- another ACK
// number, a retransmission, a FIN, an unacceptable checksum -- is written
// as it is and starts over, so a connection's datagrams leave in the order
// they were given; only datagrams of different connections may pass each
// other. (wireguard-go also prepends and joins out-of-order segments;
// a stack's own output is in order, so tcplab does not.)
type coalescer struct {
	open    map[flowKey]int // a flow's open super-packet: an index into items
	items   []groItem
	toWrite []int // indices of bufs to write, in order
}

// flowKey is a connection's addresses and ports (IPv4 in the first four
// bytes of each address).
type flowKey struct {
	src, dst         [16]byte
	srcPort, dstPort uint16
	v6               bool
}

// groItem is a super-packet being built in bufs[buf].
type groItem struct {
	buf             int
	iphLen, tcphLen int
	nextSeq, ack    uint32
	gsoSize         int // the first segment's payload
	lastSize        int // the latest segment's payload
	segments        int
	psh             bool
}

func newCoalescer() *coalescer {
	return &coalescer{open: make(map[flowKey]int)}
}

// coalesce decides, for the datagrams at bufs[i][offset:], which to join
// and which to write, writes each written one's virtio header into the
// VirtioNetHdrLen bytes before offset, and returns the indices of bufs to
// write, in order. Joining grows bufs[i] within its capacity (a buffer
// without spare capacity is written as it is) and finishes the super-
// packet's headers: lengths, IPv4 checksum, and the TCP checksum left
// partial for the kernel. The returned slice is valid until the next call.
func (c *coalescer) coalesce(bufs [][]byte, offset int) []int {
	clear(c.open)
	c.items = c.items[:0]
	c.toWrite = c.toWrite[:0]
	for i := range bufs {
		pkt := bufs[i][offset:]
		key, ok := groFlow(pkt)
		if !ok {
			c.toWrite = append(c.toWrite, i)
			continue
		}
		tcpSeg := groCandidate(pkt)
		if tcpSeg.payload == 0 {
			// Not joinable (a SYN, FIN, RST, a bare ACK, or damaged): later
			// segments of this flow must not jump ahead of it.
			delete(c.open, key)
			c.toWrite = append(c.toWrite, i)
			continue
		}
		if j, ok := c.open[key]; ok && c.join(bufs, offset, &c.items[j], pkt, tcpSeg) {
			continue
		}
		if !checksumValid(pkt, tcpSeg.iphLen, key.v6) {
			// Joining would make the kernel compute a good checksum over
			// what was damaged: pass it on as it is, to be dropped.
			delete(c.open, key)
			c.toWrite = append(c.toWrite, i)
			continue
		}
		c.open[key] = len(c.items)
		c.items = append(c.items, groItem{
			buf: i, iphLen: tcpSeg.iphLen, tcphLen: tcpSeg.tcphLen,
			nextSeq: tcpSeg.seq + uint32(tcpSeg.payload), ack: tcpSeg.ack,
			gsoSize: tcpSeg.payload, lastSize: tcpSeg.payload, segments: 1, psh: tcpSeg.psh,
		})
		c.toWrite = append(c.toWrite, i)
	}
	for k := range c.items {
		it := &c.items[k]
		if it.segments > 1 {
			finishSuperPacket(bufs[it.buf][offset:], it)
		}
	}
	for _, i := range c.toWrite {
		var h VirtioNetHdr
		if k, ok := c.itemAt(i); ok && c.items[k].segments > 1 {
			it := &c.items[k]
			h = VirtioNetHdr{
				Flags: VirtioNeedsCsum, GSOType: VirtioGSOTCPv4,
				HdrLen:  uint16(it.iphLen + it.tcphLen),
				GSOSize: uint16(it.gsoSize), CsumStart: uint16(it.iphLen), CsumOffset: tcpCsumOff,
			}
			if bufs[i][offset]>>4 == 6 {
				h.GSOType = VirtioGSOTCPv6
			}
		}
		h.Encode(bufs[i][offset-VirtioNetHdrLen:])
	}
	return c.toWrite
}

// itemAt finds the super-packet built in bufs[i], if any. Items are in
// increasing buffer order, so this is a binary search.
func (c *coalescer) itemAt(i int) (int, bool) {
	lo, hi := 0, len(c.items)
	for lo < hi {
		m := (lo + hi) / 2
		switch {
		case c.items[m].buf == i:
			return m, true
		case c.items[m].buf < i:
			lo = m + 1
		default:
			hi = m
		}
	}
	return 0, false
}

// join appends pkt's payload to the super-packet it, if pkt continues it.
func (c *coalescer) join(bufs [][]byte, offset int, it *groItem, pkt []byte, s groSegment) bool {
	head := bufs[it.buf][offset:]
	if s.iphLen != it.iphLen || s.tcphLen != it.tcphLen || s.seq != it.nextSeq || s.ack != it.ack ||
		it.psh || it.lastSize != it.gsoSize || s.payload > it.gsoSize {
		return false
	}
	if !sameHeaders(head, pkt, it.iphLen, it.tcphLen) {
		return false
	}
	newLen := len(head) + s.payload
	limit := maxIPv4Size
	if s.v6 {
		limit = ipv6HdrLen + 0xffff
	}
	if newLen > limit || cap(bufs[it.buf])-offset < newLen {
		return false
	}
	if !checksumValid(pkt, s.iphLen, s.v6) {
		return false
	}
	hdrLen := it.iphLen + it.tcphLen
	bufs[it.buf] = bufs[it.buf][:offset+newLen]
	copy(bufs[it.buf][offset+len(head):], pkt[hdrLen:])
	if s.psh {
		// PSH belongs on the last segment; the kernel copies the first
		// one's flags to every segment but clears PSH on all but the last.
		bufs[it.buf][offset+it.iphLen+13] |= tcpFlagPSH
		it.psh = true
	}
	it.nextSeq += uint32(s.payload)
	it.lastSize = s.payload
	it.segments++
	return true
}

// sameHeaders reports whether two segments' headers are the same in every
// field the kernel copies from the first segment to the others: IP's TOS,
// flags and TTL (IPv6: traffic class, flow label, hop limit), TCP's
// window, flags and options.
func sameHeaders(a, b []byte, iphLen, tcphLen int) bool {
	if a[0]>>4 == 6 {
		if !bytes.Equal(a[:4], b[:4]) || a[7] != b[7] {
			return false
		}
	} else if a[1] != b[1] || a[6]&0xe0 != b[6]&0xe0 || a[8] != b[8] || !bytes.Equal(a[20:iphLen], b[20:iphLen]) {
		return false
	}
	ta, tb := a[iphLen:], b[iphLen:]
	return ta[13]&^tcpFlagPSH == tb[13]&^tcpFlagPSH &&
		binary.BigEndian.Uint16(ta[14:]) == binary.BigEndian.Uint16(tb[14:]) &&
		binary.BigEndian.Uint16(ta[18:]) == binary.BigEndian.Uint16(tb[18:]) &&
		bytes.Equal(ta[20:tcphLen], tb[20:tcphLen])
}

// finishSuperPacket rewrites the lengths and IPv4 checksum of a joined
// super-packet and leaves in its TCP checksum field the pseudo-header's
// sum, which the kernel completes (VirtioNeedsCsum).
func finishSuperPacket(pkt []byte, it *groItem) {
	var src, dst []byte
	if pkt[0]>>4 == 6 {
		binary.BigEndian.PutUint16(pkt[4:], uint16(len(pkt)-ipv6HdrLen))
		src, dst = pkt[8:24], pkt[24:40]
	} else {
		binary.BigEndian.PutUint16(pkt[2:], uint16(len(pkt)))
		pkt[10], pkt[11] = 0, 0
		binary.BigEndian.PutUint16(pkt[10:], ^checksum.Fold(checksum.Sum(0, pkt[:it.iphLen])))
		src, dst = pkt[12:16], pkt[16:20]
	}
	tcp := pkt[it.iphLen:]
	binary.BigEndian.PutUint16(tcp[tcpCsumOff:], checksum.Fold(checksum.PseudoHeader(protoTCP, src, dst, len(tcp))))
}

// groSegment is what coalescing needs to know about one TCP segment.
type groSegment struct {
	iphLen, tcphLen int
	seq, ack        uint32
	payload         int // zero: not a candidate
	psh             bool
	v6              bool
}

// groFlow returns the flow of an IPv4 or IPv6 datagram carrying TCP.
func groFlow(pkt []byte) (flowKey, bool) {
	var k flowKey
	switch {
	case len(pkt) >= 20+20 && pkt[0]>>4 == 4 && pkt[9] == protoTCP:
		ihl := int(pkt[0]&0x0f) * 4
		if ihl < 20 || len(pkt) < ihl+20 {
			return k, false
		}
		copy(k.src[:], pkt[12:16])
		copy(k.dst[:], pkt[16:20])
		k.srcPort = binary.BigEndian.Uint16(pkt[ihl:])
		k.dstPort = binary.BigEndian.Uint16(pkt[ihl+2:])
	case len(pkt) >= ipv6HdrLen+20 && pkt[0]>>4 == 6 && pkt[6] == protoTCP:
		copy(k.src[:], pkt[8:24])
		copy(k.dst[:], pkt[24:40])
		k.srcPort = binary.BigEndian.Uint16(pkt[ipv6HdrLen:])
		k.dstPort = binary.BigEndian.Uint16(pkt[ipv6HdrLen+2:])
		k.v6 = true
	default:
		return k, false
	}
	return k, true
}

// groCandidate reads pkt, whose flow groFlow found, as a segment that may
// be joined: ACK (and perhaps PSH) its only flags, some payload, lengths
// that agree with the datagram's, no IPv4 fragmentation. Its payload is
// zero otherwise.
func groCandidate(pkt []byte) groSegment {
	var s groSegment
	if pkt[0]>>4 == 6 {
		s.v6, s.iphLen = true, ipv6HdrLen
		if int(binary.BigEndian.Uint16(pkt[4:])) != len(pkt)-ipv6HdrLen {
			return groSegment{}
		}
	} else {
		s.iphLen = int(pkt[0]&0x0f) * 4
		if int(binary.BigEndian.Uint16(pkt[2:])) != len(pkt) {
			return groSegment{}
		}
		if binary.BigEndian.Uint16(pkt[6:])&0x3fff != 0 { // MF or an offset
			return groSegment{}
		}
	}
	tcp := pkt[s.iphLen:]
	s.tcphLen = int(tcp[12]>>4) * 4
	if s.tcphLen < 20 || len(tcp) < s.tcphLen {
		return groSegment{}
	}
	switch tcp[13] {
	case tcpFlagACK:
	case tcpFlagACK | tcpFlagPSH:
		s.psh = true
	default:
		return groSegment{}
	}
	s.seq = binary.BigEndian.Uint32(tcp[4:])
	s.ack = binary.BigEndian.Uint32(tcp[8:])
	s.payload = len(tcp) - s.tcphLen
	return s
}

// checksumValid reports whether the TCP checksum of pkt is right.
func checksumValid(pkt []byte, iphLen int, v6 bool) bool {
	src, dst := pkt[12:16], pkt[16:20]
	if v6 {
		src, dst = pkt[8:24], pkt[24:40]
	}
	tcp := pkt[iphLen:]
	return checksum.Fold(checksum.Sum(checksum.PseudoHeader(protoTCP, src, dst, len(tcp)), tcp)) == 0xffff
}
