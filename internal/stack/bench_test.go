package stack_test

import (
	"testing"

	"tcplab/internal/stack"
	"tcplab/internal/stack/stacktest"
)

// BenchmarkStackPair: two tcplab stacks joined in memory at MTU 1500
// (1460-byte payloads), 64 KiB writes through net.Conn, the shape gVisor's
// netstack is measured in. segs/ACK shows how well the loop's batches
// coalesce acknowledgments.
func BenchmarkStackPair(b *testing.B) {
	client, server := stacktest.Pair(b, stack.Config{})
	c, s, err := stacktest.Connect(b.Context(), client, server, 80)
	if err != nil {
		b.Fatal(err)
	}
	stacktest.Bulk(b, c, s, 64<<10)
	st := server.Stats()
	b.ReportMetric(float64(st.Received)/float64(max(st.Sent, 1)), "segs/ACK")
	if st.Retransmits+client.Stats().Retransmits > 0 {
		b.Logf("retransmissions: %d", st.Retransmits+client.Stats().Retransmits)
	}
}
