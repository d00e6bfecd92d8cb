package ladder

import (
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"tcplab/labs/2-receiver"
)

// state stands in for connection.State: the ladder only needs a Stringer,
// and its tests must build without lab 4 (the starter may stop at lab 3).
type state string

func (s state) String() string { return string(s) }

func msg(seq uint32, syn bool, payload string, fin bool, ack uint32, win uint16) Message {
	m := Message{Sender: receiver.SenderMessage{Seqno: receiver.Wrap32(seq), SYN: syn, FIN: fin}}
	if payload != "" {
		m.Sender.Payload = []byte(payload)
	}
	if ack != 0 {
		m.Receiver.ACK, m.Receiver.Ackno = true, receiver.Wrap32(ack)
	}
	m.Receiver.WindowSize = win
	return m
}

func TestLabelReadsLikeTheLecture(t *testing.T) {
	tests := []struct {
		name string
		m    Message
		want string
	}{
		{"a SYN alone", msg(6969, true, "", false, 0, 64000), "SYN seq=6969 win=64000"},
		{"SYN, data and FIN in one message", msg(6969, true, "hello, world!", true, 0, 64000), `SYN seq=6969 "hello, world!" (13 B) FIN win=64000`},
		{"a pure ACK", msg(6970, false, "", false, 6984, 63987), "seq=6970 ack=6984 win=63987"},
		{"a long payload is cut with its length", msg(1, false, strings.Repeat("x", 1000), false, 5, 1), `seq=1 "xxxxxxxxxxxxxxxx"… (1000 B) ack=5 win=1`},
		{"RST in either half", Message{Receiver: receiver.ReceiverMessage{RST: true}}, "seq=0 win=0 RST"},
		{"unprintable bytes are quoted", msg(7, false, "a\nb", false, 0, 9), `seq=7 "a\nb" (3 B) win=9`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, Label(tt.m))
		})
	}
}

func TestNilRecorderRecordsNothing(t *testing.T) {
	var r *Recorder
	id := r.Send(0, A, msg(1, true, "", false, 0, 1))
	r.Deliver(0, id)
	r.Drop(0, id)
	r.State(0, A, state("LISTEN"))
	require.Empty(t, r.Recording().Events)
}

func TestRecorderMarksRetransmissionsAndStateChanges(t *testing.T) {
	r := NewRecorder("", "")
	r.State(0, A, state("SYN_SENT"))
	r.State(0, A, state("SYN_SENT")) // no change: not recorded
	r.Send(0, A, msg(100, true, "", false, 0, 10))
	r.Send(time.Second, A, msg(100, true, "", false, 0, 10))        // the SYN again
	r.Send(time.Second, A, msg(101, false, "abc", false, 500, 10))  // new data
	r.Send(time.Second, A, msg(104, false, "", false, 500, 10))     // a pure ACK: no seqnos
	r.Send(2*time.Second, A, msg(101, false, "ab", false, 500, 10)) // part of it again
	var got []bool
	var states int
	for _, e := range r.Recording().Events {
		switch e.Kind {
		case Send:
			got = append(got, e.Retransmission)
		case State:
			states++
		}
	}
	require.Equal(t, 1, states)
	if d := cmp.Diff([]bool{false, true, false, false, true}, got); d != "" {
		t.Fatalf("retransmission marks (-want +got):\n%s", d)
	}
}

// exchange is a small recording: a handshake with one message lost.
func exchange() Recording {
	r := NewRecorder("client", "server")
	r.State(0, A, state("SYN_SENT"))
	syn := r.Send(0, A, msg(6969, true, "", false, 0, 64000))
	r.Drop(10*time.Millisecond, syn)
	again := r.Send(time.Second, A, msg(6969, true, "", false, 0, 64000))
	r.Deliver(time.Second+10*time.Millisecond, again)
	synack := r.Send(time.Second+10*time.Millisecond, B, msg(100, true, "", false, 6970, 64000))
	r.Deliver(time.Second+20*time.Millisecond, synack)
	r.State(time.Second+20*time.Millisecond, A, state("ESTABLISHED"))
	return r.Recording()
}

func TestTextDrawsArrowsDropsAndStates(t *testing.T) {
	text := Text(exchange(), 80)
	for _, want := range []string{"client", "server", "SYN_SENT", "ESTABLISHED", "✗", "↻ SYN seq=6969", "▶│", "│◀", "SYN seq=100 ack=6970 win=64000"} {
		require.Contains(t, text, want)
	}
}

func TestTextFitsItsWidth(t *testing.T) {
	r := NewRecorder("A", "B")
	long := msg(4294967295, true, strings.Repeat("y", 500), true, 4294967295, 65535)
	r.Deliver(0, r.Send(0, B, long))
	r.Deliver(0, r.Send(0, A, long))
	for _, width := range []int{60, 80, 120} {
		for _, line := range strings.Split(Text(r.Recording(), width), "\n") {
			require.LessOrEqual(t, len([]rune(line)), width, "line %q", line)
		}
	}
}

func TestSVGIsWellFormedXML(t *testing.T) {
	rec := exchange()
	rec.Names[A] = `<a & "b">` // must be escaped
	d := xml.NewDecoder(strings.NewReader(string(SVG(rec))))
	var elements int
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		if _, ok := tok.(xml.StartElement); ok {
			elements++
		}
	}
	require.Greater(t, elements, 10)
}

func TestLivePrintsEachMessageOnce(t *testing.T) {
	var b strings.Builder
	live := NewLive(&b, 80, "tcplab", "linux")
	live.State(0, A, state("SYN_SENT"))
	live.Message(0, A, msg(6969, true, "", false, 0, 64000))
	live.Message(time.Millisecond, B, msg(1, true, "", false, 6970, 65535))
	out := b.String()
	require.Equal(t, 1, strings.Count(out, "tcplab"), "header printed once:\n%s", out)
	require.Equal(t, 1, strings.Count(out, "SYN seq=6969"))
	require.Contains(t, out, "SYN_SENT")
	require.Len(t, live.Recording().Events, 5)
}
