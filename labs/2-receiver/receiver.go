// Package receiver is lab 2: the receiving half of a TCP endpoint.
//
// A Receiver takes the sender's messages (SenderMessage), turns their 32-bit
// wrapping sequence numbers into stream indexes and hands the payload to a
// reassembler. It answers with a ReceiverMessage: the acknowledgment number
// (the next sequence number it wants) and the window (how much more it can
// take). The Wrap32 type converts between the two numberings.
package receiver

import (
	"tcplab/labs/0-bytestream"
	"tcplab/labs/1-reassembler"
)

// Receiver is the receiving half of a TCP endpoint.
type Receiver struct {
	reassembler *reassembler.Reassembler
	//lab:solution begin
	zeroPoint Wrap32 // the peer's ISN, the seqno of its SYN
	synSeen   bool   // a SYN arrived, so zeroPoint is known
	//lab:solution end
}

// New returns a receiver that writes the stream it receives into r.
func New(r *reassembler.Reassembler) *Receiver {
	return &Receiver{reassembler: r}
}

// Receive takes one message from the peer's sender.
func (r *Receiver) Receive(msg SenderMessage) {
	//lab:solution begin
	w := r.reassembler.Writer()
	if msg.RST {
		w.SetError()
		return
	}
	if !r.synSeen {
		// Nothing means anything before the SYN: without it there is no
		// zero point to count from.
		if !msg.SYN {
			return
		}
		r.synSeen, r.zeroPoint = true, msg.Seqno
	}
	// The checkpoint is the absolute seqno of the next byte we want (the
	// SYN took absolute seqno 0, so stream index i is seqno i+1).
	checkpoint := w.BytesPushed() + 1
	abs := msg.Seqno.Unwrap(r.zeroPoint, checkpoint)
	if !msg.SYN && abs == 0 {
		// Only the SYN may use the ISN's sequence number.
		return
	}
	index := abs - 1
	if msg.SYN {
		index = abs // the payload starts right after the SYN
	}
	r.reassembler.Insert(index, msg.Payload, msg.FIN)
	//lab:solution end
}

// Send returns what the receiver would tell the peer now.
func (r *Receiver) Send() ReceiverMessage {
	//lab:solution begin
	w := r.reassembler.Writer()
	m := ReceiverMessage{
		WindowSize: uint16(min(w.AvailableCapacity(), 65535)),
		RST:        w.HasError(),
	}
	if r.synSeen {
		// The SYN takes one seqno, each byte one, and the FIN one once the
		// whole stream (up to the FIN) has been written.
		next := w.BytesPushed() + 1
		if w.IsClosed() {
			next++
		}
		m.ACK, m.Ackno = true, Wrap(next, r.zeroPoint)
	}
	return m
	//lab:solution end
}

// Reader returns the reading end of the received stream.
func (r *Receiver) Reader() *bytestream.Reader { return r.reassembler.Reader() }

// Writer returns the writing end of the received stream, which the
// reassembler fills.
func (r *Receiver) Writer() *bytestream.Writer { return r.reassembler.Writer() }
