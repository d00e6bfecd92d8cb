package ladder

import (
	"strings"
)

// Text draws rec as a ladder diagram in width columns (80 when width <= 0),
// A's lifeline on the left and B's on the right, each message an arrow from
// its sender's line to its receiver's, slanted across the rows it spent in
// flight; a lost message ends in ✗, a retransmission's label starts with ↻,
// and state changes stand in the margins.
func Text(rec Recording, width int) string {
	if width <= 0 {
		width = 80
	}
	l := lay(rec)
	c := newCanvas(width)
	var out strings.Builder

	// Header: the names centred on their lifelines.
	header := c.blank()
	c.put(header, c.xa-len([]rune(l.names[A]))/2, l.names[A])
	c.put(header, c.xb-len([]rune(l.names[B]))/2, l.names[B])
	out.WriteString(strings.TrimRight(string(header), " ") + "\n")

	// Lines first, then arrows, then text on top, so that an arrow in
	// flight never hides a label.
	texts, expand, n := l.lines(c.span() - 3)
	lines := make([][]rune, n)
	for i := range lines {
		lines[i] = c.lifelines()
	}
	for _, a := range l.arrows {
		c.arrow(lines, a, expand)
	}
	for _, t := range texts {
		width := len([]rune(t.text))
		var x int
		switch {
		case t.kind == labelRow && t.side == A:
			x = c.xa + 2
		case t.kind == labelRow:
			x = c.xb - 1 - width
		case t.side == A:
			x = max(0, c.xa-2-width)
		default:
			x = c.xb + 2
		}
		if t.kind == labelRow {
			// A space each side keeps a crossing arrow off the label.
			c.put(lines[t.line], x-1, " "+t.text+" ")
		} else {
			c.put(lines[t.line], x, t.text)
		}
	}
	for _, line := range lines {
		out.WriteString(strings.TrimRight(string(line), " ") + "\n")
	}
	return out.String()
}

// canvas knows the geometry of a text diagram.
type canvas struct {
	width, xa, xb int // total width; columns of A's and B's lifelines
}

// margin leaves room beside each lifeline for the longest state name.
const margin = 14

func newCanvas(width int) canvas {
	width = max(width, 2*margin+20)
	return canvas{width: width, xa: margin, xb: width - margin - 1}
}

func (c canvas) span() int { return c.xb - c.xa }

func (c canvas) blank() []rune {
	line := make([]rune, c.width)
	for i := range line {
		line[i] = ' '
	}
	return line
}

func (c canvas) lifelines() []rune {
	line := c.blank()
	line[c.xa], line[c.xb] = '│', '│'
	return line
}

func (c canvas) put(line []rune, x int, s string) {
	for _, r := range s {
		if x >= 0 && x < len(line) {
			line[x] = r
		}
		x++
	}
}

// arrow draws a from its departure line to its arrival line: the cells
// between the lifelines are shared out over the lines it spans, so a long
// flight reads as a slope.
func (c canvas) arrow(lines [][]rune, a arrow, expand []int) {
	first, last := expand[a.start], expand[a.end]
	n := last - first + 1
	cells := c.span() - 1 // between the lifelines
	upto := cells
	if a.dropped {
		upto = cells / 2
	}
	dash := '─'
	if a.retx {
		dash = '┄'
	}
	for i := range n {
		from, to := cells*i/n, cells*(i+1)/n
		for k := from; k < to && k < upto; k++ {
			x := c.xa + 1 + k
			if a.from == B {
				x = c.xb - 1 - k
			}
			lines[first+i][x] = dash
		}
	}
	end := first + n - 1
	switch {
	case a.dropped:
		x := c.xa + 1 + upto
		if a.from == B {
			x = c.xb - 1 - upto
		}
		// The loss shows on the line where the message got halfway.
		lines[first+min(n-1, n*upto/cells)][x] = '✗'
	case !a.arrived:
		// Still in flight when the recording ended: no head.
	case a.from == A:
		lines[end][c.xb-1] = '▶'
	default:
		lines[end][c.xa+1] = '◀'
	}
}
