package ladder

import (
	"slices"
	"strings"
)

// The layout turns events into rows, shared by the text and SVG renderers:
// each message gets a label row, then departs on a row of its own (shared
// with a message the other side sent at the same instant, so crossing
// messages cross) and arrives on a later row if time passed in flight, or
// on its departure row if it arrived at once.

type rowKind int

const (
	labelRow rowKind = iota // a message's label, beside its sender
	lineRow                 // arrows depart, pass or arrive
	noteRow                 // a state change, in the sender's margin
)

type row struct {
	kind rowKind
	side Side
	text string
	retx bool
}

type arrow struct {
	from       Side
	start, end int // rows
	dropped    bool
	retx       bool
	arrived    bool // false while in flight at the end of the recording
}

type layout struct {
	names  [2]string
	rows   []row
	arrows []arrow
}

// minFlightRows is how many rows a message that spent time in flight
// spans at least, so its slant is visible.
const minFlightRows = 2

func lay(rec Recording) layout {
	l := layout{names: rec.Names}
	for i, n := range l.names {
		if n == "" {
			l.names[i] = Side(i).String()
		}
	}
	events := slices.Clone(rec.Events)
	slices.SortStableFunc(events, func(a, b Event) int {
		return int(a.At - b.At)
	})
	byID := map[int]int{} // message ID -> arrow index
	sentAt := map[int]Event{}
	var prev, lastSend *Event
	for i := range events {
		e := &events[i]
		switch e.Kind {
		case State:
			l.rows = append(l.rows, row{kind: noteRow, side: e.Side, text: e.Label})
		case Send:
			label := row{kind: labelRow, side: e.Side, text: e.Label, retx: e.Retransmission}
			if ls := lastSend; ls != nil && ls.At == e.At && ls.Side != e.Side && onlyNotesAfter(l.rows, l.arrows[byID[ls.ID]].start) {
				// Sent at the same instant as the other side's message: put
				// this label above the shared departure row, so they cross.
				dep := l.arrows[byID[ls.ID]].start
				l.rows = slices.Insert(l.rows, dep, label)
				l.arrows[byID[ls.ID]].start++
				byID[e.ID] = len(l.arrows)
				l.arrows = append(l.arrows, arrow{from: e.Side, start: dep + 1, end: -1, retx: e.Retransmission})
				sentAt[e.ID] = *e
				lastSend = nil
				break
			}
			lastSend = e
			l.rows = append(l.rows, label, row{kind: lineRow})
			byID[e.ID] = len(l.arrows)
			l.arrows = append(l.arrows, arrow{from: e.Side, start: len(l.rows) - 1, end: -1, retx: e.Retransmission})
			sentAt[e.ID] = *e
		case Deliver, Drop:
			lastSend = nil
			ai, ok := byID[e.ID]
			if !ok {
				break
			}
			a := &l.arrows[ai]
			a.arrived, a.dropped = true, e.Kind == Drop
			last := len(l.rows) - 1
			switch {
			case sentAt[e.ID].At == e.At && a.start == last:
				a.end = a.start // arrived at once: a level arrow
			case prev != nil && (prev.Kind == Deliver || prev.Kind == Drop) && prev.At == e.At && l.rows[last].kind == lineRow && last >= a.start+minFlightRows:
				a.end = last // arrives with the message before it
			default:
				for len(l.rows)-1 < a.start+minFlightRows {
					l.rows = append(l.rows, row{kind: lineRow})
				}
				if l.rows[len(l.rows)-1].kind != lineRow || len(l.rows)-1 == a.start && sentAt[e.ID].At != e.At {
					l.rows = append(l.rows, row{kind: lineRow})
				}
				a.end = len(l.rows) - 1
			}
		}
		prev = e
	}
	// Messages still in flight run to the bottom.
	for i := range l.arrows {
		if l.arrows[i].end < 0 {
			for len(l.rows)-1 < l.arrows[i].start+minFlightRows {
				l.rows = append(l.rows, row{kind: lineRow})
			}
			l.arrows[i].end = len(l.rows) - 1
		}
	}
	return l
}

// splitLabel breaks a label that is too wide in two: the sender's half and
// the receiver's (" ack=…" onwards), then cuts what still does not fit.
func splitLabel(label string, width int) []string {
	if len([]rune(label)) <= width {
		return []string{label}
	}
	lines := []string{label}
	if i := strings.Index(label, " ack="); i > 0 {
		lines = []string{label[:i], label[i+1:]}
	} else if i := strings.Index(label, " win="); i > 0 {
		lines = []string{label[:i], label[i+1:]}
	}
	for i, s := range lines {
		if r := []rune(s); len(r) > width {
			lines[i] = string(r[:width-1]) + "…"
		}
	}
	return lines
}

// onlyNotesAfter reports whether every row after row i is a state note.
func onlyNotesAfter(rows []row, i int) bool {
	for _, r := range rows[i+1:] {
		if r.kind != noteRow {
			return false
		}
	}
	return true
}

// placed is a piece of text on one physical line of a diagram.
type placed struct {
	line int
	kind rowKind // labelRow or noteRow
	side Side
	text string
}

// lines expands rows into physical lines, a label taking two when it is
// wider than labelWidth characters. It returns the texts to place, the
// physical line of each row, and the number of lines.
func (l layout) lines(labelWidth int) (texts []placed, expand []int, n int) {
	expand = make([]int, len(l.rows))
	for i, r := range l.rows {
		switch r.kind {
		case labelRow:
			label := r.text
			if r.retx {
				label = "↻ " + label
			}
			for _, s := range splitLabel(label, labelWidth) {
				texts = append(texts, placed{n, labelRow, r.side, s})
				n++
			}
		case noteRow:
			texts = append(texts, placed{n, noteRow, r.side, r.text})
			n++
		default:
			n++
		}
		expand[i] = n - 1
	}
	return texts, expand, n
}
