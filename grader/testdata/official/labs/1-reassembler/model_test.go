package reassembler_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"tcplab/internal/harness"
	"tcplab/labs/0-bytestream"
	"tcplab/labs/1-reassembler"
)

// model is a reassembler too simple to be wrong: it knows the whole stream,
// marks each byte that arrived inside the window in a bitmap, and writes a
// byte once every byte before it has been written. It is slow (every
// question walks the bitmap) and that is fine.
type model struct {
	text     string // the whole stream
	capacity uint64
	arrived  []bool // arrived[i]: byte i was stored or written
	written  uint64 // bytes written to the output, in order
	read     uint64 // bytes the application took out
	end      uint64 // one past the last byte, once a last substring came
	hasEnd   bool
}

func newModel(text string, capacity uint64) *model {
	return &model{text: text, capacity: capacity, arrived: make([]bool, len(text))}
}

func (m *model) insert(first, n uint64, last bool) {
	if last {
		m.end, m.hasEnd = first+n, true
	}
	// The window: bytes the output stream could hold if every byte before
	// them were written.
	for i := max(first, m.written); i < first+n && i < m.read+m.capacity; i++ {
		m.arrived[i] = true
	}
	for m.written < uint64(len(m.text)) && m.arrived[m.written] {
		m.written++
	}
}

func (m *model) pending() uint64 {
	var n uint64
	for i := m.written; i < uint64(len(m.arrived)); i++ {
		if m.arrived[i] {
			n++
		}
	}
	return n
}

func (m *model) closed() bool { return m.hasEnd && m.written == m.end }

// counts is what a reassembler and its stream report, in one value so that
// one step checks it all and its diff names the field that is off.
type counts struct {
	Written, Pending, Buffered uint64
	Closed                     bool
}

func (m *model) snapshot() counts {
	return counts{Written: m.written, Pending: m.pending(), Buffered: m.written - m.read, Closed: m.closed()}
}

func state(want counts) step {
	return harness.Expect(fmt.Sprintf("%+v", want), func(r *reassembler.Reassembler) counts {
		return counts{
			Written:  r.Writer().BytesPushed(),
			Pending:  r.BytesPending(),
			Buffered: r.Reader().BytesBuffered(),
			Closed:   r.Writer().IsClosed(),
		}
	}, want)
}

// op is one thing that happens to a reassembler: a substring arrives, or the
// application reads n bytes (as many as are there, if fewer).
type op struct {
	read       bool
	first, n   uint64
	last       bool
	readAtMost uint64
}

// script turns ops into harness steps, running the model alongside to know
// what the reassembler must report after each one.
func script(text string, capacity uint64, ops []op) []step {
	m := newModel(text, capacity)
	var steps []step
	for _, o := range ops {
		if o.read {
			n := min(o.readAtMost, m.written-m.read)
			steps = append(steps, read(text[m.read:m.read+n]))
			m.read += n
		} else {
			steps = append(steps, insert(o.first, text[o.first:o.first+o.n], o.last))
			m.insert(o.first, o.n, o.last)
		}
		steps = append(steps, state(m.snapshot()))
	}
	return steps
}

// randomText is a stream whose bytes differ from their neighbours, so a byte
// written at the wrong index shows.
func randomText(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + rng.IntN(26))
	}
	return string(b)
}

// randomOps makes inserts that land before, inside and beyond the window,
// overlap each other and repeat, mixed with reads of random size. The last
// substring is flagged on some of the inserts that reach the end.
func randomOps(rng *rand.Rand, textLen int, capacity uint64, count int) []op {
	var ops []op
	for range count {
		if rng.IntN(4) == 0 {
			ops = append(ops, op{read: true, readAtMost: uint64(rng.IntN(int(capacity) + 2))})
			continue
		}
		first := rng.IntN(textLen + 1)
		n := rng.IntN(textLen - first + 1)
		if n > 2*int(capacity)+2 { // mostly substrings near the window's size
			n = rng.IntN(2*int(capacity) + 3)
		}
		n = min(n, textLen-first)
		last := first+n == textLen && rng.IntN(2) == 0
		ops = append(ops, op{first: uint64(first), n: uint64(n), last: last})
	}
	return ops
}

// roundTB names the round in a failure, so it can be found again.
type roundTB struct {
	testing.TB
	round string
}

func (r roundTB) Fatal(args ...any) {
	r.TB.Helper()
	r.TB.Fatal(append([]any{r.round}, args...)...)
}

// TestReassemblerMatchesModel runs many short random scripts and compares
// the reassembler with the model after every step. Each round starts from
// a reassembler over a stream of random capacity, and its steps say exactly
// what happened, so a failure can be replayed by hand.
func TestReassemblerMatchesModel(t *testing.T) {
	const seed = 144
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	rounds := 2000
	if testing.Short() {
		rounds = 200
	}
	for round := range rounds {
		capacity := uint64(1 + rng.IntN(24))
		if round%50 == 0 {
			capacity = 0
		}
		text := randomText(rng, rng.IntN(80))
		ops := randomOps(rng, len(text), capacity, 40)
		r := reassembler.New(bytestream.New(capacity))
		tb := roundTB{t, fmt.Sprintf("round %d of seed %d: capacity %d, stream %q", round, seed, capacity, text)}
		harness.Run(tb, r, script(text, capacity, ops)...)
	}
}

// FuzzReassembler checks the reassembler against the model on scripts the
// fuzzer makes up. The input's first byte picks the capacity, the second
// the stream's length; then every three bytes are one op.
func FuzzReassembler(f *testing.F) {
	f.Add([]byte{8, 12, 1, 4, 4, 1, 0, 4, 0, 9, 0})                  // a hole, then its filling
	f.Add([]byte{4, 10, 1, 2, 8, 0x81, 6, 4, 1, 0, 2, 0, 2, 6})      // last substring beyond the window
	f.Add([]byte{3, 6, 0x81, 6, 0, 1, 0, 3, 0, 9, 0, 1, 3, 3})       // empty last substring early
	f.Add([]byte{16, 30, 1, 5, 6, 1, 9, 6, 1, 3, 12, 1, 0, 5, 0, 0}) // overlapping pending substrings
	f.Fuzz(fuzzBody)
}

func fuzzBody(t *testing.T, in []byte) {
	if len(in) < 2 {
		return
	}
	capacity := uint64(in[0] % 40)
	// Any bytes will do for the text: it is the same for every insert.
	text := make([]byte, in[1]%100)
	for i := range text {
		text[i] = byte('a' + i*7%26)
	}
	var ops []op
	for rest := in[2:]; len(rest) >= 3 && len(ops) < 200; rest = rest[3:] {
		kind, a, b := rest[0], int(rest[1]), int(rest[2])
		if kind&1 == 0 {
			ops = append(ops, op{read: true, readAtMost: uint64(a)})
			continue
		}
		first := a % (len(text) + 1)
		n := min(b, len(text)-first)
		last := kind&0x80 != 0 && first+n == len(text)
		ops = append(ops, op{first: uint64(first), n: uint64(n), last: last})
	}
	r := reassembler.New(bytestream.New(capacity))
	harness.Run(t, r, script(string(text), capacity, ops)...)
}
