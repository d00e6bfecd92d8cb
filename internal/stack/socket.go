package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"tcplab/labs/4-connection"
)

// Errors socket calls return (wrapped in a *net.OpError with the addresses).
var (
	// ErrConnectionReset: the peer reset the connection.
	ErrConnectionReset = errors.New("connection reset by peer")
	// ErrConnectionRefused: the peer answered our SYN with RST (nobody
	// listens on that port).
	ErrConnectionRefused = errors.New("connection refused")
	// ErrTimedOut: the peer stopped answering and the connection gave up
	// retransmitting (after Config.MaxRetransmissions).
	ErrTimedOut = errors.New("connection timed out")
	// ErrWriteAfterCloseWrite: Write after CloseWrite (or Close).
	ErrWriteAfterCloseWrite = errors.New("write after CloseWrite")
	// ErrAddressInUse: Listen on a port that already has a listener.
	ErrAddressInUse = errors.New("address already in use")
	// ErrNoPorts: every ephemeral port is in use for that peer.
	ErrNoPorts = errors.New("no ephemeral port free")
	// ErrAborted: the listener was closed before the connection was
	// accepted.
	ErrAborted = errors.New("connection aborted")
)

// Dial opens a connection to addr, "host:port" (a host name is resolved by
// the host's resolver to an IPv4 address). It returns once the handshake
// completes, the peer refuses (an error wrapping ErrConnectionRefused), or
// ctx ends.
func (s *Stack) Dial(ctx context.Context, addr string) (net.Conn, error) {
	ap, err := resolve(ctx, addr)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: err}
	}
	return s.DialAddrPort(ctx, ap)
}

// DialContext is Dial with the signature net/http's Transport.DialContext
// and similar hooks take. network must be "tcp" or "tcp4".
func (s *Stack) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if network != "tcp" && network != "tcp4" {
		return nil, &net.OpError{Op: "dial", Net: network, Err: net.UnknownNetworkError(network)}
	}
	return s.Dial(ctx, addr)
}

func resolve(ctx context.Context, addr string) (netip.AddrPort, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return netip.AddrPort{}, err
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		n, lerr := net.DefaultResolver.LookupPort(ctx, "tcp", port)
		if lerr != nil {
			return netip.AddrPort{}, lerr
		}
		p = uint64(n)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		ips, lerr := net.DefaultResolver.LookupNetIP(ctx, "ip4", host)
		if lerr != nil {
			return netip.AddrPort{}, lerr
		}
		if len(ips) == 0 {
			return netip.AddrPort{}, fmt.Errorf("%s: no IPv4 address", host)
		}
		ip = ips[0]
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(p)), nil
}

// DialAddrPort opens a connection to addr; see Dial.
func (s *Stack) DialAddrPort(ctx context.Context, addr netip.AddrPort) (net.Conn, error) {
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	opErr := func(local netip.AddrPort, err error) error {
		e := &net.OpError{Op: "dial", Net: "tcp", Addr: net.TCPAddrFromAddrPort(addr), Err: err}
		if local.IsValid() {
			e.Source = net.TCPAddrFromAddrPort(local)
		}
		return e
	}
	if !addr.Addr().Is4() {
		return nil, opErr(netip.AddrPort{}, fmt.Errorf("%v is not an IPv4 address", addr.Addr()))
	}
	if err := ctx.Err(); err != nil {
		return nil, opErr(netip.AddrPort{}, err)
	}
	var tc *tcb
	res := make(chan error, 1)
	var setup error
	err := s.post(func() {
		if s.devErr != nil {
			setup = s.devErr
			res <- setup
			return
		}
		port, ok := s.ephemeralPort(addr)
		if !ok {
			setup = ErrNoPorts
			res <- setup
			return
		}
		tc = s.newTCB(key{port: port, remote: addr}, s.newConnection())
		tc.dial = res
		tc.ep.connect()
		s.markDirty(tc)
	})
	if err != nil {
		return nil, opErr(netip.AddrPort{}, err)
	}
	select {
	case err = <-res:
	case <-ctx.Done():
		// Withdraw; the loop answers exactly once either way.
		_ = s.post(func() {
			if tc != nil && tc.dial != nil {
				tc.abort(ctx.Err())
				tc.answerDial(ctx.Err())
			}
		})
		err = <-res
	}
	if tc == nil {
		return nil, opErr(netip.AddrPort{}, err)
	}
	if err != nil {
		return nil, opErr(tc.local, err)
	}
	return newConn(s, tc), nil
}

// Listen accepts connections to port.
func (s *Stack) Listen(port uint16) (net.Listener, error) {
	l := &listener{
		s:     s,
		port:  port,
		addr:  net.TCPAddrFromAddrPort(netip.AddrPortFrom(s.addr, port)),
		queue: make(chan *tcb, s.cfg.Backlog),
		done:  make(chan struct{}),
	}
	var err error
	if perr := s.call(func() {
		if s.devErr != nil {
			err = s.devErr
			return
		}
		if _, ok := s.listeners[port]; ok || port == 0 {
			err = ErrAddressInUse
			return
		}
		s.listeners[port] = l
	}); perr != nil {
		err = perr
	}
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: "tcp", Source: l.addr, Err: err}
	}
	return l, nil
}

// listener is a net.Listener. queue and done are shared with the loop;
// halfOpen is the loop's. (listen.go has the loop's side of listening.)
type listener struct {
	s        *Stack
	port     uint16
	addr     *net.TCPAddr
	queue    chan *tcb // established connections waiting for Accept
	done     chan struct{}
	once     sync.Once
	halfOpen int   // connections whose handshake has not completed
	err      error // why it stopped, if not Close (set before done is closed)
}

// acceptQueueFull reports whether Accept has Backlog connections waiting.
func (l *listener) acceptQueueFull() bool { return len(l.queue) == cap(l.queue) }

// handOver queues an established connection for Accept, or resets it if
// the backlog is full or it already failed.
func (l *listener) handOver(tc *tcb, st connection.State) {
	tc.listener = nil
	l.halfOpen--
	if st == connection.RESET {
		return
	}
	select {
	case l.queue <- tc:
	default:
		// Only a handshake holdHandshake did not see completes with the
		// queue full (e.g. the Connection's own timer).
		tc.abort(ErrAborted)
	}
}

// close stops accepting; the loop calls it.
func (l *listener) close() {
	l.once.Do(func() { close(l.done) })
}

func (l *listener) Accept() (net.Conn, error) {
	select {
	case <-l.done:
		return nil, l.stopped()
	default:
	}
	select {
	case tc := <-l.queue:
		return newConn(l.s, tc), nil
	case <-l.done:
		return nil, l.stopped()
	}
}

// stopped is Accept's error once the listener stopped.
func (l *listener) stopped() error {
	err := l.err
	if err == nil {
		err = net.ErrClosed
	}
	return &net.OpError{Op: "accept", Net: "tcp", Addr: l.addr, Err: err}
}

// Close stops listening and resets the connections nobody accepted.
// Accepted connections carry on.
func (l *listener) Close() error {
	err := l.s.post(func() {
		if l.s.listeners[l.port] == l {
			delete(l.s.listeners, l.port)
		}
		l.close()
		for {
			select {
			case tc := <-l.queue:
				tc.abort(ErrAborted)
			default:
				for _, tc := range l.s.conns {
					if tc.listener == l {
						tc.abort(ErrAborted)
					}
				}
				return
			}
		}
	})
	if err != nil {
		l.close()
	}
	return nil
}

func (l *listener) Addr() net.Addr { return l.addr }

// conn is a net.Conn over one tcb. Reads and Writes each go one at a time
// (a second waits for the first), like net.Pipe's. Reads take from the
// Connection themselves (conn.read); Writes are handed to the loop.
type conn struct {
	s             *Stack
	tc            *tcb
	local, remote *net.TCPAddr
	rmu, wmu      sync.Mutex
	rdl, wdl      *deadline
	wcall         call   // the Write's, under wmu
	nudge         func() // the Reads drained the receive buffer as far as the loop asked
	closed        atomic.Bool
}

// call is how a Write is handed to the loop: its closures are made once
// per connection, not per call, so a busy socket allocates nothing. p is
// set by the socket's goroutine before start is posted and read by the
// loop in start; the post and the answer order the two.
type call struct {
	p      []byte
	start  func()
	cancel func()
	res    chan result // the pending's, made once and never replaced
}

func (c *conn) bind(cl *call, pc *pending) {
	cl.start = func() {
		pc.start(cl.p)
		c.s.markDirty(c.tc)
	}
	cl.cancel = func() { pc.finish(errCanceled) }
	cl.res = pc.res
}

func newConn(s *Stack, tc *tcb) *conn {
	c := &conn{
		s:      s,
		tc:     tc,
		local:  net.TCPAddrFromAddrPort(tc.local),
		remote: net.TCPAddrFromAddrPort(tc.remote),
		rdl:    newDeadline(),
		wdl:    newDeadline(),
	}
	c.bind(&c.wcall, &tc.write)
	c.nudge = func() {
		if !tc.closed { // once closed, the loop keeps the window open itself
			s.markDirty(tc)
		}
	}
	return c
}

func (c *conn) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.local, Addr: c.remote, Err: err}
}

// Read reads what arrived; it blocks until something did, the peer's FIN
// (io.EOF), an error, or the read deadline.
func (c *conn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if len(p) == 0 && !c.closed.Load() {
		return 0, nil // as a kernel socket does: no waiting for nothing
	}
	if c.closed.Load() || isClosed(c.s.done) {
		return 0, c.opErr("read", net.ErrClosed)
	}
	expired := c.rdl.wait()
	if isClosed(expired) {
		return 0, c.opErr("read", os.ErrDeadlineExceeded)
	}
	n, err := c.read(p, expired)
	switch err {
	case nil:
		return n, nil
	case io.EOF:
		return n, io.EOF // callers compare with ==
	}
	return n, c.opErr("read", err)
}

// read reads the connection's inbound stream with the loop's turn held
// (tcb.read), and waits for the loop until there is something to read
// or the deadline passes.
func (c *conn) read(p []byte, expired <-chan struct{}) (int, error) {
	s, tc := c.s, c.tc
	s.turn.Lock()
	for {
		n, nudge, err := tc.read(p)
		if err != errNothingYet {
			s.turn.Unlock()
			if nudge {
				_ = s.post(c.nudge) // fails only once the stack is closed: nothing to announce
			}
			return n, err
		}
		tc.readWaiting = true
		s.turn.Unlock()
		select {
		case <-tc.readReady:
		case <-expired:
			s.turn.Lock()
			tc.readWaiting = false
			s.turn.Unlock()
			return 0, os.ErrDeadlineExceeded
		}
		s.turn.Lock()
	}
}

// Write blocks until all of p is in the outbound stream (not necessarily
// sent), the connection fails, or the write deadline passes.
func (c *conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	n, err := c.do(c.wdl, &c.wcall, p)
	if err != nil {
		return n, c.opErr("write", err)
	}
	return n, nil
}

// do hands the loop the call cl with buffer p and waits for its answer. If
// the deadline passes first, the call is withdrawn; the loop answers
// exactly once either way, so p is never touched after do returns.
func (c *conn) do(dl *deadline, cl *call, p []byte) (int, error) {
	if c.closed.Load() {
		return 0, net.ErrClosed
	}
	expired := dl.wait()
	select {
	case <-expired:
		return 0, os.ErrDeadlineExceeded
	default:
	}
	cl.p = p
	defer func() { cl.p = nil }()
	if err := c.s.post(cl.start); err != nil {
		return 0, err
	}
	res := cl.res
	var r result
	select {
	case r = <-res:
	case <-expired:
		// If the stack closed meanwhile, its shutdown answers instead.
		_ = c.s.post(cl.cancel)
		r = <-res
	}
	if r.err == errCanceled {
		r.err = os.ErrDeadlineExceeded
	}
	return r.n, r.err
}

// CloseWrite sends FIN after what was written: the peer reads EOF, and
// this side may still read.
func (c *conn) CloseWrite() error {
	if c.closed.Load() {
		return c.opErr("close", net.ErrClosed)
	}
	err := c.s.post(func() {
		c.tc.conn().Outbound().Close()
		c.tc.ep.push()
		c.s.markDirty(c.tc)
	})
	if err != nil {
		return c.opErr("close", err)
	}
	return nil
}

// Close sends FIN after what was written; the stack keeps the connection
// until it is done (lingering if this side closed first). Blocked Reads and
// Writes return net.ErrClosed.
func (c *conn) Close() error {
	if c.closed.Swap(true) {
		return c.opErr("close", net.ErrClosed)
	}
	err := c.s.post(func() {
		tc := c.tc
		tc.closed, tc.ep.orphan = true, true
		tc.conn().Outbound().Close()
		tc.ep.push()
		c.s.markDirty(tc)
		tc.serveWrite()
	})
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return c.opErr("close", err)
	}
	return nil
}

func (c *conn) LocalAddr() net.Addr  { return c.local }
func (c *conn) RemoteAddr() net.Addr { return c.remote }

func (c *conn) SetDeadline(t time.Time) error {
	c.rdl.set(t)
	c.wdl.set(t)
	return nil
}

func (c *conn) SetReadDeadline(t time.Time) error {
	c.rdl.set(t)
	return nil
}

func (c *conn) SetWriteDeadline(t time.Time) error {
	c.wdl.set(t)
	return nil
}

// deadline is a channel closed when the deadline passes (net.Pipe's
// pipeDeadline): waiters select on it, and moving the deadline resets it.
type deadline struct {
	mu     sync.Mutex
	timer  *time.Timer
	cancel chan struct{}
}

func newDeadline() *deadline { return &deadline{cancel: make(chan struct{})} }

func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		<-d.cancel // the timer fired: wait until it closed cancel
	}
	d.timer = nil
	closed := isClosed(d.cancel)
	if t.IsZero() {
		if closed {
			d.cancel = make(chan struct{})
		}
		return
	}
	if dur := time.Until(t); dur > 0 {
		if closed {
			d.cancel = make(chan struct{})
		}
		cancel := d.cancel
		d.timer = time.AfterFunc(dur, func() { close(cancel) })
		return
	}
	if !closed {
		close(d.cancel)
	}
}

func (d *deadline) wait() chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cancel
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
