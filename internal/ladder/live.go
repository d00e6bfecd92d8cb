package ladder

import (
	"io"
	"strings"
	"sync"
	"time"
)

// Live prints a ladder as it happens, one message at a time, for
// `webget --trace`. It sees each message once, where it is observed (our
// device), so its arrows are level; state changes go in the margins. It is
// safe for concurrent use.
type Live struct {
	mu     sync.Mutex
	w      io.Writer
	width  int
	header bool
	names  [2]string
	rec    *Recorder // the same events, for an SVG at the end
}

// NewLive prints to w in width columns, with peers named a (left: us) and
// b (right: the other end).
func NewLive(w io.Writer, width int, a, b string) *Live {
	return &Live{w: w, width: width, names: [2]string{a, b}, rec: NewRecorder(a, b)}
}

// Message prints a message from side, observed at time at.
func (l *Live) Message(at time.Duration, from Side, m Message) {
	l.mu.Lock()
	defer l.mu.Unlock()
	id := l.rec.Send(at, from, m)
	l.rec.Deliver(at, id)
	l.flush(l.rec.rec.Events[len(l.rec.rec.Events)-2:])
}

// State prints side's state when it changes.
func (l *Live) State(at time.Duration, side Side, s interface{ String() string }) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(l.rec.rec.Events)
	l.rec.State(at, side, s)
	l.flush(l.rec.rec.Events[n:])
}

// Recording returns everything printed so far.
func (l *Live) Recording() Recording {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rec.Recording()
}

// flush draws just the given events (a message and its delivery, or a
// state) as a piece of diagram, printing the header once.
func (l *Live) flush(events []Event) {
	if len(events) == 0 {
		return
	}
	text := Text(Recording{Names: l.names, Events: events}, l.width)
	if l.header {
		// Every piece starts with the names; print them only once.
		_, text, _ = strings.Cut(text, "\n")
	}
	l.header = true
	_, _ = io.WriteString(l.w, text)
}
