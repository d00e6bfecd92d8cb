package sender_test

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"tcplab/internal/harness"
	"tcplab/internal/ladder"
	"tcplab/labs/0-bytestream"
	"tcplab/labs/2-receiver"
	"tcplab/labs/3-sender"
)

// The step vocabulary the sender's scenarios are written in. Sequence
// numbers in steps are offsets from the ISN ("ISN+1" is written 1), so a
// scenario reads the same whatever ISN it runs with.

// rtoMS is the initial RTO every scenario's sender starts with.
const rtoMS = 1000

// capacity is the outbound stream's capacity in every scenario.
const capacity = 64000

// subject is a sender under test and the messages it transmitted that no
// step has looked at yet.
type subject struct {
	isn    receiver.Wrap32
	stream *bytestream.ByteStream
	s      *sender.Sender
	sent   []receiver.SenderMessage
	now    time.Duration // the sum of the ticks so far
	// ladder draws the sender's messages (left) and the test's ACKs
	// (right) when a check fails.
	ladder *ladder.Recorder
}

func newSubject(isn receiver.Wrap32) *subject {
	stream := bytestream.New(capacity)
	return &subject{isn: isn, stream: stream, s: sender.New(stream, isn, rtoMS*time.Millisecond),
		ladder: ladder.NewRecorder("sender", "test")}
}

// transmit records a message. The payload is copied: the sender may reuse
// its buffer once transmit returns.
func (x *subject) transmit(m receiver.SenderMessage) {
	m.Payload = bytes.Clone(m.Payload)
	x.sent = append(x.sent, m)
	x.ladder.Deliver(x.now, x.ladder.SendSenderHalf(x.now, ladder.A, m))
}

// receive hands the sender the receiver's message, drawing it.
func (x *subject) receive(m receiver.ReceiverMessage) {
	x.ladder.Deliver(x.now, x.ladder.SendReceiverHalf(x.now, ladder.B, m))
	x.s.Receive(m)
}

// Describe draws the exchange so far; the harness shows it above a
// failing step.
func (x *subject) Describe() string { return ladder.Text(x.ladder.Recording(), 80) }

type step = harness.Step[*subject]

// scenario is one named test: the steps, and the ISN if the scenario is
// about a particular one (otherwise a seeded random one is used).
type scenario struct {
	name  string
	isn   uint32
	fixed bool // use isn as given
	steps []step
}

// isnSeed, with the group's name, picks the ISNs of scenarios that do not
// fix one; each subtest prints its ISN so a failure can be replayed.
const isnSeed = 3

func runScenarios(t *testing.T, group string, cases []scenario) {
	t.Helper()
	h := fnv.New64a()
	h.Write([]byte(group))
	rng := rand.New(rand.NewPCG(isnSeed, h.Sum64()))
	for _, c := range cases {
		isn := receiver.Wrap32(rng.Uint32())
		if c.fixed {
			isn = receiver.Wrap32(c.isn)
		}
		t.Run(c.name, func(t *testing.T) {
			t.Logf("ISN %d (seed %d)", isn, isnSeed)
			harness.Run(t, newSubject(isn), c.steps...)
		})
	}
}

// steps flattens steps and slices of steps into one list, so helpers that
// make several steps can sit in a scenario's list.
func steps(parts ...any) []step {
	var out []step
	for _, p := range parts {
		switch p := p.(type) {
		case step:
			out = append(out, p)
		case []step:
			out = append(out, p...)
		default:
			panic(fmt.Sprintf("steps: %T is not a step", p))
		}
	}
	return out
}

// corpus is the outbound stream every scenario writes: letters from a
// seeded generator, so a byte out of place shows in a diff (a repeating
// pattern would hide a shift by its period).
var corpus = func() string {
	rng := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 2<<20)
	for i := range b {
		b[i] = 'a' + byte(rng.IntN(26))
	}
	return string(b)
}()

// text is stream bytes [from, from+n) of the corpus.
func text(from, n int) string { return corpus[from : from+n] }

// describe names a payload briefly: quoted if short, else by its length.
func describe(p string) string {
	if len(p) <= 16 {
		return fmt.Sprintf("%q", p)
	}
	return fmt.Sprintf("%d bytes", len(p))
}

// Actions.

// write puts data into the outbound stream without asking the sender to
// send it.
func write(data string) step {
	return harness.Do("write "+describe(data), func(x *subject) {
		x.s.Writer().Push([]byte(data))
	})
}

// push writes data (if any) and asks the sender to fill the window.
func push(data string) step {
	name := "push"
	if data != "" {
		name = "push " + describe(data)
	}
	return harness.Do(name, func(x *subject) {
		x.s.Writer().Push([]byte(data))
		x.s.Push(x.transmit)
	})
}

// closeStream ends the outbound stream and asks the sender to send.
func closeStream() step {
	return harness.Do("close the stream and push", func(x *subject) {
		x.s.Writer().Close()
		x.s.Push(x.transmit)
	})
}

func tick(ms int) step {
	return harness.Do(fmt.Sprintf("tick %d ms", ms), func(x *subject) {
		x.now += time.Duration(ms) * time.Millisecond
		x.s.Tick(time.Duration(ms)*time.Millisecond, x.transmit)
	})
}

// receiveAck delivers an ACK for ISN+ackno advertising window. An offset
// past 2^31 is a seqno before the ISN and is named so ("ISN-1").
func receiveAck(ackno uint32, window uint16) step {
	at := fmt.Sprintf("ISN+%d", ackno)
	if int32(ackno) < 0 {
		at = fmt.Sprintf("ISN%d", int32(ackno))
	}
	return harness.Do(fmt.Sprintf("receive ACK %s, window %d", at, window), func(x *subject) {
		x.receive(receiver.ReceiverMessage{ACK: true, Ackno: x.isn + receiver.Wrap32(ackno), WindowSize: window})
	})
}

// receiveWindow delivers a window from a receiver that has no ackno yet
// (it has not seen the SYN).
func receiveWindow(window uint16) step {
	return harness.Do(fmt.Sprintf("receive window %d without an ACK", window), func(x *subject) {
		x.receive(receiver.ReceiverMessage{WindowSize: window})
	})
}

// synAcked opens the connection: the SYN goes out and is acknowledged with
// the given window.
func synAcked(window uint16) []step {
	return []step{push(""), expectMessage(seg{SYN: true}), receiveAck(1, window)}
}

func setMaxPayload(n int) step {
	return harness.Do(fmt.Sprintf("SetMaxPayloadSize(%d)", n), func(x *subject) {
		x.s.SetMaxPayloadSize(n)
	})
}

func receiveRST() step {
	return harness.Do("receive RST", func(x *subject) {
		x.receive(receiver.ReceiverMessage{RST: true})
	})
}

func setError() step {
	return harness.Do("the outbound stream fails (SetError)", func(x *subject) {
		x.s.Writer().SetError()
	})
}

// Expectations.

// seg is a transmitted message as a scenario expects it: the seqno as an
// offset from the ISN and the payload as a string.
type seg struct {
	SYN     bool
	Seqno   uint32 // offset from the ISN
	Payload string
	FIN     bool
	RST     bool
}

func (g seg) String() string {
	var parts []string
	if g.RST {
		parts = append(parts, "RST")
	}
	if g.SYN {
		parts = append(parts, "SYN")
	}
	if g.Payload != "" {
		parts = append(parts, describe(g.Payload))
	}
	if g.FIN {
		parts = append(parts, "FIN")
	}
	if len(parts) == 0 {
		parts = append(parts, "empty")
	}
	return fmt.Sprintf("%s at ISN+%d", strings.Join(parts, "+"), g.Seqno)
}

// header is what a seg says apart from its payload's bytes, compared first
// so a wrong length shows as a number rather than a page of letters.
type header struct {
	SYN        bool
	Seqno      uint32
	PayloadLen int
	FIN        bool
	RST        bool
}

func (g seg) header() header {
	return header{SYN: g.SYN, Seqno: g.Seqno, PayloadLen: len(g.Payload), FIN: g.FIN, RST: g.RST}
}

func (x *subject) view(m receiver.SenderMessage) seg {
	return seg{SYN: m.SYN, Seqno: uint32(m.Seqno - x.isn), Payload: string(m.Payload), FIN: m.FIN, RST: m.RST}
}

// pop takes the next transmitted message and compares it with want.
func (x *subject) pop(want seg) error {
	if len(x.sent) == 0 {
		return errors.New("no message was sent")
	}
	got := x.view(x.sent[0])
	x.sent = x.sent[1:]
	return diffSeg(want, got)
}

func diffSeg(want, got seg) error {
	if d := cmp.Diff(want.header(), got.header()); d != "" {
		return fmt.Errorf("got %s (-want +got)\n%s", got, d)
	}
	if want.Payload != got.Payload {
		i := 0
		for want.Payload[i] == got.Payload[i] {
			i++
		}
		return fmt.Errorf("payload differs from byte %d on (-want +got)\n%s", i,
			cmp.Diff(want.Payload[i:min(i+20, len(want.Payload))], got.Payload[i:min(i+20, len(got.Payload))]))
	}
	return nil
}

// expectMessage takes the next transmitted message and compares it with want.
func expectMessage(want seg) step {
	return harness.Check("message "+want.String(), func(x *subject) error { return x.pop(want) })
}

// expectData expects the messages that carry stream bytes [from, from+n)
// from seqno ISN+seqno on, cut into pieces of at most per bytes.
func expectData(seqno uint32, from, n, per int) step {
	name := fmt.Sprintf("%d messages carrying stream bytes %d to %d at ISN+%d on, %d bytes each but the last",
		(n+per-1)/per, from, from+n-1, seqno, per)
	return harness.Check(name, func(x *subject) error {
		seqno, from, n := seqno, from, n
		for i := 0; n > 0; i++ {
			k := min(n, per)
			if err := x.pop(seg{Seqno: seqno, Payload: text(from, k)}); err != nil {
				return fmt.Errorf("message %d of them: %w", i+1, err)
			}
			seqno += uint32(k)
			from += k
			n -= k
		}
		return nil
	})
}

func expectNoMessage() step {
	return harness.Check("no message", func(x *subject) error {
		if len(x.sent) == 0 {
			return nil
		}
		var b strings.Builder
		for _, m := range x.sent {
			fmt.Fprintf(&b, "\n  %s", x.view(m))
		}
		x.sent = nil
		return fmt.Errorf("sent %d message(s):%s", strings.Count(b.String(), "\n"), b.String())
	})
}

func expectInFlight(n uint64) step {
	return harness.Expect(fmt.Sprintf("%d sequence numbers in flight", n),
		func(x *subject) uint64 { return x.s.SequenceNumbersInFlight() }, n)
}

func expectRetransmissions(n uint64) step {
	return harness.Expect(fmt.Sprintf("%d consecutive retransmissions", n),
		func(x *subject) uint64 { return x.s.ConsecutiveRetransmissions() }, n)
}

// expectSeqno checks MakeEmptyMessage: the next seqno, occupying nothing.
func expectSeqno(seqno uint32) step {
	return harness.Expect(fmt.Sprintf("an empty message at ISN+%d", seqno),
		func(x *subject) seg {
			m := x.s.MakeEmptyMessage()
			if m.SequenceLength() != 0 {
				// Show what it occupies: an empty message must hold none.
				return x.view(m)
			}
			return seg{Seqno: uint32(m.Seqno - x.isn), RST: m.RST}
		}, seg{Seqno: seqno})
}

// expectWireSeqno checks the seqno MakeEmptyMessage puts on the wire, not
// relative to the ISN: for scenarios about wraparound.
func expectWireSeqno(w receiver.Wrap32) step {
	return harness.Expect(fmt.Sprintf("the next seqno on the wire is %d", w),
		func(x *subject) receiver.Wrap32 { return x.s.MakeEmptyMessage().Seqno }, w)
}

// expectEmptyRST checks that an empty message carries RST.
func expectEmptyRST() step {
	return harness.Expect("an empty message carries RST",
		func(x *subject) bool { return x.s.MakeEmptyMessage().RST }, true)
}

func expectStreamError() step {
	return harness.Expect("the outbound stream has an error",
		func(x *subject) bool { return x.s.Writer().HasError() }, true)
}
