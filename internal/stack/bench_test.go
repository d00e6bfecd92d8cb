package stack_test

import (
	"testing"

	"tcplab/internal/stack/stacktest"
)

// BenchmarkStackPair: two tcplab stacks joined in memory at MTU 1500
// (1460-byte payloads), 64 KiB writes through net.Conn, the shape gVisor's
// netstack is measured in.
func BenchmarkStackPair(b *testing.B) {
	c, s := stacktest.Conns(b)
	stacktest.Bulk(b, c, s, 64<<10)
}
