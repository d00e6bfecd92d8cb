package ladder

import (
	"fmt"
	"strings"
)

// SVG geometry, in pixels.
const (
	svgWidth    = 760
	svgMargin   = 120 // beside each lifeline, for state names
	svgTop      = 40  // room for the peers' names
	svgLine     = 18  // height of one line
	svgCharW    = 6.6 // width of one character at svgFont
	svgFont     = 11
	svgHeadSize = 8
)

// SVG draws rec as a standalone SVG document: the same diagram as Text,
// with real slopes, for handouts and browsers. It uses no external assets.
func SVG(rec Recording) []byte {
	l := lay(rec)
	xa, xb := float64(svgMargin), float64(svgWidth-svgMargin)
	texts, expand, n := l.lines(int((xb - xa - 16) / svgCharW))
	height := svgTop + (n+1)*svgLine
	y := func(line int) float64 { return float64(svgTop + line*svgLine + svgLine/2) }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="ui-monospace, Menlo, Consolas, monospace" font-size="%d">`+"\n",
		svgWidth, height, svgWidth, height, svgFont)
	b.WriteString(`<defs><marker id="head" markerWidth="8" markerHeight="8" refX="8" refY="4" orient="auto" markerUnits="userSpaceOnUse"><path d="M0,0 L8,4 L0,8 z" fill="#1f2937"/></marker></defs>` + "\n")
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", svgWidth, height)
	for i, x := range []float64{xa, xb} {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" font-size="14" font-weight="bold" fill="#111827">%s</text>`+"\n", x, svgTop-16, esc(l.names[i]))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#6b7280" stroke-width="2"/>`+"\n", x, svgTop-8, x, height-4)
	}
	for _, a := range l.arrows {
		x1, x2 := xa, xb
		if a.from == B {
			x1, x2 = xb, xa
		}
		y1, y2 := y(expand[a.start]), y(expand[a.end])
		style := `stroke="#1f2937" stroke-width="1.5"`
		if a.retx {
			style += ` stroke-dasharray="5,3"`
		}
		switch {
		case a.dropped:
			mx, my := (x1+x2)/2, (y1+y2)/2
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" %s/>`+"\n", x1, y1, mx, my, style)
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" dominant-baseline="central" font-size="16" fill="#dc2626">✗</text>`+"\n", mx, my)
		case !a.arrived:
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" %s/>`+"\n", x1, y1, x2, y2, style)
		default:
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" %s marker-end="url(#head)"/>`+"\n", x1, y1, x2, y2, style)
		}
	}
	// Text gets a white halo (painted under its fill), so an arrow passing
	// behind a label never makes it unreadable.
	b.WriteString(`<g paint-order="stroke" stroke="#ffffff" stroke-width="3" stroke-linejoin="round">` + "\n")
	for _, t := range texts {
		// Labels sit just above their departure line; notes beside the
		// lifeline, in the margin.
		ty := y(t.line) + 4
		switch {
		case t.kind == labelRow && t.side == A:
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" fill="#111827">%s</text>`+"\n", xa+8, ty, esc(t.text))
		case t.kind == labelRow:
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end" fill="#111827">%s</text>`+"\n", xb-8, ty, esc(t.text))
		case t.side == A:
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end" fill="#2563eb">%s</text>`+"\n", xa-8, ty, esc(t.text))
		default:
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" fill="#2563eb">%s</text>`+"\n", xb+8, ty, esc(t.text))
		}
	}
	b.WriteString("</g>\n</svg>\n")
	return []byte(b.String())
}

var xmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")

func esc(s string) string { return xmlEscaper.Replace(s) }
