package bytestream_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"

	"tcplab/internal/harness"
	"tcplab/labs/0-bytestream"
)

// model is a byte stream too simple to be wrong: the buffered bytes are a
// plain slice, re-sliced from the front and appended to at the back.
type model struct {
	capacity       uint64
	buffered       []byte
	pushed, popped uint64
	closed, err    bool
}

// push follows the handout: a closed stream ignores pushes; a stream in
// error does not (its bytes still have to go out, with RST, in lab 3).
func (m *model) push(data []byte) {
	if m.closed {
		return
	}
	n := min(uint64(len(data)), m.capacity-uint64(len(m.buffered)))
	m.buffered = append(m.buffered, data[:n]...)
	m.pushed += n
}

func (m *model) pop(n uint64) {
	m.buffered = m.buffered[n:]
	m.popped += n
}

// report is everything the stream says about itself, in one value so that
// one step checks it all and its diff names the field that is off.
type report struct {
	Pushed, Popped, Buffered, Available uint64
	Closed, Finished                    bool
	WriterError, ReaderError            bool
}

func (m *model) report() report {
	b := uint64(len(m.buffered))
	return report{
		Pushed: m.pushed, Popped: m.popped, Buffered: b, Available: m.capacity - b,
		Closed: m.closed, Finished: m.closed && b == 0,
		WriterError: m.err, ReaderError: m.err,
	}
}

// reports checks the whole report at once. It compares with == first:
// cmp.Diff after every one of thousands of steps would be most of the
// test's time, and only a failure needs the diff.
func reports(want report) step {
	return harness.Check("the stream reports "+fmt.Sprintf("%+v", want), func(s *bytestream.ByteStream) error {
		w, r := s.Writer(), s.Reader()
		got := report{
			Pushed: w.BytesPushed(), Popped: r.BytesPopped(), Buffered: r.BytesBuffered(), Available: w.AvailableCapacity(),
			Closed: w.IsClosed(), Finished: r.IsFinished(),
			WriterError: w.HasError(), ReaderError: r.HasError(),
		}
		if got != want {
			return fmt.Errorf("(-want +got)\n%s", cmp.Diff(want, got))
		}
		return nil
	})
}

// opKind is what one random operation does to the stream.
type opKind uint8

const (
	opPush  opKind = iota // push n bytes (n may exceed the room left)
	opPop                 // pop n bytes without looking at them
	opRead                // take n bytes out by peeking and popping, and compare them
	opPeek                // peek, and check the prefix
	opClose               // the writer closes
	opError               // one end sets the error (the writer if n is even)
	opKinds
)

// op is one operation. For pops and reads n is a fraction of what is
// buffered when the op runs, in 1/256ths, so that shrinking (which removes
// ops before it) never makes it ask for more than the contract allows.
type op struct {
	kind opKind
	n    uint64
}

// script turns ops into steps, running the model alongside: after every op,
// the step that checks everything the stream reports.
func script(capacity uint64, ops []op) []step {
	m := &model{capacity: capacity}
	var steps []step
	var next byte // the bytes pushed count up, so a byte out of place shows
	for _, o := range ops {
		switch o.kind {
		case opPush:
			data := make([]byte, o.n)
			for i := range data {
				data[i] = 'a' + (next+byte(i))%26
			}
			steps = append(steps, push(string(data)))
			before := m.pushed
			m.push(data)
			next += byte(m.pushed - before)
		case opPop, opRead:
			n := uint64(len(m.buffered)) * min(o.n, 256) / 256
			if o.kind == opPop {
				steps = append(steps, pop(n))
			} else {
				steps = append(steps, read(string(m.buffered[:n])))
			}
			m.pop(n)
		case opPeek:
			steps = append(steps, peek(string(m.buffered)))
		case opClose:
			steps = append(steps, closeStream())
			m.closed = true
		case opError:
			if o.n%2 == 0 {
				steps = append(steps, setWriterError())
			} else {
				steps = append(steps, setReaderError())
			}
			m.err = true
		}
		steps = append(steps, reports(m.report()))
	}
	return steps
}

// smaller offers simpler forms of an op: shorter pushes and pops.
func smaller(o op) []op {
	switch {
	case o.kind == opPush && o.n > 0:
		return []op{{opPush, o.n / 2}, {opPush, o.n - 1}}
	case (o.kind == opPop || o.kind == opRead) && o.n > 0:
		return []op{{o.kind, o.n / 2}}
	}
	return nil
}

// corner is one family of random scripts: the capacities it draws from and
// how often each kind of op comes up.
type corner struct {
	name      string
	catches   string // a mutant this family kills, so it is known to be able to fail
	capacity  func(*rand.Rand) uint64
	weights   [opKinds]int // of push, pop, read, peek, close, error
	pushSizes func(r *rand.Rand, capacity, room uint64) uint64
	ops       int
}

// sizeNearRoom draws push sizes at the contract's edges: nothing, one byte,
// exactly the room left, one byte more or less, the whole capacity and more.
func sizeNearRoom(r *rand.Rand, capacity, room uint64) uint64 {
	sizes := []uint64{0, 1, room, room + 1, max(room, 1) - 1, capacity, capacity + 1, 2*capacity + 3}
	if r.IntN(4) == 0 {
		return r.Uint64N(2*capacity + 2)
	}
	return sizes[r.IntN(len(sizes))]
}

var corners = []corner{
	{
		name:      "capacity 0 and 1: every push fits or is dropped whole",
		catches:   "push-ignores-capacity",
		capacity:  func(r *rand.Rand) uint64 { return uint64(r.IntN(2)) },
		weights:   [opKinds]int{4, 2, 3, 2, 1, 1},
		pushSizes: sizeNearRoom,
		ops:       40,
	},
	{
		name:      "pushes of every size around the room left, wrapping the ring",
		catches:   "ring-wrap-lost",
		capacity:  func(r *rand.Rand) uint64 { return 2 + uint64(r.IntN(14)) },
		weights:   [opKinds]int{5, 3, 4, 2, 0, 0},
		pushSizes: sizeNearRoom,
		ops:       80,
	},
	{
		name:      "reads and peeks at every offset of the ring",
		catches:   "peek-past-buffered",
		capacity:  func(r *rand.Rand) uint64 { return 1 + uint64(r.IntN(40)) },
		weights:   [opKinds]int{3, 1, 3, 3, 0, 0},
		pushSizes: func(r *rand.Rand, capacity, _ uint64) uint64 { return r.Uint64N(capacity + 2) },
		ops:       80,
	},
	{
		name:      "a large stream filled a little at a time, with reads between",
		catches:   "ring-grows-unwrapped",
		capacity:  func(r *rand.Rand) uint64 { return 100 + uint64(r.IntN(900)) },
		weights:   [opKinds]int{5, 2, 3, 2, 0, 0},
		pushSizes: func(r *rand.Rand, capacity, _ uint64) uint64 { return r.Uint64N(capacity/4 + 2) },
		ops:       80,
	},
	{
		name:      "close and error at any moment, pushes and pops after them",
		catches:   "push-ignored-in-error",
		capacity:  func(r *rand.Rand) uint64 { return uint64(r.IntN(20)) },
		weights:   [opKinds]int{4, 2, 3, 1, 1, 1},
		pushSizes: sizeNearRoom,
		ops:       40,
	},
}

// randomOps draws one script of the corner's family for a stream of the
// given capacity. It keeps its own tally of the room left only to aim push
// sizes at the edges; the model decides what each op does.
func (c corner) randomOps(r *rand.Rand, capacity uint64) []op {
	total := 0
	for _, w := range c.weights {
		total += w
	}
	m := &model{capacity: capacity}
	var ops []op
	for range c.ops {
		k := 0
		for pick := r.IntN(total); pick >= c.weights[k]; k++ {
			pick -= c.weights[k]
		}
		o := op{kind: opKind(k)}
		switch o.kind {
		case opPush:
			o.n = c.pushSizes(r, capacity, capacity-uint64(len(m.buffered)))
			m.push(make([]byte, o.n))
		case opPop, opRead:
			// Every fraction at the edges: nothing, one byte, all of it.
			switch r.IntN(4) {
			case 0:
				o.n = 0
			case 1:
				o.n = 256
			default:
				o.n = r.Uint64N(257)
			}
			m.pop(uint64(len(m.buffered)) * o.n / 256)
		case opError:
			o.n = r.Uint64N(2)
		}
		ops = append(ops, o)
	}
	return ops
}

// TestByteStreamMatchesModel runs random scripts of push, pop, read, peek,
// close and error against the model, checking everything the stream
// reports after every step. A failure is shrunk to a short script and
// names its seed and round, so it repeats.
func TestByteStreamMatchesModel(t *testing.T) {
	const seed = 20261201
	t.Logf("seed %d", seed)
	rounds := 150
	if testing.Short() {
		rounds = 30
	}
	for ci, c := range corners {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, uint64(ci)))
			for round := range rounds {
				capacity := c.capacity(r)
				ops := c.randomOps(r, capacity)
				harness.RunShrunk(t, fmt.Sprintf("round %d of seed %d, capacity %d", round, seed, capacity),
					ops, func() *bytestream.ByteStream { return bytestream.New(capacity) },
					func(ops []op) []step { return script(capacity, ops) }, smaller)
			}
		})
	}
}

// FuzzByteStream checks the stream against the model on scripts the fuzzer
// makes up: the first byte is the capacity, then every two bytes are one op
// (its kind, and its size or fraction).
func FuzzByteStream(f *testing.F) {
	// Each seed fails on a catalogue mutant: ring-wrap-lost,
	// push-ignores-capacity, push-ignored-in-error.
	f.Add([]byte{4, 0, 3, 2, 128, 0, 4, 3, 0, 2, 255})             // wraps the ring, reads it all
	f.Add([]byte{0, 0, 1, 4, 0, 3, 0})                             // capacity 0, closed
	f.Add([]byte{5, 5, 0, 0, 9, 2, 255, 4, 0, 0, 2, 2, 128, 3, 0}) // error, then pushes
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < 1 {
			return
		}
		capacity := uint64(in[0] % 64)
		var ops []op
		for rest := in[1:]; len(rest) >= 2 && len(ops) < 200; rest = rest[2:] {
			o := op{kind: opKind(rest[0] % uint8(opKinds)), n: uint64(rest[1])}
			if o.kind == opPop || o.kind == opRead {
				o.n = o.n * 256 / 255 // 255 means all of it
			}
			ops = append(ops, o)
		}
		harness.RunShrunk(t, fmt.Sprintf("capacity %d", capacity), ops,
			func() *bytestream.ByteStream { return bytestream.New(capacity) },
			func(ops []op) []step { return script(capacity, ops) }, smaller)
	})
}
