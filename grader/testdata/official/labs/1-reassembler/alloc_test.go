package reassembler_test

import (
	"bytes"
	"testing"

	"tcplab/labs/0-bytestream"
	"tcplab/labs/1-reassembler"
)

// TestSteadyStateAllocatesNothing: once a reassembler's storage is as large
// as the traffic needs, holding bytes and filling the holes before them
// allocates nothing. Each round holds a substring that ends at the edge of
// the window, then fills the hole before it and reads everything. (Lab 4
// checks that a running connection with reordered segments allocates
// nothing; a reassembler that allocates for every hole fails there.)
func TestSteadyStateAllocatesNothing(t *testing.T) {
	const capacity, hole = 4096, 1000
	r := reassembler.New(bytestream.New(capacity))
	data := bytes.Repeat([]byte("tcplab"), capacity)
	out := make([]byte, capacity)
	var next, read uint64
	round := func() {
		r.Insert(next+hole, data[:capacity-hole], false)
		r.Insert(next, data[:hole], false)
		next += capacity
		for p := r.Reader().Peek(); len(p) > 0; p = r.Reader().Peek() {
			read += uint64(copy(out, p))
			r.Reader().Pop(uint64(len(p)))
		}
	}
	round() // a reassembler may take its memory on first use
	if allocs := testing.AllocsPerRun(100, round); allocs != 0 {
		t.Errorf("holding a substring and filling the hole before it allocated %v times a round, want 0", allocs)
	}
	if read != next {
		t.Fatalf("read %d bytes in all, want %d: the rounds did not go through the reassembler", read, next)
	}
}
