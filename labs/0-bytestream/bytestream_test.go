package bytestream_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"tcplab/internal/harness"
	"tcplab/labs/0-bytestream"
)

// The tests drive one stream through a named list of steps, as the handout
// describes it: push, close, pop, and look at what the stream reports.

type step = harness.Step[*bytestream.ByteStream]

// show names data in a step without flooding the report.
func show(data string) string {
	if len(data) <= 24 {
		return fmt.Sprintf("%q", data)
	}
	return fmt.Sprintf("%d bytes %q…", len(data), data[:12])
}

// yesNo names an expectation about a flag by the value it expects.
func yesNo(want bool, yes, no string) string {
	if want {
		return yes
	}
	return no
}

func push(data string) step {
	return harness.Do("push "+show(data), func(s *bytestream.ByteStream) {
		s.Writer().Push([]byte(data))
	})
}

func closeStream() step {
	return harness.Do("close", func(s *bytestream.ByteStream) { s.Writer().Close() })
}

func setWriterError() step {
	return harness.Do("writer sets the error", func(s *bytestream.ByteStream) { s.Writer().SetError() })
}

func setReaderError() step {
	return harness.Do("reader sets the error", func(s *bytestream.ByteStream) { s.Reader().SetError() })
}

func pop(n uint64) step {
	return harness.Do(fmt.Sprintf("pop %d", n), func(s *bytestream.ByteStream) { s.Reader().Pop(n) })
}

func bytesBuffered(n uint64) step {
	return harness.Expect(fmt.Sprintf("%d bytes buffered", n), func(s *bytestream.ByteStream) uint64 { return s.Reader().BytesBuffered() }, n)
}

func bytesPushed(n uint64) step {
	return harness.Expect(fmt.Sprintf("%d bytes pushed", n), func(s *bytestream.ByteStream) uint64 { return s.Writer().BytesPushed() }, n)
}

func bytesPopped(n uint64) step {
	return harness.Expect(fmt.Sprintf("%d bytes popped", n), func(s *bytestream.ByteStream) uint64 { return s.Reader().BytesPopped() }, n)
}

func availableCapacity(n uint64) step {
	return harness.Expect(fmt.Sprintf("available capacity %d", n), func(s *bytestream.ByteStream) uint64 { return s.Writer().AvailableCapacity() }, n)
}

func isClosed(want bool) step {
	return harness.Expect(yesNo(want, "closed", "not closed"), func(s *bytestream.ByteStream) bool { return s.Writer().IsClosed() }, want)
}

func isFinished(want bool) step {
	return harness.Expect(yesNo(want, "finished", "not finished"), func(s *bytestream.ByteStream) bool { return s.Reader().IsFinished() }, want)
}

// errorFlags is what each end says about the error, so a diff shows which
// end disagrees.
type errorFlags struct{ Writer, Reader bool }

func hasError(want bool) step {
	return harness.Expect(yesNo(want, "the error on both ends", "no error on either end"), func(s *bytestream.ByteStream) errorFlags {
		return errorFlags{Writer: s.Writer().HasError(), Reader: s.Reader().HasError()}
	}, errorFlags{Writer: want, Reader: want})
}

// peek checks the contract of Peek: a non-empty prefix of the buffered bytes
// whenever some are buffered (want), nothing when none are. It pops nothing.
func peek(want string) step {
	return harness.Check("peek shows a prefix of "+show(want), func(s *bytestream.ByteStream) error {
		got := string(s.Reader().Peek())
		switch {
		case want == "" && got != "":
			return fmt.Errorf("peek on an empty stream returned %q", got)
		case want != "" && got == "":
			return fmt.Errorf("peek returned nothing, but %d bytes are buffered", len(want))
		case !strings.HasPrefix(want, got):
			return fmt.Errorf("peek is not a prefix of the buffered bytes: (-want +got)\n%s",
				cmp.Diff(want[:min(len(want), len(got))], got))
		}
		return nil
	})
}

// read takes len(want) bytes out of the stream the way a reader does,
// peeking and popping as many times as it takes, and compares them.
func read(want string) step {
	return step{Name: "read " + show(want), Run: func(s *bytestream.ByteStream) error {
		return readFrom(s.Reader(), want)
	}}
}

func readFrom(r *bytestream.Reader, want string) error {
	var got []byte
	for len(got) < len(want) {
		p := r.Peek()
		if len(p) == 0 {
			return fmt.Errorf("peek returned nothing after %d of %d bytes (bytes buffered %d)",
				len(got), len(want), r.BytesBuffered())
		}
		p = p[:min(len(p), len(want)-len(got))]
		got = append(got, p...)
		r.Pop(uint64(len(p)))
	}
	if d := cmp.Diff(want, string(got)); d != "" {
		return fmt.Errorf("(-want +got)\n%s", d)
	}
	return nil
}

// peekDoesNotCopy checks that Peek hands out a view of the stream's own
// memory: a Peek that copies allocates on every call.
func peekDoesNotCopy() step {
	return harness.Check("peek allocates nothing", func(s *bytestream.ByteStream) error {
		if n := testing.AllocsPerRun(100, func() { s.Reader().Peek() }); n != 0 {
			return fmt.Errorf("peek allocated %v times per call; it should return a view, not a copy", n)
		}
		return nil
	})
}

// pushPopAllocatesNothing checks that a stream, once made, moves bytes
// without allocating: rounds of push, peek and pop of sizes that walk the
// bytes across the buffer's end, and a push that fills the stream to its
// capacity. (A stream that appends to a slice and
// re-slices it from the front passes every other lab 0 check and then
// fails the later labs' TestSteadyStateAllocatesNothing.)
func pushPopAllocatesNothing() step {
	return harness.Check("push, peek and pop allocate nothing", func(s *bytestream.ByteStream) error {
		data := []byte("0123456789abcdefghijklmnopqrstuvwxyz")
		full := make([]byte, s.Capacity())
		drain := func() {
			for s.Reader().BytesBuffered() > 0 {
				s.Reader().Pop(uint64(len(s.Reader().Peek())))
			}
		}
		round := func() {
			for n := 1; n <= len(data); n += 7 {
				s.Writer().Push(data[:n])
				drain()
			}
			s.Writer().Push(full)
			drain()
		}
		round() // a stream may take its memory on first use
		if n := testing.AllocsPerRun(100, round); n != 0 {
			return fmt.Errorf("a round of pushes and pops allocated %v times; the stream should allocate its buffer once and reuse it", n)
		}
		return nil
	})
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
			harness.Run(t, bytestream.New(sc.capacity), sc.steps...)
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

func TestByteStreamBasics(t *testing.T) {
	runScenarios(t, []scenario{
		{"a new stream is empty and open", 15, []step{
			isClosed(false), isFinished(false), hasError(false),
			bytesBuffered(0), bytesPushed(0), bytesPopped(0), availableCapacity(15), peek(""),
		}},
		{"closing an empty stream finishes it", 15, []step{
			closeStream(), isClosed(true), isFinished(true), bytesBuffered(0), hasError(false),
		}},
		{"an error set by the writer is seen by the reader", 15, []step{
			setWriterError(), hasError(true), isClosed(false),
		}},
		{"an error set by the reader is seen by the writer", 15, []step{
			setReaderError(), hasError(true), isFinished(false),
		}},
		{"pushed bytes are buffered until popped", 15, []step{
			push("cat"), bytesPushed(3), bytesBuffered(3), availableCapacity(12), bytesPopped(0),
			read("cat"), bytesBuffered(0), bytesPopped(3), availableCapacity(15), isFinished(false),
		}},
		{"two pushes are read back in order", 15, []step{
			push("tc"), push("p"), bytesPushed(3), bytesBuffered(3), read("tcp"), bytesPopped(3),
		}},
		{"popping part leaves the rest buffered", 15, []step{
			push("hello"), pop(2), bytesPopped(2), bytesBuffered(3), availableCapacity(12), read("llo"),
		}},
		{"pushing nothing changes nothing", 15, []step{
			push(""), bytesPushed(0), bytesBuffered(0), peek(""), push("a"), push(""), bytesPushed(1), read("a"),
		}},
	})
}

func TestByteStreamCloseAndFinish(t *testing.T) {
	runScenarios(t, []scenario{
		{"a closed stream finishes only once everything is popped", 15, []step{
			push("cat"), closeStream(), isClosed(true), isFinished(false), bytesBuffered(3),
			pop(2), isFinished(false), pop(1), isFinished(true), bytesPopped(3),
		}},
		{"a push after close is ignored", 15, []step{
			push("ab"), closeStream(), push("cd"), bytesPushed(2), bytesBuffered(2), read("ab"), isFinished(true),
		}},
		{"closing twice is harmless", 15, []step{
			push("x"), closeStream(), closeStream(), isClosed(true), read("x"), isFinished(true),
		}},
		{"an error does not close the stream", 15, []step{
			push("abc"), setWriterError(), hasError(true), isClosed(false), isFinished(false), read("abc"),
		}},
		// Lab 3 relies on it (a stream in error makes every new message
		// carry RST); fails on the catalogue's push-ignored-in-error.
		{"pushes after an error are still accepted", 15, []step{
			push("ab"), setReaderError(), push("cd"), bytesPushed(4), hasError(true), read("abcd"),
			setWriterError(), push("e"), closeStream(), push("f"), bytesPushed(5), read("e"), isFinished(true),
		}},
		{"a stream can be closed and in error at once", 15, []step{
			push("ab"), closeStream(), setReaderError(), hasError(true), isClosed(true), read("ab"), isFinished(true),
		}},
	})
}

func TestByteStreamCapacity(t *testing.T) {
	runScenarios(t, []scenario{
		{"a push beyond capacity is truncated", 2, []step{
			push("cat"), bytesPushed(2), bytesBuffered(2), availableCapacity(0), read("ca"),
		}},
		{"a full stream accepts nothing until a pop", 2, []step{
			push("ab"), push("cd"), bytesPushed(2), availableCapacity(0),
			pop(1), availableCapacity(1), push("cd"), bytesPushed(3), read("bc"),
		}},
		{"a push of exactly the capacity fits", 5, []step{
			push("fives"), bytesPushed(5), availableCapacity(0), read("fives"),
		}},
		{"bytes pushed counts only what was accepted", 3, []step{
			push("abcdef"), push("gh"), bytesPushed(3), pop(3), push("ghijk"), bytesPushed(6), read("ghi"),
		}},
		{"bytes come out in order after the buffer wraps around", 4, []step{
			push("abc"), pop(2), push("def"), bytesBuffered(4), availableCapacity(0),
			peek("cdef"), read("cdef"), push("ghij"), read("ghij"),
		}},
		{"a long stream passes through a small buffer", 3, concat(
			func() []step {
				var s []step
				for i := range 20 {
					w := fmt.Sprintf("%c%c%c", 'a'+i%26, 'b'+i%25, 'c'+i%24)
					s = append(s, push(w), read(w[:2]), push(w[:2]), read(w[2:]+w[:2]))
				}
				return s
			}(),
			[]step{closeStream(), isFinished(true), bytesPushed(100), bytesPopped(100)},
		)},
		{"a stream of capacity 0 accepts nothing", 0, []step{
			availableCapacity(0), push("a"), bytesPushed(0), bytesBuffered(0), peek(""),
			closeStream(), isFinished(true),
		}},
		{"a stream of capacity 1 carries one byte at a time", 1, []step{
			push("ab"), bytesPushed(1), availableCapacity(0), push("c"), read("a"),
			push("cd"), bytesPushed(2), read("c"), push("d"), read("d"), closeStream(), isFinished(true), bytesPopped(3),
		}},
	})
}

func TestByteStreamManyWrites(t *testing.T) {
	// The writes are fixed, so a failure repeats; their lengths vary so the
	// reads land at every offset of the ring.
	manyWrites := func(writes int) []step {
		var s []step
		var pushed, popped uint64
		for i := range writes {
			n := uint64(1 + i*7%13)
			w := strings.Repeat(string(rune('a'+i%26)), int(n))
			s = append(s, push(w), read(w), bytesPushed(pushed+n), bytesPopped(popped+n), bytesBuffered(0))
			pushed, popped = pushed+n, popped+n
		}
		return append(s, closeStream(), isFinished(true))
	}
	runScenarios(t, []scenario{
		{"a thousand writes each read at once", 16, manyWrites(1000)},
		{"many writes read back after they are all buffered", 4096, concat(
			func() []step {
				var s []step
				for i := range 100 {
					s = append(s, push(fmt.Sprintf("%03d", i)))
				}
				return s
			}(),
			[]step{bytesBuffered(300), closeStream(), isFinished(false)},
			func() []step {
				var s []step
				for i := range 100 {
					s = append(s, read(fmt.Sprintf("%03d", i)))
				}
				return s
			}(),
			[]step{isFinished(true), bytesPopped(300)},
		)},
	})
}

func TestByteStreamPeek(t *testing.T) {
	runScenarios(t, []scenario{
		{"peek on an empty stream shows nothing", 8, []step{peek(""), bytesPopped(0)}},
		{"peek does not pop", 8, []step{
			push("abc"), peek("abc"), peek("abc"), bytesPopped(0), bytesBuffered(3), availableCapacity(5), read("abc"),
		}},
		{"peek shows the oldest bytes after a partial pop", 8, []step{
			push("abcdef"), pop(4), peek("ef"), bytesPopped(4), bytesBuffered(2),
		}},
		{"peek shows a prefix when the bytes wrap around the buffer", 4, []step{
			push("abcd"), pop(3), push("efg"), peek("defg"), bytesPopped(3), bytesBuffered(4), read("defg"),
		}},
		{"peek returns a view, not a copy", 64, []step{push("view me"), peekDoesNotCopy(), read("view me")}},
		{"pushes and pops reuse the stream's memory", 64, []step{pushPopAllocatesNothing(), bytesBuffered(0)}},
	})
}
