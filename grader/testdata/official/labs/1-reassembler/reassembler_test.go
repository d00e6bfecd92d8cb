package reassembler_test

import (
	"fmt"
	"strings"
	"testing"
)

// A stream this large never limits a scenario unless it says so.
const roomy = 65000

func TestReassemblerSingle(t *testing.T) {
	runScenarios(t, []scenario{
		{"a substring at index 0 is written at once", roomy, []step{
			insert(0, "abcd", false), bytesPushed(4), bytesPending(0), readAll("abcd"), isClosed(false),
		}},
		{"a single byte at index 0 is written at once", roomy, []step{
			insert(0, "a", false), bytesPushed(1), bytesPending(0), readAll("a"),
		}},
		{"an empty substring writes nothing", roomy, []step{
			insert(0, "", false), bytesPushed(0), bytesPending(0), isClosed(false), readAll(""),
		}},
		{"an empty last substring at index 0 closes the stream", roomy, []step{
			insert(0, "", true), bytesPushed(0), bytesPending(0), isClosed(true), isFinished(true),
		}},
		{"a last substring at index 0 is written and closes the stream", roomy, []step{
			insert(0, "abcd", true), bytesPushed(4), isClosed(true), isFinished(false), readAll("abcd"), isFinished(true),
		}},
		{"a substring after index 0 is held, not written", roomy, []step{
			insert(1, "bcd", false), bytesPushed(0), bytesPending(3), readAll(""), isClosed(false),
		}},
		{"the missing first byte releases the held substring", roomy, []step{
			insert(1, "bcd", false), insert(0, "a", false), bytesPushed(4), bytesPending(0), readAll("abcd"),
		}},
	})
}

func TestReassemblerSequential(t *testing.T) {
	runScenarios(t, []scenario{
		{"consecutive substrings are written as they arrive", roomy, []step{
			insert(0, "abcd", false), bytesPushed(4), insert(4, "efgh", false), bytesPushed(8),
			bytesPending(0), readAll("abcdefgh"),
		}},
		{"the application reads between consecutive substrings", roomy, []step{
			insert(0, "abcd", false), readAll("abcd"), insert(4, "efgh", false), readAll("efgh"),
			bytesPushed(8), bytesPending(0),
		}},
		{"consecutive substrings end with the last one", roomy, []step{
			insert(0, "ab", false), insert(2, "cd", false), isClosed(false), insert(4, "ef", true),
			isClosed(true), readAll("abcdef"), isFinished(true),
		}},
		{"a hundred consecutive substrings are read at the end", roomy, concat(
			func() []step {
				var s []step
				for i := range 100 {
					s = append(s, insert(uint64(3*i), fmt.Sprintf("%03d", i), false), bytesPending(0))
				}
				return s
			}(),
			[]step{bytesPushed(300), readAll(counting(100))},
		)},
		{"a hundred consecutive substrings are each read as they come", roomy, func() []step {
			var s []step
			for i := range 100 {
				w := fmt.Sprintf("%03d", i)
				s = append(s, insert(uint64(3*i), w, false), readAll(w))
			}
			return append(s, bytesPushed(300))
		}()},
		{"a long stream passes through a small capacity", 8, func() []step {
			var s []step
			text := counting(48)
			for i := 0; i < len(text); i += 4 {
				s = append(s, insert(uint64(i), text[i:i+4], i+4 == len(text)))
				if i%8 == 4 {
					s = append(s, availableCapacity(0), readAll(text[i-4:i+4]))
				}
			}
			return append(s, isFinished(true), bytesPushed(144))
		}()},
	})
}

func TestReassemblerDuplicates(t *testing.T) {
	runScenarios(t, []scenario{
		{"a repeat of written bytes is ignored", roomy, []step{
			insert(0, "abcd", false), insert(0, "abcd", false), bytesPushed(4), bytesPending(0), readAll("abcd"),
		}},
		{"a repeat of bytes already read is ignored", roomy, []step{
			insert(0, "abcd", false), readAll("abcd"), insert(0, "abcd", false), bytesPushed(4), bytesPending(0), readAll(""),
		}},
		{"a repeat of pending bytes counts once", roomy, []step{
			insert(4, "efgh", false), insert(4, "efgh", false), bytesPending(4),
			insert(0, "abcd", false), bytesPending(0), bytesPushed(8), readAll("abcdefgh"),
		}},
		{"a piece of written bytes is ignored", roomy, []step{
			insert(0, "abcdefgh", false), insert(2, "cde", false), bytesPushed(8), bytesPending(0), readAll("abcdefgh"),
		}},
		{"a repeat that runs past the written bytes adds only the new ones", roomy, []step{
			insert(0, "abcd", false), insert(0, "abcdef", false), bytesPushed(6), bytesPending(0), readAll("abcdef"),
		}},
		{"repeats in every position leave the stream intact", roomy, func() []step {
			const text = "abcdefghijklmnop"
			var s []step
			for _, r := range [][2]int{{0, 4}, {2, 6}, {0, 6}, {4, 10}, {1, 3}, {12, 16}, {8, 16}, {0, 16}, {15, 16}, {3, 9}} {
				s = append(s, insert(uint64(r[0]), text[r[0]:r[1]], false))
			}
			return append(s, bytesPushed(16), bytesPending(0), readAll(text))
		}()},
	})
}

func TestReassemblerHoles(t *testing.T) {
	runScenarios(t, []scenario{
		{"a hole holds back the bytes after it", roomy, []step{
			insert(1, "b", false), bytesPushed(0), bytesPending(1), readAll(""),
		}},
		{"filling the hole writes everything", roomy, []step{
			insert(1, "b", false), insert(0, "a", false), bytesPushed(2), bytesPending(0), readAll("ab"),
		}},
		{"a last substring behind a hole waits for the hole", roomy, []step{
			insert(1, "b", true), isClosed(false), bytesPending(1),
			insert(0, "a", false), isClosed(true), readAll("ab"), isFinished(true),
		}},
		{"two holes filled from the front", roomy, []step{
			insert(1, "b", false), insert(3, "d", false), bytesPending(2),
			insert(0, "a", false), bytesPushed(2), bytesPending(1), readAll("ab"),
			insert(2, "c", false), bytesPushed(4), bytesPending(0), readAll("cd"),
		}},
		{"two holes filled from the back", roomy, []step{
			insert(1, "b", false), insert(3, "d", false), insert(2, "c", false), bytesPending(3), bytesPushed(0),
			insert(0, "a", false), bytesPushed(4), bytesPending(0), readAll("abcd"),
		}},
		{"one substring fills several holes", roomy, []step{
			insert(1, "b", false), insert(3, "d", false), insert(5, "f", false), bytesPending(3),
			insert(0, "abcdefg", false), bytesPushed(7), bytesPending(0), readAll("abcdefg"),
		}},
		{"filling a hole with a substring that ends inside pending bytes", roomy, []step{
			insert(2, "cdef", false), insert(0, "abcd", false), bytesPushed(6), bytesPending(0), readAll("abcdef"),
		}},
		{"a substring that starts in a hole and ends inside pending bytes", roomy, []step{
			insert(0, "a", false), insert(4, "efgh", false), bytesPending(4),
			insert(2, "cdef", false), bytesPending(6), bytesPushed(1),
			insert(1, "b", false), bytesPushed(8), bytesPending(0), readAll("abcdefgh"),
		}},
		{"a hole one byte wide", roomy, []step{
			insert(0, "ab", false), insert(3, "def", false), bytesPushed(2), bytesPending(3),
			insert(2, "c", false), bytesPushed(6), bytesPending(0), readAll("abcdef"),
		}},
		{"holes filled while the application reads", roomy, []step{
			insert(5, "fgh", false), insert(0, "ab", false), readAll("ab"), bytesPending(3),
			insert(2, "cde", false), readAll("cdefgh"), bytesPending(0),
		}},
		{"every other byte arrives first", roomy, func() []step {
			const text = "abcdefghijklmnopqrst"
			var s []step
			for i := 1; i < len(text); i += 2 {
				s = append(s, insert(uint64(i), text[i:i+1], false))
			}
			s = append(s, bytesPending(10))
			for i := 2; i < len(text); i += 2 {
				s = append(s, insert(uint64(i), text[i:i+1], false))
			}
			return append(s, bytesPending(19), bytesPushed(0),
				insert(0, "a", false), bytesPushed(20), bytesPending(0), readAll(text))
		}()},
	})
}

func TestReassemblerOverlapping(t *testing.T) {
	runScenarios(t, []scenario{
		{"a substring overlapping written bytes writes only the new ones", roomy, []step{
			insert(0, "abcd", false), insert(2, "cdef", false), bytesPushed(6), bytesPending(0), readAll("abcdef"),
		}},
		{"overlapping pending substrings count their shared bytes once", roomy, []step{
			insert(2, "cde", false), insert(4, "efg", false), bytesPending(5),
			insert(0, "ab", false), bytesPushed(7), bytesPending(0), readAll("abcdefg"),
		}},
		{"a pending substring inside another adds nothing", roomy, []step{
			insert(2, "cdefgh", false), insert(4, "ef", false), bytesPending(6),
			insert(0, "ab", false), bytesPushed(8), bytesPending(0), readAll("abcdefgh"),
		}},
		{"a pending substring covering another replaces it", roomy, []step{
			insert(4, "ef", false), insert(2, "cdefgh", false), bytesPending(6),
			insert(0, "ab", false), bytesPushed(8), bytesPending(0), readAll("abcdefgh"),
		}},
		{"a substring bridging two pending ones joins them", roomy, []step{
			insert(2, "cd", false), insert(6, "gh", false), bytesPending(4),
			insert(3, "defg", false), bytesPending(6),
			insert(0, "ab", false), bytesPushed(8), bytesPending(0), readAll("abcdefgh"),
		}},
		{"a substring overlapping the front of a pending one", roomy, []step{
			insert(4, "efgh", false), insert(2, "cdef", false), bytesPending(6),
			insert(0, "ab", false), bytesPushed(8), readAll("abcdefgh"),
		}},
		{"a substring touching a pending one end to end", roomy, []step{
			insert(2, "cd", false), insert(4, "ef", false), bytesPending(4),
			insert(0, "ab", false), bytesPushed(6), bytesPending(0), readAll("abcdef"),
		}},
		{"a substring spanning written bytes, a hole and pending bytes", roomy, []step{
			insert(0, "ab", false), insert(4, "ef", false), bytesPending(2),
			insert(1, "bcdefgh", false), bytesPushed(8), bytesPending(0), readAll("abcdefgh"),
		}},
		{"a chain of overlapping pending substrings, then the start", roomy, []step{
			insert(1, "bcd", false), insert(2, "cde", false), insert(3, "def", false),
			insert(4, "efg", false), insert(5, "fgh", false), bytesPending(7),
			insert(0, "a", false), bytesPushed(8), bytesPending(0), readAll("abcdefgh"),
		}},
		{"a substring covering pending ones and the holes between them", roomy, []step{
			insert(2, "c", false), insert(4, "e", false), insert(6, "g", false), bytesPending(3),
			insert(1, "bcdefgh", false), bytesPending(7),
			insert(0, "a", false), bytesPushed(8), bytesPending(0), readAll("abcdefgh"),
		}},
		{"pending substrings with the same start and different lengths", roomy, []step{
			insert(2, "cd", false), insert(2, "cdef", false), insert(2, "c", false), bytesPending(4),
			insert(0, "ab", false), bytesPushed(6), readAll("abcdef"),
		}},
		{"pending substrings with the same end and different starts", roomy, []step{
			insert(5, "f", false), insert(3, "def", false), insert(4, "ef", false), bytesPending(3),
			insert(0, "abc", false), bytesPushed(6), bytesPending(0), readAll("abcdef"),
		}},
		{"pending bytes are forgotten once an overlapping substring writes them", roomy, []step{
			insert(3, "de", false), bytesPending(2), insert(0, "abcdef", false), bytesPushed(6), bytesPending(0),
			readAll("abcdef"), insert(7, "h", false), bytesPending(1),
		}},
	})
}

func TestReassemblerCapacity(t *testing.T) {
	runScenarios(t, []scenario{
		{"bytes beyond the capacity are dropped", 2, []step{
			insert(0, "ab", false), bytesPushed(2), insert(2, "cd", false), bytesPushed(2), bytesPending(0),
			readAll("ab"), insert(2, "cd", false), bytesPushed(4), readAll("cd"),
		}},
		{"a substring longer than the capacity is cut to fit", 2, []step{
			insert(0, "abc", false), bytesPushed(2), bytesPending(0), readAll("ab"), bytesPushed(2),
			insert(2, "cd", false), readAll("cd"),
		}},
		{"a stored substring that wraps around the buffer comes out whole", 4, []step{
			insert(0, "ab", false), readAll("ab"), insert(3, "def", false), bytesPending(3),
			insert(2, "c", false), bytesPending(0), readAll("cdef"),
		}},
		{"unread bytes shrink the room for pending bytes", 4, []step{
			insert(0, "ab", false), bytesBuffered(2), availableCapacity(2), insert(3, "de", false), bytesPending(1),
			readAll("ab"), insert(2, "c", false), bytesPushed(4), bytesPending(0), readAll("cd"),
		}},
		{"a pending substring is cut at the end of the window", 4, []step{
			insert(2, "cdef", false), bytesPending(2), insert(0, "ab", false), bytesPushed(4), bytesPending(0),
			readAll("abcd"), insert(4, "ef", false), bytesPushed(6), readAll("ef"),
		}},
		{"a substring wholly beyond the window is dropped", 4, []step{
			insert(4, "efgh", false), bytesPending(0), insert(0, "abcd", false), bytesPushed(4),
			readAll("abcd"), bytesPushed(4), insert(4, "efgh", false), bytesPushed(8), readAll("efgh"),
		}},
		{"pending bytes never exceed the available capacity", 8, []step{
			insert(0, "abc", false), insert(4, "efghijkl", false), bytesPending(4), availableCapacity(5),
			insert(3, "d", false), bytesPushed(8), bytesPending(0), availableCapacity(0), readAll("abcdefgh"),
		}},
		{"a dropped substring is accepted when it comes again after a read", 3, []step{
			insert(0, "abc", false), insert(3, "def", false), bytesPending(0), bytesPushed(3),
			readAll("abc"), insert(3, "def", false), bytesPushed(6), readAll("def"),
		}},
		{"pending bytes keep their place while the window moves", 4, []step{
			insert(2, "c", false), insert(0, "a", false), bytesPushed(1), bytesPending(1),
			insert(3, "d", false), bytesPending(2), insert(1, "b", false), bytesPushed(4), bytesPending(0),
			readAll("abcd"),
		}},
		{"a stream of capacity 1 takes one byte at a time", 1, []step{
			insert(0, "ab", false), bytesPushed(1), insert(1, "b", false), bytesPending(0), readAll("a"),
			insert(1, "bc", false), bytesPushed(2), readAll("b"), insert(2, "c", true), isClosed(true),
			readAll("c"), isFinished(true),
		}},
		{"a stream of capacity 0 keeps nothing", 0, []step{
			insert(0, "ab", false), insert(1, "b", false), bytesPushed(0), bytesPending(0), isClosed(false),
		}},
		{"a reader that keeps up lets a long stream through a tiny window", 3, func() []step {
			text := counting(40)
			var s []step
			for i := 0; i < len(text); i += 3 {
				// Each piece arrives once too long: its tail is beyond the
				// window and must come again.
				s = append(s, insert(uint64(i), text[i:min(i+5, len(text))], false), bytesPending(0), readAll(text[i:i+3]))
			}
			return append(s, bytesPushed(120))
		}()},
	})
}

func TestReassemblerWindow(t *testing.T) {
	runScenarios(t, []scenario{
		{"a substring ending exactly at the window edge is kept whole", 8, []step{
			insert(4, "efgh", false), bytesPending(4), insert(0, "abcd", false), bytesPushed(8), readAll("abcdefgh"),
		}},
		{"a substring starting exactly at the window edge is dropped", 8, []step{
			insert(8, "ij", false), bytesPending(0), insert(0, "abcdefgh", false), readAll("abcdefgh"),
			bytesPushed(8), insert(8, "ij", false), bytesPushed(10), readAll("ij"),
		}},
		{"a substring one byte past the window edge loses that byte", 8, []step{
			insert(5, "fghi", false), bytesPending(3), insert(0, "abcde", false), bytesPushed(8),
			readAll("abcdefgh"), insert(8, "i", false), bytesPushed(9), readAll("i"),
		}},
		{"pairs swapped in flight pass through a moving window", 16, func() []step {
			text := counting(200)
			var s []step
			for i := 0; i < len(text); i += 8 {
				s = append(s,
					insert(uint64(i+4), text[i+4:i+8], i+8 == len(text)), bytesPending(4),
					insert(uint64(i), text[i:i+4], false), bytesPending(0), readAll(text[i:i+8]))
			}
			return append(s, bytesPushed(600), isFinished(true))
		}()},
	})
}

func TestReassemblerLastSubstring(t *testing.T) {
	runScenarios(t, []scenario{
		{"the stream closes only when the last substring is written", roomy, []step{
			insert(3, "def", true), isClosed(false), insert(0, "abc", false), isClosed(true),
			readAll("abcdef"), isFinished(true),
		}},
		{"a last substring arriving first waits for every byte before it", roomy, []step{
			insert(4, "ef", true), insert(0, "ab", false), isClosed(false), bytesPushed(2),
			insert(2, "c", false), isClosed(false), insert(3, "d", false), isClosed(true),
			readAll("abcdef"), isFinished(true),
		}},
		{"an empty last substring closes the stream after the written bytes", roomy, []step{
			insert(0, "abc", false), isClosed(false), insert(3, "", true), isClosed(true), readAll("abc"), isFinished(true),
		}},
		{"an empty last substring arriving early waits for the bytes before it", roomy, []step{
			insert(3, "", true), isClosed(false), bytesPending(0),
			insert(0, "abc", false), isClosed(true), readAll("abc"), isFinished(true),
		}},
		{"an empty last substring waits for a hole to fill", roomy, []step{
			insert(0, "a", false), insert(2, "c", false), insert(3, "", true), isClosed(false), bytesPending(1),
			insert(1, "b", false), isClosed(true), readAll("abc"), isFinished(true),
		}},
		{"a last substring cut by capacity still marks the end", 2, []step{
			insert(0, "abcd", true), bytesPushed(2), isClosed(false), readAll("ab"),
			insert(2, "cd", false), bytesPushed(4), isClosed(true), readAll("cd"), isFinished(true),
		}},
		{"a pending last substring cut by capacity still marks the end", 4, []step{
			insert(2, "cdef", true), bytesPending(2), isClosed(false),
			insert(0, "ab", false), bytesPushed(4), isClosed(false), readAll("abcd"),
			insert(4, "ef", false), isClosed(true), readAll("ef"), isFinished(true),
		}},
		{"a last substring wholly beyond the window still marks the end", 2, []step{
			insert(4, "ef", true), bytesPending(0), insert(0, "ab", false), readAll("ab"),
			insert(2, "cd", false), readAll("cd"), isClosed(false),
			insert(4, "ef", false), isClosed(true), readAll("ef"), isFinished(true),
		}},
		{"bytes stored beyond the end are dropped once the end is known", roomy, []step{
			insert(10, "xyz", false), bytesPending(3), insert(1, "b", true), bytesPending(1), isClosed(false),
			insert(0, "a", false), bytesPending(0), isClosed(true), readAll("ab"), isFinished(true),
		}},
		{"a last substring that repeats written bytes closes the stream", roomy, []step{
			insert(0, "abc", false), insert(1, "bc", true), isClosed(true), bytesPushed(3), readAll("abc"),
		}},
		{"the stream is finished once the application reads its last byte", roomy, []step{
			insert(0, "ab", true), isClosed(true), isFinished(false), read("a"), isFinished(false),
			read("b"), isFinished(true),
		}},
		{"a substring reaching the end without the flag does not close the stream", roomy, []step{
			insert(0, "abc", false), isClosed(false), insert(3, "", true), isClosed(true),
		}},
		{"a repeated last substring changes nothing", roomy, []step{
			insert(0, "ab", true), readAll("ab"), insert(0, "ab", true), isClosed(true), isFinished(true),
			bytesPushed(2), bytesPending(0),
		}},
		{"a last substring overlapping pending bytes", roomy, []step{
			insert(3, "def", true), insert(2, "cd", false), bytesPending(4), isClosed(false),
			insert(0, "ab", false), isClosed(true), readAll("abcdef"), isFinished(true),
		}},
	})
}

// counting is "000001002..." up to n-1: a stream whose every byte says
// where it belongs.
func counting(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "%03d", i)
	}
	return b.String()
}
