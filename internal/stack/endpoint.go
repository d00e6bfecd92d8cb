package stack

import (
	"sync/atomic"
	"time"

	"tcplab/internal/wire"
	"tcplab/labs/2-receiver"
	"tcplab/labs/4-connection"
)

// endpoint is a lab Connection with everything the stack adds around it:
// the one place where the stack changes what a student's TCP sends or
// when. Each addition is something real peers and applications need that
// the course's Connection does not do:
//
//   - Coalesced ACKs. A bare ACK the Connection sends is held back to the
//     end of the loop turn (flush): a later message carries a newer ACK
//     anyway, so a batch of segments draws one ACK, not one each.
//   - Immediate duplicate ACKs. A segment that does not advance the ackno
//     by exactly its own length (out of order, a duplicate, or one that
//     fills a hole) is acknowledged at once, as RFC 5681 §4.2 asks: the
//     peer's fast retransmit counts duplicate ACKs, and coalescing would
//     merge them into one. They repeat the window last advertised, or the
//     peer would not count them as duplicates.
//   - Window updates. The Connection advertises its window only in answer
//     to a segment; when the application's reads open the window enough to
//     matter, flush announces it, or a peer facing a zero window would wait
//     for its next probe.
//   - The window itself. The lab receiver advertises its stream's free
//     space, at most 65535 bytes; the stack advertises the free space of
//     its receive buffer (Config.ReceiveBuffer), which may be far larger
//     (window), written into every segment it sends.
//   - Window scaling (RFC 7323). A window past 64 KiB needs the window
//     scale option: our SYN offers the smallest shift that covers the
//     receive buffer, our SYN-ACK answers only a SYN that offered one, and
//     only when both SYNs carried it are later windows scaled (§2.2): ours
//     right-shifted into the 16-bit field, the peer's left-shifted out of
//     it. The window on a SYN is never scaled. The lab sender still takes
//     a 16-bit window (the course's contract): it is given the peer's
//     window capped at 65535, so what we send stays within 64 KiB in
//     flight; what we receive does not.
//   - Never shrinking the window (RFC 9293 §3.8.6, RFC 7323 §2.4): a
//     window is a promise, so the right edge we advertised never moves
//     left, even when rounding to segments or to the scale's unit would
//     move it; the one exception is less than one unit, when keeping the
//     edge would promise more than the buffer holds (RFC 7323 Appendix F:
//     otherwise a peer sending small segments walks the edge ever right).
//   - The zero-window reserve. A few KiB of the receive buffer (at least
//     one unit of the window scale) stay out of the advertised window so
//     the lab sender's one-byte zero-window probe always fits (a dropped
//     probe leaves a hole that waits a whole RTO).
//   - The zero-window ACK rate limit. The lab sender answers every ACK of
//     its probe with a new probe at once; one zero-window ACK per
//     zeroWindowGap keeps the two from ping-ponging bytes.
//   - Probe backoff. While the peer's window is zero the lab sender
//     retransmits its probe every RTO without backing off (as the course
//     defines it); the stack lets those through at doubling intervals, as
//     a persist timer does, up to maxProbeGap.
//   - The peer's MSS. An active open learns it from the SYN-ACK, after the
//     Connection was made; the Connection is told before it sends data.
//   - Resets the Connection does not send (RFC 9293 §3.10.7.3-4): an ACK
//     that acknowledges nothing we sent, in SYN-SENT or SYN-RECEIVED, is
//     answered with <SEQ=SEG.ACK><CTL=RST>. A kernel holding the 4-tuple in
//     TIME_WAIT answers our SYN with such an ACK and forgets the old
//     connection on our RST; ignoring it hangs the Dial until it times out.
//     After that RST in SYN-SENT the SYN goes out again at once (once), not
//     a whole RTO later.
//   - The orphan timeout. A connection whose socket was closed and which
//     waits in FIN_WAIT_2 for a FIN that never comes is reset after
//     orphanTimeout (Linux's tcp_fin_timeout); the Connection would wait
//     forever.
//   - Aborting, through Connection.Abort: the stack resets connections the
//     application gave up on, a listener never accepted, or an orphan.
//   - Why it failed. The Connection says only RESET; the endpoint keeps
//     whether the peer reset or refused it, it timed out, or was aborted.
//   - Counting retransmissions (what the Connection sends from Tick).
//
// Not added: TCP timestamps (RFC 7323 §3-5), which cost 12 bytes in every
// segment and would pay for nothing here. Their round-trip measurements
// have no taker (the lab sender's RTO is the course's, not estimated);
// PAWS guards against a sequence number wrapping while an old duplicate
// is still on its way, which at 10 Gbit/s takes 3.4 s, and a TUN or a
// loopback holds no datagram that long; and a SYN cookie that kept the
// window scale in them is rarely needed (syncookie.go).
//
// Everything else (sequence numbers, what is in flight, the ackno) is the
// Connection's, asked when needed and never copied. Its methods run on the
// loop goroutine; send hands a finished message to the wire.
type endpoint struct {
	conn   *connection.Connection
	send   func(receiver.Message)
	mss    int    // ours (what our SYN announces): windows are cut in whole segments of it
	rcvBuf uint64 // the receive buffer our window is cut from (the inbound stream may be larger)

	// Window scaling (RFC 7323).
	rcvShift uint8 // ours: the smallest shift that covers rcvBuf
	sndShift uint8 // the peer's, once scaled
	wsOffer  bool  // a SYN or SYN-ACK we send carries the option
	scaled   bool  // both SYNs carried it: later windows are scaled

	orphanTimeout time.Duration
	retransmits   *atomic.Uint64 // the stack's counter
	resetsSent    *atomic.Uint64 // the stack's counter

	transmitFn func(receiver.Message) // transmit, bound once

	advWnd    uint64          // the window we last advertised, in bytes
	advEdge   receiver.Wrap32 // its right edge: the ackno it came with + advWnd
	edgeSet   bool            // advEdge means something (a window was sent with an ACK)
	ackDue    bool            // a bare ACK was held back to the end of the turn
	ackNow    bool            // the segment just received wants its ACK at once
	zeroAckAt time.Time       // when we last sent a zero-window ACK

	ticking     bool          // inside Connection.Tick: what it sends is a retransmission
	peerZeroWnd bool          // the peer's latest segment closed its window
	probeGap    time.Duration // the least time before the next retransmitted probe
	probeAt     time.Time     // when the last retransmitted probe went out
	idle        time.Duration // ticked time since the last segment arrived
	orphan      bool          // the socket was closed: nobody will read
	err         error         // why the connection failed, once it did (sticky)
	synResent   bool          // the SYN went out again after an RST to a stale TIME_WAIT
}

// Limits of the stack's own timing around a Connection.
const (
	// zeroWindowGap is the least time between two ACKs that both
	// advertise a zero window.
	zeroWindowGap = 200 * time.Millisecond
	// maxProbeGap caps the backoff of zero-window probes (Linux's
	// TCP_RTO_MAX is 120 s; a shorter cap notices an opening sooner).
	maxProbeGap = 60 * time.Second
)

// endpointConfig is what an endpoint takes from its stack.
type endpointConfig struct {
	mss           int
	rcvBuf        uint64 // Config.ReceiveBuffer; zero: the Connection's capacity
	orphanTimeout time.Duration
	retransmits   *atomic.Uint64
	resetsSent    *atomic.Uint64
}

func newEndpoint(c *connection.Connection, cfg endpointConfig, send func(receiver.Message)) *endpoint {
	e := &endpoint{
		conn:          c,
		send:          send,
		mss:           cfg.mss,
		rcvBuf:        cfg.rcvBuf,
		orphanTimeout: cfg.orphanTimeout,
		retransmits:   cfg.retransmits,
		resetsSent:    cfg.resetsSent,
	}
	if e.rcvBuf == 0 {
		e.rcvBuf = c.Config().Capacity
	}
	// A buffer that a 16-bit window covers gains nothing from scaling,
	// so only a larger one offers it.
	e.rcvShift = windowShift(e.rcvBuf)
	e.wsOffer = e.rcvShift > 0
	if e.retransmits == nil {
		e.retransmits = new(atomic.Uint64)
	}
	if e.resetsSent == nil {
		e.resetsSent = new(atomic.Uint64)
	}
	e.transmitFn = e.transmit
	return e
}

// connect opens actively: the SYN goes out at once.
func (e *endpoint) connect() { e.conn.Connect(e.transmitFn) }

// push sends what the outbound stream holds and the window allows.
func (e *endpoint) push() { e.conn.Push(e.transmitFn) }

// synOptions are the options of a peer's SYN that the stack acts on; a
// segment without SYN has none.
type synOptions struct {
	mss    uint16 // the MSS option; zero: none
	wscale uint8  // the window scale option's shift, if it had one
	scales bool   // it had one: the peer offers window scaling
}

// windowShift is the smallest window scale shift at which a 16-bit window
// field covers a buffer of n bytes (RFC 7323 allows at most 14).
func windowShift(n uint64) uint8 {
	var shift uint8
	for shift < wire.MaxWindowScale && 0xffff<<shift < n {
		shift++
	}
	return shift
}

// receive hands one segment from the peer to the Connection, with the
// options it carried if it is a SYN.
func (e *endpoint) receive(m receiver.Message, opts synOptions) {
	e.idle = 0
	before := e.conn.State()
	if e.unacceptableACK(before, m) {
		// RFC 9293 §3.10.7.3-4: <SEQ=SEG.ACK><CTL=RST>, and the segment
		// goes no further.
		var rst receiver.Message
		rst.Sender = receiver.SenderMessage{Seqno: m.Receiver.Ackno, RST: true}
		rst.Receiver.RST = true
		e.resetsSent.Add(1)
		e.send(rst)
		if before == connection.SYN_SENT && !e.synResent {
			// Most likely a peer's TIME_WAIT remembered this 4-tuple and
			// our RST made it forget: try again now rather than after a
			// whole RTO. Once only, so a confused peer cannot make a loop.
			e.synResent = true
			e.transmit(receiver.Message{Sender: receiver.SenderMessage{
				Seqno: e.conn.EmptyMessage().Sender.Seqno - 1, SYN: true,
			}})
		}
		return
	}
	if m.Sender.SYN && (before == connection.LISTEN || before == connection.SYN_SENT) && !m.IsRST() {
		e.conn.SetMaxPayloadSize(min(e.mss, mssOrDefault(opts.mss)))
		// RFC 7323 §2.2: scaling is on only if both SYNs carry the option,
		// and a SYN-ACK carries it only if the SYN it answers did.
		e.scaled = e.wsOffer && opts.scales
		e.wsOffer = e.scaled
		if e.scaled {
			e.sndShift = opts.wscale
		}
	}
	if e.scaled && !m.Sender.SYN {
		// The peer's window in bytes, capped at what the lab sender takes.
		m.Receiver.WindowSize = uint16(min(uint64(m.Receiver.WindowSize)<<e.sndShift, 0xffff))
	}
	if m.Receiver.ACK && !m.IsRST() {
		opened := m.Receiver.WindowSize > 0
		if opened || !e.peerZeroWnd {
			e.probeGap, e.probeAt = 0, time.Time{}
		}
		e.peerZeroWnd = !opened
	}
	ask := e.conn.EmptyMessage().Receiver
	e.conn.Receive(m, e.transmitFn)
	after := e.conn.State()
	if after == connection.RESET && e.err == nil && m.IsRST() {
		if before == connection.SYN_SENT {
			e.err = ErrConnectionRefused
		} else {
			e.err = ErrConnectionReset
		}
	}
	// In-order data advances the ackno by exactly its length, and its ACK
	// may wait for the end of the turn; anything else is news the peer's
	// fast retransmit needs now.
	if n := m.SequenceLength(); n > 0 && ask.ACK && !m.IsRST() {
		if got := e.conn.EmptyMessage().Receiver.Ackno; got != ask.Ackno+receiver.Wrap32(n) {
			e.ackNow = true
			e.flush()
		}
	}
}

// unacceptableACK reports whether m carries an ACK that acknowledges
// nothing we sent while the handshake is under way (RFC 9293 §3.10.7.3 for
// SYN-SENT, §3.10.7.4 for SYN-RECEIVED): SND.UNA < SEG.ACK =< SND.NXT fails.
// An RST is never answered with one.
func (e *endpoint) unacceptableACK(st connection.State, m receiver.Message) bool {
	if !m.Receiver.ACK || m.IsRST() || (st != connection.SYN_SENT && st != connection.SYN_RECEIVED) {
		return false
	}
	nxt := e.conn.EmptyMessage().Sender.Seqno
	una := nxt - receiver.Wrap32(e.conn.SequenceNumbersInFlight())
	return !una.Less(m.Receiver.Ackno) || nxt.Less(m.Receiver.Ackno)
}

// mssOrDefault is the MSS a peer allows: what it announced, or RFC 9293's
// default without the option.
func mssOrDefault(mss uint16) int {
	if mss == 0 {
		return defaultMSS
	}
	return int(mss)
}

// tick tells the Connection how much time passed, and resets an orphan
// that waited long enough.
func (e *endpoint) tick(elapsed time.Duration) {
	e.idle += elapsed
	e.ticking = true
	e.conn.Tick(elapsed, e.transmitFn)
	e.ticking = false
	if e.conn.State() == connection.RESET && e.err == nil {
		e.err = ErrTimedOut // the Connection gave up retransmitting
	}
	if e.orphan && e.idle >= e.orphanTimeout && e.conn.State() == connection.FIN_WAIT_2 {
		e.abort(ErrTimedOut)
	}
}

// abort resets the connection (an RST to the peer) because of err.
func (e *endpoint) abort(err error) {
	if !e.conn.Active() {
		return
	}
	if e.err == nil {
		e.err = err
	}
	e.conn.Abort(e.transmitFn)
}

// failure is why the connection failed: the peer's RST, a timeout, or what
// aborted it.
func (e *endpoint) failure() error {
	if e.err != nil {
		return e.err
	}
	return ErrTimedOut
}

// transmit is the Connection's transmit function.
func (e *endpoint) transmit(m receiver.Message) {
	if e.ticking && m.SequenceLength() > 0 {
		if e.peerZeroWnd && !e.probeDue() {
			return // the peer's window is shut: a persist timer backs off
		}
		e.retransmits.Add(1)
	}
	if m.SequenceLength() == 0 && !m.IsRST() {
		e.ackDue = true
		return
	}
	e.ackDue = false
	e.sendWithWindow(m, e.window(m.Receiver))
}

// sendWithWindow sends m advertising a window of w bytes (a multiple of
// the scale's unit, from window), and remembers it as the last advertised.
func (e *endpoint) sendWithWindow(m receiver.Message, w uint64) {
	if m.Sender.SYN {
		// RFC 7323 §2.2: the window on a SYN is never scaled.
		w = min(w, 0xffff)
		m.Receiver.WindowSize = uint16(w)
	} else {
		m.Receiver.WindowSize = uint16(w >> e.shift())
	}
	e.advWnd = w
	if m.Receiver.ACK {
		e.advEdge, e.edgeSet = m.Receiver.Ackno+receiver.Wrap32(w), true
	}
	e.send(m)
}

// windowScale is the window scale option a SYN or SYN-ACK we send
// carries, if any.
func (e *endpoint) windowScale() (shift uint8, ok bool) { return e.rcvShift, e.wsOffer }

// openedByCookie tells a connection made from a SYN cookie what its
// SYN-ACK, which went out as the cookie, advertised. A cookie has no room
// for the peer's window scale, so such a connection never scales, as on
// Linux without timestamps (syncookie.go).
func (e *endpoint) openedByCookie(r receiver.ReceiverMessage, wnd uint16) {
	e.wsOffer, e.scaled = false, false
	e.advWnd = uint64(wnd)
	e.advEdge, e.edgeSet = r.Ackno+receiver.Wrap32(wnd), true
}

// shift is what our windows are right-shifted by in the header.
func (e *endpoint) shift() uint8 {
	if e.scaled {
		return e.rcvShift
	}
	return 0
}

// probeDue reports whether a retransmitted zero-window probe may go out
// now, and if so doubles the wait before the next one.
func (e *endpoint) probeDue() bool {
	now := time.Now()
	if !e.probeAt.IsZero() && now.Sub(e.probeAt) < e.probeGap {
		return false
	}
	e.probeAt = now
	if e.probeGap == 0 {
		e.probeGap = e.conn.Config().InitialRTO
	}
	e.probeGap = min(2*e.probeGap, maxProbeGap)
	return true
}

// window is what we advertise with r's ackno, in bytes and a multiple of
// the scale's unit: the receive buffer's free space less a reserve, so
// that the lab sender's zero-window probe always fits, rounded down; but
// never less than what we advertised before, rounded up, as long as the
// buffer holds that.
func (e *endpoint) window(r receiver.ReceiverMessage) uint64 {
	return e.windowHolding(r, e.conn.Inbound().BytesBuffered())
}

// windowHolding is window with the receive buffer holding buffered bytes.
// It never grows as buffered does.
func (e *endpoint) windowHolding(r receiver.ReceiverMessage, buffered uint64) uint64 {
	unit := uint64(1) << e.shift()
	free := e.rcvBuf - min(e.rcvBuf, buffered)
	hold := free - min(free, zeroWindowReserve(e.rcvBuf, unit))
	w := min(hold, 0xffff<<e.shift())
	// The sender fills the window to its right edge; a window in whole
	// segments keeps it from cutting a runt at the end of every flight.
	if mss := uint64(e.mss); e.rcvBuf >= 4*mss && w > mss {
		w -= w % mss
	}
	w &^= unit - 1 // never more than we hold
	if e.edgeSet && r.ACK && r.Ackno.Less(e.advEdge) {
		// The right edge stays where it was: rounded up to the unit, the
		// window keeps it, within the reserve. Capped at what we hold, an
		// edge already past it by rounding may move left, by less than a
		// unit, rather than creep further right with every small segment.
		promised := min(uint64(e.advEdge-r.Ackno), hold)
		w = max(w, (promised+unit-1)&^(unit-1))
	}
	return w
}

// zeroWindowReserve is how much of a receive buffer of rcvBuf bytes stays
// out of the window, for a window scaled in units of unit bytes: room
// for the lab sender's zero-window probes (none in a buffer of a few
// bytes, whose window is all there is) and, when scaled, at least a
// unit, which the right edge may pass when rounded up.
func zeroWindowReserve(rcvBuf, unit uint64) uint64 {
	r := min(rcvBuf/8, 4096)
	if unit > 1 {
		r = max(r, unit)
	}
	return r
}

// flush ends the loop turn for this connection: it sends the ACK held
// back, or a window update when the application's reads opened the window
// enough to matter.
func (e *endpoint) flush() {
	ackNow := e.ackNow
	e.ackNow = false
	st := e.conn.State()
	empty := e.conn.EmptyMessage()
	if !empty.Receiver.ACK || st == connection.RESET {
		e.ackDue = false
		return // nothing to acknowledge yet, or nothing more to say
	}
	w := e.window(empty.Receiver)
	grown := e.worthAnnouncing(w, st)
	if !e.ackDue && !grown && !ackNow {
		return
	}
	if w == 0 && e.advWnd == 0 {
		// The lab sender answers every ACK of its zero-window probe with
		// a new probe at once: answering each would ping-pong bytes until
		// the reserve is gone. One zero-window ACK per zeroWindowGap
		// still answers a peer's persist timer; the window update ends
		// the wait as soon as the application reads.
		now := time.Now()
		if now.Sub(e.zeroAckAt) < zeroWindowGap {
			e.ackDue = false
			return
		}
		e.zeroAckAt = now
	}
	if ackNow && e.advWnd > 0 && w > e.advWnd {
		// A peer counts an ACK as a duplicate only if the window is the
		// same too (RFC 5681 §2): the opening waits for the next ACK.
		w = e.advWnd
	}
	e.ackDue = false
	e.sendWithWindow(empty, w)
}

// worthAnnouncing reports whether a window of w bytes is news enough for
// a window update of its own, in state st.
func (e *endpoint) worthAnnouncing(w uint64, st connection.State) bool {
	// Once the peer's FIN arrived it sends nothing more, and may already
	// be gone: an update would only draw an RST. A peer with a whole
	// 16-bit window open is not waiting for one either (the ACKs of what
	// it sends carry the window): the scaled window that follows a
	// SYN-ACK's 64 KiB goes out with the first ACK, not on its own.
	if e.advWnd >= 0xffff || finReceived(st) {
		return false
	}
	// Announce an opening only once the window at least doubled and grew
	// by a couple of segments (Linux's rule, near enough): a peer told of
	// every small opening sends small segments.
	threshold := min(2*uint64(e.mss), e.rcvBuf/2)
	return w >= e.advWnd+threshold && w >= 2*e.advWnd
}

// announceAt is the most bytes the receive buffer may hold for flush to
// announce the window the application's reads opened; ok is false if
// no amount would (the window is open wide enough, or nothing is due).
// The socket's Reads tell the loop once the buffer drains that far
// (tcb.watchReads), so the loop need not hear of every Read.
func (e *endpoint) announceAt() (at uint64, ok bool) {
	if e.advWnd >= 0xffff {
		// The common case, asked after every turn of a bulk transfer:
		// worthAnnouncing says no to every window, so the Connection
		// need not be asked anything.
		return 0, false
	}
	st := e.conn.State()
	r := e.conn.EmptyMessage().Receiver
	if !r.ACK || st == connection.RESET {
		return 0, false
	}
	// Only a window larger than the last counts: one that merely repeats
	// it (a zero window, while the buffer is full) is flush's to time.
	worth := func(buffered uint64) bool {
		w := e.windowHolding(r, buffered)
		return w > e.advWnd && e.worthAnnouncing(w, st)
	}
	if !worth(0) {
		return 0, false
	}
	// The window never grows as the buffer fills, so worth holds for
	// every amount up to some largest one: find it.
	lo, hi := uint64(0), e.rcvBuf+1 // worth(lo); !worth(hi) (a full buffer opens nothing)
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if worth(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, true
}

// needsTicks reports whether the connection has anything to time: a
// retransmission timer runs while sequence numbers are in flight, a
// handshake or a close is under way, or an orphan waits for a FIN.
func (e *endpoint) needsTicks() bool {
	switch e.conn.State() {
	case connection.FIN_WAIT_2:
		return e.orphan
	case connection.ESTABLISHED, connection.CLOSE_WAIT:
		return e.conn.SequenceNumbersInFlight() > 0
	case connection.CLOSED, connection.RESET:
		return false
	}
	return true
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

// finReceived reports whether the peer's FIN arrived (the inbound stream
// was closed, possibly with bytes still unread).
func finReceived(st connection.State) bool {
	return st == connection.CLOSE_WAIT || st == connection.LAST_ACK || st == connection.CLOSING ||
		st == connection.TIME_WAIT || st == connection.CLOSED
}
