package bench

import (
	"io"
	"net"
	"testing"
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

func BenchmarkPair(b *testing.B) {
	b.Run("impl=gvisor", func(b *testing.B) {
		c, s := gvisorPair(b)
		benchTransfer(b, c, s)
	})
}
