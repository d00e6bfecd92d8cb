package reassembler_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"

	"tcplab/internal/harness"
	"tcplab/labs/0-bytestream"
	"tcplab/labs/1-reassembler"
)

// model is a reassembler too simple to be wrong: it knows the whole stream,
// marks each byte that arrived inside the window in a bitmap, and writes a
// byte once every byte before it has been written. It is slow (every
// question walks the bitmap) and that is fine. The text may run past the
// stream's end (junk a broken sender sent before its last substring): once
// the end is known, the model forgets what it kept past it.
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
		for i := max(m.end, m.written); i < uint64(len(m.arrived)); i++ {
			m.arrived[i] = false
		}
	}
	// The window: bytes the output stream could hold if every byte before
	// them were written, and none past the end.
	limit := m.read + m.capacity
	if m.hasEnd {
		limit = min(limit, m.end)
	}
	for i := max(first, m.written); i < first+n && i < limit; i++ {
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

// wouldWritePast says whether inserting n bytes at first would write the
// byte at index end.
func (m *model) wouldWritePast(end, first, n uint64) bool {
	w := m.written
	for w < uint64(len(m.text)) && (m.arrived[w] || (w >= first && w < first+n && w < m.read+m.capacity)) {
		w++
	}
	return w > end
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

// state checks all the counts at once. It compares with == first: a
// cmp.Diff after every one of tens of thousands of steps would be most of
// the test's time, and only a failure needs the diff.
func state(want counts) step {
	return harness.Check(fmt.Sprintf("%+v", want), func(r *reassembler.Reassembler) error {
		got := counts{
			Written:  r.Writer().BytesPushed(),
			Pending:  r.BytesPending(),
			Buffered: r.Reader().BytesBuffered(),
			Closed:   r.Writer().IsClosed(),
		}
		if got != want {
			return fmt.Errorf("(-want +got)\n%s", cmp.Diff(want, got))
		}
		return nil
	})
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
func script(text string, end, capacity uint64, ops []op) []step {
	m := newModel(text, capacity)
	var steps []step
	for _, o := range ops {
		if o.read {
			n := min(o.readAtMost, m.written-m.read)
			steps = append(steps, read(text[m.read:m.read+n]))
			m.read += n
		} else {
			n := o.n
			if !m.hasEnd && o.first+n > end && m.wouldWritePast(end, o.first, n) {
				// Bytes past the end written before the end is known
				// are beyond repair, and the handout does not say what
				// then: this script does not go there.
				n = max(end, o.first) - o.first
			}
			steps = append(steps, insert(o.first, text[o.first:o.first+n], o.last))
			m.insert(o.first, n, o.last)
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

// family is one kind of random script, aimed at some corners: how big the
// capacity is, how the stream may run past its end, how often the last
// substring and reads come, and how long the substrings are.
type family struct {
	name     string
	catches  string // a catalogue mutant this family kills, so it is known to be able to fail
	capacity func(*rand.Rand) uint64
	junk     int // at most this many bytes past the end may arrive
	lastOdds int // one insert in lastOdds is a last substring
	readOdds int // one op in readOdds is a read
	short    bool
	stream   int // the stream is shorter than this; 80 if 0
	// sliding makes inserts land around a front that moves along the
	// stream, as a sender's would, rather than anywhere in it; such a
	// script runs 200 ops, not 40, to get far along.
	sliding bool
}

var families = []family{
	{name: "substrings in and out of the window, overlapping and repeated", catches: "keeps-beyond-window",
		capacity: func(r *rand.Rand) uint64 { return uint64(r.IntN(25)) }, lastOdds: 8, readOdds: 4},
	{name: "the last substring before, after and across bytes already stored", catches: "close-on-last-substring",
		capacity: func(r *rand.Rand) uint64 { return 4 + uint64(r.IntN(40)) }, lastOdds: 3, readOdds: 6, short: true},
	{name: "bytes past the end arrive before the end is known", catches: "pending-beyond-end",
		capacity: func(r *rand.Rand) uint64 { return 4 + uint64(r.IntN(40)) }, junk: 6, lastOdds: 5, readOdds: 6, short: true},
	{name: "capacity freed by reads between inserts", catches: "window-off-by-one",
		capacity: func(r *rand.Rand) uint64 { return 1 + uint64(r.IntN(6)) }, lastOdds: 8, readOdds: 2},
	// A reassembler may keep its pending bytes in storage that grows with
	// use, up to the capacity: here the window is wide and the stream
	// long, so storage grows while bytes held in it sit anywhere.
	{name: "a long stream arriving around a sliding front, so storage grows with bytes held anywhere in it", catches: "pending-grows-misplaced",
		capacity: func(r *rand.Rand) uint64 { return 64 + uint64(r.IntN(200)) }, lastOdds: 40, readOdds: 2, stream: 1000, sliding: true},
}

// randomOps makes inserts that land before, inside and beyond the window,
// overlap each other and repeat, mixed with reads of random size. A last
// substring ends exactly at the stream's end (every last substring agrees
// where the stream ends); other inserts may run past it into junk.
func (f family) randomOps(rng *rand.Rand, textLen, end int, capacity uint64, count int) []op {
	var ops []op
	front := 0 // where a sliding script's inserts land around
	for range count {
		if rng.IntN(f.readOdds) == 0 {
			ops = append(ops, op{read: true, readAtMost: uint64(rng.IntN(int(capacity) + 2))})
			continue
		}
		if rng.IntN(f.lastOdds) == 0 {
			first := end - rng.IntN(end+1)
			if f.short {
				first = end - min(end, rng.IntN(4))
			}
			ops = append(ops, op{first: uint64(first), n: uint64(end - first), last: true})
			continue
		}
		first := rng.IntN(textLen + 1)
		n := rng.IntN(textLen - first + 1)
		if f.sliding {
			// From half a window behind the front to a window ahead.
			first = min(textLen, max(0, front-int(capacity)/2+rng.IntN(int(capacity)*3/2+1)))
			n = min(rng.IntN(int(capacity)/4+1), textLen-first)
			front += rng.IntN(int(capacity)/8 + 1)
		}
		if f.short {
			n = min(n, 1+rng.IntN(5))
		}
		if n > 2*int(capacity)+2 { // mostly substrings near the window's size
			n = rng.IntN(2*int(capacity) + 3)
		}
		n = min(n, textLen-first)
		ops = append(ops, op{first: uint64(first), n: uint64(n)})
	}
	return ops
}

// smaller offers simpler forms of an op: a shorter substring (not a last
// one, whose length says where the stream ends) or a smaller read.
func smaller(o op) []op {
	switch {
	case o.read && o.readAtMost > 0:
		return []op{{read: true, readAtMost: o.readAtMost / 2}}
	case !o.read && !o.last && o.n > 0:
		return []op{{first: o.first, n: o.n / 2}, {first: o.first + 1, n: o.n - 1}}
	}
	return nil
}

// TestReassemblerMatchesModel runs many short random scripts of each
// family and compares the reassembler with the model after every step.
// Each round starts from a reassembler over a stream of random capacity; a
// failure is shrunk to a short script and names its seed and round.
func TestReassemblerMatchesModel(t *testing.T) {
	const seed = 144
	t.Logf("seed %d", seed)
	rounds := 500
	if testing.Short() {
		rounds = 100
	}
	for fi, f := range families {
		t.Run(f.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, uint64(fi)))
			for round := range rounds {
				capacity := f.capacity(rng)
				if round%50 == 0 {
					capacity = 0
				}
				stream := 80
				if f.stream > 0 {
					stream = f.stream
				}
				end := rng.IntN(stream)
				text := randomText(rng, end+rng.IntN(f.junk+1))
				count := 40
				if f.sliding {
					count = 200
				}
				ops := f.randomOps(rng, len(text), end, capacity, count)
				harness.RunShrunk(t, fmt.Sprintf("round %d of seed %d: capacity %d, stream %q (ends at %d)", round, seed, capacity, text, end),
					ops, func() *reassembler.Reassembler { return reassembler.New(bytestream.New(capacity)) },
					func(ops []op) []step { return script(text, uint64(end), capacity, ops) }, smaller)
			}
		})
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
	// Any bytes will do for the text: it is the same for every insert. Its
	// last in[1]/100 bytes (up to 2) lie past the stream's end.
	text := make([]byte, in[1]%100)
	end := len(text) - min(len(text), int(in[1]/100))
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
		last := kind&0x80 != 0
		if last {
			first = min(first, end)
			n = end - first
		}
		ops = append(ops, op{first: uint64(first), n: uint64(n), last: last})
	}
	harness.RunShrunk(t, fmt.Sprintf("capacity %d, stream %q (ends at %d)", capacity, text, end), ops,
		func() *reassembler.Reassembler { return reassembler.New(bytestream.New(capacity)) },
		func(ops []op) []step { return script(string(text), uint64(end), capacity, ops) }, smaller)
}
