package receiver

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"tcplab/internal/harness"
	"tcplab/labs/0-bytestream"
	"tcplab/labs/1-reassembler"
)

// rig is the receiver under test with the stream and reassembler behind it,
// so steps can look at all three.
type rig struct {
	*Receiver
	stream      *bytestream.ByteStream
	reassembler *reassembler.Reassembler
}

type step = harness.Step[*rig]

// scenario is one named check: a receiver with a capacity and its steps.
type scenario struct {
	name     string
	capacity uint64
	steps    []step
}

func run(t *testing.T, scenarios []scenario) {
	t.Helper()
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			stream := bytestream.New(sc.capacity)
			re := reassembler.New(stream)
			harness.Run(t, &rig{Receiver: New(re), stream: stream, reassembler: re}, sc.steps...)
		})
	}
}

// seg builds a SenderMessage: segment(isn).syn().data("abc").fin().
type seg struct {
	msg   SenderMessage
	label string // how the payload reads in a step's name
}

func segment(seqno Wrap32) seg { return seg{msg: SenderMessage{Seqno: seqno}} }

func (s seg) syn() seg { s.msg.SYN = true; return s }
func (s seg) fin() seg { s.msg.FIN = true; return s }
func (s seg) rst() seg { s.msg.RST = true; return s }

func (s seg) data(payload string) seg {
	s.msg.Payload = []byte(payload)
	s.label = show(payload)
	return s
}

// show quotes a payload for a step's name, shortening long ones.
func show(payload string) string {
	if len(payload) > 24 {
		return strconv.Quote(payload[:16]) + fmt.Sprintf("... (%d bytes)", len(payload))
	}
	return strconv.Quote(payload)
}

func (s seg) String() string {
	parts := []string{fmt.Sprintf("seqno=%d", s.msg.Seqno)}
	if s.msg.SYN {
		parts = append(parts, "SYN")
	}
	if s.label != "" {
		parts = append(parts, s.label)
	}
	if s.msg.FIN {
		parts = append(parts, "FIN")
	}
	if s.msg.RST {
		parts = append(parts, "RST")
	}
	return strings.Join(parts, " ")
}

// receive hands the segment to the receiver.
func receive(s seg) step {
	return harness.Do("receive "+s.String(), func(r *rig) { r.Receive(s.msg) })
}

// expectAckno expects the ACK flag and ackno n.
func expectAckno(n Wrap32) step {
	return harness.Expect(fmt.Sprintf("ackno %d", n), ackno, &n)
}

// expectNoAckno expects the ACK flag clear: no SYN has arrived.
func expectNoAckno() step {
	return harness.Expect("no ackno (ACK not set)", ackno, nil)
}

func ackno(r *rig) *Wrap32 {
	m := r.Send()
	if !m.ACK {
		return nil
	}
	return &m.Ackno
}

func expectWindow(n uint16) step {
	return harness.Expect(fmt.Sprintf("window %d", n), func(r *rig) uint16 { return r.Send().WindowSize }, n)
}

// expectMessage expects the whole ReceiverMessage.
func expectMessage(m ReceiverMessage) step {
	name := fmt.Sprintf("message {ACK %v, ackno %d, window %d, RST %v}", m.ACK, m.Ackno, m.WindowSize, m.RST)
	return harness.Expect(name, (*rig).Send, m)
}

func expectBytesPushed(n uint64) step {
	return harness.Expect(fmt.Sprintf("bytes pushed %d", n), func(r *rig) uint64 { return r.Writer().BytesPushed() }, n)
}

func expectBytesPending(n uint64) step {
	return harness.Expect(fmt.Sprintf("bytes pending %d", n), func(r *rig) uint64 { return r.reassembler.BytesPending() }, n)
}

// readAll reads every buffered byte and expects them to be want.
func readAll(want string) step {
	return harness.Expect("read "+show(want), func(r *rig) string {
		var b strings.Builder
		for rd := r.Reader(); rd.BytesBuffered() > 0; {
			p := rd.Peek()
			b.Write(p)
			rd.Pop(uint64(len(p)))
		}
		return b.String()
	}, want)
}

func expectClosed(want bool) step {
	return harness.Expect(yesNo(want, "stream closed", "stream not closed"),
		func(r *rig) bool { return r.Writer().IsClosed() }, want)
}

func expectFinished(want bool) step {
	return harness.Expect(yesNo(want, "stream finished", "stream not finished"),
		func(r *rig) bool { return r.Reader().IsFinished() }, want)
}

func expectError(want bool) step {
	return harness.Expect(yesNo(want, "stream has an error", "stream has no error"),
		func(r *rig) bool { return r.Reader().HasError() }, want)
}

// expectRST expects Send's RST flag.
func expectRST(want bool) step {
	return harness.Expect(yesNo(want, "RST sent", "no RST sent"), func(r *rig) bool { return r.Send().RST }, want)
}

// appSetsError is the application failing the stream on its side.
func appSetsError() step {
	return harness.Do("the application sets the stream's error", func(r *rig) { r.Reader().SetError() })
}

// at is the seqno of absolute seqno n, worked out here rather than with the
// Wrap under test.
func at(isn Wrap32, n uint64) Wrap32 { return isn + Wrap32(uint32(n)) }

func yesNo(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

// inOrder receives total payload bytes starting right after the SYN at isn,
// in segments of size bytes, reading (discarding) them as they arrive. It
// fails at the first segment that delivers nothing new, rather than sending
// the rest into a stalled stream.
func inOrder(isn Wrap32, total, size uint64) step {
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte(i)
	}
	return step{
		Name: fmt.Sprintf("receive %d bytes in order from seqno %d, %d per segment, reading as they arrive", total, isn+1, size),
		Run: func(r *rig) error {
			w, rd := r.Writer(), r.Reader()
			for sent := uint64(0); sent < total; {
				n := min(size, total-sent)
				seqno := at(isn, sent+1)
				r.Receive(SenderMessage{Seqno: seqno, Payload: payload[:n]})
				if got := w.BytesPushed(); got != sent+n {
					return fmt.Errorf("a segment of %d bytes at seqno %d (absolute %d) left bytes pushed at %d, want %d",
						n, seqno, sent+1, got, sent+n)
				}
				rd.Pop(rd.BytesBuffered())
				sent += n
			}
			return nil
		},
	}
}
