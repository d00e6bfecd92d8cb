// Package lecture replays the scenarios of the lecture notes
// (../shared/seeds: opening and closing TCP connections) on two reference
// connections joined by a scripted network, and records them as ladder
// diagrams. The lab 4 handout's diagrams are generated from it
// (go generate ./labs/4-connection), so they cannot drift from the code,
// and its golden tests pin the exact exchanges.
package lecture

import (
	"slices"
	"time"

	"tcplab/internal/ladder"
	"tcplab/labs/4-connection"
)

// Net joins two connections, A and B, by a network the scenario scripts:
// messages wait in flight until the scenario delivers or drops them.
type Net struct {
	Conn     [2]*connection.Connection
	now      time.Duration
	rec      *ladder.Recorder
	inFlight []flight
}

type flight struct {
	id   int
	to   ladder.Side
	msg  connection.Message
	sent time.Duration
}

// NewNet makes A and B with the given ISNs and the course's defaults
// otherwise (64000-byte streams, 1 s initial RTO).
func NewNet(isnA, isnB uint32) *Net {
	n := &Net{rec: ladder.NewRecorder("A", "B")}
	for i, isn := range []uint32{isnA, isnB} {
		cfg := connection.DefaultConfig()
		cfg.ISN = wrap(isn)
		n.Conn[i] = connection.New(cfg)
	}
	n.noteStates()
	return n
}

// Recording returns the diagram so far.
func (n *Net) Recording() ladder.Recording { return n.rec.Recording() }

// transmit returns the function side's connection sends through.
func (n *Net) transmit(from ladder.Side) func(connection.Message) {
	return func(m connection.Message) {
		m.Sender.Payload = slices.Clone(m.Sender.Payload) // it is ours only during the call
		id := n.rec.Send(n.now, from, m)
		n.inFlight = append(n.inFlight, flight{id: id, to: from.Other(), msg: m, sent: n.now})
	}
}

// Connect makes side open actively (send its SYN).
func (n *Net) Connect(side ladder.Side) {
	n.Conn[side].Connect(n.transmit(side))
	n.noteStates()
}

// Write has side's application write s and the connection send what it can.
func (n *Net) Write(side ladder.Side, s string) {
	n.Conn[side].Outbound().Push([]byte(s))
	n.Conn[side].Push(n.transmit(side))
	n.noteStates()
}

// WriteAndClose has side's application write s and end its stream before
// the connection sends: data and FIN can then share a message.
func (n *Net) WriteAndClose(side ladder.Side, s string) {
	n.Conn[side].Outbound().Push([]byte(s))
	n.Close(side)
}

// Close has side's application end its outbound stream.
func (n *Net) Close(side ladder.Side) {
	n.Conn[side].Outbound().Close()
	n.Conn[side].Push(n.transmit(side))
	n.noteStates()
}

// Deliver moves time on by d and delivers every message now in flight, in
// the order sent; answers they cause stay in flight.
func (n *Net) Deliver(d time.Duration) {
	n.advance(d)
	batch := n.inFlight
	n.inFlight = nil
	for _, f := range batch {
		n.rec.Deliver(n.now, f.id)
		n.Conn[f.to].Receive(f.msg, n.transmit(f.to))
		n.noteStates()
	}
}

// DropAll loses every message now in flight, after d.
func (n *Net) DropAll(d time.Duration) {
	n.advance(d)
	for _, f := range n.inFlight {
		n.rec.Drop(n.now, f.id)
	}
	n.inFlight = nil
}

// Tick moves time on by d for both connections (their timers run).
func (n *Net) Tick(d time.Duration) {
	n.advance(d)
	for side, c := range n.Conn {
		c.Tick(d, n.transmit(ladder.Side(side)))
	}
	n.noteStates()
}

// InFlight is how many messages are on the wire.
func (n *Net) InFlight() int { return len(n.inFlight) }

func (n *Net) advance(d time.Duration) { n.now += d }

func (n *Net) noteStates() {
	for side, c := range n.Conn {
		n.rec.State(n.now, ladder.Side(side), c.State())
	}
}
