// Package ladder draws TCP exchanges as ladder (sequence) diagrams, the
// way the lecture teaches them: peer A on the left, peer B on the right,
// each message an arrow labelled with its seqno, ackno, flags and payload,
// slanted by the time it spent in flight.
//
// A Recording is a list of events: a message sent, delivered or dropped,
// and a state change. Whoever moves messages between two endpoints (a test,
// the simulated network, the stack) records into one through a *Recorder;
// a nil *Recorder records nothing and costs nothing, so the hook can stay in
// hot paths. Text renders a recording for terminals, SVG for handouts and
// browsers, and Live prints events as they happen.
package ladder

import (
	"fmt"
	"strings"
	"time"

	"tcplab/labs/2-receiver"
)

// Message is one segment: both halves of what an endpoint sends. It is lab
// 2's receiver.Message (and so connection.Message): the ladder needs
// nothing of lab 4, so the sender's tests can draw too.
type Message = receiver.Message

// Side is one end of the exchange.
type Side int

// The two peers, as the lecture names them.
const (
	A Side = iota // drawn on the left
	B             // drawn on the right
)

func (s Side) String() string { return [...]string{"A", "B"}[s&1] }

// Other returns the peer of s.
func (s Side) Other() Side { return 1 - s&1 }

// Kind says what an event is.
type Kind int

// Event kinds.
const (
	Send    Kind = iota // Side sent message ID
	Deliver             // message ID arrived at Side
	Drop                // message ID was lost on its way from Side
	State               // Side entered the state in Label
)

// Event is one thing that happened.
type Event struct {
	At    time.Duration // since the recording began
	Kind  Kind
	Side  Side
	ID    int    // the message, for Send, Deliver and Drop
	Label string // Send: the message's label; State: the state's name
	// Retransmission marks a Send that repeats sequence numbers its side
	// already sent.
	Retransmission bool
}

// Recording is what a Recorder collected.
type Recording struct {
	Names  [2]string // display names of A and B ("A", "B" when empty)
	Events []Event
}

// Recorder collects events. A nil *Recorder ignores every call.
type Recorder struct {
	rec    Recording
	nextID int
	// sent is, per side, one past the highest absolute-ish seqno sent so
	// far (as a Wrap32 end) and whether anything was sent, to spot
	// retransmissions.
	sentEnd [2]receiver.Wrap32
	sentAny [2]bool
	state   [2]string
}

// NewRecorder returns a recorder whose peers are called a and b.
func NewRecorder(a, b string) *Recorder {
	return &Recorder{rec: Recording{Names: [2]string{a, b}}}
}

// Send records that side sent m at time at and returns the message's ID
// for Deliver or Drop.
func (r *Recorder) Send(at time.Duration, side Side, m Message) int {
	if r == nil {
		return 0
	}
	return r.add(at, side, m.Sender, Label(m))
}

// SendSenderHalf records a message that has only a sender's half, as a
// lone sender's tests see it: drawn without an ackno or window.
func (r *Recorder) SendSenderHalf(at time.Duration, side Side, s receiver.SenderMessage) int {
	if r == nil {
		return 0
	}
	return r.add(at, side, s, senderLabel(s))
}

// SendReceiverHalf records a message that has only a receiver's half (an
// acknowledgment given to a lone sender): drawn without a seqno.
func (r *Recorder) SendReceiverHalf(at time.Duration, side Side, m receiver.ReceiverMessage) int {
	if r == nil {
		return 0
	}
	return r.add(at, side, receiver.SenderMessage{}, receiverLabel(m))
}

func (r *Recorder) add(at time.Duration, side Side, s receiver.SenderMessage, label string) int {
	id := r.nextID
	r.nextID++
	end := s.Seqno + receiver.Wrap32(s.SequenceLength())
	retx := false
	if s.SequenceLength() > 0 {
		// Occupying sequence numbers below what this side already sent
		// means sending them again.
		retx = r.sentAny[side] && s.Seqno.Less(r.sentEnd[side])
		if !r.sentAny[side] || r.sentEnd[side].Less(end) {
			r.sentEnd[side], r.sentAny[side] = end, true
		}
	}
	r.rec.Events = append(r.rec.Events, Event{At: at, Kind: Send, Side: side, ID: id, Label: label, Retransmission: retx})
	return id
}

// Deliver records that message id arrived at the peer of its sender.
func (r *Recorder) Deliver(at time.Duration, id int) {
	if r == nil {
		return
	}
	from, ok := r.sender(id)
	if !ok {
		return
	}
	r.rec.Events = append(r.rec.Events, Event{At: at, Kind: Deliver, Side: from.Other(), ID: id})
}

// Drop records that message id was lost.
func (r *Recorder) Drop(at time.Duration, id int) {
	if r == nil {
		return
	}
	from, ok := r.sender(id)
	if !ok {
		return
	}
	r.rec.Events = append(r.rec.Events, Event{At: at, Kind: Drop, Side: from, ID: id})
}

// State records side's state; only changes are kept.
func (r *Recorder) State(at time.Duration, side Side, state fmt.Stringer) {
	if r == nil {
		return
	}
	s := state.String()
	if r.state[side] == s {
		return
	}
	r.state[side] = s
	r.rec.Events = append(r.rec.Events, Event{At: at, Kind: State, Side: side, Label: s})
}

// Recording returns what was recorded so far.
func (r *Recorder) Recording() Recording {
	if r == nil {
		return Recording{}
	}
	rec := r.rec
	rec.Events = append([]Event(nil), r.rec.Events...)
	return rec
}

func (r *Recorder) sender(id int) (Side, bool) {
	for i := len(r.rec.Events) - 1; i >= 0; i-- {
		if e := r.rec.Events[i]; e.Kind == Send && e.ID == id {
			return e.Side, true
		}
	}
	return A, false
}

// Label describes a message the way the lecture writes it: the sender's
// half ("SYN seq=6969 \"hello, world!\" (13 B) FIN"), then the receiver's
// ("ack=6984 win=64000").
func Label(m Message) string {
	s := m.Sender
	s.RST = s.RST && !m.Receiver.RST // RST is one flag: say it once
	return senderLabel(s) + " " + receiverLabel(m.Receiver)
}

func senderLabel(s receiver.SenderMessage) string {
	var b strings.Builder
	if s.SYN {
		b.WriteString("SYN ")
	}
	fmt.Fprintf(&b, "seq=%d", uint32(s.Seqno))
	if n := len(s.Payload); n > 0 {
		const show = 16
		if n <= show {
			fmt.Fprintf(&b, " %q (%d B)", s.Payload, n)
		} else {
			fmt.Fprintf(&b, " %q… (%d B)", s.Payload[:show], n)
		}
	}
	if s.FIN {
		b.WriteString(" FIN")
	}
	if s.RST {
		b.WriteString(" RST")
	}
	return b.String()
}

func receiverLabel(r receiver.ReceiverMessage) string {
	var b strings.Builder
	if r.ACK {
		fmt.Fprintf(&b, "ack=%d ", uint32(r.Ackno))
	}
	fmt.Fprintf(&b, "win=%d", r.WindowSize)
	if r.RST {
		b.WriteString(" RST")
	}
	return b.String()
}
