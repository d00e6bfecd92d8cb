package sender_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"tcplab/internal/harness"
	"tcplab/labs/0-bytestream"
	"tcplab/labs/2-receiver"
	"tcplab/labs/3-sender"
)

func TestExtra(t *testing.T) {
	runScenarios(t, "extra", []scenario{
		{name: "a new sender has sent nothing and retransmitted nothing", steps: steps(
			expectSeqno(0),
			expectInFlight(0),
			expectRetransmissions(0),
			tick(100000),
			expectNoMessage(),
		)},
		{name: "an ISN near 2^32 wraps: seqnos go on from zero", isn: 0xFFFFFFFE, fixed: true, steps: steps(
			push(""),
			expectMessage(seg{SYN: true}),
			expectWireSeqno(0xFFFFFFFF),
			receiveAck(1, 1000),
			push("abc"),
			expectMessage(seg{Seqno: 1, Payload: "abc"}),
			expectWireSeqno(2),
			receiveAck(4, 1000),
			expectInFlight(0),
		)},
		{name: "ACKs whose seqno wrapped past zero are understood", isn: 0xFFFFFF00, fixed: true, steps: steps(
			synAcked(65535),
			push(text(0, 1000)),
			expectMessage(seg{Seqno: 1, Payload: text(0, 1000)}),
			receiveAck(501, 65535),
			expectInFlight(500),
			tick(1000),
			expectMessage(seg{Seqno: 501, Payload: text(500, 500)}),
		)},
		{name: "a received RST sets the stream's error", steps: steps(
			push(""),
			expectMessage(seg{SYN: true}),
			receiveRST(),
			expectStreamError(),
		)},
		{name: "after a received RST an empty message carries RST", steps: steps(
			synAcked(1000),
			receiveRST(),
			expectEmptyRST(),
		)},
		{name: "a stream in error makes every new message carry RST", steps: steps(
			synAcked(1000),
			setError(),
			expectEmptyRST(),
			push("abc"),
			expectMessage(seg{RST: true, Seqno: 1, Payload: "abc"}),
		)},
		{name: "a retransmission after the error carries RST", steps: steps(
			synAcked(1000),
			push("abc"),
			expectMessage(seg{Seqno: 1, Payload: "abc"}),
			setError(),
			tick(1000),
			expectMessage(seg{RST: true, Seqno: 1, Payload: "abc"}),
		)},
		{name: "a SYN with data acknowledged partway is retransmitted from the ackno", steps: steps(
			receiveWindow(1000),
			push("hello"),
			expectMessage(seg{SYN: true, Payload: "hello"}),
			receiveAck(3, 1000),
			tick(1000),
			expectMessage(seg{Seqno: 3, Payload: "llo"}),
		)},
		{name: "a retransmission carries the bytes first sent, after the stream's buffer was reused", steps: steps(
			synAcked(65535),
			push(text(0, 64000)),
			expectData(1, 0, 64000, 1000),
			push(text(64000, 1000)),
			expectMessage(seg{Seqno: 64001, Payload: text(64000, 1000)}),
			tick(1000),
			expectMessage(seg{Seqno: 1, Payload: text(0, 1000)}),
		)},
		{name: "a payload buffer reused after an ACK leaves outstanding messages intact", steps: steps(
			synAcked(65535),
			push(text(0, 1000)),
			push(text(1000, 1000)),
			expectData(1, 0, 2000, 1000),
			receiveAck(1001, 65535),
			push(text(2000, 1000)),
			expectMessage(seg{Seqno: 2001, Payload: text(2000, 1000)}),
			tick(1000),
			expectMessage(seg{Seqno: 1001, Payload: text(1000, 1000)}),
			receiveAck(2001, 65535),
			tick(1000),
			expectMessage(seg{Seqno: 2001, Payload: text(2000, 1000)}),
		)},
		{name: "1 MiB goes through the largest window, acknowledged half a flight at a time", steps: steps(
			synAcked(65535),
			transfer(1<<20),
			expectInFlight(0),
		)},
	})
	for _, c := range []struct {
		seed uint64
		loss int
	}{{1, 0}, {2, 10}, {3, 30}} {
		t.Run(fmt.Sprintf("a random transfer with %d%% loss, reordering and stale ACKs arrives whole (seed %d)", c.loss, c.seed), func(t *testing.T) {
			randomTransfer(t, c.seed, c.loss)
		})
	}
}

// transfer writes total bytes and closes the stream, checking every message
// the sender makes: in order, within the window, at most MaxPayloadSize
// bytes, the FIN last. Each round acknowledges half of what is in flight,
// so the window, not the stream, limits the sender.
func transfer(total int) step {
	return harness.Check(fmt.Sprintf("%d bytes and the FIN go out in order, within the window and MaxPayloadSize", total),
		func(x *subject) error {
			const window = 65535
			written := 0
			acked, next := uint64(1), uint64(1) // seqnos: what was acknowledged, what comes next
			for round := 0; ; round++ {
				if round > 100000 {
					return fmt.Errorf("not done after %d rounds, ISN+%d acknowledged", round, acked)
				}
				w := x.s.Writer()
				k := min(int(w.AvailableCapacity()), total-written)
				w.Push([]byte(text(written, k)))
				if written += k; written == total {
					w.Close()
				}
				x.s.Push(x.transmit)
				for _, m := range x.sent {
					at := uint64(uint32(m.Seqno - x.isn))
					if at != next {
						return fmt.Errorf("round %d: message %s, want seqno ISN+%d", round, x.view(m), next)
					}
					if len(m.Payload) > sender.MaxPayloadSize {
						return fmt.Errorf("round %d: message %s carries more than %d bytes", round, x.view(m), sender.MaxPayloadSize)
					}
					if end := at + m.SequenceLength(); end > acked+window {
						return fmt.Errorf("round %d: message %s ends at ISN+%d, beyond the window's end ISN+%d", round, x.view(m), end, acked+window)
					}
					if err := diffSeg(seg{Seqno: uint32(at), Payload: text(int(at)-1, len(m.Payload)), FIN: m.FIN}, x.view(m)); err != nil {
						return fmt.Errorf("round %d: %w", round, err)
					}
					if m.FIN && (written < total || int(at)+len(m.Payload) != total+1) {
						return fmt.Errorf("round %d: FIN at ISN+%d before the stream ended", round, at+uint64(len(m.Payload)))
					}
					next = at + m.SequenceLength()
				}
				x.sent = x.sent[:0]
				if acked == next {
					if next == uint64(total)+2 {
						return nil // the FIN was sent and acknowledged
					}
					return fmt.Errorf("round %d: nothing in flight and nothing sent at ISN+%d", round, next)
				}
				acked += (next - acked + 1) / 2
				x.receive(receiver.ReceiverMessage{ACK: true, Ackno: x.isn + receiver.Wrap32(acked), WindowSize: window})
			}
		})
}

// randomTransfer sends a random amount of data to a model receiver through
// a network that loses, reorders and delays messages and ACKs and replays
// old ACKs, checking the sender's rules on every message, until all of it
// arrived and was acknowledged.
func randomTransfer(t *testing.T, seed uint64, lossPct int) {
	t.Logf("seed %d", seed)
	defer failOnPanic(t)
	rng := rand.New(rand.NewPCG(seed, 0))
	isn := receiver.Wrap32(rng.Uint32())
	total := 100_000 + rng.IntN(100_000)
	stream := bytestream.New(capacity)
	s := sender.New(stream, isn, rtoMS*time.Millisecond)
	end := uint64(total) + 2 // SYN, the bytes, FIN
	lost := func() bool { return rng.IntN(100) < lossPct }

	// The receiver: which seqnos arrived, the first missing one, its window.
	got := make([]bool, end)
	rcvNext, rcvWin := uint64(0), uint64(0)
	// What the sender was told, by the rules: ACKs of unsent data and
	// older than the last are ignored, and so are windows without an ACK
	// once something was acknowledged.
	told, toldWin := uint64(0), uint64(1)
	sentNext := uint64(0)
	written, retransmitted := 0, 0
	var network []receiver.SenderMessage
	var history []receiver.ReceiverMessage

	var out []receiver.SenderMessage
	collect := func(m receiver.SenderMessage) {
		m.Payload = append([]byte(nil), m.Payload...)
		out = append(out, m)
	}
	// check applies the rules every message obeys; new ones start at the
	// next seqno and fit the window, retransmissions start at the ackno.
	check := func(round int, m receiver.SenderMessage, isNew bool) {
		t.Helper()
		at := m.Seqno.Unwrap(isn, sentNext)
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("seed %d, round %d, message at ISN+%d (SYN %v, %d bytes, FIN %v): %s",
				seed, round, at, m.SYN, len(m.Payload), m.FIN, fmt.Sprintf(format, args...))
		}
		length := m.SequenceLength()
		switch {
		case length == 0:
			fail("occupies no sequence numbers")
		case len(m.Payload) > sender.MaxPayloadSize:
			fail("more than MaxPayloadSize bytes")
		case m.SYN != (at == 0):
			fail("SYN must be exactly on the first message")
		case isNew && at != sentNext:
			fail("new message not at the next seqno ISN+%d", sentNext)
		case isNew && at+length > told+max(toldWin, 1):
			fail("beyond the window's end ISN+%d", told+max(toldWin, 1))
		case !isNew && at != told:
			fail("retransmission does not start at the ackno ISN+%d", told)
		case m.FIN && at+length != end:
			fail("FIN before the end of the stream")
		}
		first := int(at)
		if !m.SYN {
			first--
		}
		if string(m.Payload) != text(first, len(m.Payload)) {
			fail("payload is not stream bytes %d to %d", first, first+len(m.Payload)-1)
		}
	}
	deliverAck := func(a receiver.ReceiverMessage) {
		if !a.ACK {
			if told == 0 {
				toldWin = uint64(a.WindowSize)
			}
		} else if ack := a.Ackno.Unwrap(isn, sentNext); ack <= sentNext && ack >= told {
			told, toldWin = ack, uint64(a.WindowSize)
		}
		s.Receive(a)
	}

	for round := 0; ; round++ {
		if round > 200_000 {
			t.Fatalf("seed %d: not done after %d rounds; %d of %d seqnos arrived", seed, round, rcvNext, end)
		}
		if written < total && rng.IntN(2) == 0 {
			w := s.Writer()
			k := rng.IntN(min(int(w.AvailableCapacity()), total-written) + 1)
			w.Push([]byte(text(written, k)))
			if written += k; written == total {
				w.Close()
			}
		}
		out = out[:0]
		s.Push(collect)
		for _, m := range out {
			check(round, m, true)
			sentNext += m.SequenceLength()
			network = append(network, m)
		}
		// Deliver about half of what is in the network, in random order.
		for n := len(network) / 2; n > 0 || (len(network) > 0 && rng.IntN(2) == 0); n-- {
			i := rng.IntN(len(network))
			m := network[i]
			network = append(network[:i], network[i+1:]...)
			if lost() {
				continue
			}
			at := m.Seqno.Unwrap(isn, rcvNext)
			for j := range m.SequenceLength() {
				if q := at + j; q >= rcvNext && q < rcvNext+rcvWin || q == 0 {
					got[q] = true
				}
			}
			for rcvNext < end && got[rcvNext] {
				rcvNext++
			}
			rcvWin = 0
			if rng.IntN(10) > 0 {
				rcvWin = uint64(1 + rng.IntN(20000))
			}
			a := receiver.ReceiverMessage{WindowSize: uint16(rcvWin)}
			if rcvNext > 0 {
				a.ACK, a.Ackno = true, isn+receiver.Wrap32(rcvNext)
			}
			history = append(history, a)
			if !lost() {
				deliverAck(a)
			}
		}
		if len(history) > 0 && rng.IntN(20) == 0 {
			deliverAck(history[rng.IntN(len(history))]) // a stale ACK, duplicated or delayed
		}
		if got, want := s.SequenceNumbersInFlight(), sentNext-told; got != want {
			t.Fatalf("seed %d, round %d: %d sequence numbers in flight, want %d", seed, round, got, want)
		}
		if rcvNext == end && told == end {
			t.Logf("%d bytes arrived in %d rounds, %d retransmissions", total, round, retransmitted)
			return
		}
		out = out[:0]
		s.Tick(time.Duration(rng.IntN(2*rtoMS))*time.Millisecond, collect)
		if len(out) > 1 {
			t.Fatalf("seed %d, round %d: one tick retransmitted %d messages", seed, round, len(out))
		}
		retransmitted += len(out)
		for _, m := range out {
			check(round, m, false)
			network = append(network, m)
		}
	}
}

// failOnPanic turns a panic in the sender into this test's failure, so one
// broken method does not end every other test with it.
func failOnPanic(t *testing.T) {
	if p := recover(); p != nil {
		t.Fatalf("panic: %v", p)
	}
}
