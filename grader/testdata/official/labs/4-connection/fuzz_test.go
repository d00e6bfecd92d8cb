package connection

import (
	"fmt"
	"testing"
	"time"

	"tcplab/internal/harness"
	"tcplab/labs/2-receiver"
)

// FuzzConnection feeds a connection whatever messages the fuzzer makes up
// (mostly near the seqnos and acknos it expects, so the interesting paths
// are reached), with ticks, writes, reads and a close in between. The
// connection must never panic and never break the rules of sequence
// numbers, which seqChecker watches on everything it sends.
func FuzzConnection(f *testing.F) {
	// Seeds: a handshake as listener, a handshake plus data and FIN as
	// connector, and an RST.
	f.Add(true, []byte{0, 0x01, 0x80, 0x80, 0xfa, 0x00, 0, 0, 0x08, 0x81, 0x80, 0xfa, 0x00, 5})
	f.Add(false, []byte{0, 0x09, 0x80, 0x81, 0xfa, 0x00, 0, 2, 10, 3, 0, 0x0a, 0x80, 0x80, 0xfa, 0x00, 3, 4, 1, 200})
	f.Add(false, []byte{0, 0x09, 0x80, 0x81, 0x00, 0x00, 0, 2, 50, 1, 255, 1, 255, 0, 0x14, 0x80, 0x81, 0, 0, 0})
	f.Fuzz(func(t *testing.T, listen bool, ops []byte) {
		defer harness.FailOnPanic(t)
		cfg := testConfig()
		cfg.Capacity = 3000
		cfg.MaxPayloadSize = 700
		c := New(cfg)
		chk := newSeqChecker(c)
		if !listen {
			c.Connect(chk.transmit)
		}
		in := fuzzInput{b: ops}
		for !in.done() && !t.Failed() {
			chk.before()
			switch in.next() % 6 {
			case 0:
				m := in.message(chk)
				chk.received(m)
				c.Receive(m, chk.transmit)
			case 1:
				c.Tick(time.Duration(in.next())*37*time.Millisecond, chk.transmit)
			case 2:
				c.Outbound().Push(make([]byte, int(in.next())*13))
				c.Push(chk.transmit)
			case 3:
				c.Outbound().Close()
				c.Push(chk.transmit)
			case 4:
				r := c.Inbound()
				r.Pop(min(uint64(in.next())*17, r.BytesBuffered()))
			case 5:
				c.Tick(time.Duration(in.next())*time.Second, chk.transmit)
			}
			for _, err := range chk.errs {
				t.Error(err)
			}
		}
		if c.State() == RESET && c.Active() {
			t.Error("a reset connection is still active")
		}
	})
}

// fuzzInput reads the fuzzer's bytes; past the end it reads zeros.
type fuzzInput struct {
	b []byte
	i int
}

func (in *fuzzInput) done() bool { return in.i >= len(in.b) }

func (in *fuzzInput) next() byte {
	if in.done() {
		return 0
	}
	in.i++
	return in.b[in.i-1]
}

// message decodes one message: a flags byte, the seqno as an offset from
// the ackno the connection last sent (or the peer's ISN), the ackno as an
// offset from the connection's next seqno, a window and a payload length.
func (in *fuzzInput) message(chk *seqChecker) Message {
	flags := in.next()
	seqBase := peer
	if chk.ackSeen {
		seqBase = chk.lastAck
	}
	var m Message
	m.Sender.Seqno = seqBase + receiver.Wrap32(int32(int8(in.next()-0x80)))
	m.Receiver.Ackno = receiver.Wrap(chk.next, isn) + receiver.Wrap32(int32(int8(in.next()-0x80)))
	m.Receiver.WindowSize = uint16(in.next())<<8 | uint16(in.next())
	m.Sender.Payload = make([]byte, in.next())
	m.Sender.SYN = flags&0x01 != 0
	m.Sender.FIN = flags&0x02 != 0
	m.Receiver.ACK = flags&0x08 != 0
	// RST is rare on purpose: it ends everything.
	m.Sender.RST = flags&0x30 == 0x30
	m.Receiver.RST = flags&0xc0 == 0xc0
	return m
}

// seqChecker follows what a connection sends and what it was told, and
// records every broken rule:
//   - new sequence numbers are contiguous: SYN at 0, then each message's
//     first new seqno is the one after the last sent; nothing after FIN;
//   - nothing beyond the peer's window (ackno + window, the largest ever
//     advertised), except a one-seqno probe when the window is 0;
//   - the ackno never moves backwards, and our window's right edge never
//     moves left;
//   - nothing at all once the connection sent or took an RST or is done.
type seqChecker struct {
	c       *Connection
	next    uint64 // absolute seqno after the last new one sent
	finSent bool
	edge    uint64 // the furthest seqno the peer allowed
	maxAck  uint64 // the furthest valid ackno received

	ackSeen  bool
	lastAck  receiver.Wrap32
	rightOld receiver.Wrap32 // ackno + window of the last message sent
	rstSent  bool
	quiet    bool // the connection had ended before this call: it must send nothing
	errs     []error
}

func newSeqChecker(c *Connection) *seqChecker {
	// Until the peer says anything, the sender may send only the SYN.
	return &seqChecker{c: c, edge: 1}
}

// before starts a step: a connection that has ended must stay silent.
func (k *seqChecker) before() {
	k.errs = nil
	k.quiet = !k.c.Active()
}

// received notes what a message tells the sender, before the connection
// takes it, mirroring the rules: nothing counts before the peer's SYN, and
// an ACK of something never sent is ignored.
func (k *seqChecker) received(m Message) {
	if m.IsRST() || (!k.c.synReceived() && !m.Sender.SYN) {
		return
	}
	if m.Receiver.ACK {
		ack := m.Receiver.Ackno.Unwrap(isn, k.next)
		if ack > k.next {
			return
		}
		k.maxAck = max(k.maxAck, ack)
	}
	k.edge = max(k.edge, k.maxAck+max(uint64(m.Receiver.WindowSize), 1))
}

func (k *seqChecker) transmit(m Message) {
	fail := func(format string, args ...any) {
		k.errs = append(k.errs, fmt.Errorf("sent %v: "+format, append([]any{seg(m)}, args...)...))
	}
	if k.rstSent || k.quiet {
		fail("the connection had already ended")
	}
	if m.Sender.RST != m.Receiver.RST {
		fail("RST must be set in both halves")
	}
	k.rstSent = k.rstSent || m.IsRST()

	start := m.Sender.Seqno.Unwrap(isn, k.next)
	end := start + m.SequenceLength()
	switch {
	case m.Sender.SYN != (start == 0):
		fail("SYN, and only SYN, takes absolute seqno 0 (got %d)", start)
	case m.SequenceLength() == 0 && start != k.next:
		fail("an empty message carries the next seqno %d, not %d", k.next, start)
	case start > k.next:
		fail("skips sequence numbers: starts at %d, next new one is %d", start, k.next)
	case end > k.next && k.finSent:
		fail("new sequence numbers after the FIN")
	case end > k.next && end > k.edge:
		fail("beyond the peer's window: ends at %d, the peer allowed up to %d", end, k.edge)
	}
	if end > k.next {
		k.next = end
		k.finSent = k.finSent || m.Sender.FIN
	}

	r := m.Receiver
	if k.ackSeen && !r.ACK && !m.IsRST() {
		fail("the ACK flag went away")
	}
	if r.ACK {
		right := r.Ackno + receiver.Wrap32(r.WindowSize)
		if k.ackSeen && r.Ackno.Less(k.lastAck) {
			fail("ackno moved backwards from %d", k.lastAck)
		}
		if k.ackSeen && right.Less(k.rightOld) {
			fail("the window's right edge moved left from %d to %d", k.rightOld, right)
		}
		k.ackSeen, k.lastAck, k.rightOld = true, r.Ackno, right
	}
}
