package wire

import (
	"testing"

	"tcplab/labs/2-receiver"
)

// benchSegment is a full-sized data segment on a 1500-byte MTU.
var benchSegment = seg(receiver.SenderMessage{Seqno: 1, Payload: payloadOf(1460)}, receiver.ReceiverMessage{ACK: true, Ackno: 1, WindowSize: 64000}, 0)

func reportGbits(b *testing.B, bytesPerOp int) {
	b.ReportMetric(float64(bytesPerOp)*8*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gbit/s")
}

func BenchmarkParse(b *testing.B) {
	d := benchSegment.AppendTo(nil)
	b.ReportAllocs()
	b.SetBytes(int64(len(d)))
	for b.Loop() {
		if _, err := Parse(d); err != nil {
			b.Fatal(err)
		}
	}
	reportGbits(b, len(d))
}

func BenchmarkAppend(b *testing.B) {
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	b.SetBytes(int64(benchSegment.Len()))
	for b.Loop() {
		buf = benchSegment.AppendTo(buf[:0])
	}
	reportGbits(b, benchSegment.Len())
}
