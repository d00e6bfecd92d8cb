package reassembler_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"tcplab/internal/harness"
	"tcplab/labs/0-bytestream"
	"tcplab/labs/1-reassembler"
)

// The tests drive one reassembler, writing into a stream of a given
// capacity, through a named list of steps: substrings inserted at their
// index, reads by the application, and what the reassembler and its output
// stream report in between.

type step = harness.Step[*reassembler.Reassembler]

// show names data in a step without flooding the report.
func show(data string) string {
	if len(data) <= 24 {
		return fmt.Sprintf("%q", data)
	}
	return fmt.Sprintf("%d bytes %q…", len(data), data[:12])
}

// insert gives the reassembler the substring data starting at stream index
// first; last says it ends the stream.
func insert(first uint64, data string, last bool) step {
	name := fmt.Sprintf("insert %s at %d", show(data), first)
	if last {
		name = fmt.Sprintf("insert last substring %s at %d", show(data), first)
	}
	return harness.Do(name, func(r *reassembler.Reassembler) {
		r.Insert(first, []byte(data), last)
	})
}

// yesNo names an expectation about a flag by the value it expects.
func yesNo(want bool, yes, no string) string {
	if want {
		return yes
	}
	return no
}

func bytesPending(n uint64) step {
	return harness.Expect(fmt.Sprintf("%d bytes pending", n), func(r *reassembler.Reassembler) uint64 { return r.BytesPending() }, n)
}

// bytesPushed is how many bytes the reassembler has written in order.
func bytesPushed(n uint64) step {
	return harness.Expect(fmt.Sprintf("%d bytes written to the stream", n), func(r *reassembler.Reassembler) uint64 { return r.Writer().BytesPushed() }, n)
}

func bytesBuffered(n uint64) step {
	return harness.Expect(fmt.Sprintf("%d bytes buffered in the stream", n), func(r *reassembler.Reassembler) uint64 { return r.Reader().BytesBuffered() }, n)
}

func availableCapacity(n uint64) step {
	return harness.Expect(fmt.Sprintf("available capacity %d", n), func(r *reassembler.Reassembler) uint64 { return r.Writer().AvailableCapacity() }, n)
}

func isClosed(want bool) step {
	return harness.Expect(yesNo(want, "the stream closed", "the stream not closed"), func(r *reassembler.Reassembler) bool { return r.Writer().IsClosed() }, want)
}

func isFinished(want bool) step {
	return harness.Expect(yesNo(want, "the stream finished", "the stream not finished"), func(r *reassembler.Reassembler) bool { return r.Reader().IsFinished() }, want)
}

// readAll takes every byte buffered in the output stream, as the
// application would, and compares them with want. A read is something the
// application does, so its step is not named "expect".
func readAll(want string) step {
	return step{Name: "read " + show(want), Run: func(r *reassembler.Reassembler) error {
		return readFrom(r.Reader(), want, true)
	}}
}

// read takes len(want) bytes from the output stream and compares them.
func read(want string) step {
	return step{Name: "read " + show(want) + " (and no more)", Run: func(r *reassembler.Reassembler) error {
		return readFrom(r.Reader(), want, false)
	}}
}

func readFrom(r *bytestream.Reader, want string, all bool) error {
	var got []byte
	for {
		if !all && len(got) == len(want) {
			break
		}
		p := r.Peek()
		if len(p) == 0 {
			break
		}
		if !all {
			p = p[:min(len(p), len(want)-len(got))]
		}
		got = append(got, p...)
		r.Pop(uint64(len(p)))
	}
	if d := cmp.Diff(want, string(got)); d != "" {
		return fmt.Errorf("the stream held other bytes: (-want +got)\n%s", d)
	}
	return nil
}

type scenario struct {
	name     string
	capacity uint64
	steps    []step
}

func runScenarios(t *testing.T, scenarios []scenario) {
	t.Helper()
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			harness.Run(t, reassembler.New(bytestream.New(sc.capacity)), sc.steps...)
		})
	}
}

// concat joins step lists, for scenarios built in loops.
func concat(lists ...[]step) []step {
	var all []step
	for _, l := range lists {
		all = append(all, l...)
	}
	return all
}
