package stack

import (
	"time"

	"tcplab/internal/wire"
	"tcplab/labs/2-receiver"
	"tcplab/labs/4-connection"
)

// TIME_WAIT without the connection. The side that closed first lingers
// (10 × InitialRTO after the last segment it received, as the lab
// Connection does, and at least minTimeWait) in case its last ACK was lost and the peer's FIN comes
// again. A whole lab Connection holds both its streams' buffers through
// that wait, so a server's memory followed its connection rate, not its
// concurrency (256 KiB per connection for 10 s: 350-880 MiB for 1 KiB
// responses at 50 concurrent clients). Once the socket is closed nothing
// but that ACK can come of the connection, so the stack keeps only what
// answering needs, a record of well under 1 KiB, and drops the Connection.
//
// The record answers as the lingering Connection would: a segment that
// occupies sequence numbers (the FIN again) draws the ACK again, any
// segment restarts the wait, and an RST ends it. A new SYN numbered past
// everything the old connection received ends it too and opens a new
// connection, as Linux's TIME_WAIT allows (RFC 9293 §3.10.7.4, RFC 6191):
// a client that reuses its port soon after need not wait out the linger.
// Its 4-tuple stays in use for the ephemeral port picker until it expires.

// timeWait is what the stack keeps of a connection in TIME_WAIT.
type timeWait struct {
	ack    receiver.Message // our last ACK, which acknowledged the peer's FIN
	left   time.Duration    // until the record expires
	linger time.Duration    // what any received segment resets left to
}

// canForget reports whether tc may become a TIME_WAIT record: lingering,
// with nobody left to read or write on it.
func (tc *tcb) canForget(st connection.State) bool {
	return st == connection.TIME_WAIT && tc.closed && tc.inTable && !tc.write.waiting && tc.dial == nil
}

// minTimeWait is the shortest a TIME_WAIT record lingers, whatever the
// Connection's RTO: Linux's TIME_WAIT (TCP_TIMEWAIT_LEN). The wait is for
// the peer's retransmissions, and the peer's timer, not ours, says when
// they come: Linux's starts at 200 ms or more and doubles with every loss,
// and a connection that already lost segments has backed it off. At 10%
// loss CI saw Linux's retransmissions 3.5 s and then 6.7 s apart, our ACK
// of its FIN lost, and a 5 s record gone before the next one came: it drew
// our RST. A Connection configured with a short RTO (10 × 100 ms lingers
// 1 s) would do the same sooner; a record costs a few hundred bytes, so it
// waits as long as Linux's does.
const minTimeWait = 60 * time.Second

// forget replaces tc by a TIME_WAIT record.
func (s *Stack) forget(tc *tcb) {
	c := tc.conn()
	linger := max(10*c.Config().InitialRTO, minTimeWait)
	tw := &timeWait{ack: c.EmptyMessage(), left: linger - tc.ep.idle, linger: linger}
	tc.remove()
	s.timeWaits[tc.key] = tw
	s.timed++ // the record is timed like a connection
}

// timeWaitInput handles a segment for a TIME_WAIT record. It reports
// whether the segment is done with; if not, the record is gone and the
// segment (a new SYN) is for a listener.
func (s *Stack) timeWaitInput(k key, tw *timeWait, seg wire.Segment) bool {
	switch {
	case seg.IsRST():
		s.expire(k)
		return true
	case seg.Sender.SYN && !seg.Receiver.ACK && tw.ack.Receiver.Ackno.Less(seg.Sender.Seqno):
		s.expire(k)
		return false
	}
	tw.left = tw.linger
	if seg.SequenceLength() > 0 {
		s.send(wire.Segment{Src: seg.Dst, Dst: seg.Src, Message: tw.ack})
	}
	return true
}

// tickTimeWaits ages every record and drops those that expired.
func (s *Stack) tickTimeWaits(elapsed time.Duration) {
	for k, tw := range s.timeWaits {
		if tw.left -= elapsed; tw.left <= 0 {
			s.expire(k)
		}
	}
}

func (s *Stack) expire(k key) {
	delete(s.timeWaits, k)
	s.timed--
}
