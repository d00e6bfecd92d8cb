package connection

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"tcplab/internal/harness"
	"tcplab/internal/ladder"
	"tcplab/labs/2-receiver"
)

// Two connections, A and B, talk through a network the test drives one
// operation at a time: it delivers any message in flight (so messages
// overtake each other), loses one, delivers a copy of one, lets time pass,
// has an application write, close or read, forges a keep-alive or an RST.
// A model of each side, built from the lecture's rules and from nothing
// but what the test did and what crossed the wire, says after every
// operation what each side must have sent and what it must report:
//
//   - every message carries the ackno and window the model computes from
//     what arrived, and payload bytes that are the stream's at their seqno;
//   - new sequence numbers go out only in order, only from a push or a
//     received message; a retransmission only from a tick, one a tick,
//     starting exactly at the peer's last ackno;
//   - a message that occupies sequence numbers, or a keep-alive, is
//     answered; a pure ACK is not; before the peer's SYN only a SYN, or an
//     RST acknowledging our SYN, counts; an RST is never answered;
//   - an RST goes out exactly when the consecutive retransmissions pass
//     MaxRetransmissions, with the flag in both halves;
//   - Active() and State() are what the state table says, and lingering
//     ends exactly 10 × InitialRTO after the last message received;
//   - nothing is sent once a connection is done.
//
// Every round ends by closing both streams and letting a lossless network
// run: then both connections must finish, with every byte delivered.

const (
	mnCapacity = 3000 // larger than any stream: the window never closes
	mnMaxRetx  = 3
	mnRTO      = time.Second
	mnLinger   = 10 * mnRTO
)

// mnSide is what the model knows of one connection.
type mnSide struct {
	isn, peer receiver.Wrap32 // ours and the peer's
	connected bool
	text      []byte // everything this side's application will write
	written   int    // bytes written to the outbound stream
	closed    bool   // the outbound stream was closed

	// The sending half, as seen on the wire.
	maxEnd    uint64 // one past the highest seqno sent
	finSent   bool
	peerAcked uint64 // the highest ackno received that acknowledged something sent
	retx      uint64 // retransmissions since peerAcked last moved

	// The receiving half.
	synSeen  bool
	got      []bool // which of the peer's absolute seqnos arrived
	expected uint64 // the first seqno not yet arrived: the ackno
	read     int    // bytes the application read
	finSeen  bool   // the inbound stream ended

	reset    bool
	linger   bool // cleared if the inbound stream ended before our FIN was sent
	lastRecv time.Duration
}

// mnNet is the subject: the two connections, the model of each, the
// messages in flight towards each, and the simulated time.
type mnNet struct {
	c      [2]*Connection
	m      [2]*mnSide
	flight [2][]mnDatagram // flight[s]: on their way to side s
	now    time.Duration
	// ladder draws the exchange, but only when Describe replays the
	// operations done so far (a nil Recorder records nothing): drawing
	// every random round would cost more than running it.
	ladder *ladder.Recorder
	round  mnRound
	done   []mnOp
	// The operation being checked: its kind, which side acts, and the
	// errors the transmit hooks found.
	op   mnOpKind
	errs []error
	// Per side, during one operation: messages sent, retransmissions and
	// messages occupying sequence numbers.
	sent    [2][]Message
	retxNow [2]int
	// wasActive: the side was active when the operation (or the delivery)
	// began. A message that arrives in time is answered even if it ends
	// the connection.
	wasActive [2]bool
}

// begin starts checking one operation, or one delivery of many.
func (n *mnNet) begin(op mnOpKind) {
	n.op = op
	n.sent, n.retxNow = [2][]Message{}, [2]int{}
	for s := range 2 {
		n.wasActive[s] = n.m[s].active(n.now)
	}
}

type mnDatagram struct {
	id int
	m  Message
}

func newMNNet(r mnRound) *mnNet {
	n := &mnNet{round: r}
	for s := range 2 {
		cfg := Config{Capacity: mnCapacity, MaxPayloadSize: r.maxPayload, InitialRTO: mnRTO,
			MaxRetransmissions: mnMaxRetx, ISN: r.isn[s]}
		n.c[s] = New(cfg)
		n.m[s] = &mnSide{isn: r.isn[s], peer: r.isn[1-s], text: r.text[s], linger: true,
			got: make([]bool, len(r.text[1-s])+2)}
	}
	return n
}

func (n *mnNet) Describe() string {
	if n.ladder == nil {
		replay := newMNNet(n.round)
		replay.ladder = ladder.NewRecorder("A", "B")
		for _, o := range n.done {
			_ = replay.apply(o)
		}
		return replay.Describe()
	}
	for s := range 2 {
		n.ladder.State(n.now, ladder.Side(s), n.c[s].State())
	}
	return ladder.Text(n.ladder.Recording(), 80)
}

// transmit returns side s's transmit function: it checks the message
// against the model and puts it on the wire.
func (n *mnNet) transmit(s int) func(Message) {
	return func(msg Message) {
		msg.Sender.Payload = bytes.Clone(msg.Sender.Payload)
		id := n.ladder.Send(n.now, ladder.Side(s), ladder.Message(msg))
		n.flight[1-s] = append(n.flight[1-s], mnDatagram{id, msg})
		n.sent[s] = append(n.sent[s], msg)
		if err := n.check(s, msg); err != nil {
			n.errs = append(n.errs, fmt.Errorf("%s sent %s: %w", ladder.Side(s), describe([]Message{msg}), err))
		}
	}
}

// check holds one message side s sent to the rules, and updates the model.
func (n *mnNet) check(s int, msg Message) error {
	m := n.m[s]
	if m.reset || !n.wasActive[s] {
		return errors.New("but it was done: nothing may be sent")
	}
	if want := m.receiverHalf(); msg.Receiver != want && !msg.IsRST() {
		return fmt.Errorf("the receiver's half must be %+v", want)
	}
	abs := mnOffset(msg.Sender.Seqno, m.isn)
	length := msg.SequenceLength()
	if msg.IsRST() {
		// The only RST a connection sends: giving up after too many
		// retransmissions, in a tick, the flag in both halves.
		switch {
		case n.op != mnTick:
			return errors.New("an RST outside a tick: only giving up sends one")
		case m.retx <= mnMaxRetx:
			return fmt.Errorf("an RST after %d consecutive retransmissions; the limit is %d", m.retx, mnMaxRetx)
		case !msg.Sender.RST || !msg.Receiver.RST:
			return errors.New("an RST must carry the flag in both halves")
		case length != 0 || abs != m.maxEnd:
			return fmt.Errorf("an RST must be empty, at the next seqno %d", m.maxEnd)
		}
		m.reset = true
		return nil
	}
	if length == 0 {
		if abs != m.maxEnd {
			return fmt.Errorf("an empty message must carry the next seqno (%d from the ISN)", m.maxEnd)
		}
		if n.op == mnTick {
			return errors.New("a tick sends only retransmissions")
		}
		return nil
	}
	// What the message must carry, given the seqnos it occupies.
	end := abs + length
	if msg.Sender.SYN != (abs == 0) {
		return fmt.Errorf("SYN must be set exactly on seqno 0 (the ISN); this starts at ISN+%d", abs)
	}
	if msg.Sender.FIN && (!m.closed || end != uint64(m.written)+2) {
		return fmt.Errorf("a FIN at ISN+%d, but the stream ends at ISN+%d (closed: %v)", end-1, m.written+1, m.closed)
	}
	first := max(abs, 1) - 1 // stream index of the first payload byte
	if want := m.text[min(first, uint64(m.written)):min(first+uint64(len(msg.Sender.Payload)), uint64(m.written))]; !bytes.Equal(msg.Sender.Payload, want) {
		return fmt.Errorf("the payload is not stream bytes %d to %d", first, first+uint64(len(msg.Sender.Payload)))
	}
	switch {
	case abs > m.maxEnd:
		return fmt.Errorf("starts at ISN+%d, leaving a gap after ISN+%d", abs, m.maxEnd)
	case abs == m.maxEnd:
		if n.op == mnTick {
			return errors.New("new sequence numbers in a tick: only a push or a received message sends them")
		}
		m.maxEnd, m.finSent = end, msg.Sender.FIN
	default:
		if n.op != mnTick {
			return errors.New("a retransmission outside a tick")
		}
		if n.retxNow[s]++; n.retxNow[s] > 1 {
			return errors.New("a second retransmission in one tick")
		}
		if abs != m.peerAcked || end > m.maxEnd {
			return fmt.Errorf("a retransmission must start at the peer's ackno ISN+%d and end by ISN+%d", m.peerAcked, m.maxEnd)
		}
		m.retx++
	}
	return nil
}

// receiverHalf is what every message side m sends must say of what it
// received.
func (m *mnSide) receiverHalf() receiver.ReceiverMessage {
	r := receiver.ReceiverMessage{WindowSize: uint16(mnCapacity - m.unread())}
	if m.synSeen {
		r.ACK, r.Ackno = true, m.peer+receiver.Wrap32(m.expected)
	}
	return r
}

func (m *mnSide) unread() int {
	if !m.synSeen {
		return 0
	}
	return int(m.expected) - 1 - b2i(m.finSeen) - m.read
}

// mnOffset is a seqno's distance from the ISN. Every stream here is far
// shorter than 2^31, so this is its absolute seqno; the model does its own
// arithmetic rather than trust lab 2's Unwrap. A seqno before the ISN comes
// out huge: beyond anything sent.
func mnOffset(w, isn receiver.Wrap32) uint64 { return uint64(uint32(w - isn)) }

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// active is what Active() must say.
func (m *mnSide) active(now time.Duration) bool {
	switch {
	case m.reset:
		return false
	case !m.finSeen || !m.finSent || m.peerAcked != m.maxEnd:
		return true
	}
	return m.linger && now-m.lastRecv < mnLinger
}

// state is what State() must say: the handout's table, row by row.
func (m *mnSide) state(now time.Duration) State {
	synSent := m.maxEnd > 0
	finAcked := m.finSent && m.peerAcked == m.maxEnd
	switch {
	case m.reset:
		return RESET
	case !m.synSeen && synSent:
		return SYN_SENT
	case !m.synSeen:
		return LISTEN
	case m.peerAcked == 0:
		return SYN_RECEIVED
	case !m.finSeen && !m.finSent:
		return ESTABLISHED
	case !m.finSeen && !finAcked:
		return FIN_WAIT_1
	case !m.finSeen:
		return FIN_WAIT_2
	case !m.finSent:
		return CLOSE_WAIT
	case !finAcked && m.linger:
		return CLOSING
	case !finAcked:
		return LAST_ACK
	case m.active(now):
		return TIME_WAIT
	}
	return CLOSED
}

// receive delivers msg to side s and checks what it answered.
func (n *mnNet) receive(s int, msg Message) {
	m := n.m[s]
	const (
		nothing    = iota // the message is ignored: no answer at all
		answer            // it must be answered
		noEmptyAck        // it must not be answered (new data may go out)
	)
	want := nothing
	switch {
	case !m.active(n.now):
	case !m.synSeen && (msg.IsRST() || !msg.Sender.SYN):
		// Before the peer's SYN nothing is numbered: only an RST that
		// acknowledges exactly our SYN counts.
		if msg.IsRST() && m.connected && msg.Receiver.ACK && msg.Receiver.Ackno == m.isn+1 {
			m.reset = true
		}
	case msg.IsRST():
		m.reset = true
	default:
		m.lastRecv = n.now
		length := msg.SequenceLength()
		keepAlive := m.synSeen && length == 0 && msg.Sender.Seqno == m.peer+receiver.Wrap32(m.expected-1)
		m.synSeen = true
		abs := mnOffset(msg.Sender.Seqno, m.peer)
		for i := abs; i < abs+length && i < uint64(len(m.got)); i++ {
			m.got[i] = true
		}
		for m.expected < uint64(len(m.got)) && m.got[m.expected] {
			m.expected++
		}
		peer := n.m[1-s]
		m.finSeen = peer.closed && m.expected == uint64(peer.written)+2
		if msg.Receiver.ACK {
			if ack := mnOffset(msg.Receiver.Ackno, m.isn); ack <= m.maxEnd && ack > m.peerAcked {
				m.peerAcked, m.retx = ack, 0
			}
		}
		if m.finSeen && !m.finSent {
			m.linger = false // the peer closed first
		}
		want = noEmptyAck
		if length > 0 || keepAlive {
			want = answer
		}
	}
	n.c[s].Receive(msg, n.transmit(s))
	sent := n.sent[s]
	switch {
	case want == nothing && len(sent) > 0:
		n.errs = append(n.errs, fmt.Errorf("%s answered a message it must ignore", ladder.Side(s)))
	case want == answer && len(sent) == 0:
		n.errs = append(n.errs, fmt.Errorf("%s did not answer a message that occupies sequence numbers or is a keep-alive", ladder.Side(s)))
	case want == noEmptyAck:
		for _, a := range sent {
			if a.SequenceLength() == 0 && !a.IsRST() {
				n.errs = append(n.errs, fmt.Errorf("%s answered a pure ACK with an empty message: ACKs of ACKs never end", ladder.Side(s)))
			}
		}
	}
}

// mnOp is one thing that happens on the network or at an application.
type mnOp struct {
	kind mnOpKind
	side int // the side acted on (or delivered to)
	i    int // which message in flight (modulo their count), bytes to write, milliseconds to tick, which RST
}

type mnOpKind int

const (
	mnConnect   mnOpKind = iota
	mnDeliver            // deliver and take off the wire
	mnDuplicate          // deliver a copy, leaving the message on the wire
	mnLose
	mnTick
	mnWrite // write the application's next bytes and push
	mnClose // close the outbound stream and push
	mnKeepAlive
	mnForgeRST
	mnWriteOnly // write the application's next bytes, without a push
	mnSettle    // deliver everything, in order, until nothing is in flight
	mnFinish    // both close, and a lossless network runs until all is done
)

// forgedRSTs are the RSTs a forger may send to a side (an RST arriving
// from outside is acceptable or not by state, not by who sent it).
var forgedRSTs = []struct {
	name string
	make func(to *mnSide) Message
}{
	{"an RST acknowledging its SYN", func(to *mnSide) Message {
		return Message{Receiver: receiver.ReceiverMessage{ACK: true, Ackno: to.isn + 1, RST: true}}
	}},
	{"an RST acknowledging one past its SYN", func(to *mnSide) Message {
		return Message{Receiver: receiver.ReceiverMessage{ACK: true, Ackno: to.isn + 2, RST: true}}
	}},
	{"an RST without an ACK", func(to *mnSide) Message {
		return Message{Sender: receiver.SenderMessage{Seqno: to.peer, RST: true}}
	}},
	{"an RST with a SYN at the peer's ISN", func(to *mnSide) Message {
		return Message{Sender: receiver.SenderMessage{Seqno: to.peer, SYN: true, RST: true}}
	}},
}

func mnName(s int) string { return ladder.Side(s).String() }

// name says what the operation does, as a step of a failure report.
func (o mnOp) name() string {
	switch o.kind {
	case mnConnect:
		return mnName(o.side) + " connects"
	case mnDeliver:
		return fmt.Sprintf("deliver message #%d on its way to %s", o.i, mnName(o.side))
	case mnDuplicate:
		return fmt.Sprintf("deliver a copy of message #%d on its way to %s", o.i, mnName(o.side))
	case mnLose:
		return fmt.Sprintf("lose message #%d on its way to %s", o.i, mnName(o.side))
	case mnTick:
		return fmt.Sprintf("tick %d ms", o.i)
	case mnWrite:
		return fmt.Sprintf("%s writes %d bytes and pushes", mnName(o.side), o.i)
	case mnWriteOnly:
		return fmt.Sprintf("%s writes %d bytes, without a push", mnName(o.side), o.i)
	case mnClose:
		return mnName(o.side) + " closes its stream and pushes"
	case mnKeepAlive:
		return fmt.Sprintf("%s sends %s a keep-alive", mnName(1-o.side), mnName(o.side))
	case mnForgeRST:
		return fmt.Sprintf("someone sends %s %s", mnName(o.side), forgedRSTs[o.i%len(forgedRSTs)].name)
	case mnSettle:
		return "deliver everything in flight, in order, answers too"
	}
	return "both close, and a lossless network runs for up to 300 s: both must be done, every byte delivered (unless reset)"
}

// (message #i counts from 0, the oldest first, modulo how many there are.)

// apply runs the operation and returns what broke the rules.
func (n *mnNet) apply(o mnOp) error {
	n.errs = nil
	n.done = append(n.done, o)
	n.begin(o.kind)
	s := o.side
	m, c := n.m[s], n.c[s]
	switch o.kind {
	case mnConnect:
		if !m.connected && !m.synSeen && m.maxEnd == 0 {
			m.connected = true
			c.Connect(n.transmit(s))
			if len(n.sent[s]) != 1 || !n.sent[s][0].Sender.SYN || n.sent[s][0].SequenceLength() != 1 {
				n.errs = append(n.errs, fmt.Errorf("Connect must send the SYN alone; sent %s", describe(n.sent[s])))
			}
		}
	case mnDeliver, mnDuplicate, mnLose:
		if f := n.flight[s]; len(f) > 0 {
			k := o.i % len(f)
			d := f[k]
			if o.kind != mnDuplicate {
				n.flight[s] = append(f[:k:k], f[k+1:]...)
			}
			if o.kind == mnLose {
				n.ladder.Drop(n.now, d.id)
				break
			}
			n.ladder.Deliver(n.now, d.id)
			n.receive(s, d.m)
		}
	case mnTick:
		n.tick(time.Duration(o.i) * time.Millisecond)
	case mnWriteOnly:
		n.write(s, o.i)
	case mnWrite, mnClose:
		if o.kind == mnWrite {
			n.write(s, o.i)
		}
		if o.kind == mnClose {
			c.Outbound().Close()
			m.closed = true
		}
		c.Push(n.transmit(s))
		for _, a := range n.sent[s] {
			if a.SequenceLength() == 0 {
				n.errs = append(n.errs, fmt.Errorf("%s's push sent a message that occupies nothing", mnName(s)))
			}
		}
		if !m.connected && !m.synSeen && len(n.sent[s]) > 0 {
			n.errs = append(n.errs, fmt.Errorf("%s is listening: it sends nothing before the peer's SYN", mnName(s)))
		}
	case mnKeepAlive:
		if m.synSeen {
			peer := n.m[1-s]
			msg := Message{Sender: receiver.SenderMessage{Seqno: m.peer + receiver.Wrap32(m.expected-1)}, Receiver: peer.receiverHalf()}
			id := n.ladder.Send(n.now, ladder.Side(1-s), ladder.Message(msg))
			n.ladder.Deliver(n.now, id)
			n.receive(s, msg)
		}
	case mnForgeRST:
		msg := forgedRSTs[o.i%len(forgedRSTs)].make(m)
		id := n.ladder.Send(n.now, ladder.Side(1-s), ladder.Message(msg))
		n.ladder.Deliver(n.now, id)
		n.receive(s, msg)
	case mnSettle:
		n.settle()
	case mnFinish:
		n.finish()
	}
	n.readAll()
	return n.verdict()
}

// write has side s's application write its next k bytes (if it has not
// closed the stream).
func (n *mnNet) write(s, k int) {
	m := n.m[s]
	if m.closed {
		return
	}
	k = min(k, len(m.text)-m.written)
	n.c[s].Outbound().Push(m.text[m.written : m.written+k])
	m.written += k
}

// settle delivers every message in flight, oldest first, and the answers
// to them, until the network is quiet.
func (n *mnNet) settle() {
	for range 1000 {
		to := 0
		if len(n.flight[0]) == 0 {
			to = 1
		}
		if len(n.flight[to]) == 0 {
			break
		}
		d := n.flight[to][0]
		n.flight[to] = n.flight[to][1:]
		n.ladder.Deliver(n.now, d.id)
		n.begin(mnSettle)
		n.receive(to, d.m)
	}
	if len(n.flight[0])+len(n.flight[1]) > 0 {
		n.errs = append(n.errs, errors.New("still messages in flight after 1000 deliveries: an ACK storm?"))
	}
}

// finish closes both streams and runs a lossless network, a second at a
// time, until both sides are done or 300 seconds passed: long enough to
// retransmit every message one by one, to give up after any number of
// retransmissions and to linger out. Then each side
// that was opened and not reset (nor its peer) must be done, with the
// peer's whole stream read.
func (n *mnNet) finish() {
	for s := range 2 {
		n.begin(mnClose)
		n.c[s].Outbound().Close()
		n.m[s].closed = true
		n.c[s].Push(n.transmit(s))
	}
	for range 300 {
		if !n.c[0].Active() && !n.c[1].Active() {
			break
		}
		n.settle()
		n.readAll()
		n.begin(mnTick)
		n.tick(time.Second)
		n.readAll()
	}
	for s := range 2 {
		m, peer := n.m[s], n.m[1-s]
		if m.reset || peer.reset || !m.connected && !m.synSeen {
			continue // nothing to finish: reset, or never opened
		}
		if n.c[s].Active() || m.read != peer.written || !m.finSeen {
			n.errs = append(n.errs, fmt.Errorf("%s is not done (%s, read %d of %d bytes)", mnName(s), n.c[s].State(), m.read, peer.written))
		}
	}
}

// tick lets time pass on both sides.
func (n *mnNet) tick(d time.Duration) {
	n.now += d
	for s := range 2 {
		n.c[s].Tick(d, n.transmit(s))
		if m := n.m[s]; m.retx > mnMaxRetx && !m.reset {
			n.errs = append(n.errs, fmt.Errorf("%s retransmitted %d times in a row and did not give up with an RST", mnName(s), m.retx))
		}
	}
}

// readAll is both applications reading what arrived, which must be the
// peer's stream in order.
func (n *mnNet) readAll() {
	for s := range 2 {
		m, r := n.m[s], n.c[s].Inbound()
		for r.BytesBuffered() > 0 {
			chunk := r.Peek()
			want := n.m[1-s].text[m.read:min(m.read+len(chunk), len(n.m[1-s].text))]
			if !bytes.Equal(chunk, want) {
				n.errs = append(n.errs, fmt.Errorf("%s read bytes %d on that are not the stream's", mnName(s), m.read))
				return
			}
			m.read += len(chunk)
			r.Pop(uint64(len(chunk)))
		}
	}
}

// verdict is every broken rule of the operation, then what each side must
// report.
func (n *mnNet) verdict() error {
	var b strings.Builder
	for _, err := range n.errs {
		fmt.Fprintf(&b, "%v\n", err)
	}
	for s := range 2 {
		m, c := n.m[s], n.c[s]
		if got, want := c.Active(), m.active(n.now); got != want {
			fmt.Fprintf(&b, "%s: Active() is %v, want %v\n", mnName(s), got, want)
		}
		if got, want := c.State(), m.state(n.now); got != want {
			fmt.Fprintf(&b, "%s: State() is %s, want %s\n", mnName(s), got, want)
		}
		if got := c.Inbound().IsFinished(); got != m.finSeen {
			fmt.Fprintf(&b, "%s: the inbound stream finished: %v, want %v\n", mnName(s), got, m.finSeen)
		}
	}
	if b.Len() > 0 {
		return errors.New(b.String())
	}
	return nil
}

// mnRound is one random exchange: ISNs, streams, payload limit and the
// operations.
type mnRound struct {
	isn        [2]receiver.Wrap32
	text       [2][]byte
	maxPayload int
	ops        []mnOp
}

func (r mnRound) steps(ops []mnOp) []harness.Step[*mnNet] {
	steps := make([]harness.Step[*mnNet], len(ops))
	for i, o := range ops {
		steps[i] = harness.Step[*mnNet]{Name: o.name(), Run: func(n *mnNet) error { return n.apply(o) }}
	}
	return steps
}

func (r mnRound) run(t testing.TB, what string) {
	t.Helper()
	what = fmt.Sprintf("%s: ISNs A %d, B %d, %d and %d bytes, max payload %d", what, r.isn[0], r.isn[1], len(r.text[0]), len(r.text[1]), r.maxPayload)
	harness.RunShrunk(t, what, r.ops, func() *mnNet { return newMNNet(r) }, r.steps, smallerMNOp)
}

// smallerMNOp offers the shrinker simpler operations: shorter ticks, fewer
// bytes, the first message in flight rather than another.
func smallerMNOp(o mnOp) []mnOp {
	if o.kind == mnForgeRST {
		return nil
	}
	low := 0 // the first message in flight
	if o.kind == mnTick || o.kind == mnWrite || o.kind == mnWriteOnly {
		low = 1
	}
	var out []mnOp
	for _, i := range []int{low, o.i / 2} {
		if i >= low && i < o.i {
			s := o
			s.i = i
			out = append(out, s)
		}
	}
	return out
}

// randomMNRound draws a round. It runs the operations on a live net as it
// draws them, to aim ticks at the moments that matter: the end of a
// linger, and a millisecond before it.
func randomMNRound(rng *rand.Rand, count int) mnRound {
	r := mnRound{maxPayload: []int{1, 7, 100, 1000}[rng.IntN(4)]}
	for s := range 2 {
		r.isn[s] = receiver.Wrap32(rng.Uint32())
		if rng.IntN(4) == 0 {
			r.isn[s] = receiver.Wrap32(-1 - rng.IntN(30)) // seqnos wrap
		}
		r.text[s] = randomBytes(rng, []int{0, 1, 5, 30, 300, 2500}[rng.IntN(6)])
		if r.maxPayload < 100 {
			r.text[s] = r.text[s][:min(len(r.text[s]), 30)]
		}
	}
	n := newMNNet(r)
	add := func(o mnOp) {
		r.ops = append(r.ops, o)
		_ = n.apply(o)
	}
	add(mnOp{kind: mnConnect, side: 0})
	if rng.IntN(4) == 0 {
		add(mnOp{kind: mnConnect, side: 1}) // simultaneous open
	}
	for range count {
		o := mnOp{side: rng.IntN(2), i: rng.IntN(8)}
		switch k := rng.IntN(100); {
		case k < 30:
			o.kind = mnDeliver
		case k < 36:
			o.kind = mnDuplicate
		case k < 46:
			o.kind = mnLose
		case k < 66:
			o.kind = mnTick
			o.i = []int{1, 100, 999, 1000, 2000, 4000}[rng.IntN(6)]
			if m := n.m[o.side]; m.linger && m.finSeen && !m.reset {
				if left := int((m.lastRecv + mnLinger - n.now) / time.Millisecond); left > 0 {
					o.i = []int{left, left - 1, left + 1, o.i}[rng.IntN(4)]
				}
			}
			o.i = max(o.i, 1)
		case k < 78:
			o.kind = []mnOpKind{mnWrite, mnWrite, mnWriteOnly}[rng.IntN(3)]
			o.i = []int{1, 10, 300, 1500}[rng.IntN(4)]
		case k < 82:
			o.kind = mnClose
		case k < 88:
			o.kind = mnKeepAlive
		case k < 90:
			o.kind = mnForgeRST
		default:
			o.kind = mnSettle
		}
		add(o)
	}
	add(mnOp{kind: mnFinish})
	return r
}

// TestConnectionsMatchModel runs random exchanges between two connections
// and checks both against the model after every operation.
//
// It kills every lab 4 mutant of internal/mutants on its own (among them
// "acks-pure-acks", "keepalive-unanswered", "linger-too-short",
// "syn-sent-accepts-any-rst", "gives-up-silently"), and these edits of the
// reference that no other check catches: Tick pushing new data, an RST
// with SYN taken as a SYN before the peer's SYN, and the linger clock
// restarted only by messages that occupy sequence numbers.
func TestConnectionsMatchModel(t *testing.T) {
	const seed = 4
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0xc0ed))
	rounds := 1500
	if testing.Short() {
		rounds = 30
	}
	for round := range rounds {
		r := randomMNRound(rng, 20+rng.IntN(60))
		r.run(t, fmt.Sprintf("round %d of seed %d", round, seed))
	}
}

// FuzzConnectionsModel runs the model test on operations the fuzzer makes
// up: every two bytes are one (a kind and side, then an argument), and the
// round always ends with both sides closing over a lossless network.
func FuzzConnectionsModel(f *testing.F) {
	f.Add([]byte{mnConnectOp, 0, mnDeliverOp | 0x80, 0, mnDeliverOp, 0, mnWriteOp, 200, mnCloseOp, 0, mnLoseOp | 0x80, 0, mnTickOp, 10})
	f.Add([]byte{mnConnectOp, 0, mnConnectOp | 0x80, 0, mnDeliverOp, 0, mnDeliverOp | 0x80, 0, mnKeepAliveOp, 0, mnRSTOp | 0x80, 3})
	f.Add([]byte{mnConnectOp | 0x80, 0, mnTickOp, 10, mnTickOp, 30, mnTickOp, 70, mnTickOp, 150, mnRSTOp, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := mnRound{isn: [2]receiver.Wrap32{0xffff_fff0, 77}, maxPayload: 100,
			text: [2][]byte{bytes.Repeat([]byte("abcdefghij"), 30), []byte("the other way")}}
		for ; len(in) >= 2 && len(r.ops) < 200; in = in[2:] {
			o := mnOp{kind: mnOpKind(in[0]&0x7f) % mnFinish, side: int(in[0] >> 7), i: int(in[1])}
			switch o.kind {
			case mnTick:
				o.i = 1 + o.i*100 // up to 25 s, in steps of 100 ms
			case mnWrite, mnWriteOnly:
				o.i *= 4
			}
			r.ops = append(r.ops, o)
		}
		r.ops = append(r.ops, mnOp{kind: mnFinish})
		r.run(t, "fuzz")
	})
}

// Operation kinds as the fuzz seeds spell them (the high bit picks B).
const (
	mnConnectOp   = byte(mnConnect)
	mnDeliverOp   = byte(mnDeliver)
	mnLoseOp      = byte(mnLose)
	mnTickOp      = byte(mnTick)
	mnWriteOp     = byte(mnWrite)
	mnCloseOp     = byte(mnClose)
	mnKeepAliveOp = byte(mnKeepAlive)
	mnRSTOp       = byte(mnForgeRST)
)
