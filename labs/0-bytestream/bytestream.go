// Package bytestream is lab 0: a bounded, in-memory pipe of bytes.
//
// A ByteStream has one writer and one reader. The writer pushes bytes until
// the stream holds Capacity bytes; the reader peeks and pops them in order.
// Every later lab is built on it: the reassembler writes the bytes it puts in
// order into one, and the sender reads the bytes it sends out of one.
//
// Writer and Reader are two views of the same ByteStream (converted
// pointers, so asking for a view costs nothing). The stream is not safe for
// concurrent use: in tcplab one goroutine owns each connection.
package bytestream

// ByteStream is a bounded pipe of bytes held in a ring buffer.
type ByteStream struct {
	capacity uint64
	//lab:solution begin
	// buf is the ring: the buffered bytes start at buf[head] and wrap
	// around its end. It starts empty and grows (at least doubling, at
	// most to capacity) only when a Push finds no room in it, so a
	// stream's memory follows the most it ever buffered, not its
	// capacity: a connection that may buffer megabytes but moves a
	// kilobyte holds a kilobyte. Once the stream is finished the ring is
	// dropped, since nothing can ever be pushed into it again.
	buf    []byte
	pushed uint64 // bytes ever pushed
	popped uint64 // bytes ever popped
	// head is where the next byte to pop lives in buf, kept up to date so
	// that no Push or Peek pays for a division.
	head uint64
	//lab:solution end
	closed bool
	err    bool
}

// Writer is the writing end of a ByteStream.
type Writer ByteStream

// Reader is the reading end of a ByteStream.
type Reader ByteStream

// New returns an empty stream that buffers at most capacity bytes.
func New(capacity uint64) *ByteStream {
	//lab:solution begin
	return &ByteStream{capacity: capacity}
	//lab:solution end
}

//lab:solution begin

// minRing is the smallest ring a stream takes, so that a stream fed a few
// bytes at a time does not grow through every tiny size.
const minRing = 64

// grow replaces the ring by one with room for need buffered bytes, moving
// the buffered bytes to its start. Because it at least doubles, all the
// growing over a stream's life copies fewer bytes than its last ring holds.
func (w *Writer) grow(need uint64) {
	size := min(max(need, 2*uint64(len(w.buf)), minRing), w.capacity)
	buf := make([]byte, size)
	// The old ring, rotated so that head comes first: the buffered bytes,
	// then whatever stale bytes the ring held (never read).
	c := copy(buf, w.buf[w.head:])
	copy(buf[c:], w.buf[:w.head])
	w.buf, w.head = buf, 0
}

// release drops the ring of a finished stream.
func (r *Reader) release() {
	r.buf, r.head = nil, 0
}

//lab:solution end

// Writer returns the stream's writing end.
func (s *ByteStream) Writer() *Writer { return (*Writer)(s) }

// Reader returns the stream's reading end.
func (s *ByteStream) Reader() *Reader { return (*Reader)(s) }

// Capacity is the most bytes the stream can buffer at once.
func (s *ByteStream) Capacity() uint64 { return s.capacity }

// Push appends as much of data as there is room for; the rest is dropped.
// Pushing to a closed stream does nothing.
func (w *Writer) Push(data []byte) {
	//lab:solution begin
	if w.closed {
		return
	}
	n := min(uint64(len(data)), w.AvailableCapacity())
	if n == 0 {
		return
	}
	buffered := w.pushed - w.popped
	if buffered+n > uint64(len(w.buf)) {
		w.grow(buffered + n)
	}
	// At most two copies: up to the end of the ring, then from its start.
	at := w.head + buffered
	if at >= uint64(len(w.buf)) {
		at -= uint64(len(w.buf))
	}
	c := copy(w.buf[at:], data[:n])
	copy(w.buf, data[c:n])
	w.pushed += n
	//lab:solution end
}

// Close signals that no more bytes will be pushed.
func (w *Writer) Close() {
	//lab:solution begin
	w.closed = true
	if w.pushed == w.popped {
		(*Reader)(w).release()
	}
	//lab:solution end
}

// SetError marks the stream as failed (a reset, in TCP terms).
func (w *Writer) SetError() { w.err = true }

// IsClosed reports whether Close was called.
func (w *Writer) IsClosed() bool {
	//lab:solution begin
	return w.closed
	//lab:solution end
}

// HasError reports whether the stream has failed.
func (w *Writer) HasError() bool { return w.err }

// AvailableCapacity is how many more bytes a Push can accept now.
func (w *Writer) AvailableCapacity() uint64 {
	//lab:solution begin
	return w.capacity - (w.pushed - w.popped)
	//lab:solution end
}

// BytesPushed is the total number of bytes ever accepted by Push.
func (w *Writer) BytesPushed() uint64 {
	//lab:solution begin
	return w.pushed
	//lab:solution end
}

// Peek returns a prefix of the buffered bytes without copying them: non-empty
// whenever anything is buffered, and valid only until the next Push or Pop.
func (r *Reader) Peek() []byte {
	//lab:solution begin
	if r.pushed == r.popped {
		return nil
	}
	// The buffered bytes may wrap around the end of the ring; the prefix
	// stops there and the next Peek (after a Pop) returns the rest.
	end := min(r.head+(r.pushed-r.popped), uint64(len(r.buf)))
	return r.buf[r.head:end]
	//lab:solution end
}

// Pop discards the first n buffered bytes; n must not exceed BytesBuffered.
func (r *Reader) Pop(n uint64) {
	//lab:solution begin
	n = min(n, r.BytesBuffered())
	r.popped += n
	r.head += n
	if r.head >= uint64(len(r.buf)) {
		r.head -= uint64(len(r.buf))
	}
	if r.closed && r.pushed == r.popped {
		r.release()
	}
	//lab:solution end
}

// IsFinished reports whether the stream is closed and every byte was popped.
func (r *Reader) IsFinished() bool {
	//lab:solution begin
	return r.closed && r.pushed == r.popped
	//lab:solution end
}

// HasError reports whether the stream has failed.
func (r *Reader) HasError() bool { return r.err }

// SetError marks the stream as failed.
func (r *Reader) SetError() { r.err = true }

// BytesBuffered is how many bytes were pushed but not yet popped.
func (r *Reader) BytesBuffered() uint64 {
	//lab:solution begin
	return r.pushed - r.popped
	//lab:solution end
}

// BytesPopped is the total number of bytes ever popped.
func (r *Reader) BytesPopped() uint64 {
	//lab:solution begin
	return r.popped
	//lab:solution end
}
