// Package harness runs step-driven tests: a test is a named list of actions
// and expectations applied in order to one system under test.
//
// When an expectation fails, the report lists every step taken so far and
// the failing one with a go-cmp diff, so a student sees which step broke and
// how, not only that something did:
//
//	steps so far:
//	  1. push "hello"
//	  2. close
//	✗ 3. expect bytes buffered: (-want +got)
//	      uint64(
//	  -   5,
//	  +   4,
//	    )
//
// A step that panics is reported the same way, with the panic's value, and
// the test stops there.
//
// The labs' tests use it; it is test scaffolding, not part of any lab.
package harness

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Step is one action or expectation.
type Step[T any] struct {
	// Name says what the step does, as the lecture would ("push \"abc\"",
	// "expect ackno 6984").
	Name string
	// Run applies the step to the subject. A non-nil error fails the test
	// and is shown under the step.
	Run func(subject T) error
}

// Do makes a step that acts on the subject and cannot fail by itself.
func Do[T any](name string, act func(T)) Step[T] {
	return Step[T]{Name: name, Run: func(s T) error { act(s); return nil }}
}

// Expect makes a step that reads a value from the subject and compares it
// with want. Options go to cmp.Diff.
func Expect[T, V any](name string, get func(T) V, want V, opts ...cmp.Option) Step[T] {
	return Step[T]{
		Name: "expect " + name,
		Run: func(s T) error {
			if d := cmp.Diff(want, get(s), opts...); d != "" {
				return fmt.Errorf("(-want +got)\n%s", d)
			}
			return nil
		},
	}
}

// Check makes a step from a predicate with its own failure message.
func Check[T any](name string, check func(T) error) Step[T] {
	return Step[T]{Name: "expect " + name, Run: check}
}

// Describer is implemented by subjects that can show what happened so far
// in a picture, such as the ladder diagram of the messages a connection
// exchanged. A failure report shows it above the steps.
type Describer interface {
	Describe() string
}

// Run applies steps to subject in order and fails t at the first failing
// step, with the list of steps taken so far.
func Run[T any](t testing.TB, subject T, steps ...Step[T]) {
	t.Helper()
	for i, step := range steps {
		if err := runStep(step, subject); err != nil {
			report := Report(steps[:i], i, step.Name, err)
			if d, ok := any(subject).(Describer); ok {
				if pic := describe(d); pic != "" {
					report = "\n" + pic + report
				}
			}
			t.Fatal(report)
		}
	}
}

// describe calls d.Describe, which must not turn a clear failure into a
// panic of its own.
func describe(d Describer) (s string) {
	defer func() {
		if recover() != nil {
			s = ""
		}
	}()
	if pic := strings.TrimRight(d.Describe(), "\n"); pic != "" {
		return pic + "\n"
	}
	return ""
}

// runStep runs one step and turns a panic into an error that says where
// in the lab it happened: recovered here, the panic's stack trace is never
// printed, and a student needs the line of their code, not the step's.
func runStep[T any](step Step[T], subject T) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
			// Still inside the deferred call, the stack holds the frames
			// that panicked.
			pcs := make([]uintptr, 64)
			n := runtime.Callers(2, pcs)
			if at := labFrame(runtime.CallersFrames(pcs[:n])); at != "" {
				err = fmt.Errorf("panic: %v\n  at %s", p, at)
			}
		}
	}()
	return step.Run(subject)
}

// FailOnPanic, deferred at the top of a test that calls lab code outside
// any step (a fuzz target, a measurement), turns a panic into the test's
// failure, with the line of lab code that panicked. Uncaught, the panic
// would end the test binary, and with it every test still to run.
func FailOnPanic(t testing.TB) {
	p := recover()
	if p == nil {
		return
	}
	t.Helper()
	msg := fmt.Sprintf("panic: %v", p)
	pcs := make([]uintptr, 64)
	n := runtime.Callers(2, pcs)
	if at := labFrame(runtime.CallersFrames(pcs[:n])); at != "" {
		msg += "\n  at " + at
	}
	t.Fatal(msg)
}

// frameSource is what runtime.Frames offers.
type frameSource interface{ Next() (runtime.Frame, bool) }

// labFrame returns the innermost frame in a lab's own code (a file under
// labs/ that is not a test) as "labs/0-bytestream/bytestream.go:50
// ((*Writer).Push)", or "" if none is on the stack.
func labFrame(frames frameSource) string {
	for {
		f, more := frames.Next()
		if i := strings.LastIndex(f.File, "/labs/"); i >= 0 && !strings.HasSuffix(f.File, "_test.go") {
			fn := f.Function
			if j := strings.LastIndexByte(fn, '/'); j >= 0 {
				fn = fn[j+1:]
			}
			if _, method, ok := strings.Cut(fn, "."); ok {
				fn = method
			}
			return fmt.Sprintf("%s:%d (%s)", f.File[i+1:], f.Line, fn)
		}
		if !more {
			return ""
		}
	}
}

// Report formats a failure: the steps that ran, then the failing step and
// its error, indented under it. The grader prints it as it is.
func Report[T any](done []Step[T], failed int, name string, err error) string {
	var b strings.Builder
	b.WriteString("\n")
	if len(done) > 0 {
		b.WriteString("steps so far:\n")
		for i, s := range done {
			fmt.Fprintf(&b, "  %d. %s\n", i+1, s.Name)
		}
	}
	fmt.Fprintf(&b, "✗ %d. %s\n", failed+1, name)
	for _, line := range strings.Split(strings.TrimRight(err.Error(), "\n"), "\n") {
		b.WriteString("      " + line + "\n")
	}
	return b.String()
}
