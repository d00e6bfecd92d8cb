package stack

import (
	"errors"
	"io"
	"net"
	"net/netip"

	"tcplab/internal/wire"
	"tcplab/labs/2-receiver"
	"tcplab/labs/4-connection"
)

// tcb is the stack's record of one connection (a transmission control
// block): the endpoint (the lab Connection and what the stack adds around
// it), where it sits in the connection table, and its socket's waiting
// calls. Every field is the loop's, except the pending calls' reply
// channels, which carry the loop's answers to the socket.
type tcb struct {
	s      *Stack
	key    key
	local  netip.AddrPort
	remote netip.AddrPort
	ep     *endpoint

	inTable bool
	dirty   bool
	timed   bool

	// Passive opens: the listener to hand the connection to once it is
	// established; nil once handed on (or for active opens).
	listener *listener
	// Active opens: the Dial waiting for the handshake.
	dial chan error

	// Socket state.
	closed     bool // the application closed the socket: discard what arrives
	inComplete bool // the peer's FIN arrived before its RST: reads end in EOF
	write      pending

	// Reads run on the socket's goroutine with the loop's turn held
	// (read): these are how the two talk. A Read that found nothing
	// waits on readReady; the loop wakes it whenever it served the
	// connection, and it looks again. watchAt asks the Reads to nudge
	// the loop once they have drained the inbound stream to that many
	// bytes (-1: never), when the window is worth announcing.
	readWaiting bool
	readReady   chan struct{} // capacity 1
	watchAt     int64
}

// errNothingYet is what read says when a Read must wait.
var errNothingYet = errors.New("nothing to read yet")

// errCanceled answers a request the socket withdrew (deadline, ctx).
var errCanceled = errors.New("canceled")

func (s *Stack) newTCB(k key, c *connection.Connection) *tcb {
	tc := &tcb{
		s:      s,
		key:    k,
		local:  netip.AddrPortFrom(s.addr, k.port),
		remote: k.remote,
		write:  newPending(),

		readReady: make(chan struct{}, 1),
		watchAt:   -1,
	}
	tc.ep = newEndpoint(c, endpointConfig{
		mss:           s.mss,
		rcvBuf:        s.cfg.ReceiveBuffer,
		orphanTimeout: s.cfg.OrphanTimeout,
		retransmits:   &s.stats.retransmits,
		resetsSent:    &s.stats.resetsSent,
	}, tc.output)
	s.conns[k] = tc
	tc.inTable = true
	return tc
}

// conn is the lab Connection.
func (tc *tcb) conn() *connection.Connection { return tc.ep.conn }

// receive hands one segment to the connection; b is the datagram it was
// parsed from, for the SYN options Parse does not read.
func (tc *tcb) receive(seg wire.Segment, b []byte) {
	if seg.IsRST() && finReceived(tc.conn().State()) {
		// The peer's FIN came first, so what it sent is complete: it stays
		// readable to its end, then EOF, as on Linux, where a reset after
		// the FIN is no read error. (A peer that already forgot the
		// connection answers a duplicate ACK with RST.)
		tc.inComplete = true
	}
	opts := synOptions{mss: seg.MSS}
	if seg.Sender.SYN {
		opts.wscale, opts.scales = wire.WindowScaleOf(b)
	}
	tc.ep.receive(seg.Message, opts)
	tc.s.markDirty(tc)
}

// output sends m to the peer. A SYN announces our MSS, and our window
// scale if the endpoint offers it.
func (tc *tcb) output(m receiver.Message) {
	seg := wire.Segment{Src: tc.local, Dst: tc.remote, Message: m}
	if !m.Sender.SYN {
		tc.s.send(seg)
		return
	}
	seg.MSS = uint16(tc.s.mss)
	var opts []byte
	if shift, ok := tc.ep.windowScale(); ok {
		opts = wire.AppendWindowScale(make([]byte, 0, wire.WindowScaleOptionLen), shift)
	}
	tc.s.sendWithOptions(seg, opts)
}

// serve runs once per loop turn for each connection the turn touched.
func (tc *tcb) serve() {
	s := tc.s
	in := tc.conn().Inbound()
	if tc.closed {
		in.Pop(in.BytesBuffered()) // nobody will read it: keep the window open
	}
	tc.wakeReader() // whatever the turn did, a waiting Read looks again once it ends
	if tc.write.waiting {
		tc.serveWrite()
	}
	st := tc.conn().State()
	if tc.dial != nil {
		switch {
		case st == connection.RESET:
			tc.answerDial(tc.ep.failure())
		case st != connection.SYN_SENT && st != connection.LISTEN:
			tc.answerDial(nil)
		}
	}
	if tc.listener != nil && (st == connection.RESET || established(st)) {
		tc.listener.handOver(tc, st)
	}
	tc.ep.flush()
	tc.watchReads()
	if !tc.conn().Active() {
		tc.remove()
		return
	}
	if tc.canForget(st) {
		s.forget(tc)
		return
	}
	if want := tc.ep.needsTicks(); want != tc.timed {
		tc.timed = want
		if want {
			s.timed++
		} else {
			s.timed--
		}
	}
}

// remove takes a finished connection out of the table. Its socket may still
// read what arrived.
func (tc *tcb) remove() {
	s := tc.s
	if tc.inTable {
		delete(s.conns, tc.key)
		tc.inTable = false
	}
	if s.last == tc {
		s.last = nil
	}
	if tc.timed {
		tc.timed = false
		s.timed--
	}
	if tc.listener != nil {
		tc.listener.halfOpen--
		tc.listener = nil
	}
	if tc.dial != nil {
		tc.answerDial(tc.ep.failure())
	}
}

func (tc *tcb) answerDial(err error) {
	tc.dial <- err
	tc.dial = nil
}

// read takes what the inbound stream holds into p for the socket's Read,
// on the socket's goroutine, with the loop's turn held: data, EOF or an
// error, or errNothingYet. nudge says that the Read drained the stream as
// far as the loop asked (watchReads).
func (tc *tcb) read(p []byte) (n int, nudge bool, err error) {
	in := tc.conn().Inbound()
	switch {
	case tc.closed:
		return 0, false, net.ErrClosed
	case in.HasError() && !tc.inComplete:
		return 0, false, tc.ep.failure()
	case in.BytesBuffered() > 0:
		for n < len(p) && in.BytesBuffered() > 0 {
			k := copy(p[n:], in.Peek())
			if k == 0 {
				break // a byte stream that holds bytes it does not show
			}
			in.Pop(uint64(k))
			n += k
		}
		if tc.watchAt >= 0 && in.BytesBuffered() <= uint64(tc.watchAt) {
			tc.watchAt, nudge = -1, true
		}
		return n, nudge, nil
	case in.IsFinished():
		return 0, false, io.EOF
	case !tc.inTable:
		// The connection is over (or the stack shut down) without a FIN
		// or an error the stream shows: only a broken Connection ends so.
		return 0, false, net.ErrClosed
	}
	return 0, false, errNothingYet
}

// wakeReader wakes a waiting Read to look again.
func (tc *tcb) wakeReader() {
	if !tc.readWaiting {
		return
	}
	tc.readWaiting = false
	select {
	case tc.readReady <- struct{}{}:
	default: // a wakeup is already pending
	}
}

// watchReads asks the socket's Reads to nudge the loop once they have
// drained the inbound stream far enough that the window is worth
// announcing (endpoint.announceAt), or serves the connection again now
// if they already have.
func (tc *tcb) watchReads() {
	at, ok := tc.ep.announceAt()
	switch {
	case !ok:
		tc.watchAt = -1
	case tc.conn().Inbound().BytesBuffered() <= at:
		tc.watchAt = -1
		tc.s.markDirty(tc)
	default:
		tc.watchAt = int64(at)
	}
}

// serveWrite moves as much of a waiting Write as fits into the outbound
// stream, sends it, and answers the Write once all of it is in.
func (tc *tcb) serveWrite() {
	out := tc.conn().Outbound()
	w := &tc.write
	switch {
	case tc.closed:
		w.finish(net.ErrClosed)
	case out.HasError():
		w.finish(tc.ep.failure())
	case out.IsClosed():
		w.finish(ErrWriteAfterCloseWrite)
	case !tc.inTable:
		w.finish(net.ErrClosed)
	default:
		if n := min(uint64(len(w.buf)-w.n), tc.sendRoom()); n > 0 {
			out.Push(w.buf[w.n : w.n+int(n)])
			w.n += int(n)
			tc.ep.push()
		}
		if w.n == len(w.buf) {
			w.finish(nil)
		}
	}
}

// sendRoom is how many more bytes a Write may queue in the outbound
// stream. The Connection's two streams share one capacity, the larger of
// the send and receive buffers (Stack.streamCapacity); the send buffer's
// own bound is kept here, as the receive buffer's is by the window.
func (tc *tcb) sendRoom() uint64 {
	c := tc.conn()
	queued := c.Config().Capacity - c.Outbound().AvailableCapacity()
	return tc.s.cfg.Connection.Capacity - min(queued, tc.s.cfg.Connection.Capacity)
}

// fail ends every waiting call with err (the stack is shutting down, or its
// device failed).
func (tc *tcb) fail(err error) {
	if tc.ep.err == nil {
		tc.ep.err = err
	}
	tc.inTable = false
	if tc.s.last == tc {
		tc.s.last = nil
	}
	tc.wakeReader()
	tc.write.finish(err)
	if tc.dial != nil {
		tc.answerDial(err)
	}
}

// abort resets the connection: an RST to the peer, and the Connection ends.
func (tc *tcb) abort(err error) {
	tc.ep.abort(err)
	tc.s.markDirty(tc)
}

// pending is a socket's Write waiting for the loop. The loop answers each
// call exactly once, through finish, whoever ends it: the loop once room
// or an error came, the socket's withdrawal at a deadline, or the stack's
// shutdown. (Reads need no loop: tcb.read.)
type pending struct {
	buf     []byte
	n       int // bytes moved so far
	waiting bool
	res     chan result
}

type result struct {
	n   int
	err error
}

func newPending() pending { return pending{res: make(chan result, 1)} }

// start makes buf the call's buffer.
func (p *pending) start(buf []byte) { p.buf, p.n, p.waiting = buf, 0, true }

// finish answers the waiting call, if there is one, with the bytes moved
// so far and err.
func (p *pending) finish(err error) {
	if !p.waiting {
		return
	}
	r := result{n: p.n, err: err}
	p.buf, p.n, p.waiting = nil, 0, false
	p.res <- r
}
