// Package connection is lab 4: a whole TCP endpoint.
//
// A Connection joins a sender (lab 3) and a receiver (lab 2). Every message
// it sends carries both halves: the sender's seqno, flags and payload, and
// the receiver's ackno and window. It opens actively (Connect) or passively
// (it waits for the peer's SYN), answers every message that occupies
// sequence numbers, gives up after too many retransmissions, and decides
// when the connection is over, lingering when it cannot know that its last
// acknowledgment arrived.
//
// The connection has no clock and no network: the caller hands it messages
// (Receive), time (Tick) and a transmit function. The stack in internal/
// does that for real datagrams.
package connection

import (
	"crypto/rand"
	"encoding/binary"
	"time"

	"tcplab/labs/0-bytestream"
	"tcplab/labs/1-reassembler"
	"tcplab/labs/2-receiver"
	"tcplab/labs/3-sender"
)

// Config sets up a Connection.
type Config struct {
	Capacity           uint64          // each direction's stream, default 64000
	MaxPayloadSize     int             // default 1000
	InitialRTO         time.Duration   // default 1s
	MaxRetransmissions uint64          // default 8; past it: send RST, abort
	ISN                receiver.Wrap32 // initial sequence number
}

// DefaultConfig returns the course's defaults with a random ISN.
func DefaultConfig() Config {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	return Config{
		Capacity:           64000,
		MaxPayloadSize:     sender.MaxPayloadSize,
		InitialRTO:         time.Second,
		MaxRetransmissions: 8,
		ISN:                receiver.Wrap32(binary.BigEndian.Uint32(b[:])),
	}
}

// Message is one TCP segment: both halves of what an endpoint sends. It is
// lab 2's receiver.Message, named here too because this is where a whole
// endpoint first sends both halves at once.
type Message = receiver.Message

// Connection is one TCP endpoint.
type Connection struct {
	cfg      Config
	outbound *bytestream.ByteStream // what we send: the application writes it
	inbound  *bytestream.ByteStream // what we receive: the application reads it
	sender   *sender.Sender
	receiver *receiver.Receiver
	//lab:solution begin
	connected bool // Connect was called: we may send before the peer's SYN
	// linger is cleared when the inbound stream ends before our FIN was
	// sent: then the peer closed first, and its FIN's ACK of our FIN
	// (which we will get) is the last thing either side needs to know.
	linger    bool
	sinceRecv time.Duration // time since the last message arrived
	reset     bool          // ended by RST (sent or received)
	//lab:solution end
}

// New returns a connection in LISTEN: it sends nothing until Connect is
// called or a SYN arrives.
func New(cfg Config) *Connection {
	def := DefaultConfig()
	if cfg.Capacity == 0 {
		cfg.Capacity = def.Capacity
	}
	if cfg.MaxPayloadSize <= 0 {
		cfg.MaxPayloadSize = def.MaxPayloadSize
	}
	if cfg.InitialRTO <= 0 {
		cfg.InitialRTO = def.InitialRTO
	}
	if cfg.MaxRetransmissions == 0 {
		cfg.MaxRetransmissions = def.MaxRetransmissions
	}
	c := &Connection{
		cfg:      cfg,
		outbound: bytestream.New(cfg.Capacity),
		inbound:  bytestream.New(cfg.Capacity),
	}
	c.sender = sender.New(c.outbound, cfg.ISN, cfg.InitialRTO)
	c.sender.SetMaxPayloadSize(cfg.MaxPayloadSize)
	c.receiver = receiver.New(reassembler.New(c.inbound))
	//lab:solution begin
	c.linger = true
	//lab:solution end
	return c
}

// Config returns the configuration the connection runs with (defaults
// filled in).
func (c *Connection) Config() Config { return c.cfg }

// Outbound returns the writing end of the stream this endpoint sends.
func (c *Connection) Outbound() *bytestream.Writer { return c.outbound.Writer() }

// Inbound returns the reading end of the stream this endpoint receives.
func (c *Connection) Inbound() *bytestream.Reader { return c.inbound.Reader() }

// Connect opens the connection actively: it sends the SYN.
func (c *Connection) Connect(transmit func(Message)) {
	//lab:solution begin
	c.connected = true
	c.Push(transmit)
	//lab:solution end
}

// Push sends whatever the sender may send now: the SYN, outbound data that
// fits the peer's window, the FIN.
func (c *Connection) Push(transmit func(Message)) {
	//lab:solution begin
	if !c.Active() || (!c.connected && !c.synReceived()) {
		return // passive and no SYN yet: a listener stays quiet
	}
	c.sender.Push(func(m receiver.SenderMessage) {
		c.transmit(m, transmit)
	})
	c.noteInboundEnd()
	//lab:solution end
}

// Receive takes one message from the peer and sends what it calls for.
func (c *Connection) Receive(m Message, transmit func(Message)) {
	//lab:solution begin
	if !c.Active() {
		return
	}
	if !c.synReceived() && (m.IsRST() || !m.Sender.SYN) {
		// Before the peer's SYN nothing is numbered yet; only an RST that
		// answers our own SYN means anything.
		if m.IsRST() && c.connected && c.acksOurSYN(m.Receiver) {
			c.abort()
		}
		return
	}
	if m.IsRST() {
		c.abort()
		return
	}
	c.sinceRecv = 0
	// A keep-alive reuses the seqno just below the next one we want: it
	// occupies nothing but asks for an answer all the same.
	ask := c.receiver.Send()
	keepAlive := ask.ACK && m.SequenceLength() == 0 && m.Sender.Seqno == ask.Ackno-1

	c.receiver.Receive(m.Sender)
	c.sender.Receive(m.Receiver)
	c.noteInboundEnd()

	sent := false
	c.Push(func(out Message) {
		sent = true
		transmit(out)
	})
	// A message that occupies sequence numbers must be answered; one that
	// occupies none is not (else two endpoints would ACK each other's ACKs
	// forever).
	if !sent && (m.SequenceLength() > 0 || keepAlive) {
		c.transmit(c.sender.MakeEmptyMessage(), transmit)
	}
	//lab:solution end
}

// Tick tells the connection that elapsed time has passed: it may
// retransmit, give up (sending RST), or finish lingering.
func (c *Connection) Tick(elapsed time.Duration, transmit func(Message)) {
	//lab:solution begin
	if !c.Active() {
		return
	}
	c.sinceRecv += elapsed
	c.sender.Tick(elapsed, func(m receiver.SenderMessage) {
		c.transmit(m, transmit)
	})
	if c.sender.ConsecutiveRetransmissions() > c.cfg.MaxRetransmissions {
		c.abort()
		c.transmit(c.sender.MakeEmptyMessage(), transmit)
	}
	//lab:solution end
}

// Active reports whether the connection still has anything to do: false
// once it finished cleanly (and lingered, if it had to) or was reset.
func (c *Connection) Active() bool {
	//lab:solution begin
	if c.reset {
		return false
	}
	if !c.inbound.Writer().IsClosed() || !c.finAcked() {
		return true
	}
	// Both streams are done. The side that closed first cannot know its
	// last ACK arrived, so it stays to answer a retransmitted FIN.
	return c.linger && c.sinceRecv < 10*c.cfg.InitialRTO
	//lab:solution end
}

// The methods from here to Abort are given: the stack in internal/ needs
// them to run a Connection over real datagrams, and they are built on the
// halves' contract alone, so they work over your sender and receiver.

// EmptyMessage is what the connection would send to acknowledge without
// occupying sequence numbers: the seqno of the next new sequence number, the
// ackno and the window. The stack announces window updates with it.
func (c *Connection) EmptyMessage() Message {
	return Message{Sender: c.sender.MakeEmptyMessage(), Receiver: c.receiver.Send()}
}

// SequenceNumbersInFlight is how many sequence numbers were sent and not
// yet acknowledged.
func (c *Connection) SequenceNumbersInFlight() uint64 {
	return c.sender.SequenceNumbersInFlight()
}

// SetMaxPayloadSize changes the most payload bytes one message carries: an
// active open learns the peer's maximum segment size only from its SYN-ACK,
// after the connection was made.
func (c *Connection) SetMaxPayloadSize(n int) {
	c.cfg.MaxPayloadSize = max(n, 1)
	c.sender.SetMaxPayloadSize(c.cfg.MaxPayloadSize)
}

// Abort resets the connection from this side (the application or the stack
// gives up on it): the peer is sent an RST, and the connection ends as it
// does when the peer sends one, with both streams in error. A connection
// that has sent nothing yet (LISTEN) has nothing to abort.
func (c *Connection) Abort(transmit func(Message)) {
	if !c.Active() || c.State() == LISTEN {
		return
	}
	e := c.EmptyMessage()
	transmit(Message{
		Sender:   receiver.SenderMessage{Seqno: e.Sender.Seqno, RST: true},
		Receiver: receiver.ReceiverMessage{ACK: e.Receiver.ACK, Ackno: e.Receiver.Ackno, RST: true},
	})
	// The RST the peer would send: numbered with the ackno we expect, and
	// acknowledging everything we sent (while connecting, exactly our SYN),
	// so any Receive that honours an acceptable RST honours it.
	c.Receive(Message{
		Sender:   receiver.SenderMessage{Seqno: e.Receiver.Ackno, RST: true},
		Receiver: receiver.ReceiverMessage{ACK: true, Ackno: e.Sender.Seqno, RST: true},
	}, func(Message) {})
}

//lab:solution begin

// transmit sends a sender message with the receiver's half filled in.
func (c *Connection) transmit(m receiver.SenderMessage, transmit func(Message)) {
	transmit(Message{Sender: m, Receiver: c.receiver.Send()})
}

// abort ends the connection uncleanly: both streams fail, and every later
// message the halves make carries RST.
func (c *Connection) abort() {
	c.reset = true
	c.outbound.Writer().SetError()
	c.inbound.Writer().SetError()
}

// noteInboundEnd clears linger if the peer's stream ended before ours was
// finished (we did not close first).
func (c *Connection) noteInboundEnd() {
	if c.inbound.Writer().IsClosed() && !c.finSent() {
		c.linger = false
	}
}

// acksOurSYN reports whether r acknowledges exactly our SYN (RFC 793: in
// SYN_SENT, only such an RST is acceptable).
func (c *Connection) acksOurSYN(r receiver.ReceiverMessage) bool {
	return r.ACK && r.Ackno == c.cfg.ISN+1
}

//lab:solution end

// lingers reports whether this side closed first and so must linger.
func (c *Connection) lingers() bool {
	//lab:solution begin
	return c.linger
	//lab:solution end
}

// The state, derived from the two halves (never stored twice).

// nextSeqno is the absolute seqno of the next new sequence number we send.
func (c *Connection) nextSeqno() uint64 {
	checkpoint := c.outbound.Reader().BytesPopped() + 1
	return c.sender.MakeEmptyMessage().Seqno.Unwrap(c.cfg.ISN, checkpoint)
}

func (c *Connection) synReceived() bool { return c.receiver.Send().ACK }

func (c *Connection) synSent() bool { return c.nextSeqno() > 0 }

func (c *Connection) synAcked() bool {
	return c.synSent() && c.sender.SequenceNumbersInFlight() < c.nextSeqno()
}

// finSent: the sender numbered SYN, every stream byte and the FIN.
func (c *Connection) finSent() bool {
	r := c.outbound.Reader()
	return r.IsFinished() && c.nextSeqno() == r.BytesPopped()+2
}

func (c *Connection) finAcked() bool {
	return c.finSent() && c.sender.SequenceNumbersInFlight() == 0
}
