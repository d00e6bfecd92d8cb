//lab:solution-only

package main

// The reference labs keep memory that follows use, not capacity, so that the
// stack can offer megabyte windows without a megabyte per connection. The
// handouts let a student take the whole capacity at once, so this is a
// check of the reference, not of the labs' contract: it lives here, out of
// the official tests and the starter.

import (
	"bytes"
	"runtime"
	"testing"

	"tcplab/labs/0-bytestream"
	"tcplab/labs/1-reassembler"
)

// allocated returns how many bytes f allocates on the heap. The test is not
// parallel, so no other test allocates meanwhile; the runtime's own
// background allocations are small beside the bounds used here.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A reassembler allowed megabytes that holds a kilobyte out of order takes
// about a kilobyte, and so does its stream once the hole is filled.
func TestReferenceReassemblerMemoryFollowsUse(t *testing.T) {
	const capacity = 8 << 20
	const bound = 64 << 10 // generous: the pieces are 1000 bytes
	piece := bytes.Repeat([]byte("x"), 1000)

	var r *reassembler.Reassembler
	if n := allocated(func() { r = reassembler.New(bytestream.New(capacity)) }); n > bound {
		t.Errorf("New over a stream of capacity %d allocated %d bytes, want at most %d", capacity, n, bound)
	}
	if n := allocated(func() { r.Insert(1000, piece, false) }); n > bound {
		t.Errorf("holding %d bytes out of order allocated %d bytes, want at most %d", len(piece), n, bound)
	}
	if got := r.BytesPending(); got != 1000 {
		t.Fatalf("BytesPending() = %d after the out-of-order piece, want 1000", got)
	}
	if n := allocated(func() { r.Insert(0, piece, false) }); n > bound {
		t.Errorf("filling the hole (2000 bytes into the stream) allocated %d bytes, want at most %d", n, bound)
	}
	if got := r.Reader().BytesBuffered(); got != 2000 {
		t.Fatalf("BytesBuffered() = %d after the hole was filled, want 2000", got)
	}
}
