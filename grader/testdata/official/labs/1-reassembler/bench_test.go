package reassembler_test

import (
	"testing"

	"tcplab/labs/0-bytestream"
	"tcplab/labs/1-reassembler"
)

// BenchmarkReassembler is shaped like the course's speed test: 1500-byte
// substrings (one Ethernet payload each) go into a reassembler writing to a
// 64000-byte stream, and the application reads what comes out after every
// insert, copying it as an application would.
//
// With no overlap each substring starts where the last one ended. With 10x
// overlap each starts 150 bytes after the last one, so every byte arrives
// ten times and each insert brings 150 new bytes. Gbit/s counts the bytes
// the application reads, each once.
func BenchmarkReassembler(b *testing.B) {
	const capacity, chunkSize = 64000, 1500
	chunk := make([]byte, chunkSize)
	for i := range chunk {
		chunk[i] = byte(i * 31)
	}
	for _, bc := range []struct {
		name string
		step uint64 // how far each substring starts after the one before
	}{
		{"overlap=none", chunkSize},
		{"overlap=10x", chunkSize / 10},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := reassembler.New(bytestream.New(capacity))
			out := make([]byte, capacity)
			var index, read uint64
			b.ReportAllocs()
			b.SetBytes(int64(bc.step))
			for b.Loop() {
				r.Insert(index, chunk, false)
				index += bc.step
				for p := r.Reader().Peek(); len(p) > 0; p = r.Reader().Peek() {
					read += uint64(copy(out, p))
					r.Reader().Pop(uint64(len(p)))
				}
			}
			if read < index {
				b.Fatalf("read %d bytes, want at least %d", read, index)
			}
			b.ReportMetric(float64(read)*8/b.Elapsed().Seconds()/1e9, "Gbit/s")
		})
	}
}

// BenchmarkReassemblerReordered swaps every two substrings in flight, so
// half the bytes wait in the reassembler before they are written. The
// course has no floor for it; it shows what storing costs.
func BenchmarkReassemblerReordered(b *testing.B) {
	const capacity, chunkSize = 64000, 1500
	chunk := make([]byte, chunkSize)
	r := reassembler.New(bytestream.New(capacity))
	out := make([]byte, capacity)
	var index, read uint64
	b.ReportAllocs()
	b.SetBytes(2 * chunkSize)
	for b.Loop() {
		r.Insert(index+chunkSize, chunk, false)
		r.Insert(index, chunk, false)
		index += 2 * chunkSize
		for p := r.Reader().Peek(); len(p) > 0; p = r.Reader().Peek() {
			read += uint64(copy(out, p))
			r.Reader().Pop(uint64(len(p)))
		}
	}
	if read != index {
		b.Fatalf("read %d bytes, want %d", read, index)
	}
	b.ReportMetric(float64(read)*8/b.Elapsed().Seconds()/1e9, "Gbit/s")
}
