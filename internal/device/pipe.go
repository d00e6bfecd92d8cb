package device

import (
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// PipeQueue is how many datagrams each direction of a Pipe holds before
// Write waits for the reader.
const PipeQueue = 1024

// Stats counts what a device did. Devices that keep counters (the pipe, the
// impairment wrapper, the TUN device) report them through StatsOf.
type Stats struct {
	Written uint64 // datagrams accepted by Write (including those later dropped)
	Read    uint64 // datagrams returned by Read
	Dropped uint64 // datagrams thrown away: written toward a closed peer (a pipe never drops for lack of room)

	// Set only by the impairment wrappers.
	Lost       uint64 // datagrams deliberately not passed on
	Reordered  uint64 // datagrams held back and passed on after the next one
	Duplicated uint64 // datagrams passed on twice
}

// StatsOf returns d's counters, or zero Stats when d keeps none.
func StatsOf(d Device) Stats { return statsOf(d) }

// statsOf is StatsOf for any kind of device (a BatchDevice too).
func statsOf(d any) Stats {
	if c, ok := d.(interface{ Stats() Stats }); ok {
		return c.Stats()
	}
	return Stats{}
}

// link is one direction of a pipe. Datagrams travel in buffers that cycle
// between queue and free, so a steady stream allocates nothing: Write takes
// a buffer from free (allocating only while the pool is still growing),
// Read returns it.
type link struct {
	queue chan []byte
	free  chan []byte
}

func newLink() *link {
	return &link{
		queue: make(chan []byte, PipeQueue),
		// One more than the queue: a reader may hold a buffer while the
		// queue is full.
		free: make(chan []byte, PipeQueue+1),
	}
}

type pipeEnd struct {
	name string
	mtu  int
	in   *link // datagrams for us to read
	out  *link // the peer's in

	closeOnce sync.Once
	closed    chan struct{}
	peer      *pipeEnd

	written, read, dropped atomic.Uint64
}

// Pipe returns two devices joined back to back: a datagram written to a is
// read from b and the other way round. It stands in for a TUN device and the
// kernel in tests, like wireguard-go's tuntest.ChannelTUN.
//
// Write copies the datagram, so the caller may reuse its buffer. When the
// peer's queue already holds PipeQueue datagrams, Write waits until the peer
// reads one (or either end closes): the pipe stands for a cable and a NIC
// on one host, which push back on a writer that outruns them rather than
// lose what it wrote. Loss is the impairment wrappers' job, where a test asks
// for it; a queue that dropped on its own made tests that never asked for
// loss depend on how fast the machine was (the lab sender then recovers one
// segment per timeout). Closing one end makes its Read and Write fail with
// net.ErrClosed; datagrams the peer then writes are dropped.
func Pipe(mtu int) (a, b Device) {
	ab, ba := newLink(), newLink()
	pa := &pipeEnd{name: "pipe-a", mtu: mtu, in: ba, out: ab, closed: make(chan struct{})}
	pb := &pipeEnd{name: "pipe-b", mtu: mtu, in: ab, out: ba, closed: make(chan struct{})}
	pa.peer, pb.peer = pb, pa
	return pa, pb
}

func (p *pipeEnd) MTU() int     { return p.mtu }
func (p *pipeEnd) Name() string { return p.name }

func (p *pipeEnd) Stats() Stats {
	return Stats{Written: p.written.Load(), Read: p.read.Load(), Dropped: p.dropped.Load()}
}

func (p *pipeEnd) Close() error {
	p.closeOnce.Do(func() { close(p.closed) })
	return nil
}

func (p *pipeEnd) Write(b []byte) (int, error) {
	select {
	case <-p.closed:
		return 0, fmt.Errorf("write %s: %w", p.name, net.ErrClosed)
	default:
	}
	if len(b) > p.mtu {
		return 0, fmt.Errorf("write %s: %d-byte datagram exceeds the MTU of %d", p.name, len(b), p.mtu)
	}
	p.written.Add(1)
	select {
	case <-p.peer.closed:
		// Nobody will ever read it: a cable with nothing on the far end.
		p.dropped.Add(1)
		return len(b), nil
	default:
	}
	var buf []byte
	select {
	case buf = <-p.out.free:
	default:
		buf = make([]byte, 0, p.mtu)
	}
	buf = append(buf[:0], b...)
	select {
	case p.out.queue <- buf:
		return len(b), nil
	default:
	}
	select {
	case p.out.queue <- buf:
		return len(b), nil
	case <-p.closed:
		p.recycle(p.out, buf)
		return 0, fmt.Errorf("write %s: %w", p.name, net.ErrClosed)
	case <-p.peer.closed:
		p.dropped.Add(1)
		p.recycle(p.out, buf)
		return len(b), nil
	}
}

func (p *pipeEnd) recycle(l *link, buf []byte) {
	select {
	case l.free <- buf:
	default: // pool full: let the garbage collector have it
	}
}

func (p *pipeEnd) Read(b []byte) (int, error) {
	// A closed end reads nothing more, even if datagrams are still queued:
	// Close means the device is gone.
	select {
	case <-p.closed:
		return 0, fmt.Errorf("read %s: %w", p.name, net.ErrClosed)
	default:
	}
	select {
	case buf := <-p.in.queue:
		n := copy(b, buf)
		short := len(buf) > len(b)
		p.recycle(p.in, buf)
		p.read.Add(1)
		if short {
			return n, fmt.Errorf("read %s: %d-byte buffer truncated a %d-byte datagram: %w", p.name, len(b), len(buf), io.ErrShortBuffer)
		}
		return n, nil
	case <-p.closed:
		return 0, fmt.Errorf("read %s: %w", p.name, net.ErrClosed)
	}
}

// tryRead is Read without the wait: ok is false when no datagram is
// queued. It lets Batch take a pipe's queue in one call.
func (p *pipeEnd) tryRead(b []byte) (int, bool, error) {
	select {
	case <-p.closed:
		return 0, false, fmt.Errorf("read %s: %w", p.name, net.ErrClosed)
	default:
	}
	select {
	case buf := <-p.in.queue:
		n := copy(b, buf)
		short := len(buf) > len(b)
		p.recycle(p.in, buf)
		p.read.Add(1)
		if short {
			return n, true, fmt.Errorf("read %s: %d-byte buffer truncated a %d-byte datagram: %w", p.name, len(b), len(buf), io.ErrShortBuffer)
		}
		return n, true, nil
	default:
		return 0, false, nil
	}
}
