package sender_test

import (
	"testing"
	"time"

	"tcplab/labs/0-bytestream"
	"tcplab/labs/2-receiver"
	"tcplab/labs/3-sender"
)

// TestSteadyStateAllocatesNothing: once a connection is running, sending
// reuses the payload buffers of acknowledged messages, so a push, its ACK
// and a tick allocate nothing.
func TestSteadyStateAllocatesNothing(t *testing.T) {
	defer failOnPanic(t)
	const isn = receiver.Wrap32(12345)
	s := sender.New(bytestream.New(capacity), isn, rtoMS*time.Millisecond)
	sent := 0
	transmit := func(receiver.SenderMessage) { sent++ }
	s.Push(transmit)
	s.Receive(receiver.ReceiverMessage{ACK: true, Ackno: isn + 1, WindowSize: 65535})
	chunk := []byte(text(0, 3000))
	round := func() {
		s.Writer().Push(chunk)
		s.Push(transmit)
		s.Receive(receiver.ReceiverMessage{ACK: true, Ackno: s.MakeEmptyMessage().Seqno, WindowSize: 65535})
		s.Tick(time.Millisecond, transmit)
	}
	round() // the first round fills the free list
	if allocs := testing.AllocsPerRun(100, round); allocs != 0 {
		t.Errorf("a push, its ACK and a tick allocated %v times, want 0", allocs)
	}
	if sent < 300 {
		t.Fatalf("only %d messages were sent: the loop did not exercise the sender", sent)
	}
}

// TestLongTransferAllocatesNothing runs the steady state two thousand times
// and counts every allocation, where AllocsPerRun's average would round a
// few away: the queue of outstanding messages must be reused, not grown
// forever. (Kills gremlins' ARITHMETIC_BASE mutant of the compaction
// threshold, len(s.outstanding)/2 made *2.)
func TestLongTransferAllocatesNothing(t *testing.T) {
	defer failOnPanic(t)
	const isn = receiver.Wrap32(54321)
	s := sender.New(bytestream.New(capacity), isn, rtoMS*time.Millisecond)
	transmit := func(receiver.SenderMessage) {}
	s.Push(transmit)
	s.Receive(receiver.ReceiverMessage{ACK: true, Ackno: isn + 1, WindowSize: 65535})
	chunk := []byte(text(0, 3000))
	round := func() {
		s.Writer().Push(chunk)
		s.Push(transmit)
		s.Receive(receiver.ReceiverMessage{ACK: true, Ackno: s.MakeEmptyMessage().Seqno, WindowSize: 65535})
		s.Tick(time.Millisecond, transmit)
	}
	round() // the first round fills the free list
	if allocs := testing.AllocsPerRun(1, func() {
		for range 2000 {
			round()
		}
	}); allocs != 0 {
		t.Errorf("2000 rounds of a push, its ACK and a tick allocated %v times, want 0", allocs)
	}
}
