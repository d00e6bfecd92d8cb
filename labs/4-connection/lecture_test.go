package connection

import (
	"fmt"
	"testing"
	"time"

	"tcplab/internal/harness"
	"tcplab/internal/ladder"
)

// The lecture's scenarios ("Opening & closing TCP connections"), each
// played by two connections, A and B, whose messages the test carries by
// hand and checks one by one.

// pair is the subject of a lecture scenario.
type pair struct {
	a, b *endpoint
	// ladder draws what A and B sent each other, A on the left; onWire
	// holds, per side, the ladder's IDs of the messages on its wire.
	ladder *ladder.Recorder
	onWire [2][]int
}

// now is the pair's clock: the later of the two sides' (each side's steps
// tick its own).
func (p *pair) now() time.Duration { return max(p.a.now, p.b.now) }

// side returns the endpoint and ladder side called name.
func (p *pair) side(name string) (*endpoint, ladder.Side) {
	if name == "A" {
		return p.a, ladder.A
	}
	return p.b, ladder.B
}

// states records both sides' states on the ladder. Unfinished code may
// panic in State: the drawing then goes without, and the panic is left to
// the step that meets it.
func (p *pair) states() {
	defer func() { _ = recover() }()
	p.ladder.State(p.now(), ladder.A, p.a.c.State())
	p.ladder.State(p.now(), ladder.B, p.b.c.State())
}

// carry takes what one side has on the wire and hands each message to the
// other side, or loses it.
func (p *pair) carry(from string, lost bool) {
	src, s := p.side(from)
	dst, _ := p.side(map[string]string{"A": "B", "B": "A"}[from])
	batch, ids := src.wire, p.onWire[s]
	src.wire, p.onWire[s] = nil, nil
	for i, m := range batch {
		if lost {
			p.ladder.Drop(p.now(), ids[i])
			continue
		}
		p.ladder.Deliver(p.now(), ids[i])
		dst.c.Receive(m, dst.transmit)
		p.states()
	}
}

// Describe draws the messages A and B exchanged so far, with both sides'
// states; the harness shows it above a failing step.
func (p *pair) Describe() string {
	if p.a.total+p.b.total == 0 {
		return "" // nothing was sent: no picture to draw
	}
	p.states()
	return ladder.Text(p.ladder.Recording(), 80)
}

type pairStep = harness.Step[*pair]

// A and B run an endpoint step on one side of the pair.
func A(s step) pairStep { return on("A", func(p *pair) *endpoint { return p.a }, s) }
func B(s step) pairStep { return on("B", func(p *pair) *endpoint { return p.b }, s) }

func on(name string, side func(*pair) *endpoint, s step) pairStep {
	return pairStep{Name: name + ": " + s.Name, Run: func(p *pair) error {
		defer p.states()
		return s.Run(side(p))
	}}
}

// deliver hands everything one side has on the wire to the other, in
// order, as one batch (what the other side sends in answer stays on its
// own wire).
func deliver(from string) pairStep {
	to := map[string]string{"A": "B", "B": "A"}[from]
	return harness.Do(fmt.Sprintf("deliver %s's messages to %s", from, to), func(p *pair) {
		p.carry(from, false)
	})
}

// cross delivers what both sides have on the wire at once: messages sent
// at the same time pass each other, and neither side's answer to the other
// goes out before its own message arrives.
func cross() pairStep {
	return harness.Do("deliver both sides' messages, crossing", func(p *pair) {
		// B's messages are set aside first, so that what B sends in answer
		// to A's stays on its wire.
		toA, idsToA := p.b.wire, p.onWire[ladder.B]
		p.b.wire, p.onWire[ladder.B] = nil, nil
		p.carry("A", false)
		pending, pendingIDs := p.b.wire, p.onWire[ladder.B]
		p.b.wire, p.onWire[ladder.B] = toA, idsToA
		p.carry("B", false)
		p.b.wire, p.onWire[ladder.B] = pending, pendingIDs
	})
}

// lose drops everything one side has on the wire.
func lose(from string) pairStep {
	return harness.Do(fmt.Sprintf("lose %s's messages", from), func(p *pair) {
		p.carry(from, true)
	})
}

func expectExchanged(n int) pairStep {
	return harness.Expect(fmt.Sprintf("%d messages exchanged", n),
		func(p *pair) int { return p.a.total + p.b.total }, n)
}

// ISNs of the two sides: B's is the lecture's 6969.
const (
	isnA = isn
	isnB = peer
)

func newPair() *pair {
	ca, cb := testConfig(), testConfig()
	ca.ISN, cb.ISN = isnA, isnB
	p := &pair{a: newEndpoint("A", ca), b: newEndpoint("B", cb), ladder: ladder.NewRecorder("A", "B")}
	p.a.onTransmit = func(m Message) {
		p.onWire[ladder.A] = append(p.onWire[ladder.A], p.ladder.Send(p.now(), ladder.A, ladder.Message(m)))
	}
	p.b.onTransmit = func(m Message) {
		p.onWire[ladder.B] = append(p.onWire[ladder.B], p.ladder.Send(p.now(), ladder.B, ladder.Message(m)))
	}
	p.states()
	return p
}

// established returns the three-way handshake, A opening.
func established() []pairStep {
	return []pairStep{
		A(connect()), A(expectSent(at(isnA).syn().win(full))),
		deliver("A"), B(expectSent(at(isnB).syn().ack(isnA + 1).win(full))),
		deliver("B"), A(expectSent(at(isnA + 1).ack(isnB + 1).win(full))),
		deliver("A"), B(expectNothingSent()),
		A(expectState(ESTABLISHED)), B(expectState(ESTABLISHED)),
	}
}

func TestLecture(t *testing.T) {
	hello := "hello, world!"
	cases := []struct {
		name  string
		steps []pairStep
	}{
		{"simultaneous open takes four messages", []pairStep{
			// Both SYNs cross: neither knows the other's ISN, so neither
			// carries an ackno.
			A(connect()), B(connect()),
			A(expectSent(at(isnA).syn().win(full))),
			B(expectSent(at(isnB).syn().win(full))),
			cross(),
			// Each SYN occupies a seqno, so each is acknowledged.
			B(expectSent(at(isnB + 1).ack(isnA + 1).win(full))),
			A(expectSent(at(isnA + 1).ack(isnB + 1).win(full))),
			A(expectState(SYN_RECEIVED)), B(expectState(SYN_RECEIVED)),
			cross(),
			// Pure ACKs occupy nothing and are not answered.
			A(expectNothingSent()), B(expectNothingSent()),
			A(expectState(ESTABLISHED)), B(expectState(ESTABLISHED)),
			expectExchanged(4),
		}},
		{"three-way handshake takes three messages", append(established(), expectExchanged(3))},
		{"ackno is ISN + data + SYN + FIN", []pairStep{
			// B's application has written its whole stream before A's SYN
			// arrives; B's SYN+ACK carries it all, from ISN 6969.
			B(write(hello)), B(closeOutbound()), B(expectNothingSent()),
			A(connect()), A(expectSent(at(isnA).syn().win(full))),
			deliver("A"),
			B(expectSent(at(6969).syn().data(hello).fin().ack(isnA + 1).win(full))),
			deliver("B"),
			// 6969 + 13 bytes + SYN + FIN = 6984, the next seqno A wants.
			A(expectSent(at(isnA + 1).ack(6984).win(full - 13))),
			A(expectInbound(hello)), A(expectState(CLOSE_WAIT)),
			deliver("A"), B(expectState(FIN_WAIT_2)),
		}},
		{"a peer keeps sending after it received a FIN", append(established(),
			B(closeOutbound()), B(expectSent(at(isnB+1).fin().ack(isnA+1).win(full))),
			deliver("B"), A(expectSent(at(isnA+1).ack(isnB+2).win(full))),
			A(expectState(CLOSE_WAIT)),
			deliver("A"), B(expectState(FIN_WAIT_2)),
			// A's stream is still open: the connection is alive.
			A(write("not")), A(expectSent(at(isnA+1).ack(isnB+2).win(full).data("not"))),
			deliver("A"), B(expectSent(at(isnB+2).ack(isnA+4).win(full-3))),
			B(expectInbound("not")),
			deliver("B"), A(expectNothingSent()),
			A(expectState(CLOSE_WAIT)), B(expectState(FIN_WAIT_2)),
		)},
		{"the closing exchange: one side cannot know its last ACK arrived", append(established(),
			// B's application is done too, but B has no reason to send
			// until A's FIN arrives; then its FIN rides with the ACK.
			A(closeOutbound()), B(endStream()),
			A(expectSent(at(isnA+1).fin().ack(isnB+1).win(full))), // message 1
			deliver("A"),
			B(expectSent(at(isnB+1).fin().ack(isnA+2).win(full))), // message 2
			deliver("B"),
			A(expectSent(at(isnA+2).ack(isnB+2).win(full))), // message 3
			deliver("A"),
			// B knows all four things happened: it is done.
			B(expectNothingSent()), B(expectState(CLOSED)), B(expectActive(false)),
			// A cannot know message 3 arrived: nothing ever acknowledges an ACK.
			A(expectNothingSent()), A(expectState(TIME_WAIT)), A(expectActive(true)),
			expectExchanged(6),
		)},
		{"the side that closed first lingers and answers a retransmitted FIN", append(established(),
			A(closeOutbound()), B(endStream()),
			A(expectSent(at(isnA+1).fin().ack(isnB+1).win(full))),
			deliver("A"), B(expectSent(at(isnB+1).fin().ack(isnA+2).win(full))),
			deliver("B"), A(expectSent(at(isnA+2).ack(isnB+2).win(full))),
			lose("A"), // message 3 is lost
			B(expectState(LAST_ACK)),
			B(tick(rto)), B(expectSent(at(isnB+1).fin().ack(isnA+2).win(full))),
			deliver("B"),
			A(expectSent(at(isnA+2).ack(isnB+2).win(full))),
			A(expectState(TIME_WAIT)),
			deliver("A"), B(expectState(CLOSED)), B(expectActive(false)),
			// A lingers 10 RTOs after the last message it received.
			A(tick(10*rto-1)), A(expectActive(true)),
			A(tick(1)), A(expectState(CLOSED)), A(expectActive(false)),
		)},
		{"the side that received FIN first does not linger", append(established(),
			A(closeOutbound()), A(expectSent(at(isnA+1).fin().ack(isnB+1).win(full))),
			deliver("A"), B(expectSent(at(isnB+1).ack(isnA+2).win(full))),
			B(expectState(CLOSE_WAIT)),
			deliver("B"), A(expectState(FIN_WAIT_2)),
			B(closeOutbound()), B(expectSent(at(isnB+1).fin().ack(isnA+2).win(full))),
			deliver("B"), A(expectSent(at(isnA+2).ack(isnB+2).win(full))),
			A(expectState(TIME_WAIT)),
			deliver("A"),
			// Its FIN is acknowledged and its inbound stream ended before it
			// sent the FIN: done at once, no waiting.
			B(expectState(CLOSED)), B(expectActive(false)),
			A(expectActive(true)),
		)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			harness.Run(t, newPair(), tc.steps...)
		})
	}
}
