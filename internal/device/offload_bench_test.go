package device

import (
	"testing"
)

// BenchmarkSplitGSO splits a 64 KiB TSO super-packet into 1448-byte
// segments, as OffloadTUN's Read does for every one the kernel sends;
// the steady state allocates nothing.
func BenchmarkSplitGSO(b *testing.B) {
	s := tcpSpec{seq: 1, ack: 1, flags: 0x18, window: 512, opts: 12, payload: payloadOf(65535 - 40 - 12)}
	hdr, pkt := superPacket(b, s, 1448)
	bufs, sizes := buffers(OffloadBatch, 1500, 0)
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := SplitGSO(hdr, pkt, bufs, sizes, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(pkt))*8*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gbit/s")
}

// BenchmarkCoalesce joins a batch of 44 in-order 1448-byte segments of one
// connection into one super-packet, as OffloadTUN's Write does.
func BenchmarkCoalesce(b *testing.B) {
	var pkts [][]byte
	for i := range 44 {
		pkts = append(pkts, tcpSpec{seq: uint32(i * 1448), ack: 1, flags: 0x10, window: 512, payload: payloadOf(1448)}.build(b))
	}
	bufs := groBatch(pkts)
	c := newCoalescer()
	b.SetBytes(44 * 1448)
	b.ReportAllocs()
	for b.Loop() {
		// Coalescing grows bufs[0] and rewrites headers: start each
		// round from the segments as the stack made them.
		for i, p := range pkts {
			bufs[i] = append(bufs[i][:groHeadroom], p...)
		}
		if n := len(c.coalesce(bufs, groHeadroom)); n != 1 {
			b.Fatalf("%d writes, want 1", n)
		}
	}
	b.ReportMetric(float64(44*1448)*8*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gbit/s")
}
