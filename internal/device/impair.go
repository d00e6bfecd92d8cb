package device

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
)

// Impairment describes a bad link, like the original course's -l/-L
// switches: each datagram is lost with probability Loss; otherwise it is held
// back and passed on after the next one with probability Reorder, and passed
// on twice with probability Duplicate. The same Seed gives the same fate to
// the same sequence of datagrams, so a failing test can be replayed.
type Impairment struct {
	Loss, Reorder, Duplicate float64
	Seed                     uint64
}

// fate draws what happens to one datagram. Three draws per datagram whatever
// the outcome keep one datagram's fate from shifting every later one's when a
// probability changes.
type fate struct{ lose, reorder, duplicate bool }

type dice struct {
	imp Impairment
	rng *rand.Rand
}

func newDice(imp Impairment) dice {
	return dice{imp: imp, rng: rand.New(rand.NewPCG(imp.Seed, imp.Seed^0x9e3779b97f4a7c15))}
}

func (d *dice) roll() fate {
	l, r, u := d.rng.Float64(), d.rng.Float64(), d.rng.Float64()
	return fate{lose: l < d.imp.Loss, reorder: r < d.imp.Reorder, duplicate: u < d.imp.Duplicate}
}

// counters are atomic so that Stats does not wait for a Read blocked
// inside the wrapped device.
type counters struct{ lost, reordered, duplicated atomic.Uint64 }

func (c *counters) add(s Stats) Stats {
	s.Lost += c.lost.Load()
	s.Reordered += c.reordered.Load()
	s.Duplicated += c.duplicated.Load()
	return s
}

// Impair wraps dev so that the datagrams written to it suffer imp: on a TUN
// device, the lab-to-kernel direction; on one end of a Pipe, the direction
// toward the other end. A reordered datagram waits for the next Write (it is
// never released by a timer), which is what makes runs reproducible.
// StatsOf the result adds the Lost, Reordered and Duplicated counts to dev's.
func Impair(dev Device, imp Impairment) Device {
	return &impairedWrites{Device: dev, dice: newDice(imp), held: make([]byte, 0, dev.MTU())}
}

type impairedWrites struct {
	Device
	mu      sync.Mutex
	dice    dice
	held    []byte
	holding bool
	n       counters
}

func (w *impairedWrites) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f := w.dice.roll()
	if f.lose {
		w.n.lost.Add(1)
		return len(p), nil
	}
	if f.reorder && !w.holding && len(p) <= cap(w.held) {
		w.held = append(w.held[:0], p...)
		w.holding = true
		w.n.reordered.Add(1)
		return len(p), nil
	}
	if _, err := w.Device.Write(p); err != nil {
		return 0, err
	}
	if f.duplicate {
		w.n.duplicated.Add(1)
		if _, err := w.Device.Write(p); err != nil {
			return 0, err
		}
	}
	if w.holding {
		w.holding = false
		if _, err := w.Device.Write(w.held); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (w *impairedWrites) Stats() Stats {
	return w.n.add(StatsOf(w.Device))
}

// ImpairReads wraps dev so that the datagrams read from it suffer imp: on a
// TUN device, the kernel-to-lab direction. A reordered datagram is returned
// after the next one that arrives. Reads must come from one goroutine at a
// time, as they do from a stack's event loop.
func ImpairReads(dev Device, imp Impairment) Device {
	return &impairedReads{
		Device: dev,
		dice:   newDice(imp),
		held:   make([]byte, 0, dev.MTU()),
		dup:    make([]byte, 0, dev.MTU()),
	}
}

type impairedReads struct {
	Device
	mu      sync.Mutex
	dice    dice
	held    []byte // a datagram waiting for the next one to overtake it
	holding bool
	dup     []byte
	// pending[next:npending] is what the next Reads return before reading
	// dev again: a duplicate, then a datagram that was overtaken.
	pending        [2][]byte
	next, npending int
	n              counters
}

func (r *impairedReads) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		if r.next < r.npending {
			r.next++
			return copy(p, r.pending[r.next-1]), nil
		}
		n, err := r.Device.Read(p)
		if err != nil {
			return n, err
		}
		f := r.dice.roll()
		if f.lose {
			r.n.lost.Add(1)
			continue
		}
		if f.reorder && !r.holding && n <= cap(r.held) {
			r.held = append(r.held[:0], p[:n]...)
			r.holding = true
			r.n.reordered.Add(1)
			continue
		}
		// pending is drained at this point, so its slots and the
		// buffers they point at are free to reuse.
		r.next, r.npending = 0, 0
		if f.duplicate && n <= cap(r.dup) {
			r.n.duplicated.Add(1)
			r.dup = append(r.dup[:0], p[:n]...)
			r.pending[r.npending] = r.dup
			r.npending++
		}
		if r.holding {
			r.holding = false
			r.pending[r.npending] = r.held
			r.npending++
		}
		return n, nil
	}
}

func (r *impairedReads) Stats() Stats {
	return r.n.add(StatsOf(r.Device))
}
