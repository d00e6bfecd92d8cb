package stack

import (
	"os"
	"sync"
)

// readBuffer is a connection's bytes on their way to the application. At
// the end of every turn that touched the connection, the loop moves what
// the lab Connection's inbound stream holds into it (tcb.deliver); Reads
// take from it on the application's own goroutine.
//
// Why not let each Read ask the loop, as Writes do: a Read that finds
// bytes waiting then costs a mutex, not two goroutine switches. Readers
// ask for a few KiB at a time (io.Copy into io.Discard reads 8 KiB), so
// in a download those round trips to the loop used to outnumber the
// datagrams seven to one and took most of the loop's time; and the copy
// into the application's buffer now runs beside the loop, not in it.
//
// The bytes held here still count against the receive buffer
// (endpoint.window), so the window keeps saying what the application
// has left unread. Announcing a window the application's reads opened
// is the loop's job (endpoint.flush): the loop says how far the buffer
// must drain before that is worth doing (watch), and the Read that
// drains it that far nudges the loop.
type readBuffer struct {
	mu      sync.Mutex
	chunks  [][]byte // chunks[head:] hold the bytes, each a readChunk filled to its length
	head    int
	off     int   // bytes of chunks[head] already read
	held    int   // bytes held
	end     error // once set, what Reads return when no bytes are held
	waiting bool  // a Read waits on ready
	// watchAt is the most bytes held at which the loop wants to hear
	// from the Reads (a window update is due); -1 while it does not.
	watchAt int
	ready   chan struct{} // capacity 1: bytes or an end came for a waiting Read
}

// readChunkSize is what one chunk of a read buffer holds: chunks come
// from a pool shared by every connection and go back to it once read,
// so a connection whose application keeps up holds none.
const readChunkSize = 16 << 10

type readChunk = [readChunkSize]byte

var readChunks = sync.Pool{New: func() any { return new(readChunk) }}

func newReadBuffer() *readBuffer {
	return &readBuffer{watchAt: -1, ready: make(chan struct{}, 1)}
}

// put appends p (the loop). Once the buffer has ended, bytes are
// dropped: a closed socket reads nothing more.
func (r *readBuffer) put(p []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.end != nil || len(p) == 0 {
		return
	}
	r.held += len(p)
	for len(p) > 0 {
		k := len(r.chunks)
		if k == r.head || len(r.chunks[k-1]) == cap(r.chunks[k-1]) {
			r.chunks = append(r.chunks, readChunks.Get().(*readChunk)[:0])
			k++
		}
		tail := r.chunks[k-1]
		n := copy(tail[len(tail):cap(tail)], p)
		r.chunks[k-1] = tail[:len(tail)+n]
		p = p[n:]
	}
	r.signal()
}

// finish ends the buffer with err (io.EOF: the peer's FIN) once the held
// bytes are read. An end already set stays.
func (r *readBuffer) finish(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.end == nil {
		r.end = err
		r.signal()
	}
}

// fail ends the buffer with err at once: the held bytes are dropped
// (the peer reset the connection, the socket or the stack closed). An
// end already set stays, but the bytes go all the same.
func (r *readBuffer) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.end == nil {
		r.end = err
	}
	r.drop()
	r.signal()
}

// drop releases every chunk.
func (r *readBuffer) drop() {
	for i := r.head; i < len(r.chunks); i++ {
		readChunks.Put((*readChunk)(r.chunks[i][:readChunkSize]))
	}
	clear(r.chunks)
	r.chunks, r.head, r.off, r.held = r.chunks[:0], 0, 0, 0
}

// signal wakes a waiting Read (r.mu held).
func (r *readBuffer) signal() {
	if !r.waiting {
		return
	}
	r.waiting = false
	select {
	case r.ready <- struct{}{}:
	default: // a wakeup is already pending
	}
}

// unread is how many bytes the buffer holds.
func (r *readBuffer) unread() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return uint64(r.held)
}

// watch asks to hear from the Reads once at most at bytes are held (at < 0:
// not at all). It reports whether that is so already.
func (r *readBuffer) watch(at int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if at >= 0 && r.held <= at {
		r.watchAt = -1
		return true
	}
	r.watchAt = at
	return false
}

// read blocks until it can fill some of p, the buffer ends, or expired is
// closed (the read deadline), and reports whether the loop asked to hear
// of this read (watch).
func (r *readBuffer) read(p []byte, expired <-chan struct{}) (n int, nudge bool, err error) {
	r.mu.Lock()
	for r.held == 0 && r.end == nil {
		r.waiting = true
		r.mu.Unlock()
		select {
		case <-r.ready:
		case <-expired:
			r.mu.Lock()
			r.waiting = false
			r.mu.Unlock()
			return 0, false, os.ErrDeadlineExceeded
		}
		r.mu.Lock()
	}
	defer r.mu.Unlock()
	if r.held == 0 {
		return 0, false, r.end
	}
	for n < len(p) && r.held > 0 {
		c := r.chunks[r.head]
		k := copy(p[n:], c[r.off:])
		n += k
		r.off += k
		r.held -= k
		if r.off == len(c) {
			// A chunk read to its length goes back to the pool, even the
			// tail: put starts a new one.
			readChunks.Put((*readChunk)(c[:readChunkSize]))
			r.chunks[r.head] = nil
			r.head++
			r.off = 0
		}
	}
	if r.head == len(r.chunks) {
		r.chunks, r.head = r.chunks[:0], 0
	}
	if r.watchAt >= 0 && r.held <= r.watchAt {
		r.watchAt = -1
		nudge = true
	}
	return n, nudge, nil
}
