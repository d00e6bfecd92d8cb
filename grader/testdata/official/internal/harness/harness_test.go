package harness

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

type counter struct{ n int }

// recorder is a testing.TB that keeps the failure instead of failing.
type recorder struct {
	testing.TB
	msg string
}

func (r *recorder) Helper()           {}
func (r *recorder) Fatal(args ...any) { r.msg = args[0].(string); panic(r) }
func (r *recorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	panic(r)
}

func run(steps ...Step[*counter]) (msg string) {
	r := &recorder{}
	defer func() {
		if p := recover(); p != nil && p != any(r) {
			panic(p)
		}
		msg = r.msg
	}()
	Run[*counter](r, &counter{}, steps...)
	return ""
}

// drawn is a subject that can draw itself.
type drawn struct{}

func (d *drawn) Describe() string { return "A ──▶ B" }

func TestRunShowsTheSubjectsPictureAboveTheSteps(t *testing.T) {
	r := &recorder{}
	func() {
		defer func() { _ = recover() }()
		Run[*drawn](r, &drawn{}, Do("step", func(*drawn) {}), Check("fails", func(*drawn) error { return errors.New("no") }))
	}()
	require.Contains(t, r.msg, "A ──▶ B\n\nsteps so far:")
}

func inc() Step[*counter] { return Do("increment", func(c *counter) { c.n++ }) }

func count(want int) Step[*counter] {
	return Expect("count", func(c *counter) int { return c.n }, want)
}

func TestRun(t *testing.T) {
	tests := []struct {
		name  string
		steps []Step[*counter]
		want  []string // substrings of the report; none means it passes
	}{
		{"passing steps report nothing", []Step[*counter]{inc(), count(1)}, nil},
		{"a failed expectation lists the steps and the diff",
			[]Step[*counter]{inc(), inc(), count(3)},
			[]string{"steps so far:\n  1. increment\n  2. increment\n", "✗ 3. expect count", "3,", "2,"}},
		{"a panic is reported at its step",
			[]Step[*counter]{Do("explode", func(*counter) { panic("boom") })},
			[]string{"✗ 1. explode", "panic: boom"}},
		{"a check's own error is shown",
			[]Step[*counter]{Check("even", func(*counter) error { return errors.New("odd, sadly") })},
			[]string{"✗ 1. expect even", "odd, sadly"}},
		{"steps after a failure do not run",
			[]Step[*counter]{count(5), Do("must not run", func(*counter) { panic("ran") })},
			[]string{"✗ 1. expect count"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := run(tt.steps...)
			if tt.want == nil {
				require.Empty(t, msg)
				return
			}
			for _, w := range tt.want {
				require.True(t, strings.Contains(msg, w), "report %q lacks %q", msg, w)
			}
		})
	}
}

// frames is a made-up stack, innermost first.
type frames []runtime.Frame

func (f *frames) Next() (runtime.Frame, bool) {
	if len(*f) == 0 {
		return runtime.Frame{}, false
	}
	fr := (*f)[0]
	*f = (*f)[1:]
	return fr, len(*f) > 0
}

func TestLabFrameIsTheStudentsLine(t *testing.T) {
	cases := []struct {
		name  string
		stack frames
		want  string
	}{
		{"the innermost frame in lab code, not the runtime's or the test's", frames{
			{Function: "runtime.panicmem", File: "/usr/local/go/src/runtime/panic.go", Line: 262},
			{Function: "tcplab/labs/0-bytestream.(*Writer).Push", File: "/home/ana/tcplab/labs/0-bytestream/bytestream.go", Line: 50},
			{Function: "tcplab/labs/0-bytestream.push.func1", File: "/home/ana/tcplab/labs/0-bytestream/bytestream_test.go", Line: 30},
		}, "labs/0-bytestream/bytestream.go:50 ((*Writer).Push)"},
		{"a lab's helper called from the test's steps", frames{
			{Function: "tcplab/labs/0-bytestream_test.push.func1", File: "/t/labs/0-bytestream/bytestream_test.go", Line: 30},
			{Function: "tcplab/labs/1-reassembler.New", File: "/t/labs/1-reassembler/reassembler.go", Line: 9},
		}, "labs/1-reassembler/reassembler.go:9 (New)"},
		{"no lab code on the stack", frames{
			{Function: "tcplab/internal/harness.TestRun.func1", File: "/t/internal/harness/harness_test.go", Line: 1},
		}, ""},
		{"an empty stack", frames{}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, labFrame(&c.stack))
		})
	}
}

func TestShrink(t *testing.T) {
	// The "bug" shows when an op of 5 or more comes after one of 2 or more.
	fails := func(ops []int) bool {
		seen := false
		for _, o := range ops {
			if seen && o >= 5 {
				return true
			}
			seen = seen || o >= 2
		}
		return false
	}
	smaller := func(o int) []int { return []int{o / 2, o - 1} }
	tests := []struct {
		name    string
		ops     []int
		smaller func(int) []int
		want    []int
	}{
		{"unrelated ops go", []int{9, 1, 3, 8, 0}, nil, []int{3, 8}},
		{"a failing list of one pair stays", []int{2, 5}, nil, []int{2, 5}},
		{"simpler ops replace bigger ones", []int{9, 1, 3, 8, 0}, smaller, []int{2, 5}},
		{"a smaller that never ends is stopped", []int{0, 3, 9}, func(o int) []int { return []int{o} }, []int{3, 9}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, Shrink(tt.ops, fails, tt.smaller))
		})
	}
}

// blank is a subject with nothing to draw yet.
type blank struct{}

func (blank) Describe() string { return "\n" }

func TestRunLeavesOutAnEmptyPicture(t *testing.T) {
	r := &recorder{}
	func() {
		defer func() { _ = recover() }()
		Run[blank](r, blank{}, Check("fails", func(blank) error { return errors.New("no") }))
	}()
	require.Equal(t, "\n✗ 1. expect fails\n      no\n", r.msg)
}

func TestRunShrunkReportsTheShortList(t *testing.T) {
	// Counting to 3 is the bug: the model says the count never exceeds 2.
	script := func(ops []int) []Step[*counter] {
		var steps []Step[*counter]
		n := 0
		for _, o := range ops {
			if o == 1 {
				steps = append(steps, inc())
				n++
			}
			steps = append(steps, count(min(n, 2)))
		}
		return steps
	}
	r := &recorder{}
	func() {
		defer func() { _ = recover() }()
		RunShrunk[*counter, int](r, "round 9", []int{0, 1, 0, 1, 1, 0, 1, 1}, func() *counter { return &counter{} }, script, nil)
	}()
	require.Contains(t, r.msg, "round 9: failed after 8 operations; shrunk to 3:")
	require.Contains(t, r.msg, "steps so far:\n  1. increment\n  2. expect count\n  3. increment\n  4. expect count\n  5. increment\n✗ 6. expect count")
}

func TestFailOnPanicFailsTheTestInstead(t *testing.T) {
	r := &recorder{}
	func() {
		defer func() { _ = recover() }() // the recorder's Fatal panics to stop
		func() {
			defer FailOnPanic(r)
			panic("lab code gave up")
		}()
	}()
	require.Equal(t, "panic: lab code gave up", r.msg)

	r = &recorder{}
	func() {
		defer FailOnPanic(r)
	}()
	require.Empty(t, r.msg, "no panic, no failure")
}
