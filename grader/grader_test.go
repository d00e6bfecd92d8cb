//lab:solution-only

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"tcplab/internal/gotest"
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
			name: "a randomized test's seed and round stay above its steps",
			out: "    bytestream_test.go:347: seed 20261125\n" +
				"    bytestream_test.go:375: round 4 of seed 20261125: capacity 3 \n" +
				"        steps so far:\n" +
				"          1. push \"abc\"\n" +
				"        ✗ 2. expect 3 bytes buffered\n",
			want: "seed 20261125\nround 4 of seed 20261125: capacity 3\n" +
				"steps so far:\n  1. push \"abc\"\n✗ 2. expect 3 bytes buffered",
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
				"  at labs/0-bytestream/bytestream.go:50 (0-bytestream.(*Writer).Push)",
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
			name: "a ladder logged with a plain failure comes whole, however long",
			out: "    network_test.go:295: 31229 datagrams: an ACK storm?\n" +
				"    network_test.go:175: the first messages:\n" +
				strings.Repeat("                  │ SYN seq=1         │\n", 30),
			want: "network_test.go:295: 31229 datagrams: an ACK storm?\nnetwork_test.go:175: the first messages:\n" +
				strings.TrimSuffix(strings.Repeat("            │ SYN seq=1         │\n", 30), "\n"),
		},
		{
			name: "a panic the harness caught is not blamed on the runtime's panic.go",
			out: "    panic.go:336: panic: runtime error: invalid memory address or nil pointer dereference\n" +
				"          at labs/0-bytestream/bytestream.go:65 ((*Writer).HasError)\n",
			want: "panic: runtime error: invalid memory address or nil pointer dereference\n" +
				"  at labs/0-bytestream/bytestream.go:65 ((*Writer).HasError)",
		},
		{
			name: "a failure inside the sandbox reads as one outside it",
			out: "    run.go:80: sandbox|     transfer_test.go:120: seed 84\n" +
				"    run.go:80: sandbox|     transfer_test.go:162: \n" +
				"    run.go:80: sandbox|         \tError Trace:\t/work/internal/interop/helpers_test.go:253\n" +
				"    run.go:80: sandbox|         \t            \t\t\t\t/work/internal/sandbox/run.go:184\n" +
				"    run.go:80: sandbox|         \tError:      \tShould be true\n" +
				"    run.go:80: sandbox|         \tTest:       \tTestTransfersWithLinux/x\n" +
				"    run.go:80: sandbox|         \tMessages:   \tthe connection ended, but not cleanly\n" +
				"    run.go:80: sandbox| \n" +
				"    transfer_test.go:110: sandbox: the test failed inside (exit: exit status 1)\n",
			want: "transfer_test.go:120: seed 84\n" +
				"transfer_test.go:162:\n" +
				"Error: Should be true\n" +
				"Messages: the connection ended, but not cleanly\n" +
				"\n" +
				"transfer_test.go:110: sandbox: the test failed inside (exit: exit status 1)",
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

func TestFlagsStandBeforeOrAfterTheStage(t *testing.T) {
	cases := []struct {
		args  []string
		words []string
		json  string
	}{
		{[]string{"-json", "r.json", "all"}, []string{"all"}, "r.json"},
		{[]string{"all", "-json", "r.json"}, []string{"all"}, "r.json"},
		{[]string{"-v", "check2", "-json=r.json", "-stop"}, []string{"check2"}, "r.json"},
		{[]string{"check0", "extra"}, []string{"check0", "extra"}, ""},
		{[]string{"check0", "--", "-json"}, []string{"check0", "-json"}, ""},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			fs := flag.NewFlagSet("grader", flag.ContinueOnError)
			json := fs.String("json", "", "")
			fs.Bool("v", false, "")
			fs.Bool("stop", false, "")
			words, err := parseInterspersed(fs, c.args)
			require.NoError(t, err)
			require.Equal(t, c.words, words)
			require.Equal(t, c.json, *json)
		})
	}
	// And through the command line itself: the results file named after
	// the stage is written.
	dir := t.TempDir()
	results := filepath.Join(dir, "results.json")
	var stdout, stderr bytes.Buffer
	require.Equal(t, 2, run([]string{"check0", "-dir", dir, "-json", results}, &stdout, &stderr), stderr.String())
	require.FileExists(t, results)
}

func TestWholeStackChecksWaitForTheConnection(t *testing.T) {
	var kernelWebget, linux suite
	for _, s := range suites {
		switch {
		case s.needsWholeStack() && linux.name == "":
			linux = s
		case s.needsSandbox() && !s.needsWholeStack():
			kernelWebget = s
		}
	}
	require.NotEmpty(t, linux.name, "a suite runs the student's TCP against Linux")
	require.NotEmpty(t, kernelWebget.name, "webget over the kernel's TCP needs the sandbox only")
	noSandbox := errors.New("sandbox unavailable: no /dev/net/tun")
	cases := []struct {
		name      string
		s         suite
		connected map[string]bool // passedPkg
		sandbox   error
		want      gotest.Status
		gated     bool
		says      string
	}{
		{"connection fails: not run, and a failure", linux, map[string]bool{connectionPkg: false}, nil, gotest.Fail, true, "fix those first"},
		{"connection fails and no sandbox: the connection is what to fix", linux, map[string]bool{connectionPkg: false}, noSandbox, gotest.Fail, true, "fix those first"},
		{"connection passes, no sandbox: skipped with the reason", linux, map[string]bool{connectionPkg: true}, noSandbox, gotest.Skip, true, "no /dev/net/tun"},
		{"connection passes, sandbox here: runs", linux, map[string]bool{connectionPkg: true}, nil, 0, false, ""},
		{"kernel webget does not wait for the connection", kernelWebget, map[string]bool{connectionPkg: false}, nil, 0, false, ""},
		{"kernel webget without a sandbox is skipped", kernelWebget, map[string]bool{}, noSandbox, gotest.Skip, true, "no /dev/net/tun"},
		{"lab 0 needs nothing", suites[0], map[string]bool{connectionPkg: false}, noSandbox, 0, false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			withSandbox(t, c.sandbox)
			got, gated := (&grading{}).gate(c.s, c.connected)
			require.Equal(t, c.gated, gated)
			if gated {
				require.Equal(t, c.want, got.status)
				require.Contains(t, got.detail, c.says)
			}
		})
	}
}

func TestReportIsSizedForAPerson(t *testing.T) {
	s := suite{name: "connection", pkg: "labs/4-connection"}
	detail := "steps so far:\n  1. connect\n✗ 2. expect state SYN_SENT\n      (-want +got)\n      - SYN_SENT\n      + LISTEN"
	var cs []check
	for i := range 30 {
		cs = append(cs, check{suite: s, name: fmt.Sprintf("TestGroup%d/case_%d", i/10, i), status: gotest.Fail, detail: detail})
	}
	for i := range 5 {
		cs = append(cs, check{suite: s, name: fmt.Sprintf("TestNeedsRoot/case_%d", i), status: gotest.Skip, detail: "sandbox unavailable: no /dev/net/tun"})
	}
	cs = append(cs, check{suite: s, name: "TestPasses", status: gotest.Pass})

	var out bytes.Buffer
	g := &grading{cfg: config{stdout: &out, stderr: &out}}
	g.report(cs)
	text := out.String()
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")

	require.Equal(t, fullFailures, strings.Count(text, "(-want +got)"), "the first failures in full:\n%s", text)
	require.Equal(t, briefFailures, strings.Count(text, "— ✗ 2. expect state SYN_SENT"), "the next ones a line each:\n%s", text)
	require.Contains(t, text, fmt.Sprintf("… and %d more failing checks not shown", 30-fullFailures-briefFailures))
	require.Equal(t, 1, strings.Count(text, "no /dev/net/tun"), "a skip reason once:\n%s", text)
	require.Contains(t, text, "5 checks skipped: sandbox unavailable: no /dev/net/tun")
	require.NotContains(t, text, "TestPasses", "passing checks are counted, not listed")
	// 4 group lines, the full failures, the brief ones, the count and the
	// skip line.
	require.Equal(t, 4+fullFailures*7+briefFailures+2, len(lines), "%s", text)

	t.Run("a suite that passes whole is one line", func(t *testing.T) {
		var out bytes.Buffer
		g := &grading{cfg: config{stdout: &out, stderr: &out}}
		g.report([]check{{suite: s, name: "TestA/x", status: gotest.Pass}, {suite: s, name: "TestB", status: gotest.Pass}})
		require.Equal(t, "  ✓ 2 checks passed 0.00s\n", stripColor(out.String()))
	})
	t.Run("speed checks not measured are one line", func(t *testing.T) {
		b := suite{name: "byte stream speed", pkg: "labs/0-bytestream", bench: "^BenchmarkByteStream$"}
		why := "not measured: fix the failing checks above first"
		var out bytes.Buffer
		g := &grading{cfg: config{stdout: &out, stderr: &out}}
		g.report([]check{
			{suite: b, name: "BenchmarkByteStream/pop=4096", status: gotest.Fail, detail: why},
			{suite: b, name: "BenchmarkByteStream/pop=32", status: gotest.Fail, detail: why},
		})
		require.Equal(t, "  ✗ BenchmarkByteStream (2 checks): "+why+"\n", stripColor(out.String()))
	})
	t.Run("-v shows every failure in full and every check", func(t *testing.T) {
		var out bytes.Buffer
		g := &grading{cfg: config{stdout: &out, stderr: &out, verbose: true}}
		g.report(cs)
		require.Equal(t, 30, strings.Count(out.String(), "(-want +got)"))
		require.Contains(t, out.String(), "TestPasses")
	})
}

func TestRunPatternPicksOneCheck(t *testing.T) {
	for _, name := range []string{"TestLecture/simultaneous_open_takes_four_messages", "TestA/b/c", "TestX/a+b_(1)"} {
		re := regexp.MustCompile(strings.ReplaceAll(runPattern(name), "$/^", "$|^"))
		for _, part := range strings.Split(name, "/") {
			require.True(t, re.MatchString(part), "%s matches %s", runPattern(name), part)
		}
		require.False(t, re.MatchString(strings.Split(name, "/")[0]+"x"))
	}
	require.Equal(t, `'it'\''s'`, shellQuote("it's"))
}

func TestProgress(t *testing.T) {
	s := suite{name: "reassembler", pkg: "labs/1-reassembler"}
	t.Run("piped: one plain line per suite, nothing per test", func(t *testing.T) {
		var buf bytes.Buffer
		p := newProgress(&buf)
		p.suite(3, 11, s)
		p.update(gotest.Progress{Running: "TestX", Done: 4})
		p.clear()
		p.close()
		require.Equal(t, "[3/11] labs/1-reassembler: building and testing reassembler…\n", buf.String())
	})
	t.Run("on a terminal: a live line saying what runs, erased before results", func(t *testing.T) {
		var buf bytes.Buffer
		p := &progress{w: &buf, live: true}
		p.suite(3, 11, s)
		require.Regexp(t, `^\[3/11\] labs/1-reassembler \d+s: building the tests$`, p.line())
		p.update(gotest.Progress{Running: "TestHoles/a_gap_waits", Done: 4})
		require.Contains(t, p.line(), "4 done, running TestHoles/a gap waits")
		p.shown = true
		p.clear()
		require.Equal(t, "\r\x1b[K", buf.String())
	})
	t.Run("nowhere to go: silent", func(t *testing.T) {
		p := newProgress(nil)
		p.suite(1, 1, s)
		p.update(gotest.Progress{Building: true})
		p.clear()
		p.close()
	})
}

func TestJSONToStdoutIsAllThereIs(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	require.Equal(t, 2, run([]string{"-dir", dir, "check0", "-json", "-"}, &stdout, &stderr))
	var r gsResults
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &r), "stdout holds the results alone:\n%s", stdout.String())
	require.Contains(t, r.Output, "no go.mod")
}

func TestHeadlineIsTheFailureInOneLine(t *testing.T) {
	cases := []struct{ detail, want string }{
		{"steps so far:\n  1. connect\n✗ 2. expect state SYN_SENT\n      (-want +got)", "— ✗ 2. expect state SYN_SENT"},
		{"extra_test.go:175: seed 1\nextra_test.go:209: seed 1, round 4: no SYN", "— extra_test.go:209: seed 1, round 4: no SYN"},
		{"panic: runtime error: index out of range [recovered, repanicked]\n  at labs/x.go:1 (f)", "— panic: runtime error: index out of range"},
		{strings.Repeat("x", 200), "— " + strings.Repeat("x", 89) + "…"},
		{"transfer_test.go:120: seed 84\ntransfer_test.go:162:\nError: Should be true\nMessages: the connection ended, but not cleanly", "— Messages: the connection ended, but not cleanly"},
		{"x_test.go:9:\nx_test.go:10: got 3, want 4", "— x_test.go:10: got 3, want 4"},
	}
	for _, c := range cases {
		require.Equal(t, c.want, headline(c.detail))
	}
}

func TestProgressLineFitsATerminal(t *testing.T) {
	p := &progress{w: io.Discard, live: true}
	p.suite(10, 11, suite{name: "your TCP against Linux's", pkg: "internal/interop"})
	p.update(gotest.Progress{Running: "TestTransfersWithLinux/" + strings.Repeat("x", 100), Done: 12})
	line := p.line()
	require.LessOrEqual(t, len([]rune(line)), 78)
	require.Regexp(t, `^\[10/11\] internal/interop \d+s: 12 done, running TestTransfersWithLinux/x+…$`, line, "the clock survives the cut")
}

func TestSuiteTestsMatchLevelByLevel(t *testing.T) {
	kernel := levels("^TestWebget$/kernel")
	cases := []struct {
		name string
		want bool
	}{
		{"TestWebget/--stack_kernel_fetches_over_the_kernel's_TCP", true},
		{"TestWebget/fetches_1_MiB_from_python's_http.server,_bytes_intact", false},
		{"TestWebgetWithoutPermissionToOpenTUN", false},
		{"TestWebget", true},
	}
	for _, c := range cases {
		require.Equal(t, c.want, matchLevels(kernel, c.name), c.name)
	}
}

// A connection that answers only segments carrying payload (one line) fails
// the lecture's scenarios; the checks against Linux are then not run at all
// (nothing is built for them), and the report stays short.
func TestAnUnfinishedConnectionIsNotRunAgainstLinux(t *testing.T) {
	if testing.Short() {
		t.Skip("copies the tree and runs the lecture's scenarios")
	}
	withSandbox(t, errors.New("sandbox unavailable: disabled by the test"))
	root, err := findRoot("")
	require.NoError(t, err)
	tree := t.TempDir()
	require.NoError(t, overlayOfficial(root, tree, nil))
	file := filepath.Join(tree, "labs/4-connection/connection.go")
	src, err := os.ReadFile(file)
	require.NoError(t, err)
	buggy := strings.Replace(string(src), "if !sent && (m.SequenceLength() > 0 || keepAlive) {", "if !sent && (len(m.Sender.Payload) > 0 || keepAlive) {", 1)
	require.NotEqual(t, string(src), buggy, "the bug applies")
	require.NoError(t, os.WriteFile(file, []byte(buggy), 0o644))

	var stdout, stderr bytes.Buffer
	code := run([]string{"-dir", tree, "check4", "-run", "TestLecture"}, &stdout, &stderr)
	out := stdout.String()
	require.Equal(t, 1, code, "stdout:\n%s\nstderr:\n%s", out, stderr.String())
	require.Contains(t, out, "your TCP against Linux's (internal/interop)\n  ✗ not run: these need your whole TCP")
	require.Contains(t, out, "webget over your TCP (internal/interop)\n  ✗ not run:")
	require.NotContains(t, stderr.String(), "internal/interop: building", "nothing is built for the checks against Linux")
	// The first failure in full, with the ladder of both sides and their
	// states; the rest a line each.
	require.Regexp(t, `(?m)^ +A +B$`, out)
	require.Contains(t, out, "SYN_RECEIVED")
	require.Contains(t, out, "✗ 6. B: expect sent [ACK seqno=6970 ackno=1001 win=64000]")
	require.Contains(t, out, "one check at a time: go run ./grader check4 -run '^TestLecture$/^")
	require.Less(t, strings.Count(out, "\n"), 100, "%s", out)
}

// withSandbox makes the grader see the sandbox as available (err nil) or
// not, for the rest of the test.
func withSandbox(t *testing.T, err error) {
	saved := sandboxAvailable
	sandboxAvailable = func() error { return err }
	t.Cleanup(func() { sandboxAvailable = saved })
}

// -run that names a lab 0 check builds nothing for the checks against
// Linux, and the reverse; a pattern the grader cannot judge runs the suite.
func TestRunThatMatchesNoneOfASuiteBuildsNothing(t *testing.T) {
	root, err := findRoot("")
	require.NoError(t, err)
	var webget, bytestream suite
	for _, s := range stageSuites(0) {
		switch {
		case s.pkg == interopPkg:
			webget = s
		case s.bench == "":
			bytestream = s
		}
	}
	cases := []struct {
		run                string
		webget, bytestream bool // matches none
	}{
		{"TestByteStreamBasics", true, false},
		{"^TestByteStreamBasics$/^a_new_stream_is_empty_and_open$", true, false},
		{"TestWebget", false, true},
		{"TestTransfersWithLinux", true, true}, // interop's, but not webget's suite
		{"Peek|Webget", false, false},
		{"[a/b]", false, false}, // a slash inside brackets: left to go test
		{"", false, false},
	}
	for _, c := range cases {
		g := &grading{root: root}
		if c.run != "" {
			g.cfg.run = regexp.MustCompile(c.run)
		}
		require.Equal(t, c.webget, g.runMatchesNone(webget), "-run %q, webget", c.run)
		require.Equal(t, c.bytestream, g.runMatchesNone(bytestream), "-run %q, byte stream", c.run)
	}

	var stdout, stderr bytes.Buffer
	code := run([]string{"check0", "-run", "TestByteStreamBasics"}, &stdout, &stderr)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	require.Contains(t, stdout.String(), "webget over Linux's TCP (internal/interop)\n  (no checks matched)")
	require.NotContains(t, stderr.String(), "internal/interop: building", "nothing is built for the checks against Linux")
}
