package device

import (
	"fmt"
	"io"
	"sync"
)

// BatchDevice moves several datagrams per call, in wireguard-go's
// tun.Device shape: a TUN with offloads reads a 64 KiB super-packet in one
// system call and hands it over as up to 45 segments, and takes a batch of
// segments to write as a few super-packets. Batch and Single adapt between
// it and Device, both ways.
type BatchDevice interface {
	// Read blocks until at least one datagram arrives, then places up to
	// len(bufs) of them at bufs[i][offset:], their lengths in sizes[i],
	// and returns how many. len(sizes) >= len(bufs); every buffer should
	// hold offset+MTU bytes. After Close it returns an error wrapping
	// net.ErrClosed.
	Read(bufs [][]byte, sizes []int, offset int) (int, error)
	// Write sends the datagrams at bufs[i][offset:] and returns how many
	// it sent. offset must be at least Headroom: a device may write a
	// header of its own into the bytes before each datagram, and may grow
	// bufs[i] within its capacity to join the next datagrams to it, so
	// the caller must not rely on bufs' contents afterwards.
	Write(bufs [][]byte, offset int) (int, error)
	// BatchSize is how many datagrams one Read may return and one Write
	// should be given for the best effect.
	BatchSize() int
	// MTU is the largest datagram Read returns or Write takes.
	MTU() int
	Name() string
	Close() error
}

// Headroom is the least offset a BatchDevice's Write takes: room for a
// virtio_net_hdr before each datagram.
const Headroom = VirtioNetHdrLen

// Batch makes a Device a BatchDevice. Read waits for one datagram, then
// takes whatever else the device already holds without waiting (the pipe
// offers that; any other device gives one datagram per Read). Write
// writes the datagrams one by one.
func Batch(d Device) BatchDevice {
	if s, ok := d.(*single); ok {
		return s.b
	}
	return &batch{d: d}
}

// pollReader is a Device that can hand over a datagram only if one is
// waiting.
type pollReader interface {
	tryRead(p []byte) (n int, ok bool, err error)
}

// batchMax is how many datagrams Batch returns from a device it can poll.
const batchMax = 64

type batch struct{ d Device }

func (b *batch) MTU() int       { return b.d.MTU() }
func (b *batch) Name() string   { return b.d.Name() }
func (b *batch) Close() error   { return b.d.Close() }
func (b *batch) Stats() Stats   { return StatsOf(b.d) }
func (b *batch) Unwrap() Device { return b.d }

func (b *batch) BatchSize() int {
	if _, ok := b.d.(pollReader); ok {
		return batchMax
	}
	return 1
}

func (b *batch) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	n, err := b.d.Read(bufs[0][offset:])
	if err != nil {
		return 0, err
	}
	sizes[0] = n
	p, ok := b.d.(pollReader)
	if !ok {
		return 1, nil
	}
	count := 1
	for count < len(bufs) {
		n, ok, err := p.tryRead(bufs[count][offset:])
		if err != nil || !ok {
			// What was read is returned; an error shows on the next Read.
			break
		}
		sizes[count] = n
		count++
	}
	return count, nil
}

func (b *batch) Write(bufs [][]byte, offset int) (int, error) {
	for i, buf := range bufs {
		if _, err := b.d.Write(buf[offset:]); err != nil {
			return i, err
		}
	}
	return len(bufs), nil
}

// Single makes a BatchDevice a Device: Read returns the datagrams of one
// batch read one at a time, Write hands each datagram over on its own.
// Whatever the batch device does to datagrams (splitting super-packets,
// finishing checksums) is done before Read returns them.
func Single(b BatchDevice) Device {
	if bd, ok := b.(*batch); ok {
		return bd.d
	}
	n := max(1, b.BatchSize())
	s := &single{b: b, bufs: make([][]byte, n), sizes: make([]int, n)}
	for i := range s.bufs {
		s.bufs[i] = make([]byte, b.MTU())
	}
	s.wbuf = [][]byte{make([]byte, Headroom+b.MTU())}
	return s
}

type single struct {
	b BatchDevice

	rmu        sync.Mutex
	bufs       [][]byte
	sizes      []int
	next, have int

	wmu  sync.Mutex
	wbuf [][]byte
}

func (s *single) MTU() int     { return s.b.MTU() }
func (s *single) Name() string { return s.b.Name() }
func (s *single) Close() error { return s.b.Close() }
func (s *single) Stats() Stats { return statsOf(s.b) }

// Unwrap returns the batch device, for callers that can use it whole.
func (s *single) Unwrap() BatchDevice { return s.b }

func (s *single) Read(p []byte) (int, error) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if s.next == s.have {
		n, err := s.b.Read(s.bufs, s.sizes, 0)
		if err != nil {
			return 0, err
		}
		s.next, s.have = 0, n
	}
	d := s.bufs[s.next][:s.sizes[s.next]]
	s.next++
	n := copy(p, d)
	if n < len(d) {
		return n, fmt.Errorf("read %s: %d-byte buffer truncated a %d-byte datagram: %w", s.b.Name(), len(p), len(d), io.ErrShortBuffer)
	}
	return n, nil
}

func (s *single) Write(p []byte) (int, error) {
	if len(p) > s.b.MTU() {
		return 0, fmt.Errorf("write %s: %d-byte datagram exceeds the MTU of %d", s.b.Name(), len(p), s.b.MTU())
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	// Write may have grown or reheaded the buffer: start from its full
	// length each time.
	buf := s.wbuf[0][:Headroom+len(p)]
	copy(buf[Headroom:], p)
	s.wbuf[0] = buf
	if _, err := s.b.Write(s.wbuf, Headroom); err != nil {
		return 0, err
	}
	return len(p), nil
}
