package device

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// groHeadroom is the virtio header's room before each datagram.
const groHeadroom = VirtioNetHdrLen

// groBatch copies datagrams into buffers with headroom and room to grow,
// as a stack hands them to Write.
func groBatch(pkts [][]byte) [][]byte {
	bufs := make([][]byte, len(pkts))
	for i, p := range pkts {
		b := make([]byte, groHeadroom+len(p), groHeadroom+65535)
		copy(b[groHeadroom:], p)
		bufs[i] = b
	}
	return bufs
}

// kernelSide is what the kernel makes of the written datagrams: each
// virtio header read, super-packets cut up (SplitGSO, checked against
// gopacket on its own), ordinary ones taken as they are.
func kernelSide(t *testing.T, bufs [][]byte, toWrite []int) (out [][]byte, writes int) {
	t.Helper()
	for _, i := range toWrite {
		hdr, err := DecodeVirtioNetHdr(bufs[i])
		require.NoError(t, err)
		pkt := bufs[i][groHeadroom:]
		if hdr.GSOType == VirtioGSONone {
			require.Zero(t, hdr.Flags, "an ordinary datagram goes with its checksum complete")
			out = append(out, bytes.Clone(pkt))
			continue
		}
		// The super-packet itself decodes in gopacket, lengths right, and
		// its checksum field holds the pseudo-header's sum.
		require.Equal(t, VirtioNeedsCsum, int(hdr.Flags))
		require.Equal(t, pseudoSum(pkt), binary.BigEndian.Uint16(pkt[hdr.CsumStart+16:]), "partial checksum")
		whole := bytes.Clone(pkt)
		binary.BigEndian.PutUint16(whole[hdr.CsumStart+16:], 0)
		at := int(hdr.CsumStart) + 16
		binary.BigEndian.PutUint16(whole[at:], ^uint16(sum16(uint32(pseudoSum(pkt)), whole[hdr.CsumStart:])))
		decode(t, whole)

		segs, sizes := buffers(64, 2200, 0)
		n, err := SplitGSO(hdr, pkt, segs, sizes, 0)
		require.NoError(t, err)
		for k := range n {
			out = append(out, bytes.Clone(segs[k][:sizes[k]]))
		}
	}
	return out, len(toWrite)
}

// flowView is what must survive coalescing and splitting, per datagram:
// everything but the IPv4 identification and header checksum.
func flowView(t *testing.T, pkts [][]byte) map[string][]string {
	t.Helper()
	m := map[string][]string{}
	for _, p := range pkts {
		q := bytes.Clone(p)
		var key string
		if q[0]>>4 == 4 {
			q[4], q[5], q[10], q[11] = 0, 0, 0, 0
			ihl := int(q[0]&0xf) * 4
			key = string(q[12:20]) + string(q[ihl:ihl+4])
		} else {
			key = string(q[8:40]) + string(q[40:44])
		}
		m[key] = append(m[key], string(q))
	}
	return m
}

func TestCoalesce(t *testing.T) {
	seg := func(port uint16, seq uint32, n int, flags uint8) tcpSpec {
		return tcpSpec{srcPort: 80, dstPort: port, seq: seq, ack: 7, flags: flags, window: 100, payload: payloadOf(n)}
	}
	for _, tc := range []struct {
		name   string
		specs  []tcpSpec
		writes int
	}{
		{"in-order full segments become one super-packet", []tcpSpec{
			seg(1, 0, 1000, 0x10), seg(1, 1000, 1000, 0x10), seg(1, 2000, 1000, 0x10), seg(1, 3000, 10, 0x18),
		}, 1},
		{"two connections interleaved, one super-packet each", []tcpSpec{
			seg(1, 0, 1000, 0x10), seg(2, 50, 1000, 0x10), seg(1, 1000, 1000, 0x10), seg(2, 1050, 1000, 0x10),
		}, 2},
		{"nothing follows a short segment", []tcpSpec{
			seg(1, 0, 1000, 0x10), seg(1, 1000, 500, 0x10), seg(1, 1500, 1000, 0x10),
		}, 2},
		{"nothing follows PSH", []tcpSpec{
			seg(1, 0, 1000, 0x18), seg(1, 1000, 1000, 0x10),
		}, 2},
		{"a gap in sequence numbers", []tcpSpec{
			seg(1, 0, 1000, 0x10), seg(1, 2000, 1000, 0x10),
		}, 2},
		{"a FIN is written on its own, and what follows does not pass it", []tcpSpec{
			seg(1, 0, 1000, 0x10), seg(1, 1000, 1000, 0x11), seg(1, 2000, 1000, 0x10),
		}, 3},
		{"another acknowledgment number", []tcpSpec{
			seg(1, 0, 1000, 0x10), {srcPort: 80, dstPort: 1, seq: 1000, ack: 8, flags: 0x10, window: 100, payload: payloadOf(1000)},
		}, 2},
		{"another window", []tcpSpec{
			seg(1, 0, 1000, 0x10), {srcPort: 80, dstPort: 1, seq: 1000, ack: 7, flags: 0x10, window: 101, payload: payloadOf(1000)},
		}, 2},
		{"IPv6", []tcpSpec{
			{v6: true, seq: 0, flags: 0x10, payload: payloadOf(1200)}, {v6: true, seq: 1200, flags: 0x10, payload: payloadOf(1200)},
		}, 1},
		{"bare ACKs are written as they are", []tcpSpec{seg(1, 0, 0, 0x10), seg(1, 0, 0, 0x10)}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pkts [][]byte
			for _, s := range tc.specs {
				pkts = append(pkts, s.build(t))
			}
			bufs := groBatch(pkts)
			toWrite := newCoalescer().coalesce(bufs, groHeadroom)
			out, writes := kernelSide(t, bufs, toWrite)
			require.Equal(t, tc.writes, writes, "writes")
			if diff := cmp.Diff(flowView(t, pkts), flowView(t, out)); diff != "" {
				t.Fatalf("what the kernel sees differs from what was written, per connection (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCoalesceLeavesDamagedSegmentsAlone(t *testing.T) {
	a := tcpSpec{seq: 0, flags: 0x10, payload: payloadOf(1000)}.build(t)
	b := tcpSpec{seq: 1000, flags: 0x10, payload: payloadOf(1000)}.build(t)
	b[len(b)-1] ^= 0xff // the checksum no longer matches
	bufs := groBatch([][]byte{a, b})
	toWrite := newCoalescer().coalesce(bufs, groHeadroom)
	require.Equal(t, []int{0, 1}, toWrite, "a bad checksum is not joined, or the kernel would make it good")
	require.Equal(t, b, bufs[1][groHeadroom:])
}

func TestCoalesceNeedsCapacity(t *testing.T) {
	a := tcpSpec{seq: 0, flags: 0x10, payload: payloadOf(1000)}.build(t)
	b := tcpSpec{seq: 1000, flags: 0x10, payload: payloadOf(1000)}.build(t)
	bufs := [][]byte{append(make([]byte, groHeadroom), a...), append(make([]byte, groHeadroom), b...)}
	bufs[0] = bufs[0][:len(bufs[0]):len(bufs[0])]
	require.Equal(t, []int{0, 1}, newCoalescer().coalesce(bufs, groHeadroom), "no room to grow: written apart")
}

// FuzzCoalesce writes a batch of segments the fuzzer describes -- three
// connections, in order or not, of any size, with PSH, FIN, another ACK,
// another window or a damaged checksum here and there -- through
// coalesce and the kernel's split, and checks that each connection's
// datagrams arrive as they were written, in the same order.
func FuzzCoalesce(f *testing.F) {
	f.Add([]byte{0, 0, 200, 0, 0, 200, 0, 0, 200, 1, 0, 200, 1, 0, 200})
	f.Add([]byte{0, 3, 100, 0, 0, 100, 2, 1, 50, 0, 4, 255, 0, 5, 10})
	f.Fuzz(func(t *testing.T, script []byte) {
		next := [3]uint32{1000, 2000, 3000}
		var pkts [][]byte
		for i := 0; i+2 < len(script) && len(pkts) < 64; i += 3 {
			flow, kind, size := int(script[i]%3), script[i+1]%8, int(script[i+2])*8
			s := tcpSpec{v6: flow == 2, srcPort: 80, dstPort: uint16(flow), seq: next[flow], ack: 1, flags: 0x10, window: 9, payload: payloadOf(size)}
			switch kind {
			case 1:
				s.flags |= 0x08
			case 2:
				s.flags |= 0x01
			case 3:
				s.ack = 2
			case 4:
				s.window = 10
			case 5:
				s.seq -= uint32(size) // a retransmission
			case 6:
				s.seq += 1
			}
			p := s.build(t)
			if kind == 7 && size > 0 {
				p[len(p)-1] ^= 0x5a
			}
			next[flow] = s.seq + uint32(size)
			pkts = append(pkts, p)
		}
		if len(pkts) == 0 {
			return
		}
		bufs := groBatch(pkts)
		toWrite := newCoalescer().coalesce(bufs, groHeadroom)
		out, _ := kernelSide(t, bufs, toWrite)
		if diff := cmp.Diff(flowView(t, pkts), flowView(t, out)); diff != "" {
			t.Fatalf("per connection (-written +arrived):\n%s", diff)
		}
	})
}
