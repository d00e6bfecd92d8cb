//lab:solution-only

package starter

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStripMarkdown(t *testing.T) {
	for _, tc := range []struct {
		name, in, want, err string
	}{
		{"text outside regions is kept", "a\nb\n", "a\nb\n", ""},
		{"a reference-only region is dropped, markers and all",
			"a\n<!-- lab:reference-only begin -->\nfor instructors\n<!-- lab:reference-only end -->\nb\n", "a\nb\n", ""},
		{"a starter-only region loses its comment markers",
			"a\n<!-- lab:starter-only begin\nfor students\nlab:starter-only end -->\nb\n", "a\nfor students\nb\n", ""},
		{"both, one after the other",
			"<!-- lab:reference-only begin -->\nx\n<!-- lab:reference-only end -->\n<!-- lab:starter-only begin\ny\nlab:starter-only end -->\n", "y\n", ""},
		{"a region never closed", "<!-- lab:reference-only begin -->\nx\n", "", "never closed"},
		{"an end without its begin", "x\n<!-- lab:reference-only end -->\n", "", "without its begin"},
		{"the wrong end", "<!-- lab:starter-only begin\nx\n<!-- lab:reference-only end -->\n", "", "without its begin"},
		{"regions do not nest", "<!-- lab:starter-only begin\n<!-- lab:reference-only begin -->\n", "", "inside a region"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := StripMarkdown("README.md", []byte(tc.in))
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, string(got))
		})
	}
}

// The starter's README speaks to a student about their own tree: it never
// calls it the reference solution, and it says what to do first. The
// reference's README, rendered, shows none of the students' part.
func TestStarterReadmeIsForStudents(t *testing.T) {
	ref, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	got, err := StripMarkdown("README.md", ref)
	require.NoError(t, err)
	readme := string(got)
	for _, never := range []string{"reference solution", "reference tree", "`main` branch", "Instructors", "On the reference"} {
		require.NotContains(t, readme, never)
	}
	for _, want := range []string{"## What to do first", "go run ./grader check0", "## The checks against Linux on your machine", "sudo chmod 0666 /dev/net/tun"} {
		require.Contains(t, readme, want)
	}
	// In the reference, the students' part sits inside one HTML comment.
	begin := strings.Index(string(ref), starterBegin)
	require.GreaterOrEqual(t, begin, 0)
	hidden := string(ref)[begin:]
	hidden = hidden[:strings.Index(hidden, starterEnd)]
	require.NotContains(t, hidden, "-->", "a comment closed early shows the students' part in the reference")
	require.Contains(t, string(ref), "instructors' reference solution")
}
