package stack

import (
	"net/netip"
	"time"

	"tcplab/internal/wire"
	"tcplab/labs/2-receiver"
	"tcplab/labs/4-connection"
)

// The passive-open path, as Linux has it: two queues per listener, kept
// apart.
//
//   - The half-open table: connections whose SYN arrived and whose handshake
//     has not completed (SYN_RECEIVED). Each holds a lab Connection that
//     retransmits its SYN-ACK. It holds at most Config.Backlog; past that a
//     SYN is answered with a SYN cookie (syncookie.go), which holds
//     nothing, so spoofed SYNs that never complete cannot lock real
//     clients out.
//   - The accept queue: established connections waiting for Accept, at most
//     Config.Backlog. While it is full the listener drops new SYNs and the
//     ACKs that would complete a handshake (Linux with tcp_abort_on_overflow
//     = 0): the peer retransmits, and by then the application may have
//     accepted. Nothing is reset for the application being slow.
//
// Everything here runs on the loop.

// listenInput handles a segment for a listening port that matches no
// connection. It returns the connection the segment makes, or nil if it
// was answered (or dropped) here.
func (s *Stack) listenInput(l *listener, k key, seg wire.Segment) *tcb {
	switch {
	case seg.IsRST():
		return nil // RFC 9293 3.10.7.2: in LISTEN an RST is ignored
	case !seg.Sender.SYN && !seg.Receiver.ACK:
		// RFC 9293 3.10.7.2, fourth: a segment with neither SYN nor ACK
		// (a bare FIN, stray data) is dropped without an answer; only an
		// ACK, which claims a connection that is not there, is reset.
		return nil
	case seg.Sender.SYN && !seg.Receiver.ACK:
		if l.acceptQueueFull() {
			s.stats.listenOverflows.Add(1)
			return nil // the peer retransmits its SYN
		}
		if l.halfOpen < s.cfg.Backlog {
			return s.newPassive(l, k)
		}
		s.sendCookie(k, seg)
		return nil
	case seg.Receiver.ACK && !seg.Sender.SYN:
		// The ACK completing a handshake we answered with a cookie (or the
		// first data segment, if that ACK was lost: it has the same seqno).
		local := netip.AddrPortFrom(s.addr, k.port)
		mss, ok := s.cookies.check(local, k.remote, seg.Sender.Seqno-1, seg.Receiver.Ackno-1, time.Now())
		if !ok {
			break
		}
		if l.acceptQueueFull() {
			s.stats.listenOverflows.Add(1)
			return nil
		}
		s.stats.cookiesAccepted.Add(1)
		return s.newFromCookie(l, k, seg, mss)
	}
	s.refuse(seg)
	return nil
}

// holdHandshake reports whether a segment for a half-open connection must
// be dropped because it would complete the handshake while the accept
// queue is full. The Connection retransmits its SYN-ACK later and the peer
// answers again.
func (s *Stack) holdHandshake(tc *tcb, seg wire.Segment) bool {
	if tc.listener == nil || !seg.Receiver.ACK || seg.IsRST() || !tc.listener.acceptQueueFull() {
		return false
	}
	s.stats.listenOverflows.Add(1)
	return true
}

// admit hands a connection whose handshake the segment just received
// completed to the accept queue at once, rather than at the end of the loop
// turn: the next segment of the same batch must see the queue as it is, or
// a batch of completing handshakes overfills it and the excess is reset.
func (s *Stack) admit(tc *tcb) {
	if tc.listener == nil {
		return
	}
	if st := tc.conn().State(); st == connection.RESET || established(st) {
		tc.listener.handOver(tc, st)
	}
}

// newPassive makes the half-open connection a SYN for a listening port
// asks for. (The SYN then reaches it as any segment does.)
func (s *Stack) newPassive(l *listener, k key) *tcb {
	tc := s.newTCB(k, s.newConnection())
	tc.listener = l
	l.halfOpen++
	return tc
}

// sendCookie answers a SYN with a SYN-ACK whose ISN is a cookie, and
// forgets it.
func (s *Stack) sendCookie(k key, syn wire.Segment) {
	local := netip.AddrPortFrom(s.addr, k.port)
	var m receiver.Message
	m.Sender = receiver.SenderMessage{
		Seqno: s.cookies.make(local, k.remote, syn.Sender.Seqno, syn.MSS, time.Now()),
		SYN:   true,
	}
	m.Receiver = receiver.ReceiverMessage{ACK: true, Ackno: syn.Sender.Seqno + 1, WindowSize: s.initialWindow()}
	s.stats.cookiesSent.Add(1)
	s.send(wire.Segment{Src: local, Dst: k.remote, Message: m, MSS: uint16(s.mss)})
}

// initialWindow is the window a SYN cookie's SYN-ACK advertises: the
// whole receive buffer less the zero-window reserve (endpoint.window),
// unscaled, as the window on a SYN always is.
func (s *Stack) initialWindow() uint16 {
	rcvBuf := s.cfg.ReceiveBuffer
	return uint16(min(rcvBuf-zeroWindowReserve(rcvBuf, 1), 0xffff))
}

// newFromCookie makes the connection a valid cookie stands for: a lab
// Connection whose ISN is the cookie, told of the peer's SYN as if it had
// just arrived. The SYN-ACK it answers with went out as the cookie, so it
// is not sent again: the SYN goes to the Connection directly, around the
// endpoint, which is told what that SYN-ACK advertised. The segment that
// carried the cookie back then completes the handshake as usual.
func (s *Stack) newFromCookie(l *listener, k key, seg wire.Segment, mss uint16) *tcb {
	cfg := s.cfg.Connection
	cfg.ISN = seg.Receiver.Ackno - 1
	cfg.MaxPayloadSize = min(s.mss, int(mss))
	cfg.Capacity = s.streamCapacity()
	tc := s.newTCB(k, connection.New(cfg))
	tc.listener = l
	l.halfOpen++
	var syn receiver.Message
	syn.Sender = receiver.SenderMessage{Seqno: seg.Sender.Seqno - 1, SYN: true}
	syn.Receiver.WindowSize = seg.Receiver.WindowSize
	tc.conn().Receive(syn, func(receiver.Message) {})
	tc.ep.openedByCookie(tc.conn().EmptyMessage().Receiver, s.initialWindow())
	return tc
}
