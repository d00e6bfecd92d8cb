package stack

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"time"

	"tcplab/internal/wire"
	"tcplab/labs/2-receiver"
	"tcplab/labs/4-connection"
)

// tcb is the stack's record of one connection (a transmission control
// block). Every field is the loop's, except the reply channels, which carry
// the loop's answers to the socket.
type tcb struct {
	s      *Stack
	key    key
	local  netip.AddrPort
	remote netip.AddrPort
	conn   *connection.Connection
	mss    int // the largest payload the peer takes in one segment

	transmitFn func(connection.Message) // tc.transmit, bound once

	// What we last told the peer, so the stack can send ACKs and window
	// updates itself: the zero-length message's seqno, the ackno and window.
	sndNxt receiver.Wrap32
	sent   bool
	ackMsg connection.Message // the latest zero-length message, minus the window
	advWnd uint16             // the window we last advertised
	ackDue bool               // an ACK was held back to be sent once per turn
	// zeroAckAt is when we last answered with a zero window.
	zeroAckAt time.Time
	peerAck   receiver.Wrap32 // the highest ackno the peer sent
	acked     bool            // peerAck is meaningful

	idle    time.Duration // ticked time since the last segment arrived
	inTable bool
	dirty   bool
	timed   bool
	rstIn   bool  // ended by the peer's RST
	err     error // why the connection failed, once it did (sticky)

	// Passive opens: the listener to hand the connection to once it is
	// established; nil once handed on (or for active opens).
	listener *listener
	// Active opens: the Dial waiting for the handshake.
	dial chan error

	// Socket state.
	closed   bool // the application closed the socket: discard what arrives
	reading  []byte
	rWaiting bool
	writing  []byte
	written  int
	wWaiting bool
	rres     chan result
	wres     chan result
}

// zeroWindowGap is the least time between two ACKs that both advertise a
// zero window.
const zeroWindowGap = 200 * time.Millisecond

type result struct {
	n   int
	err error
}

// errCanceled answers a request the socket withdrew (deadline, ctx).
var errCanceled = errors.New("canceled")

func (s *Stack) newTCB(k key, c *connection.Connection) *tcb {
	tc := &tcb{
		s:      s,
		key:    k,
		local:  netip.AddrPortFrom(s.addr, k.port),
		remote: k.remote,
		conn:   c,
		mss:    s.mss,
		rres:   make(chan result, 1),
		wres:   make(chan result, 1),
	}
	tc.transmitFn = tc.transmit
	s.conns[k] = tc
	tc.inTable = true
	return tc
}

// receive hands one segment to the connection.
func (tc *tcb) receive(seg wire.Segment) {
	tc.idle = 0
	if seg.IsRST() {
		tc.rstIn = true
	}
	if seg.Sender.SYN && seg.Receiver.ACK && !tc.acked {
		tc.mss = tc.s.peerMSS(seg.MSS) // the SYN-ACK answering our SYN
	}
	if seg.Receiver.ACK && (!tc.acked || int32(seg.Receiver.Ackno-tc.peerAck) > 0) {
		tc.peerAck, tc.acked = seg.Receiver.Ackno, true
	}
	tc.conn.Receive(seg.Message, tc.transmitFn)
	tc.s.markDirty(tc)
}

// transmit is the Connection's transmit function. A message that occupies
// no sequence numbers (a bare ACK) is held back until the end of the loop
// turn: a later message carries a newer ACK anyway, so a batch of segments
// draws one ACK, not one each.
func (tc *tcb) transmit(m connection.Message) {
	end := m.Sender.Seqno + receiver.Wrap32(m.SequenceLength())
	if tc.sent && m.SequenceLength() > 0 && int32(m.Sender.Seqno-tc.sndNxt) < 0 {
		tc.s.stats.retransmits.Add(1)
	}
	if !tc.sent || int32(end-tc.sndNxt) > 0 {
		tc.sndNxt, tc.sent = end, true
	}
	m.Receiver.WindowSize = tc.window()
	tc.ackMsg = connection.Message{
		Sender:   receiver.SenderMessage{Seqno: tc.sndNxt},
		Receiver: m.Receiver,
	}
	tc.advWnd = m.Receiver.WindowSize
	if m.SequenceLength() == 0 && !m.IsRST() {
		tc.ackDue = true
		tc.s.markDirty(tc)
		return
	}
	tc.ackDue = false
	tc.output(m)
}

// output sends m, cut into segments the peer's MSS allows. Active opens
// learn the peer's MSS only from its SYN-ACK, after the Connection was made,
// so the stack segments here (as a NIC does with TSO); cumulative ACKs make
// the cut invisible to the sender.
func (tc *tcb) output(m connection.Message) {
	seg := wire.Segment{Src: tc.local, Dst: tc.remote, Message: m}
	if m.Sender.SYN {
		seg.MSS = uint16(tc.s.mss)
	}
	payload, fin := m.Sender.Payload, m.Sender.FIN
	for len(payload) > tc.mss {
		seg.Sender.Payload, seg.Sender.FIN = payload[:tc.mss], false
		tc.s.send(seg)
		seg.Sender.Seqno += receiver.Wrap32(seg.Sender.SequenceLength())
		seg.Sender.SYN, seg.MSS = false, 0
		payload = payload[tc.mss:]
	}
	seg.Sender.Payload, seg.Sender.FIN = payload, fin
	tc.s.send(seg)
}

// window is what we advertise: the receiver's free space less a reserve.
//
// The lab sender probes a zero window with a real byte of new data. If the
// receiver had no room for it, the probe is dropped, the sender carries on
// after it once the window opens, and the hole waits a whole RTO to be
// retransmitted. Keeping a little room back means a probe always fits.
func (tc *tcb) window() uint16 {
	capacity := tc.conn.Config().Capacity
	free := capacity - tc.conn.Inbound().BytesBuffered()
	reserve := min(capacity/8, 4096)
	if free <= reserve {
		return 0
	}
	w := min(free-reserve, 0xffff)
	// The sender fills the window to its right edge; a window in whole
	// segments keeps it from cutting a runt at the end of every flight.
	if mss := uint64(tc.s.mss); capacity >= 4*mss && w > mss {
		w -= w % mss
	}
	return uint16(w)
}

// serve runs once per loop turn for each connection the turn touched.
func (tc *tcb) serve() {
	s := tc.s
	in := tc.conn.Inbound()
	if tc.closed {
		in.Pop(in.BytesBuffered()) // nobody will read it: keep the window open
	}
	if tc.rWaiting {
		tc.serveRead()
	}
	if tc.wWaiting {
		tc.serveWrite()
	}
	st := tc.conn.State()
	if tc.dial != nil {
		switch {
		case st == connection.RESET:
			tc.answerDial(tc.dialError())
		case st != connection.SYN_SENT && st != connection.LISTEN:
			tc.answerDial(nil)
		}
	}
	if tc.listener != nil && (st == connection.RESET || established(st)) {
		tc.listener.handOver(tc, st)
	}
	tc.flushACK(st)
	if !tc.conn.Active() {
		tc.remove()
		return
	}
	if want := needsTicks(st, tc); want != tc.timed {
		tc.timed = want
		if want {
			s.timed++
		} else {
			s.timed--
		}
	}
}

// established reports whether the handshake is complete (and the connection
// has not failed).
func established(st connection.State) bool {
	switch st {
	case connection.LISTEN, connection.SYN_SENT, connection.SYN_RECEIVED, connection.RESET:
		return false
	}
	return true
}

// needsTicks reports whether the connection has anything to time: a
// retransmission timer runs while sequence numbers are in flight, and a
// closing connection lingers.
func needsTicks(st connection.State, tc *tcb) bool {
	switch st {
	case connection.FIN_WAIT_2:
		return tc.closed // an orphan times out
	case connection.ESTABLISHED, connection.CLOSE_WAIT:
		return tc.sent && (!tc.acked || tc.peerAck != tc.sndNxt)
	case connection.CLOSED, connection.RESET:
		return false
	}
	return true
}

// flushACK sends the ACK held back this turn, or a window update when the
// application's reads opened the window enough to matter: the lab
// Connection never sends one by itself, and a peer facing a zero window
// would otherwise wait for its next probe.
func (tc *tcb) flushACK(st connection.State) {
	if !tc.sent || !tc.ackMsg.Receiver.ACK || st == connection.RESET {
		return
	}
	w := tc.window()
	// Announce an opening only once the window at least doubled and grew
	// by a couple of segments (Linux's rule, near enough): a peer told of
	// every small opening sends small segments.
	threshold := min(2*tc.s.mss, int(tc.conn.Config().Capacity/2))
	// Once the peer's FIN arrived it sends nothing more, and may already
	// be gone: an update would only draw an RST.
	grown := int(w)-int(tc.advWnd) >= threshold && w >= 2*tc.advWnd &&
		!finReceived(st)
	if !tc.ackDue && !grown {
		return
	}
	if w == 0 && tc.advWnd == 0 {
		// The lab sender answers every ACK of its zero-window probe with a
		// new probe at once: answering each would ping-pong bytes until
		// the reserve is gone. One zero-window ACK per zeroWindowGap
		// still answers a peer's persist timer; the window update ends
		// the wait as soon as the application reads.
		now := time.Now()
		if now.Sub(tc.zeroAckAt) < zeroWindowGap {
			tc.ackDue = false
			return
		}
		tc.zeroAckAt = now
	}
	m := tc.ackMsg
	m.Receiver.WindowSize = w
	tc.advWnd, tc.ackDue = w, false
	tc.output(m)
}

// finReceived reports whether the peer's FIN arrived (the inbound stream
// was closed, possibly with bytes still unread).
func finReceived(st connection.State) bool {
	return st == connection.CLOSE_WAIT || st == connection.LAST_ACK || st == connection.CLOSING ||
		st == connection.TIME_WAIT || st == connection.CLOSED
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
		tc.answerDial(tc.dialError())
	}
}

func (tc *tcb) dialError() error {
	if tc.err != nil {
		return tc.err
	}
	if tc.rstIn {
		return ErrConnectionRefused
	}
	return ErrTimedOut
}

func (tc *tcb) answerDial(err error) {
	tc.dial <- err
	tc.dial = nil
}

// failure is why reads and writes fail on a reset connection.
func (tc *tcb) failure() error {
	switch {
	case tc.err != nil:
		return tc.err
	case tc.rstIn:
		return ErrConnectionReset
	}
	return ErrTimedOut
}

// serveRead answers a waiting Read if it can: with data, EOF or an error.
func (tc *tcb) serveRead() {
	in := tc.conn.Inbound()
	var r result
	switch {
	case tc.closed:
		r.err = net.ErrClosed
	case in.HasError():
		r.err = tc.failure()
	case in.BytesBuffered() > 0:
		for r.n < len(tc.reading) && in.BytesBuffered() > 0 {
			k := copy(tc.reading[r.n:], in.Peek())
			in.Pop(uint64(k))
			r.n += k
		}
		tc.s.markDirty(tc) // the window opened: maybe worth announcing
	case in.IsFinished():
		r.err = io.EOF
	case !tc.inTable:
		r.err = net.ErrClosed // stack shut down
	default:
		return
	}
	tc.reading, tc.rWaiting = nil, false
	tc.rres <- r
}

// serveWrite moves as much of a waiting Write as fits into the outbound
// stream, sends it, and answers the Write once all of it is in.
func (tc *tcb) serveWrite() {
	out := tc.conn.Outbound()
	var err error
	switch {
	case tc.closed:
		err = net.ErrClosed
	case out.HasError():
		err = tc.failure()
	case out.IsClosed():
		err = ErrWriteAfterCloseWrite
	case !tc.inTable:
		err = net.ErrClosed
	default:
		if n := min(uint64(len(tc.writing)-tc.written), out.AvailableCapacity()); n > 0 {
			out.Push(tc.writing[tc.written : tc.written+int(n)])
			tc.written += int(n)
			tc.conn.Push(tc.transmitFn)
		}
		if tc.written < len(tc.writing) {
			return
		}
	}
	r := result{n: tc.written, err: err}
	tc.writing, tc.written, tc.wWaiting = nil, 0, false
	tc.wres <- r
}

// fail ends every waiting call with err (the stack is shutting down).
func (tc *tcb) fail(err error) {
	tc.err = err
	tc.inTable = false
	if tc.s.last == tc {
		tc.s.last = nil
	}
	if tc.rWaiting {
		tc.reading, tc.rWaiting = nil, false
		tc.rres <- result{err: err}
	}
	if tc.wWaiting {
		r := result{n: tc.written, err: err}
		tc.writing, tc.written, tc.wWaiting = nil, 0, false
		tc.wres <- r
	}
	if tc.dial != nil {
		tc.answerDial(err)
	}
}

// abort resets the connection: an RST to the peer, and the Connection is
// fed the same so that it fails both streams and stops.
func (tc *tcb) abort(err error) {
	if !tc.conn.Active() {
		return
	}
	tc.err = err
	if tc.sent {
		var m connection.Message
		m.Sender = receiver.SenderMessage{Seqno: tc.sndNxt, RST: true}
		m.Receiver.RST = true
		tc.output(m)
	}
	var rst connection.Message
	rst.Sender = receiver.SenderMessage{Seqno: tc.ackMsg.Receiver.Ackno, RST: true}
	rst.Receiver = receiver.ReceiverMessage{ACK: true, Ackno: tc.sndNxt, RST: true}
	tc.conn.Receive(rst, func(connection.Message) {})
	tc.s.markDirty(tc)
}
