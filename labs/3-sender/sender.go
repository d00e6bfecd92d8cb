// Package sender is lab 3: the sending half of a TCP endpoint.
//
// A Sender reads the outbound byte stream and cuts it into SenderMessages
// that fit the receiver's window. It keeps every message that occupies
// sequence numbers until the receiver acknowledges it, and retransmits the
// earliest one when the retransmission timer expires (RFC 6298, simplified
// as in the course: no RTT measurement, the RTO doubles on each timeout).
package sender

import (
	"time"

	"tcplab/labs/0-bytestream"
	"tcplab/labs/2-receiver"
)

// MaxPayloadSize is the most payload bytes a message carries by default.
const MaxPayloadSize = 1000

// Sender is the sending half of a TCP endpoint.
type Sender struct {
	input      *bytestream.ByteStream
	isn        receiver.Wrap32
	initialRTO time.Duration
	//lab:solution begin
	maxPayload int

	next    uint64 // absolute seqno of the next new sequence number to send
	acked   uint64 // absolute seqno the receiver acknowledged (all below it arrived)
	window  uint16 // the receiver's last advertised window
	finSent bool

	// outstanding holds sent messages not yet wholly acknowledged, oldest
	// first; their payloads are the sender's own copies (from spare).
	outstanding []segment
	spare       [][]byte // payload buffers to reuse, so steady state allocates nothing

	timerOn  bool
	timer    time.Duration // time since the timer was (re)started
	rto      time.Duration
	retxRuns uint64 // consecutive retransmissions
	//lab:solution end
}

//lab:solution begin

// segment is an outstanding message and the absolute seqno it starts at.
type segment struct {
	abs uint64
	msg receiver.SenderMessage
}

//lab:solution end

// New returns a sender that reads input and numbers its messages from isn.
func New(input *bytestream.ByteStream, isn receiver.Wrap32, initialRTO time.Duration) *Sender {
	return &Sender{
		input:      input,
		isn:        isn,
		initialRTO: initialRTO,
		//lab:solution begin
		maxPayload: MaxPayloadSize,
		window:     1, // until the receiver says otherwise, assume room for the SYN
		rto:        initialRTO,
		//lab:solution end
	}
}

// SetMaxPayloadSize changes the most payload bytes one message carries (the
// stack uses 1460, what fits a 1500-byte IPv4 datagram).
func (s *Sender) SetMaxPayloadSize(n int) {
	//lab:solution begin
	s.maxPayload = max(n, 1)
	//lab:solution end
}

// Writer returns the writing end of the outbound stream.
func (s *Sender) Writer() *bytestream.Writer { return s.input.Writer() }

// SequenceNumbersInFlight is how many sequence numbers were sent and not yet
// acknowledged.
func (s *Sender) SequenceNumbersInFlight() uint64 {
	//lab:solution begin
	return s.next - s.acked
	//lab:solution end
}

// ConsecutiveRetransmissions is how many times in a row the timer expired
// and the earliest message was sent again (reset by an ACK of new data).
func (s *Sender) ConsecutiveRetransmissions() uint64 {
	//lab:solution begin
	return s.retxRuns
	//lab:solution end
}

// Push sends as many new messages as the window allows, reading the
// outbound stream. transmit may not keep a message's Payload past the call.
func (s *Sender) Push(transmit func(receiver.SenderMessage)) {
	//lab:solution begin
	r := s.input.Reader()
	// A zero window is filled as if it were one: the single sequence number
	// is a probe, and the ACK it draws tells us when the window opens.
	window := max(uint64(s.window), 1)
	for !s.finSent {
		right := s.acked + window // first seqno the receiver cannot take
		if s.next >= right {
			return
		}
		room := right - s.next
		msg := s.MakeEmptyMessage()
		msg.SYN = s.next == 0
		if msg.SYN {
			room--
		}
		n := min(room, uint64(s.maxPayload), r.BytesBuffered())
		if n > 0 {
			msg.Payload = s.copyOut(n)
			room -= n
		}
		// FIN goes out once the stream ended, if the window has room for it.
		if r.IsFinished() && room > 0 {
			msg.FIN, s.finSent = true, true
		}
		if msg.SequenceLength() == 0 {
			return
		}
		s.outstanding = append(s.outstanding, segment{abs: s.next, msg: msg})
		s.next += msg.SequenceLength()
		if !s.timerOn {
			s.timerOn, s.timer = true, 0
		}
		transmit(msg)
	}
	//lab:solution end
}

//lab:solution begin

// copyOut pops n bytes from the outbound stream into a payload buffer the
// sender owns.
func (s *Sender) copyOut(n uint64) []byte {
	var buf []byte
	if k := len(s.spare); k > 0 {
		buf, s.spare = s.spare[k-1][:0], s.spare[:k-1]
	}
	r := s.input.Reader()
	for uint64(len(buf)) < n {
		chunk := r.Peek()
		chunk = chunk[:min(uint64(len(chunk)), n-uint64(len(buf)))]
		buf = append(buf, chunk...)
		r.Pop(uint64(len(chunk)))
	}
	return buf
}

//lab:solution end

// MakeEmptyMessage returns a message that occupies no sequence numbers but
// carries the right seqno (and RST if the outbound stream failed): what an
// endpoint sends when it only has something to acknowledge.
func (s *Sender) MakeEmptyMessage() receiver.SenderMessage {
	//lab:solution begin
	return receiver.SenderMessage{
		Seqno: receiver.Wrap(s.next, s.isn),
		RST:   s.input.Reader().HasError(),
	}
	//lab:solution end
}

// Receive takes the receiver's acknowledgment and window.
func (s *Sender) Receive(msg receiver.ReceiverMessage) {
	//lab:solution begin
	if msg.RST {
		s.input.Writer().SetError()
		return
	}
	if !msg.ACK {
		s.window = msg.WindowSize
		return
	}
	ack := msg.Ackno.Unwrap(s.isn, s.next)
	if ack > s.next {
		return // acknowledges something never sent: ignore it all
	}
	s.window = msg.WindowSize
	if ack <= s.acked {
		return
	}
	s.acked = ack
	// Forget every message now wholly acknowledged. One that is only partly
	// acknowledged stays outstanding.
	done := 0
	for _, seg := range s.outstanding {
		if seg.abs+seg.msg.SequenceLength() > ack {
			break
		}
		if seg.msg.Payload != nil {
			s.spare = append(s.spare, seg.msg.Payload)
		}
		done++
	}
	s.outstanding = append(s.outstanding[:0], s.outstanding[done:]...)
	// New data arrived, so the path works: back to the initial RTO, and
	// time the oldest message still outstanding afresh.
	s.rto, s.retxRuns = s.initialRTO, 0
	s.timerOn, s.timer = len(s.outstanding) > 0, 0
	//lab:solution end
}

// Tick tells the sender that elapsed time has passed since the last Tick;
// if the retransmission timer expires, the earliest outstanding message is
// sent again.
func (s *Sender) Tick(elapsed time.Duration, transmit func(receiver.SenderMessage)) {
	//lab:solution begin
	if !s.timerOn {
		return
	}
	s.timer += elapsed
	if s.timer < s.rto {
		return
	}
	transmit(s.trimmed(s.outstanding[0]))
	// A zero window is not congestion: the probe is expected to go
	// unanswered for a while, so neither back off nor count it.
	if s.window > 0 {
		s.rto *= 2
		s.retxRuns++
	}
	s.timer = 0
	//lab:solution end
}

//lab:solution begin

// trimmed returns seg's message without what the receiver already
// acknowledged. Real TCPs ignore a SYN on an established connection, so a
// retransmitted SYN+FIN whose SYN was acknowledged must go out as FIN alone.
func (s *Sender) trimmed(seg segment) receiver.SenderMessage {
	msg := seg.msg
	msg.RST = s.input.Reader().HasError()
	skip := s.acked - seg.abs
	if skip == 0 {
		return msg
	}
	if msg.SYN {
		msg.SYN = false
		skip--
	}
	n := min(skip, uint64(len(msg.Payload)))
	msg.Payload = msg.Payload[n:]
	msg.Seqno = receiver.Wrap(s.acked, s.isn)
	return msg
}

//lab:solution end
