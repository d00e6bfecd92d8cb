//lab:solution-only

package starter

import (
	"fmt"
	"strings"
)

// A Markdown file (the README above all) is written once, for both trees,
// with two kinds of region, each between a begin and an end line:
//
//	<!-- lab:reference-only begin -->
//	text about the reference tree: dropped from the starter
//	<!-- lab:reference-only end -->
//
//	<!-- lab:starter-only begin
//	text for students: a comment in the reference, plain text in the starter
//	lab:starter-only end -->
//
// so the reference renders without the students' part and the starter
// without the instructors'.
const (
	referenceBegin = "<!-- lab:reference-only begin -->"
	referenceEnd   = "<!-- lab:reference-only end -->"
	starterBegin   = "<!-- lab:starter-only begin"
	starterEnd     = "lab:starter-only end -->"
)

// StripMarkdown returns the starter version of a Markdown file: reference-
// only regions removed, starter-only regions uncommented. Markers must
// pair up, one region at a time.
func StripMarkdown(filename string, src []byte) ([]byte, error) {
	var out []string
	in := "" // the begin marker of the region we are in
	lines := strings.Split(string(src), "\n")
	for i, l := range lines {
		marker := strings.TrimSpace(l)
		switch marker {
		case referenceBegin, starterBegin:
			if in != "" {
				return nil, fmt.Errorf("%s:%d: %q inside a region opened by %q", filename, i+1, marker, in)
			}
			in = marker
			continue
		case referenceEnd, starterEnd:
			if (marker == referenceEnd) != (in == referenceBegin) || in == "" {
				return nil, fmt.Errorf("%s:%d: %q without its begin line", filename, i+1, marker)
			}
			in = ""
			continue
		}
		if in != referenceBegin {
			out = append(out, l)
		}
	}
	if in != "" {
		return nil, fmt.Errorf("%s: %q is never closed", filename, in)
	}
	return []byte(strings.Join(out, "\n")), nil
}
