package receiver

// SenderMessage is what the sending half of a TCP endpoint sends: the part
// of a segment that occupies sequence numbers.
type SenderMessage struct {
	Seqno   Wrap32 // sequence number of the first thing sent (SYN, else the first payload byte, else FIN)
	SYN     bool   // first message of the stream; takes one sequence number before the payload
	Payload []byte // stream bytes, one sequence number each
	FIN     bool   // last message of the stream; takes one sequence number after the payload
	RST     bool   // the connection is reset
}

// SequenceLength is how many sequence numbers the message occupies:
// SYN + len(Payload) + FIN.
func (m SenderMessage) SequenceLength() uint64 {
	n := uint64(len(m.Payload))
	if m.SYN {
		n++
	}
	if m.FIN {
		n++
	}
	return n
}

// ReceiverMessage is what the receiving half of a TCP endpoint sends back.
type ReceiverMessage struct {
	ACK        bool   // Ackno is meaningful (the TCP ACK flag)
	Ackno      Wrap32 // the next sequence number the receiver wants
	WindowSize uint16 // how many sequence numbers from Ackno it will accept
	RST        bool   // the connection is reset
}

// Message is one TCP segment: both halves of what an endpoint sends, the
// sender's seqno, flags and payload and the receiver's ackno and window.
// Lab 4's Connection sends and receives them (connection.Message is this
// type); it is defined here, with its halves, so that everything that
// carries segments (the wire format, the ladder diagrams, the stack) shares
// one type without depending on lab 4.
type Message struct {
	Sender   SenderMessage
	Receiver ReceiverMessage
}

// SequenceLength is how many sequence numbers the message occupies.
func (m Message) SequenceLength() uint64 { return m.Sender.SequenceLength() }

// IsRST reports whether the message resets the connection (the flag may be
// carried in either half).
func (m Message) IsRST() bool { return m.Sender.RST || m.Receiver.RST }
