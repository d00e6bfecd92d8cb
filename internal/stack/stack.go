package stack

// Ownership: the loop goroutine (Stack.loop) owns every tcb, every
// connection.Connection, the connection and listener tables, and the device's
// write side. Nothing else touches them. Sockets (conn, listener) and Dial run
// on the application's goroutines: they post closures to the loop (Stack.post)
// and wait on per-socket channels that the loop answers exactly once per
// request. Reads are the exception: a socket's Read takes from its
// Connection's inbound stream itself, on its own goroutine, holding the
// lock the loop holds while it works (Stack.turn), so the Connection is
// never touched by two goroutines at once (tcb.read). The reader goroutine
// owns the device's read side and shares only the rxQueue (under its
// mutex) with the loop. Stats are atomics.

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"tcplab/internal/device"
	"tcplab/internal/wire"
	"tcplab/labs/2-receiver"
	"tcplab/labs/4-connection"
)

// Config sets up a Stack. Zero fields take the defaults.
type Config struct {
	// Addr is the stack's own IPv4 address: the source of what it sends and
	// the only destination it accepts.
	Addr netip.Addr
	// Connection is the template for every connection. ISN is ignored (each
	// connection draws a random one) and so is MaxPayloadSize (it follows
	// from the device's MTU and the peer's MSS option). Capacity is the
	// send buffer: the most bytes Writes leave queued for the peer (zero
	// means DefaultCapacity).
	Connection connection.Config
	// ReceiveBuffer is the most bytes a connection holds for its
	// application to read: its inbound stream's capacity, which bounds
	// the window it advertises (zero means DefaultReceiveBuffer). Past
	// 64 KiB the window needs scaling (RFC 7323), so then every SYN
	// offers the smallest window scale that covers it. A byte stream
	// grows as it fills, so a large buffer costs memory only while an
	// application leaves bytes unread.
	ReceiveBuffer uint64
	// Batch is the most datagrams the loop takes from the device before it
	// serves the application again (default 32).
	Batch int
	// TickInterval is how often connections with something to time (data in
	// flight, a handshake, a linger) are ticked (default 5ms).
	TickInterval time.Duration
	// Backlog bounds each listener's two queues (default 128): established
	// connections not yet accepted, and half-open ones. Past the first,
	// SYNs wait for the application; past the second, SYNs are answered
	// with SYN cookies (listen.go).
	Backlog int
	// OrphanTimeout is how long a connection whose socket was closed waits
	// in FIN_WAIT_2 for the peer's FIN before it is reset (default 60s,
	// Linux's tcp_fin_timeout): the lab Connection would wait forever.
	OrphanTimeout time.Duration
	// QueueLimit is the most received datagrams waiting for the loop
	// (default 8192); past it the reader drops them, as a NIC does when
	// its ring is full. On a device that hands over 64 KiB super-packets
	// whole, the limit is on memory instead: as many bytes as QueueLimit
	// datagrams of the MTU take.
	QueueLimit int
}

// DefaultCapacity is the send buffer unless Config.Connection says
// otherwise: twice the largest 16-bit window, which is all the lab sender
// ever has in flight, so it keeps sending while the application's next
// Write comes.
const DefaultCapacity = 128 << 10

// DefaultReceiveBuffer is the receive buffer unless Config.ReceiveBuffer
// says otherwise: about what keeps a 10 Gbit/s pipe full through a TUN
// device, and no more. A window must cover the bandwidth-delay product:
// 1.25 GB/s × 0.05–0.5 ms, the round trips measured through tun144
// (LINUX-NOTES), is 62–625 KB; 512 KiB covers it up to 0.42 ms, at a
// window scale of 4. A larger window does not pay here: the kernel queues
// at most 500 datagrams (txqueuelen) for a TUN device, about 730 KB, and
// a window past that lets Linux overrun the queue whenever our reader
// lags; the drops cost far more than the window gains, since the stack
// offers no SACK (with a 2 MiB window, BenchmarkTUNDownload saw tens to
// hundreds of drops per 100 MiB on the plain device, none at 512 KiB).
const DefaultReceiveBuffer = 512 << 10

// defaultMSS is what a peer's SYN without an MSS option allows (RFC 9293).
const defaultMSS = 536

// Stats counts what the stack did with datagrams. Drops are counted by why.
type Stats struct {
	Received uint64 // datagrams read from the device
	Sent     uint64 // datagrams written to the device

	// A device with offloads (device.OffloadTUN) hands over the kernel's
	// super-packets whole, and says which TCP checksums the kernel
	// vouches for (it made the datagram, or checked it).
	SuperSegments    uint64 // received datagrams that were GSO super-packets, taken whole
	ChecksumsChecked uint64 // TCP checksums the stack checked and found good (bad ones: BadChecksum)
	ChecksumsVouched uint64 // TCP checksums not checked: the device vouched for them
	WriteCalls       uint64 // batches written to the device (one Write each)

	// Quiet drops: traffic that is simply not ours.
	NotIPv4  uint64 // e.g. IPv6 router solicitations on a fresh TUN
	NotTCP   uint64
	NotForUs uint64 // IPv4 TCP addressed to another host

	// Damaged or unsupported datagrams.
	Truncated   uint64
	BadLength   uint64
	BadChecksum uint64
	Fragments   uint64
	Malformed   uint64 // any other parse error

	QueueFull   uint64 // dropped by the reader: the loop fell too far behind
	WriteErrors uint64 // device writes that failed
	ReadErrors  uint64 // device reads that failed (not for a datagram's fault)

	ResetsSent  uint64 // RSTs answering segments for no connection, or unacceptable ACKs in a handshake
	Retransmits uint64 // segments sent again (by a Connection's timer)
	Batches     uint64 // batches of received datagrams the loop processed
	MaxBatch    uint64 // the largest such batch

	CookiesSent     uint64 // SYN-ACKs carrying a SYN cookie (the half-open table was full)
	CookiesAccepted uint64 // connections made from a returning cookie
	ListenOverflows uint64 // SYNs and handshake ACKs dropped: the accept queue was full
}

// Dropped is the total of every drop counter.
func (s Stats) Dropped() uint64 {
	return s.NotIPv4 + s.NotTCP + s.NotForUs + s.Truncated + s.BadLength +
		s.BadChecksum + s.Fragments + s.Malformed + s.QueueFull
}

type stats struct {
	superSegments, checksumsChecked, checksumsVouched, writeCalls atomic.Uint64

	received, sent, notIPv4, notTCP, notForUs, truncated, badLength,
	badChecksum, fragments, malformed, queueFull, writeErrors, readErrors, resetsSent,
	retransmits, batches, maxBatch,
	cookiesSent, cookiesAccepted, listenOverflows atomic.Uint64
}

// key identifies a connection: our port and the peer (our address is the
// stack's only one).
type key struct {
	port   uint16
	remote netip.AddrPort
}

// Stack is a TCP/IP stack over one device. Its methods are safe for
// concurrent use.
type Stack struct {
	dev  device.BatchDevice
	addr netip.Addr
	mtu  int
	mss  int // what our SYNs announce: MTU - 40
	cfg  Config

	// Receiving: the reader offers rxBatch buffers of rxSize bytes per
	// device Read, each datagram at device.Headroom. With vnet the
	// device writes a virtio_net_hdr into the headroom (super-packets
	// come whole).
	vnet    bool
	rxSize  int
	rxBatch int

	reqs    chan func()   // closures for the loop to run
	wake    chan struct{} // datagrams queued or a tick due (capacity 1)
	tickDue atomic.Bool
	rx      rxQueue
	done    chan struct{} // closed by Close
	exited  chan struct{} // closed when the loop has answered everything and stopped
	wg      sync.WaitGroup
	once    sync.Once
	stats   stats
	cookies cookieJar

	// Owned by the loop. It holds turn while it works: between two
	// turns, a socket's Read may take it to read its Connection's
	// inbound stream. A Read is a copy and a few checks; asking the
	// loop for each instead cost two goroutine switches, and readers
	// ask for a few KiB at a time (io.Copy into io.Discard reads 8 KiB):
	// in a 100 MiB download, 12,800 round trips to the loop took most of
	// its time.
	turn      sync.Mutex
	conns     map[key]*tcb
	last      *tcb // the connection the last datagram was for, if in conns
	listeners map[uint16]*listener
	timeWaits map[key]*timeWait // closed connections lingering (timewait.go)
	ports     *portPicker
	dirty     []*tcb
	timed     int // tcbs that need ticks
	timer     *time.Timer
	ticking   bool
	stopping  bool
	devErr    error // why the device broke, once it did: every connection failed with it
	lastTick  time.Time
	batch     [][]byte
	tx        txBatch
}

// New starts a stack on dev. The stack owns dev from now on and closes it
// in Close. A dev made by device.Single from a batch device is used as the
// batch device it is (see NewBatch).
func New(dev device.Device, cfg Config) (*Stack, error) {
	return NewBatch(device.Batch(dev), cfg)
}

// wholeReader is a batch device that can hand super-packets over whole
// (device.OffloadTUN).
type wholeReader interface {
	SetWhole(bool)
	Offloads() device.Offloads
}

// NewBatch starts a stack on a batch device: it reads up to
// dev.BatchSize() datagrams per call, and writes what one turn of its loop
// sends in one call, so a device with TSO joins a connection's
// consecutive segments into one super-packet. A device that can hand
// over the kernel's super-packets whole (device.OffloadTUN with its
// virtio header) is told to: a lab Connection takes a payload of any
// length, so a 64 KiB super-segment is one segment to it, and one ACK.
func NewBatch(dev device.BatchDevice, cfg Config) (*Stack, error) {
	if !cfg.Addr.Is4() {
		return nil, fmt.Errorf("stack on %s: address %v is not IPv4", dev.Name(), cfg.Addr)
	}
	mtu := dev.MTU()
	if mtu < wire.MaxHeaderLen+1 || mtu > wire.MaxDatagramLen {
		return nil, fmt.Errorf("stack on %s: unusable MTU %d", dev.Name(), mtu)
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 32
	}
	if cfg.TickInterval <= 0 {
		cfg.TickInterval = 5 * time.Millisecond
	}
	if cfg.Backlog <= 0 {
		cfg.Backlog = 128
	}
	if cfg.OrphanTimeout <= 0 {
		cfg.OrphanTimeout = 60 * time.Second
	}
	if cfg.QueueLimit <= 0 {
		cfg.QueueLimit = 8192
	}
	if cfg.Connection.Capacity == 0 {
		cfg.Connection.Capacity = DefaultCapacity
	}
	if cfg.ReceiveBuffer == 0 {
		cfg.ReceiveBuffer = DefaultReceiveBuffer
	}
	rxSize, rxBatch, smallSize := device.Headroom+mtu, max(1, dev.BatchSize()), 0
	txCap := device.Headroom + mtu
	var vnet, tso bool
	if w, ok := dev.(wholeReader); ok && w.Offloads()&device.VnetHdr != 0 {
		w.SetWhole(true)
		vnet = true
		// One read is one datagram of up to 64 KiB: a few buffers that
		// size are plenty; what is no larger than the MTU is copied out
		// (rxQueue).
		rxSize, smallSize = device.Headroom+wire.MaxDatagramLen, device.Headroom+mtu
		rxBatch = min(rxBatch, wholeReadBatch)
		if w.Offloads()&device.TSO4 != 0 {
			// The device joins segments into the first one's buffer.
			txCap = device.Headroom + wire.MaxDatagramLen
			tso = true
		}
	}
	s := &Stack{
		dev:       dev,
		addr:      cfg.Addr,
		mtu:       mtu,
		mss:       int(wire.MSSForMTU(mtu)),
		cfg:       cfg,
		vnet:      vnet,
		rxSize:    rxSize,
		rxBatch:   rxBatch,
		tx:        txBatch{cap: txCap, max: max(1, min(dev.BatchSize(), txBatchMax)), tso: tso},
		reqs:      make(chan func()),
		wake:      make(chan struct{}, 1),
		done:      make(chan struct{}),
		exited:    make(chan struct{}),
		conns:     make(map[key]*tcb),
		listeners: make(map[uint16]*listener),
		timeWaits: make(map[key]*timeWait),
		ports:     newPortPicker(),
		cookies:   newCookieJar(time.Now()),
	}
	// As many bytes as QueueLimit datagrams of the MTU take, and at least
	// a batch of the reader's buffers.
	s.rx.limit = max(cfg.QueueLimit*(device.Headroom+mtu), wholeReadBatch*rxSize)
	s.rx.smallSize = smallSize
	// A callback rather than a channel in the loop's select: one channel
	// fewer to lock on every turn of a busy loop.
	s.timer = time.AfterFunc(time.Hour, func() {
		s.tickDue.Store(true)
		s.poke()
	})
	s.timer.Stop()
	if tso {
		s.tx.acks = &ackWriter{out: make(chan txWrite), back: make(chan [][]byte, 1), done: make(chan struct{})}
		go s.ackWriter()
	}
	s.wg.Add(2)
	go s.reader()
	go s.loop()
	return s, nil
}

// Addr is the stack's IPv4 address.
func (s *Stack) Addr() netip.Addr { return s.addr }

// Stats returns the stack's counters.
func (s *Stack) Stats() Stats {
	c := &s.stats
	return Stats{
		Received: c.received.Load(), Sent: c.sent.Load(),
		SuperSegments: c.superSegments.Load(), ChecksumsChecked: c.checksumsChecked.Load(),
		ChecksumsVouched: c.checksumsVouched.Load(), WriteCalls: c.writeCalls.Load(),
		NotIPv4: c.notIPv4.Load(), NotTCP: c.notTCP.Load(), NotForUs: c.notForUs.Load(),
		Truncated: c.truncated.Load(), BadLength: c.badLength.Load(),
		BadChecksum: c.badChecksum.Load(), Fragments: c.fragments.Load(),
		Malformed: c.malformed.Load(), QueueFull: c.queueFull.Load(),
		WriteErrors: c.writeErrors.Load(), ReadErrors: c.readErrors.Load(),
		ResetsSent:  c.resetsSent.Load(),
		Retransmits: c.retransmits.Load(),
		Batches:     c.batches.Load(), MaxBatch: c.maxBatch.Load(),
		CookiesSent: c.cookiesSent.Load(), CookiesAccepted: c.cookiesAccepted.Load(),
		ListenOverflows: c.listenOverflows.Load(),
	}
}

// Close stops the stack: every connection is dropped without a word to its
// peer (as if the host vanished), blocked socket calls and later ones fail
// with net.ErrClosed, and the device is closed.
func (s *Stack) Close() error {
	var err error
	s.once.Do(func() {
		close(s.done)
		_ = s.post(func() { s.stopping = true })
		<-s.exited
		err = s.dev.Close()
		s.wg.Wait()
	})
	return err
}

// call runs f on the loop and waits until it has run.
func (s *Stack) call(f func()) error {
	done := make(chan struct{})
	if err := s.post(func() { f(); close(done) }); err != nil {
		return err
	}
	<-done
	return nil
}

// post hands f to the loop. It fails only once the stack is closed; if it
// succeeds, f runs (the channel is unbuffered: the loop has taken it).
func (s *Stack) post(f func()) error {
	select {
	case s.reqs <- f:
		return nil
	case <-s.exited:
		return net.ErrClosed
	}
}

// rxQueue holds datagrams between the reader and the loop. It is unbounded
// in practice (TCP's windows bound what is in flight) so the reader never
// waits for the loop; a limit guards against floods. Buffers go round:
// the reader reads into them, the loop takes them, and they come back to
// the free lists, so a busy stack allocates none.
//
// On a device that hands over super-packets whole the reader's buffers
// are 64 KiB each, and most datagrams (ACKs, a flood's small junk) are
// far smaller: those are copied into a buffer of the MTU (small) and the
// big one is read into again. The limit is on the bytes the queued
// buffers take, so a flood of small datagrams queues as many of them as a
// plain device would, and super-packets as many as fit the same memory.
type rxQueue struct {
	mu        sync.Mutex
	q         [][]byte // whole buffers cut at their datagram's end (it starts at device.Headroom)
	free      [][]byte // buffers of the reader's size, at full length
	smallFree [][]byte // buffers of smallSize, at full length
	queued    int      // bytes the queued buffers take (their capacity)
	limit     int      // the most bytes queued
	smallSize int      // 0: every datagram keeps the buffer it was read into
}

func (q *rxQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.q)
}

// put queues the first n datagrams read into bufs (bufs[i] holds one of
// sizes[i] bytes at device.Headroom), puts fresh buffers of size bytes in
// the places of those it keeps, and returns how many did not fit. A
// datagram that did not fit, or was copied, leaves its buffer to be read
// into again.
func (q *rxQueue) put(bufs [][]byte, sizes []int, n, size int) (dropped int) {
	q.mu.Lock()
	for i := range n {
		b := bufs[i][:device.Headroom+sizes[i]]
		copied := len(b) <= q.smallSize
		take := cap(bufs[i])
		if copied {
			take = q.smallSize
		}
		if q.queued+take > q.limit {
			dropped++
			continue
		}
		q.queued += take
		if copied {
			q.q = append(q.q, append(pop(&q.smallFree, q.smallSize)[:0], b...))
			continue
		}
		q.q = append(q.q, b)
		bufs[i] = nil
		if len(q.free) > 0 {
			bufs[i] = pop(&q.free, 0)
		}
	}
	q.mu.Unlock()
	for i := range n {
		if bufs[i] == nil {
			bufs[i] = make([]byte, size)
		}
	}
	return dropped
}

// pop takes the last buffer of a free list, or makes one of size bytes if
// the list is empty.
func pop(list *[][]byte, size int) []byte {
	k := len(*list)
	if k == 0 {
		return make([]byte, size)
	}
	b := (*list)[k-1]
	(*list)[k-1] = nil
	*list = (*list)[:k-1]
	return b
}

// take moves at most n queued datagrams into dst and reports whether more
// are waiting.
func (q *rxQueue) take(dst [][]byte, n int) ([][]byte, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n = min(n, len(q.q))
	for _, b := range q.q[:n] {
		q.queued -= cap(b)
	}
	dst = append(dst, q.q[:n]...)
	rest := copy(q.q, q.q[n:])
	clear(q.q[rest:])
	q.q = q.q[:rest]
	return dst, rest > 0
}

// recycle returns taken buffers to their free list.
func (q *rxQueue) recycle(bufs [][]byte) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, b := range bufs {
		if q.smallSize > 0 && cap(b) == q.smallSize {
			q.smallFree = append(q.smallFree, b[:cap(b)])
		} else {
			q.free = append(q.free, b[:cap(b)])
		}
	}
}

// readFailureLimit is how many device reads in a row may fail before the
// device counts as broken.
const readFailureLimit = 10

// wholeReadBatch is how many buffers the reader offers a device that
// hands over super-packets whole: each read system call brings one
// datagram, so a few 64 KiB buffers hold what one Read gathers.
const wholeReadBatch = 16

// reader moves datagrams from the device into the queue. It is the only
// goroutine that reads the device.
func (s *Stack) reader() {
	defer s.wg.Done()
	bufs := make([][]byte, s.rxBatch)
	sizes := make([]int, s.rxBatch)
	for i := range bufs {
		bufs[i] = make([]byte, s.rxSize)
	}
	failures := 0
	for {
		n, err := s.dev.Read(bufs, sizes, device.Headroom)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			select {
			case <-s.done:
				return
			default:
			}
			if errors.Is(err, io.ErrShortBuffer) {
				// A datagram too long for the MTU: its fault, not the
				// device's.
				s.stats.malformed.Add(1)
				continue
			}
			s.stats.readErrors.Add(1)
			if failures++; failures >= readFailureLimit {
				// Retrying a device that keeps failing only spins: the
				// connections learn why instead.
				s.deviceFailed(fmt.Errorf("%s broke: %w", s.dev.Name(), err))
				return
			}
			// A transient error (an interrupted call) passes; a broken
			// device fails again at once, so the next tries wait a little.
			time.Sleep(time.Duration(failures) * time.Millisecond)
			continue
		}
		failures = 0
		s.stats.received.Add(uint64(n))
		dropped := s.rx.put(bufs, sizes, n, s.rxSize)
		s.stats.queueFull.Add(uint64(dropped))
		if dropped < n {
			s.poke()
		}
	}
}

// deviceFailed fails every connection and listener with err, and every
// later Dial and Listen. Writes may still work, so each connection's peer
// is sent an RST.
func (s *Stack) deviceFailed(err error) {
	_ = s.post(func() {
		s.devErr = err
		for _, tc := range s.conns {
			tc.abort(err) // serve answers its calls and removes it
		}
		for port, l := range s.listeners {
			l.err = err
			l.close()
			delete(s.listeners, port)
		}
	})
}

// poke wakes the loop unless a wakeup is already pending.
func (s *Stack) poke() {
	select {
	case s.wake <- struct{}{}:
	default: // the loop is already due to look
	}
}

// loop is the event loop: the one goroutine that owns every connection.
func (s *Stack) loop() {
	defer s.wg.Done()
	defer close(s.exited)
	defer s.stopACKs()
	for {
		select {
		case f := <-s.reqs:
			s.turn.Lock()
			f()
		case <-s.wake:
			s.turn.Lock()
			// What arrived goes first: it came before the loop could
			// look, so an ACK that reached us within the RTO must stop
			// the retransmission a late-running loop would otherwise
			// send for it (a FIN sent again after its ACK had come drew
			// the kernel's ACK to a connection already forgotten, and
			// our RST).
			s.receiveBatch()
			if s.tickDue.Swap(false) && s.ticking {
				s.ticking = false
				s.tick()
			}
		}
		s.serve()
		if s.stopping {
			s.shutdown()
			s.turn.Unlock()
			return
		}
		s.turn.Unlock()
	}
}

// receiveBatch processes at most Batch queued datagrams. If more wait, it
// wakes the loop again, after the application has been served.
func (s *Stack) receiveBatch() {
	var more bool
	queued := s.rx.len()
	if queued == 0 {
		return
	}
	if queued < s.cfg.Batch {
		// Let the reader (and the peer) run first: datagrams come in
		// bursts, and every one more in this batch is a wakeup and an ACK
		// saved.
		runtime.Gosched()
	}
	s.batch, more = s.rx.take(s.batch[:0], s.cfg.Batch)
	for _, b := range s.batch {
		s.input(b)
	}
	n := uint64(len(s.batch))
	s.stats.batches.Add(1)
	if n > s.stats.maxBatch.Load() {
		s.stats.maxBatch.Store(n)
	}
	s.rx.recycle(s.batch)
	clear(s.batch)
	if more {
		s.poke()
	}
}

// input handles one received datagram: b holds it at device.Headroom,
// after the virtio_net_hdr if the device writes one.
func (s *Stack) input(b []byte) {
	seg, err := s.parse(b)
	if err != nil {
		s.countDrop(err)
		return
	}
	if seg.Dst.Addr() != s.addr {
		s.stats.notForUs.Add(1)
		return
	}
	k := key{port: seg.Dst.Port(), remote: seg.Src}
	// Bursts belong to one connection: a one-entry cache saves hashing
	// the key for almost every datagram of a bulk transfer.
	tc := s.last
	if tc == nil || tc.key != k {
		tc = s.conns[k]
	}
	if tc == nil {
		if tw := s.timeWaits[k]; tw != nil && s.timeWaitInput(k, tw, seg) {
			return
		}
		l := s.listeners[k.port]
		if l == nil {
			s.refuse(seg)
			return
		}
		if tc = s.listenInput(l, k, seg); tc == nil {
			return
		}
	} else if s.holdHandshake(tc, seg) {
		return
	}
	s.last = tc
	tc.receive(seg, b[device.Headroom:])
	s.admit(tc)
}

// parse reads the segment in b (see input). The TCP checksum is checked
// unless the device says the kernel vouches for it: the kernel made the
// datagram, whose checksum field then holds only the pseudo-header's sum
// (VirtioNeedsCsum), or checked it on the way in (VirtioDataValid). A
// super-packet is always the kernel's own.
func (s *Stack) parse(b []byte) (wire.Segment, error) {
	pkt := b[device.Headroom:]
	if !s.vnet || b[0]&(device.VirtioNeedsCsum|device.VirtioDataValid) == 0 {
		seg, err := wire.Parse(pkt)
		if err == nil {
			s.stats.checksumsChecked.Add(1)
		}
		return seg, err
	}
	seg, err := wire.ParseVouched(pkt)
	if err == nil {
		s.stats.checksumsVouched.Add(1)
		if b[1] != device.VirtioGSONone {
			s.stats.superSegments.Add(1)
		}
	}
	return seg, err
}

func (s *Stack) countDrop(err error) {
	c := &s.stats
	switch {
	case errors.Is(err, wire.ErrNotIPv4):
		c.notIPv4.Add(1)
	case errors.Is(err, wire.ErrNotTCP):
		c.notTCP.Add(1)
	case errors.Is(err, wire.ErrTruncated):
		c.truncated.Add(1)
	case errors.Is(err, wire.ErrBadLength):
		c.badLength.Add(1)
	case errors.Is(err, wire.ErrBadChecksum):
		c.badChecksum.Add(1)
	case errors.Is(err, wire.ErrFragment):
		c.fragments.Add(1)
	default:
		c.malformed.Add(1)
	}
}

// refuse answers a segment that belongs to no connection, as RFC 9293
// (3.10.7.1) says a closed port does: never an RST for an RST; for a segment
// with ACK, an RST whose seqno is that ackno (so the peer accepts it);
// otherwise an RST+ACK acknowledging everything the segment occupied.
func (s *Stack) refuse(seg wire.Segment) {
	if seg.IsRST() {
		return
	}
	var m connection.Message
	m.Sender.RST, m.Receiver.RST = true, true
	if seg.Receiver.ACK {
		m.Sender.Seqno = seg.Receiver.Ackno
	} else {
		m.Receiver.ACK = true
		m.Receiver.Ackno = seg.Sender.Seqno + receiver.Wrap32(seg.SequenceLength())
	}
	s.stats.resetsSent.Add(1)
	s.send(wire.Segment{Src: seg.Dst, Dst: seg.Src, Message: m})
}

// txBatch is what the loop sends in one turn, written to the device in
// one call at the turn's end (flush): a device with TSO joins a
// connection's consecutive segments into one super-packet. Its buffers
// are kept from turn to turn.
type txBatch struct {
	bufs [][]byte // bufs[:n] are queued, each a datagram at device.Headroom
	n    int
	cap  int // each buffer's capacity: room to join segments on a TSO device
	max  int // the most datagrams in one write
	tso  bool
	data bool       // some queued datagram is more than a bare ACK
	acks *ackWriter // on a TSO device: writes turns of bare ACKs beside the loop
}

// ackWriter writes a turn's bare ACKs beside the loop. Writing an ACK to
// a TUN runs Linux's side of the exchange in the writer's system call:
// its TCP takes the ACK in and sends the next data there and then (on an
// offload device, a 64 KiB super-packet). Done by the loop, that held up
// every connection for about a fifth of a download's loop time; done
// here, the two overlap. Only bare ACKs come here: data, SYNs, FINs and
// RSTs are written by the loop, after the writer has written what it
// holds, so the device sees every datagram in the order it was sent. The
// sender's own segments stay in the loop, where uploads pace themselves.
type ackWriter struct {
	out     chan txWrite  // a set of buffers to write
	back    chan [][]byte // the set, written
	spare   [][]byte      // the loop's other set, while the writer has none
	writing bool          // the writer holds a set
	done    chan struct{} // closed when the writer has returned
}

// txWrite is one set of buffers for the ackWriter, bufs[:n] to be written.
type txWrite struct {
	bufs [][]byte
	n    int
}

// ackWriter writes what flush hands it, in order, and hands the buffers
// back.
func (s *Stack) ackWriter() {
	defer close(s.tx.acks.done)
	for w := range s.tx.acks.out {
		s.write(w.bufs[:w.n])
		s.tx.acks.back <- w.bufs
	}
}

// waitACKs returns once the ackWriter has written what it was handed.
func (t *txBatch) waitACKs() {
	if a := t.acks; a != nil && a.writing {
		a.spare, a.writing = <-a.back, false
	}
}

// stopACKs waits until the ackWriter has written what it holds and
// returned: nothing is written after the loop has exited.
func (s *Stack) stopACKs() {
	if a := s.tx.acks; a != nil {
		s.tx.waitACKs()
		close(a.out)
		<-a.done
	}
}

// txBatchMax caps a write batch: enough for a 64 KiB super-packet of
// 1460-byte segments, and not so many 64 KiB buffers that they weigh.
const txBatchMax = 64

// send queues one datagram for the end of the turn.
func (s *Stack) send(seg wire.Segment) { s.sendWithOptions(seg, nil) }

// sendWithOptions queues one datagram whose TCP header carries opts after
// the MSS option: a SYN's window scale.
func (s *Stack) sendWithOptions(seg wire.Segment, opts []byte) {
	t := &s.tx
	if t.n == t.max {
		s.flush()
	}
	if t.n == len(t.bufs) {
		t.bufs = append(t.bufs, make([]byte, device.Headroom, t.cap))
	}
	t.bufs[t.n] = seg.AppendWithOptions(t.bufs[t.n][:device.Headroom], opts)
	t.n++
	if seg.SequenceLength() > 0 || seg.IsRST() {
		t.data = true
	}
}

// flush writes the datagrams queued in this turn, in one device Write.
func (s *Stack) flush() {
	t := &s.tx
	if t.n == 0 {
		return
	}
	bufs := t.bufs[:t.n]
	t.n = 0
	if t.tso {
		// PSH ends a super-packet: only a burst's last segment keeps it,
		// as when Linux's TSO cuts one up.
		for i := 0; i+1 < len(bufs); i++ {
			if a := bufs[i][device.Headroom:]; wire.Continues(a, bufs[i+1][device.Headroom:]) {
				wire.ClearPSH(a)
			}
		}
	}
	data := t.data
	t.data = false
	if a := t.acks; a != nil && !data {
		t.waitACKs()
		a.out <- txWrite{bufs: t.bufs, n: len(bufs)}
		t.bufs, a.spare, a.writing = a.spare, nil, true
		return
	}
	t.waitACKs()
	s.write(bufs)
}

// write writes bufs to the device in one call and counts what went out.
func (s *Stack) write(bufs [][]byte) {
	n, err := s.dev.Write(bufs, device.Headroom)
	s.stats.writeCalls.Add(1)
	s.stats.sent.Add(uint64(n))
	if err != nil {
		// What was not sent is lost, as a datagram is: TCP retransmits.
		s.stats.writeErrors.Add(uint64(len(bufs) - n))
	}
}

// newConnection makes a Connection from the template. It sends at most
// our own MSS per segment until the peer's SYN says what it takes.
func (s *Stack) newConnection() *connection.Connection {
	cfg := s.cfg.Connection
	cfg.ISN = receiver.Wrap32(rand.Uint32())
	cfg.MaxPayloadSize = s.mss
	cfg.Capacity = s.streamCapacity()
	return connection.New(cfg)
}

// streamCapacity is the capacity of a Connection's streams. The lab gives
// both one capacity, so it is the larger of the send and receive buffers,
// and the stack holds each direction to its own: Writes to the send
// buffer (tcb.sendRoom), the window to the receive buffer
// (endpoint.window). Capacity is not memory: a stream grows as it fills.
func (s *Stack) streamCapacity() uint64 {
	return max(s.cfg.Connection.Capacity, s.cfg.ReceiveBuffer)
}

// markDirty queues tc to be served at the end of this loop turn.
func (s *Stack) markDirty(tc *tcb) {
	if !tc.dirty {
		tc.dirty = true
		s.dirty = append(s.dirty, tc)
	}
}

// serve runs at the end of every loop turn: it gives the application what
// the turn made possible and sends the coalesced ACKs.
func (s *Stack) serve() {
	for i := 0; i < len(s.dirty); i++ { // serving may dirty more
		tc := s.dirty[i]
		tc.dirty = false
		tc.serve()
	}
	clear(s.dirty)
	s.dirty = s.dirty[:0]
	s.flush()
	s.armTimer()
}

// armTimer runs the tick timer while some connection has something to time.
func (s *Stack) armTimer() {
	switch {
	case s.timed > 0 && !s.ticking:
		if s.lastTick.IsZero() {
			s.lastTick = time.Now() // idle until now: nothing to time before
		}
		s.timer.Reset(s.cfg.TickInterval)
		s.ticking = true
	case s.timed == 0 && s.ticking:
		s.timer.Stop()
		s.ticking = false
		s.lastTick = time.Time{}
	case s.timed == 0:
		s.lastTick = time.Time{}
	}
}

// tick tells every connection how much time passed.
func (s *Stack) tick() {
	now := time.Now()
	elapsed := now.Sub(s.lastTick)
	s.lastTick = now
	for _, tc := range s.conns {
		tc.ep.tick(elapsed)
		s.markDirty(tc)
	}
	s.tickTimeWaits(elapsed)
}

// ephemeralPort picks a free port for an active open to remote: not
// listened on, and not in a 4-tuple still in use (TIME_WAIT included).
func (s *Stack) ephemeralPort(remote netip.AddrPort) (uint16, bool) {
	return s.ports.pick(s.addr, remote, func(p uint16) bool {
		_, listened := s.listeners[p]
		_, used := s.conns[key{port: p, remote: remote}]
		_, lingering := s.timeWaits[key{port: p, remote: remote}]
		return !listened && !used && !lingering
	})
}

// shutdown answers every waiting socket call when the loop stops.
func (s *Stack) shutdown() {
	s.timer.Stop()
	for _, tc := range s.conns {
		tc.fail(net.ErrClosed)
	}
	for _, l := range s.listeners {
		l.close()
	}
}
