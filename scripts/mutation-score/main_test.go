//lab:solution-only

package main

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseEquivalent(t *testing.T) {
	tests := []struct {
		name, in string
		want     map[string]string
		err      string
	}{
		{"comments and blank lines are skipped",
			"# about\n\nlabs/0-bytestream/bytestream.go:65:8 CONDITIONALS_BOUNDARY  at == capacity copies nothing, then wraps\n",
			map[string]string{"labs/0-bytestream/bytestream.go:65:8 CONDITIONALS_BOUNDARY": "at == capacity copies nothing, then wraps"}, ""},
		{"a line without a reason is an error", "labs/x.go:1:2 ARITHMETIC_BASE\n", nil, "line 1"},
		{"a position without a column is an error", "labs/x.go:1 ARITHMETIC_BASE  why\n", nil, "line 1"},
		{"a mutant listed twice is an error", "a.go:1:2 X  one\na.go:1:2 X  two\n", nil, "listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseEquivalent(strings.NewReader(tt.in))
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// The list beside the labs must always parse: the script reads it first.
func TestTheListParses(t *testing.T) {
	f, err := os.Open("../../" + equivalentFile)
	require.NoError(t, err)
	defer f.Close()
	_, err = parseEquivalent(f)
	require.NoError(t, err)
}

func TestScore(t *testing.T) {
	const dir = "labs/0-bytestream"
	data := []byte(`{"go_module":"tcplab","files":[{"file_name":"bytestream.go","mutations":[
		{"type":"CONDITIONALS_NEGATION","status":"KILLED","line":60,"column":7},
		{"type":"CONDITIONALS_BOUNDARY","status":"LIVED","line":65,"column":8},
		{"type":"ARITHMETIC_BASE","status":"LIVED","line":97,"column":20},
		{"type":"ARITHMETIC_BASE","status":"NOT COVERED","line":98,"column":3},
		{"type":"INVERT_NEGATIVES","status":"TIMED OUT","line":99,"column":1}]}]}`)
	results, err := parseReport(dir, data)
	require.NoError(t, err)
	equivalent := map[string]string{
		dir + "/bytestream.go:65:8 CONDITIONALS_BOUNDARY": "equivalent",
		dir + "/bytestream.go:60:7 CONDITIONALS_NEGATION": "stale: it is killed",
		"labs/1-reassembler/reassembler.go:1:1 X":         "another lab's: not stale here",
		dir + "/bytestream.go:99:1 INVERT_NEGATIVES":      "timed out: not stale either",
	}
	r := score(dir, results, equivalent)
	require.Equal(t, 1, r.killed)
	require.Equal(t, 3, r.lived)
	require.Equal(t, 1, r.equivalent)
	require.Equal(t, 1, r.timedOut)
	require.Equal(t, []mutant{
		{dir + "/bytestream.go:97:20 ARITHMETIC_BASE", "LIVED"},
		{dir + "/bytestream.go:98:3 ARITHMETIC_BASE", "NOT COVERED"},
	}, r.unlisted)
	require.Equal(t, []string{dir + "/bytestream.go:60:7 CONDITIONALS_NEGATION"}, r.stale)
	require.InDelta(t, 100.0/3, r.efficacy(), 0.01)
	require.False(t, r.tooManyTimedOut(), "1 of 5 timed out")
}

// A run where most mutants time out measured gremlins' timeout, not the
// checks (a coverage run served from the test cache makes it tiny): it
// must fail, though nothing lived.
func TestMostlyTimedOutFails(t *testing.T) {
	cases := []struct {
		r    result
		fail bool
	}{
		{result{killed: 0, timedOut: 26}, true},
		{result{killed: 3, lived: 0, timedOut: 2}, true},
		{result{killed: 59, lived: 6, timedOut: 3}, false},
		{result{killed: 3, lived: 1, timedOut: 1}, false},
		{result{}, false},
	}
	for _, tc := range cases {
		require.Equal(t, tc.fail, tc.r.tooManyTimedOut(), "%+v", tc.r)
	}
}
