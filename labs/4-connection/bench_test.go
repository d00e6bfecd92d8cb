package connection

import (
	"math/rand/v2"
	"testing"

	"tcplab/internal/harness"
)

// memLink carries messages one way through memory, in batches. It reuses
// payload buffers, so a transfer allocates nothing once it is running.
type memLink struct {
	batch []Message
	free  [][]byte // payload buffers delivered and free again
	rng   *rand.Rand
}

// send keeps m for delivery; the payload is the caller's only during the
// call, so it is copied into a buffer of the link's.
func (l *memLink) send(m Message) {
	if len(m.Sender.Payload) > 0 {
		var buf []byte
		if n := len(l.free); n > 0 {
			buf, l.free = l.free[n-1][:0], l.free[:n-1]
		}
		m.Sender.Payload = append(buf, m.Sender.Payload...)
	}
	l.batch = append(l.batch, m)
}

// deliver hands the batch to the far end (shuffled first if the link
// reorders), calling afterEach after each message; answers the far end
// sends go on the other link.
func (l *memLink) deliver(to *Connection, answer func(Message), afterEach func()) {
	if l.rng != nil {
		l.rng.Shuffle(len(l.batch), func(i, j int) { l.batch[i], l.batch[j] = l.batch[j], l.batch[i] })
	}
	// Receive may not send on this link (answers go the other way), so the
	// batch cannot grow while it is walked.
	for i := range l.batch {
		to.Receive(l.batch[i], answer)
		if p := l.batch[i].Sender.Payload; cap(p) > 0 {
			l.free = append(l.free, p)
		}
		afterEach()
	}
	clear(l.batch) // drop the references, keep the array
	l.batch = l.batch[:0]
}

// transfer sends size bytes from one connection to another through memory
// and returns how many messages carried them. The receiving application
// reads after every message, as a fast reader would.
func transfer(tb testing.TB, size int, reorder *rand.Rand, pattern []byte) int {
	cfgA, cfgB := testConfig(), testConfig()
	cfgB.ISN = peer
	a, b := New(cfgA), New(cfgB)
	ab, ba := &memLink{rng: reorder}, &memLink{}
	sendAB, sendBA := ab.send, ba.send
	read := 0
	drain := func() {
		r := b.Inbound()
		for n := r.BytesBuffered(); n > 0; n = r.BytesBuffered() {
			read += int(n)
			r.Pop(n)
		}
	}
	noop := func() {}

	a.Connect(sendAB)
	written, messages := 0, 0
	for !b.Inbound().IsFinished() {
		w := a.Outbound()
		if !w.IsClosed() {
			n := min(int(w.AvailableCapacity()), size-written, len(pattern))
			w.Push(pattern[:n])
			written += n
			if written == size {
				w.Close()
			}
		}
		a.Push(sendAB)
		if len(ab.batch) == 0 && len(ba.batch) == 0 {
			tb.Fatalf("transfer stalled after %d of %d bytes: nothing in flight", read, size)
		}
		messages += len(ab.batch)
		ab.deliver(b, sendBA, drain)
		ba.deliver(a, sendAB, noop)
	}
	if read != size {
		tb.Fatalf("received %d bytes, want %d", read, size)
	}
	return messages
}

// BenchmarkConnectionPair is the course's tcp_benchmark: 100 MiB from one
// connection to another through memory, in order and reordered.
func BenchmarkConnectionPair(b *testing.B) {
	const size = 100 << 20
	pattern := make([]byte, 64<<10)
	for i := range pattern {
		pattern[i] = byte(i * 7)
	}
	for _, bc := range []struct {
		name    string
		reorder bool
	}{{"no-loss", false}, {"reorder", true}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			messages := 0
			for b.Loop() {
				var rng *rand.Rand
				if bc.reorder {
					rng = rand.New(rand.NewPCG(1, 2))
				}
				messages += transfer(b, size, rng, pattern)
			}
			b.ReportMetric(float64(size)*float64(b.N)*8/b.Elapsed().Seconds()/1e9, "Gbit/s")
			b.ReportMetric(float64(messages)/float64(b.N), "msgs/op")
		})
	}
}

// Once a transfer is running, a message costs no allocation: not in the
// sender, the receiver, the reassembler or the connection.
func TestSteadyStateAllocatesNothing(t *testing.T) {
	defer harness.FailOnPanic(t)
	cfgA, cfgB := testConfig(), testConfig()
	cfgB.ISN = peer
	a, b := New(cfgA), New(cfgB)
	ab, ba := &memLink{rng: rand.New(rand.NewPCG(3, 4))}, &memLink{}
	sendAB, sendBA := ab.send, ba.send
	chunk := make([]byte, 1000)
	drain := func() {
		r := b.Inbound()
		r.Pop(r.BytesBuffered())
	}
	noop := func() {}
	round := func() {
		// Eight messages a round, delivered reordered.
		for range 8 {
			a.Outbound().Push(chunk)
		}
		a.Push(sendAB)
		ab.deliver(b, sendBA, drain)
		ba.deliver(a, sendAB, noop)
	}
	a.Connect(sendAB)
	ab.deliver(b, sendBA, drain)
	ba.deliver(a, sendAB, noop)
	for range 100 { // warm up: buffers reach their working size
		round()
	}
	if allocs := testing.AllocsPerRun(1000, round); allocs != 0 {
		t.Errorf("%v allocations per round of 8 messages, want 0", allocs)
	}
	if got := a.State(); got != ESTABLISHED {
		t.Errorf("state %v after the rounds, want ESTABLISHED", got)
	}
}
