package bytestream_test

import (
	"fmt"
	"testing"

	"tcplab/labs/0-bytestream"
)

// BenchmarkByteStream is shaped like the course's speed test: 1500-byte
// writes (one Ethernet payload) go through a 32768-byte stream, and the
// reader takes them out in reads of a fixed size, copying each one out as an
// application would. One op is one write making its way through.
func BenchmarkByteStream(b *testing.B) {
	const capacity, writeSize = 32768, 1500
	write := make([]byte, writeSize)
	for i := range write {
		write[i] = byte(i * 31)
	}
	for _, readSize := range []int{4096, 128, 32} {
		b.Run(fmt.Sprintf("pop=%d", readSize), func(b *testing.B) {
			s := bytestream.New(capacity)
			w, r := s.Writer(), s.Reader()
			out := make([]byte, readSize)
			var moved uint64
			readOnce := func() {
				p := r.Peek()
				n := copy(out, p)
				r.Pop(uint64(n))
				moved += uint64(n)
			}
			b.ReportAllocs()
			b.SetBytes(writeSize)
			for b.Loop() {
				for w.AvailableCapacity() < writeSize {
					readOnce()
				}
				w.Push(write)
				readOnce()
			}
			b.ReportMetric(float64(moved)*8/b.Elapsed().Seconds()/1e9, "Gbit/s")
		})
	}
}
