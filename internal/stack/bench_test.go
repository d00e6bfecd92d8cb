package stack_test

import (
	"runtime"
	"testing"

	"tcplab/internal/stack"
	"tcplab/internal/stack/stacktest"
)

// BenchmarkStackPair: two tcplab stacks joined in memory at MTU 1500
// (1460-byte payloads), 64 KiB writes through net.Conn, the shape gVisor's
// netstack is measured in. segs/ACK shows how well the loop's batches
// coalesce acknowledgments, and allocs/segment that the loop's steady
// state allocates nothing (buffers go round, closures are bound once).
func BenchmarkStackPair(b *testing.B) {
	client, server := stacktest.Pair(b, stack.Config{})
	c, s, err := stacktest.Connect(b.Context(), client, server, 80)
	if err != nil {
		b.Fatal(err)
	}
	before := server.Stats()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	stacktest.Bulk(b, c, s, 64<<10)
	runtime.ReadMemStats(&m1)
	st := server.Stats()
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/float64(max(st.Received-before.Received, 1)), "allocs/segment")
	b.ReportMetric(float64(st.Received)/float64(max(st.Sent, 1)), "segs/ACK")
	if st.Retransmits+client.Stats().Retransmits > 0 {
		b.Logf("retransmissions: %d", st.Retransmits+client.Stats().Retransmits)
	}
}
