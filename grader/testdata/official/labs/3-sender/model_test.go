package sender_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"tcplab/internal/harness"
	"tcplab/labs/2-receiver"
)

// A model sender, written from the handout's rules and nothing else, runs
// beside the real one on random operations from the very first push on:
// writes, pushes, the close, ticks, ACKs (new, partial, duplicate, late,
// for data never sent), windows with and without the ACK flag, RSTs and a
// failing stream. After every operation the test checks every message the
// sender sent (seqno, flags, payload, so also their timing), that it sent
// nothing else, the two counters and MakeEmptyMessage.
//
// The model thinks in seqno ranges: a message is the range [start, end) it
// occupies, and what it carries follows from the range (the SYN is seqno 0,
// stream byte i is seqno i+1, the FIN is the seqno after the last byte). A
// retransmission is the same range with its acknowledged front cut off.

// span is a message the model sent, by the seqnos it occupies.
type span struct {
	start, end uint64
	fin        bool
}

type senderModel struct {
	maxPayload int
	rto0       time.Duration

	pushed, taken uint64 // stream bytes written by the test, and read by the sender
	closed, err   bool

	next, acked uint64 // absolute seqnos
	window      uint16 // the last window taken
	finSent     bool
	out         []span // outstanding, oldest first

	timerOn    bool
	timer, rto time.Duration
	retx       uint64

	sent []seg // what the last operation made the sender send
}

func newSenderModel(maxPayload int) *senderModel {
	rto := rtoMS * time.Millisecond
	return &senderModel{maxPayload: maxPayload, rto0: rto, rto: rto, window: 1}
}

// message is what a span carries from seqno from on.
func (m *senderModel) message(s span, from uint64) seg {
	g := seg{SYN: from == 0, Seqno: uint32(from), FIN: s.fin, RST: m.err}
	first, end := max(from, 1), s.end // stream bytes are seqnos 1..pushed
	if s.fin {
		end--
	}
	if end > first {
		g.Payload = text(int(first-1), int(end-first))
	}
	return g
}

func (m *senderModel) write(n int) {
	if m.closed {
		return // lab 0: pushes after Close are ignored
	}
	n = min(n, capacity-int(m.pushed-m.taken))
	m.pushed += uint64(n)
}

// push fills the window (at least one seqno wide) with new messages.
func (m *senderModel) push() {
	for !m.finSent {
		right := m.acked + max(uint64(m.window), 1)
		if m.next >= right {
			return
		}
		room := right - m.next
		s := span{start: m.next}
		if m.next == 0 {
			room-- // the SYN
		}
		n := min(room, uint64(m.maxPayload), m.pushed-m.taken)
		m.taken += n
		room -= n
		s.fin = m.closed && m.taken == m.pushed && room > 0
		s.end = m.next + n + b2u(m.next == 0) + b2u(s.fin)
		if s.end == m.next {
			return
		}
		m.out = append(m.out, s)
		m.next, m.finSent = s.end, s.fin
		if !m.timerOn {
			m.timerOn, m.timer = true, 0
		}
		m.sent = append(m.sent, m.message(s, s.start))
	}
}

func (m *senderModel) receive(o senderOp) {
	switch {
	case o.rst:
		m.err = true // an RST's ackno and window mean nothing (README)
		return
	case !o.ackFlag:
		if m.acked == 0 {
			m.window = o.window
		}
		return
	}
	// Offsets past 2^31 stand for seqnos before the ISN; unwrapped near
	// next they are far beyond it, like any ackno past next.
	ack := uint64(o.ackno)
	if ack > m.next || ack < m.acked {
		return
	}
	m.window = o.window
	if ack == m.acked {
		return
	}
	m.acked = ack
	for len(m.out) > 0 && m.out[0].end <= ack {
		m.out = m.out[1:]
	}
	m.rto, m.retx = m.rto0, 0
	m.timerOn, m.timer = len(m.out) > 0, 0
}

func (m *senderModel) tick(d time.Duration) {
	if !m.timerOn {
		return
	}
	if m.timer += d; m.timer < m.rto {
		return
	}
	m.sent = append(m.sent, m.message(m.out[0], max(m.out[0].start, m.acked)))
	if m.window > 0 {
		m.rto *= 2
		m.retx++
	}
	m.timer = 0
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// senderOp is one thing that happens to a sender.
type senderOp struct {
	kind senderOpKind
	n    int // bytes to write, or milliseconds to tick
	// For receive: the ACK flag, ackno as an offset from the ISN, window,
	// and RST.
	ackFlag bool
	ackno   uint32
	window  uint16
	rst     bool
}

type senderOpKind int

const (
	opWrite senderOpKind = iota // write n bytes, without pushing
	opPush
	opClose // close the stream and push
	opTick
	opReceive
	opSetError
)

// apply runs one operation on the model, leaving in sent what it made the
// sender send.
func (m *senderModel) apply(o senderOp) {
	m.sent = m.sent[:0]
	switch o.kind {
	case opWrite:
		m.write(o.n)
	case opPush:
		m.push()
	case opClose:
		m.closed = true
		m.push()
	case opTick:
		m.tick(time.Duration(o.n) * time.Millisecond)
	case opReceive:
		m.receive(o)
	case opSetError:
		m.err = true
	}
}

// senderScript turns ops into steps: each operation, then what the model
// says the sender must have done and must report.
func senderScript(maxPayload int, ops []senderOp) []step {
	m := newSenderModel(maxPayload)
	out := []step{setMaxPayload(maxPayload)}
	for _, o := range ops {
		switch o.kind {
		case opWrite:
			out = append(out, write(text(int(m.pushed), o.n)))
		case opPush:
			out = append(out, push(""))
		case opClose:
			out = append(out, closeStream())
		case opTick:
			out = append(out, tick(o.n))
		case opReceive:
			out = append(out, receiveOp(o))
		case opSetError:
			out = append(out, setError())
		}
		m.apply(o)
		for _, g := range m.sent {
			out = append(out, expectMessage(g))
		}
		out = append(out, expectNoMessage(),
			expectInFlight(m.next-m.acked),
			expectRetransmissions(m.retx),
			expectEmpty(uint32(m.next), m.err))
	}
	return out
}

// receiveOp delivers a receiver's message: an ACK, a bare window, or an RST
// (which may carry an ACK the sender must ignore).
func receiveOp(o senderOp) step {
	if !o.rst && o.ackFlag {
		return receiveAck(o.ackno, o.window)
	}
	if !o.rst {
		return receiveWindow(o.window)
	}
	name := "receive RST"
	if o.ackFlag {
		name = fmt.Sprintf("receive RST with ACK ISN+%d, window %d", o.ackno, o.window)
	}
	return harness.Do(name, func(x *subject) {
		x.receive(receiver.ReceiverMessage{RST: true, ACK: o.ackFlag, Ackno: x.isn + receiver.Wrap32(o.ackno), WindowSize: o.window})
	})
}

// expectEmpty checks MakeEmptyMessage: the next seqno, occupying nothing,
// with RST once the stream failed.
func expectEmpty(seqno uint32, rst bool) step {
	want := seg{Seqno: seqno, RST: rst}
	return harness.Expect("an empty message "+want.String(),
		func(x *subject) seg { return x.view(x.s.MakeEmptyMessage()) }, want)
}

// randomSenderOps draws count operations, running a model as it goes so
// that ACKs land near what was sent (new, partial, duplicate, old, a little
// beyond) and ticks often end exactly on the timer's deadline or just short.
func randomSenderOps(rng *rand.Rand, maxPayload, count int) []senderOp {
	m := newSenderModel(maxPayload)
	var ops []senderOp
	for range count {
		var o senderOp
		switch r := rng.IntN(100); {
		case r < 18 && !m.err: // no writes to a failed stream: lab 0's business
			o = senderOp{kind: opWrite, n: rng.IntN(4 * maxPayload)}
			if rng.IntN(3) == 0 {
				o.n = rng.IntN(6)
			}
		case r < 33:
			o = senderOp{kind: opPush}
		case r < 36 && !m.err:
			o = senderOp{kind: opClose}
		case r < 58:
			o = senderOp{kind: opTick, n: rng.IntN(3 * rtoMS)}
			if left := int((m.rto - m.timer) / time.Millisecond); m.timerOn && left > 0 {
				o.n = []int{left, left - 1, left + 1, 1, o.n}[rng.IntN(5)]
			}
		case r < 96:
			o = senderOp{kind: opReceive, ackFlag: rng.IntN(12) != 0}
			lo := int(m.acked) - 2
			o.ackno = uint32(lo + rng.IntN(int(m.next)-lo+4))
			if rng.IntN(10) == 0 {
				o.ackno = uint32(m.acked) + rng.Uint32()
			}
			o.window = []uint16{0, 0, 1, 2, 3, uint16(rng.IntN(4 * maxPayload)), 65535}[rng.IntN(7)]
			o.rst = rng.IntN(60) == 0
		default:
			o = senderOp{kind: opSetError}
		}
		m.apply(o)
		ops = append(ops, o)
	}
	return ops
}

// senderRound is one random script: its ISN, the payload limit and the
// operations.
type senderRound struct {
	isn        receiver.Wrap32
	maxPayload int
	ops        []senderOp
}

// run checks the sender against the model on the round's operations; a
// failure is shrunk to the fewest operations that still fail.
func (r senderRound) run(t testing.TB, what string) {
	t.Helper()
	what = fmt.Sprintf("%s: ISN %d, max payload %d", what, r.isn, r.maxPayload)
	harness.RunShrunk(t, what, r.ops,
		func() *subject { return newSubject(r.isn) },
		func(ops []senderOp) []step { return senderScript(r.maxPayload, ops) },
		smallerSenderOp)
}

// smallerSenderOp offers simpler forms of an operation for the shrinker:
// fewer bytes, a shorter tick, a plain ACK instead of an RST.
func smallerSenderOp(o senderOp) []senderOp {
	var out []senderOp
	if o.kind == opWrite || o.kind == opTick {
		for _, n := range []int{1, o.n / 2, o.n - 1} {
			if n >= 1 && n < o.n {
				s := o
				s.n = n
				out = append(out, s)
			}
		}
	}
	if o.kind == opReceive && o.rst {
		s := o
		s.rst = false
		out = append(out, s)
	}
	return out
}

// TestSenderMatchesModel runs many short random scripts from the first
// push on and compares the sender with the model after every operation.
//
// It kills (see labs/gremlins-equivalent.txt for the ones nothing can
// kill) every catalogue mutant of lab 3, for instance
// "sender-restart-timer-on-send" and "sender-double-rto-on-zero-window".
func TestSenderMatchesModel(t *testing.T) {
	const seed = 3
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0x5e4d))
	rounds := 1500
	if testing.Short() {
		rounds = 150
	}
	for round := range rounds {
		r := senderRound{
			isn:        receiver.Wrap32(rng.Uint32()),
			maxPayload: []int{1, 2, 3, 5, 8, 1000}[rng.IntN(6)],
		}
		if round%4 == 0 {
			r.isn = receiver.Wrap32(-1 - rng.IntN(40)) // seqnos wrap during the round
		}
		r.ops = randomSenderOps(rng, r.maxPayload, 10+rng.IntN(50))
		r.run(t, fmt.Sprintf("round %d of seed %d", round, seed))
	}
}

// FuzzSenderModel checks the sender against the model on operations the
// fuzzer makes up: the first byte picks the payload limit, then every four
// bytes are one operation.
func FuzzSenderModel(f *testing.F) {
	f.Add([]byte{3, 1, 0, 0, 0, 3, 0x81, 1, 10, 0, 7, 0, 0, 2, 0, 0, 0, 3, 0xe8, 3, 0})
	f.Add([]byte{1, 0, 20, 0, 0, 1, 0, 0, 0, 4, 0x81, 1, 0, 1, 0, 0, 0, 3, 0xe8, 3, 0, 3, 0xe8, 3, 0})
	f.Add([]byte{5, 4, 0x80, 0, 40, 0, 9, 0, 0, 2, 0, 0, 0, 4, 0x81, 4, 0, 5, 0, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < 1 {
			return
		}
		r := senderRound{isn: receiver.Wrap32(0xffff_fff0), maxPayload: []int{1, 2, 3, 5, 8, 1000}[in[0]%6]}
		m := newSenderModel(r.maxPayload)
		for rest := in[1:]; len(rest) >= 4 && len(r.ops) < 100; rest = rest[4:] {
			o := fuzzSenderOp(m, rest[:4])
			m.apply(o)
			r.ops = append(r.ops, o)
		}
		r.run(t, "fuzz")
	})
}

// fuzzSenderOp decodes one operation from four bytes: a kind, then its
// arguments. An ackno is an offset from what the model acknowledged, so
// most land near the window; writes to a failed stream become pushes.
func fuzzSenderOp(m *senderModel, b []byte) senderOp {
	arg := int(b[1]) | int(b[2])<<8
	switch b[0] % 6 {
	case 0:
		if !m.err {
			return senderOp{kind: opWrite, n: int(b[1])}
		}
	case 2:
		if !m.err {
			return senderOp{kind: opClose}
		}
	case 3:
		return senderOp{kind: opTick, n: arg % 5000}
	case 4:
		return senderOp{kind: opReceive, ackFlag: b[0]&0x80 == 0, rst: b[0]&0x40 != 0,
			ackno: uint32(m.acked) + uint32(int8(b[1])), window: uint16(b[2]) * uint16(1+b[3]%4)}
	case 5:
		if b[1] == 0xff {
			return senderOp{kind: opSetError}
		}
	}
	return senderOp{kind: opPush}
}
