package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

func TestStageTable(t *testing.T) {
	for name, n := range stageNames {
		got := stageSuites(n)
		require.NotEmpty(t, got, name)
		if n > 0 {
			// Each stage runs the checks of every stage before it.
			prev := stageSuites(n - 1)
			require.Equal(t, prev, got[:len(prev)], "%s starts with the stages before it", name)
		}
	}
	require.Equal(t, stageSuites(4), stageSuites(stageNames["all"]))
	for _, s := range suites {
		require.Positive(t, s.points, s.name)
	}
}

func TestCondense(t *testing.T) {
	cases := []struct{ name, out, want string }{
		{
			name: "the harness's steps and diff, without the log header",
			out: "    bytestream_test.go:42: \n" +
				"        steps so far:\n" +
				"          1. push \"hello\"\n" +
				"        ✗ 2. expect bytes buffered: (-want +got)\n" +
				"              - 5\n" +
				"              + 4\n",
			want: "steps so far:\n  1. push \"hello\"\n✗ 2. expect bytes buffered: (-want +got)\n      - 5\n      + 4",
		},
		{
			name: "a ladder drawn above the steps is kept above them",
			out: "    ISN 7\n    statemachine_test.go:30: \n" +
				"                 us                test\n" +
				"                  │ SYN seq=1000   │\n" +
				"                  │───────────────▶│\n" +
				"        \n" +
				"        steps so far:\n" +
				"          1. connect\n" +
				"        ✗ 2. expect state LISTEN\n",
			want: "         us                test\n          │ SYN seq=1000   │\n          │───────────────▶│\n\n" +
				"steps so far:\n  1. connect\n✗ 2. expect state LISTEN",
		},
		{
			name: "a long list of steps keeps its start and the steps before the failure",
			out: "    x_test.go:1: \n        steps so far:\n" + func() string {
				var b strings.Builder
				for i := 1; i <= 20; i++ {
					fmt.Fprintf(&b, "          %d. push %d\n", i, i)
				}
				return b.String()
			}() + "        ✗ 21. expect finished\n",
			want: "steps so far:\n  1. push 1\n  2. push 2\n  3. push 3\n  … 9 more steps …\n" +
				"  13. push 13\n  14. push 14\n  15. push 15\n  16. push 16\n  17. push 17\n  18. push 18\n  19. push 19\n  20. push 20\n" +
				"✗ 21. expect finished",
		},
		{
			name: "a panic keeps its message and the frames outside the runtime",
			out: "panic: runtime error: invalid memory address or nil pointer dereference [recovered]\n" +
				"goroutine 7 [running]:\n" +
				"testing.tRunner.func1.2({0x1, 0x2})\n" +
				"\t/usr/local/go/src/testing/testing.go:1974 +0x232\n" +
				"tcplab/labs/0-bytestream.(*Writer).Push(0x0, {0x0, 0x0, 0x0})\n" +
				"\t/work/labs/0-bytestream/bytestream.go:50 +0x1c\n",
			want: "panic: runtime error: invalid memory address or nil pointer dereference [recovered]\n" +
				"  at /work/labs/0-bytestream/bytestream.go:50 (0-bytestream.(*Writer).Push)",
		},
		{
			name: "testify's failure keeps the error and messages, not the trace",
			out: "    network_test.go:208: \n" +
				"        \tError Trace:\t/work/labs/4-connection/network_test.go:208\n" +
				"        \t            \t\t\t\t/work/labs/4-connection/network_test.go:99\n" +
				"        \tError:      \tNot equal: \n" +
				"        \t            \texpected: 10\n" +
				"        \t            \tactual  : 5\n" +
				"        \tTest:       \tTestSimulatedNetwork/1_MiB\n" +
				"        \tMessages:   \tboth connections end cleanly closed\n",
			want: "network_test.go:208:\n" +
				"Error: Not equal:\n" +
				"  expected: 10\n" +
				"  actual  : 5\n" +
				"Messages: both connections end cleanly closed",
		},
		{
			name: "plain messages lose their indentation",
			out:  "    x_test.go:9: seed 1\n    x_test.go:10: got 3, want 4\n",
			want: "x_test.go:9: seed 1\nx_test.go:10: got 3, want 4",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if d := cmp.Diff(c.want, condense(c.out)); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

func TestResultsAreWrittenWhenGradingCannotStart(t *testing.T) {
	dir := t.TempDir()
	results := filepath.Join(dir, "results.json")
	var stdout, stderr bytes.Buffer
	code := run([]string{"-dir", dir, "-json", results, "check0"}, &stdout, &stderr)
	require.Equal(t, 2, code)
	b, err := os.ReadFile(results)
	require.NoError(t, err)
	var r gsResults
	require.NoError(t, json.Unmarshal(b, &r))
	require.Zero(t, r.Score)
	require.Contains(t, r.Output, "no go.mod")
	require.Contains(t, stderr.String(), "no go.mod")
}
