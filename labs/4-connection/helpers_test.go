package connection

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"tcplab/internal/harness"
	"tcplab/internal/ladder"
	"tcplab/labs/2-receiver"
)

// The test connections' numbers: our ISN, the peer's (the lecture's 6969),
// the window a fresh 64000-byte stream advertises and the initial RTO.
const (
	isn  receiver.Wrap32 = 1000
	peer receiver.Wrap32 = 6969
	full uint16          = 64000
	rto                  = time.Second
)

// testConfig is the course's defaults with a fixed ISN.
func testConfig() Config {
	cfg := DefaultConfig()
	cfg.ISN = isn
	return cfg
}

// endpoint is the subject of a step-driven test: one Connection, what it
// transmitted and its simulated clock.
type endpoint struct {
	name string
	c    *Connection
	sent []Message     // transmitted and not yet checked by an expectation
	wire []Message     // transmitted and not yet delivered or lost
	now  time.Duration // simulated time: the sum of the ticks so far
	// total counts every message ever transmitted.
	total int
	// ladder records the exchange, the connection on the left and the
	// test on the right; a failing check draws it.
	ladder *ladder.Recorder
	// onTransmit, when set, hears each message as it is transmitted (a
	// pair draws both endpoints' messages on one ladder).
	onTransmit func(Message)
}

func newEndpoint(name string, cfg Config) *endpoint {
	return &endpoint{name: name, c: New(cfg), ladder: ladder.NewRecorder(name, "test")}
}

// transmit records m. A message is the callee's only during the call, so
// the payload is copied.
func (e *endpoint) transmit(m Message) {
	m.Sender.Payload = bytes.Clone(m.Sender.Payload)
	e.sent = append(e.sent, m)
	e.wire = append(e.wire, m)
	e.total++
	e.ladder.Deliver(e.now, e.ladder.Send(e.now, ladder.A, ladder.Message(m)))
	e.ladder.State(e.now, ladder.A, e.c.State())
	if e.onTransmit != nil {
		e.onTransmit(m)
	}
}

// receive hands m to the connection, drawing it as the test's message.
func (e *endpoint) receive(m Message) {
	e.ladder.Deliver(e.now, e.ladder.Send(e.now, ladder.B, ladder.Message(m)))
	e.c.Receive(m, e.transmit)
	e.ladder.State(e.now, ladder.A, e.c.State())
}

// Describe draws what the connection and the test exchanged so far; the
// harness shows it above a failing step.
func (e *endpoint) Describe() string {
	e.ladder.State(e.now, ladder.A, e.c.State())
	return ladder.Text(e.ladder.Recording(), 80)
}

type step = harness.Step[*endpoint]

// seg builds a Message in the lecture's terms: the sender's half (seqno,
// SYN, payload, FIN) and the receiver's half (ackno, window).
type seg Message

// at starts a message with the given seqno and nothing else.
func at(seqno receiver.Wrap32) seg {
	return seg{Sender: receiver.SenderMessage{Seqno: seqno}}
}

func (m seg) syn() seg                  { m.Sender.SYN = true; return m }
func (m seg) fin() seg                  { m.Sender.FIN = true; return m }
func (m seg) data(s string) seg         { m.Sender.Payload = []byte(s); return m }
func (m seg) win(w uint16) seg          { m.Receiver.WindowSize = w; return m }
func (m seg) ack(n receiver.Wrap32) seg { m.Receiver.ACK, m.Receiver.Ackno = true, n; return m }

// rst sets RST in both halves, as a resetting endpoint sends it.
func (m seg) rst() seg { m.Sender.RST, m.Receiver.RST = true, true; return m }

// String names the message as a ladder diagram would.
func (m seg) String() string {
	var b strings.Builder
	for _, f := range []struct {
		on   bool
		name string
	}{{m.Sender.SYN, "SYN"}, {m.Sender.FIN, "FIN"}, {m.Sender.RST || m.Receiver.RST, "RST"}, {m.Receiver.ACK, "ACK"}} {
		if f.on {
			b.WriteString(f.name + " ")
		}
	}
	fmt.Fprintf(&b, "seqno=%d", m.Sender.Seqno)
	if m.Receiver.ACK {
		fmt.Fprintf(&b, " ackno=%d", m.Receiver.Ackno)
	}
	fmt.Fprintf(&b, " win=%d", m.Receiver.WindowSize)
	if n := len(m.Sender.Payload); n > 20 {
		fmt.Fprintf(&b, " (%d bytes)", n)
	} else if n > 0 {
		fmt.Fprintf(&b, " %q", m.Sender.Payload)
	}
	return b.String()
}

func describe(ms []Message) string {
	if len(ms) == 0 {
		return "nothing"
	}
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = "[" + seg(m).String() + "]"
	}
	return strings.Join(names, " ")
}

// cmpMessages compares messages field by field; a nil and an empty payload
// are the same.
var cmpMessages = cmpopts.EquateEmpty()

// Actions.

func connect() step {
	return harness.Do("connect", func(e *endpoint) { e.c.Connect(e.transmit) })
}

func receive(m seg) step {
	return harness.Do("receive "+m.String(), func(e *endpoint) {
		e.receive(Message(m))
	})
}

func tick(d time.Duration) step {
	return harness.Do(fmt.Sprintf("tick %v", d), func(e *endpoint) {
		e.now += d
		e.c.Tick(d, e.transmit)
		e.ladder.State(e.now, ladder.A, e.c.State())
	})
}

// abort has the application (or the stack) give up on the connection.
func abort() step {
	return harness.Do("abort", func(e *endpoint) { e.c.Abort(e.transmit) })
}

// write has the application write data, then lets the connection push.
func write(data string) step {
	name := fmt.Sprintf("write %q", data)
	if len(data) > 20 {
		name = fmt.Sprintf("write %d bytes", len(data))
	}
	return harness.Do(name, func(e *endpoint) {
		e.c.Outbound().Push([]byte(data))
		e.c.Push(e.transmit)
	})
}

// closeOutbound has the application end its stream, then lets the
// connection push (the FIN, if the window allows).
func closeOutbound() step {
	return harness.Do("close outbound", func(e *endpoint) {
		e.c.Outbound().Close()
		e.c.Push(e.transmit)
	})
}

// endStream has the application close its stream without pushing: the FIN
// goes out with whatever the connection sends next.
func endStream() step {
	return harness.Do("application closes outbound (no push)", func(e *endpoint) { e.c.Outbound().Close() })
}

// loopBack delivers everything the connection sent to itself, until it
// sends nothing more (a TCP connection to its own address and port). A
// connection that answers its own ACKs would never stop: that fails.
func loopBack() step {
	return harness.Step[*endpoint]{Name: "loop every message back", Run: func(e *endpoint) error {
		for n := 0; len(e.wire) > 0; n++ {
			if n == 100000 {
				return fmt.Errorf("still sending after %d messages looped back (answering pure ACKs?): last %v", n, seg(e.wire[0]))
			}
			m := e.wire[0]
			e.wire = e.wire[1:]
			e.receive(m)
		}
		return nil
	}}
}

// Expectations.

func expectState(want State) step {
	return harness.Expect("state "+want.String(), func(e *endpoint) State { return e.c.State() }, want)
}

func expectActive(want bool) step {
	name := "active"
	if !want {
		name = "inactive"
	}
	return harness.Expect(name, func(e *endpoint) bool { return e.c.Active() }, want)
}

// expectSent checks the messages transmitted since the last expectation of
// them, exactly and in order.
func expectSent(want ...seg) step {
	ms := make([]Message, len(want))
	for i, m := range want {
		ms[i] = Message(m)
	}
	return harness.Check("sent "+describe(ms), func(e *endpoint) error {
		got := e.sent
		e.sent = nil
		if d := cmp.Diff(ms, got, cmpMessages); d != "" {
			return fmt.Errorf("at t=%v sent %s\n(-want +got)\n%s", e.now, describe(got), d)
		}
		return nil
	})
}

func expectNothingSent() step { return expectSent() }

// expectRST checks that exactly one message was sent since the last
// expectation of them, an RST numbered seqno (RFC 793's <SEQ=SND.NXT>
// <CTL=RST>); its other fields mean nothing to the peer.
func expectRST(seqno receiver.Wrap32) step {
	return harness.Check(fmt.Sprintf("sent [RST seqno=%d]", seqno), func(e *endpoint) error {
		got := e.sent
		e.sent = nil
		if len(got) != 1 || !got[0].IsRST() || got[0].Sender.Seqno != seqno {
			return fmt.Errorf("at t=%v sent %s, want one RST with seqno=%d", e.now, describe(got), seqno)
		}
		return nil
	})
}

// expectInbound reads everything the connection received so far.
func expectInbound(want string) step {
	return harness.Expect(fmt.Sprintf("inbound %q", want), func(e *endpoint) string {
		return readAll(e.c)
	}, want)
}

// expectBothStreamsFailed checks the end of an unclean shutdown.
func expectBothStreamsFailed() step {
	return harness.Expect("both streams in error", func(e *endpoint) [2]bool {
		return [2]bool{e.c.Outbound().HasError(), e.c.Inbound().HasError()}
	}, [2]bool{true, true})
}

func readAll(c *Connection) string {
	var b strings.Builder
	r := c.Inbound()
	for r.BytesBuffered() > 0 {
		p := r.Peek()
		b.Write(p)
		r.Pop(uint64(len(p)))
	}
	return b.String()
}

// into returns the steps that bring a fresh connection (ISN isn, peer ISN
// peer, testConfig) into state st, checking every message on the way. The
// peer never has data in flight, so every ackno is easy to follow.
func into(st State) []step {
	switch st {
	case LISTEN:
		return []step{expectState(LISTEN)}
	case SYN_SENT:
		return []step{connect(), expectSent(at(isn).syn().win(full)), expectState(SYN_SENT)}
	case SYN_RECEIVED:
		return []step{
			receive(at(peer).syn().win(full)),
			expectSent(at(isn).syn().ack(peer + 1).win(full)),
			expectState(SYN_RECEIVED),
		}
	case ESTABLISHED:
		return append(into(SYN_SENT),
			receive(at(peer).syn().ack(isn+1).win(full)),
			expectSent(at(isn+1).ack(peer+1).win(full)),
			expectState(ESTABLISHED))
	case CLOSE_WAIT:
		return append(into(ESTABLISHED),
			receive(at(peer+1).fin().ack(isn+1).win(full)),
			expectSent(at(isn+1).ack(peer+2).win(full)),
			expectState(CLOSE_WAIT))
	case LAST_ACK:
		return append(into(CLOSE_WAIT),
			closeOutbound(),
			expectSent(at(isn+1).fin().ack(peer+2).win(full)),
			expectState(LAST_ACK))
	case FIN_WAIT_1:
		return append(into(ESTABLISHED),
			closeOutbound(),
			expectSent(at(isn+1).fin().ack(peer+1).win(full)),
			expectState(FIN_WAIT_1))
	case FIN_WAIT_2:
		return append(into(FIN_WAIT_1),
			receive(at(peer+1).ack(isn+2).win(full)),
			expectNothingSent(),
			expectState(FIN_WAIT_2))
	case CLOSING:
		return append(into(FIN_WAIT_1),
			receive(at(peer+1).fin().ack(isn+1).win(full)),
			expectSent(at(isn+2).ack(peer+2).win(full)),
			expectState(CLOSING))
	case TIME_WAIT:
		return append(into(FIN_WAIT_2),
			receive(at(peer+1).fin().ack(isn+2).win(full)),
			expectSent(at(isn+2).ack(peer+2).win(full)),
			expectState(TIME_WAIT), expectActive(true))
	case CLOSED:
		return append(into(TIME_WAIT),
			tick(10*rto),
			expectNothingSent(),
			expectState(CLOSED), expectActive(false))
	case RESET:
		return append(into(ESTABLISHED),
			receive(at(peer+1).rst()),
			expectNothingSent(),
			expectState(RESET), expectActive(false))
	}
	panic("into: no way to " + st.String())
}

// steps joins step lists.
func steps(lists ...[]step) []step {
	var all []step
	for _, l := range lists {
		all = append(all, l...)
	}
	return all
}

// repeat returns n copies of the steps in order.
func repeat(n int, s ...step) []step {
	var all []step
	for range n {
		all = append(all, s...)
	}
	return all
}
