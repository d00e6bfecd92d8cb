package bench

import (
	"io"
	"net"
	"testing"

	"tcplab/internal/stack/stacktest"
)

// chunk is the size of each Write, as in the measurement.
const chunk = 64 << 10

// benchTransfer sends b.N chunks from client to server and reports Gbit/s.
func benchTransfer(b *testing.B, client, server net.Conn) {
	b.Helper()
	buf := make([]byte, chunk)
	b.SetBytes(chunk)
	b.ReportAllocs()
	done := make(chan error, 1)
	want := int64(b.N) * chunk
	b.ResetTimer()
	go func() {
		_, err := io.CopyN(io.Discard, server, want)
		done <- err
	}()
	for i := 0; i < b.N; i++ {
		if _, err := client.Write(buf); err != nil {
			b.Fatalf("write: %v", err)
		}
	}
	if err := <-done; err != nil {
		b.Fatalf("read: %v", err)
	}
	b.StopTimer()
	b.ReportMetric(float64(want)*8/b.Elapsed().Seconds()/1e9, "Gbit/s")
}

// BenchmarkPair runs the same transfer over both stacks in one run, so the
// figures share the machine's mood; compare their Gbit/s.
func BenchmarkPair(b *testing.B) {
	b.Run("impl=tcplab", func(b *testing.B) {
		c, s := stacktest.Conns(b)
		benchTransfer(b, c, s)
	})
	b.Run("impl=gvisor", func(b *testing.B) {
		c, s := gvisorPair(b)
		benchTransfer(b, c, s)
	})
}
