package interop

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"tcplab/labs/2-receiver"
)

// Flow is what a Watcher saw of one connection, from the lab side: Out is
// what the lab stack sent, In what the kernel sent.
type Flow struct {
	Lab, Peer netip.AddrPort

	// SegmentsOut and SegmentsIn count datagrams: a super-packet the
	// kernel handed over whole is one, however many segments' payload it
	// carries. BytesOut and BytesIn are how far each side's stream
	// reached (retransmissions add nothing), so after a clean close each
	// is the length of that side's stream.
	SegmentsOut, SegmentsIn uint64
	BytesOut, BytesIn       uint64
	// ZeroWindowsOut counts segments on which we advertised a window of
	// zero: each makes the peer wait for a probe (Linux: 200 ms and up).
	ZeroWindowsOut uint64
	// RetransmitsIn counts kernel segments that repeated sequence numbers
	// it had already sent: its losses, timeouts and zero-window probes.
	RetransmitsIn  uint64
	RetransmitsOut uint64
	// ProbesIn counts Linux's zero-window probes (and keepalives): empty
	// segments one below what we acknowledged, sent when it has waited
	// for our window to open and given up waiting.
	ProbesIn uint64
	// ZeroWindowSpells counts the times our window closed (a zero window
	// after an open one). Each spell ends when we advertise an open window
	// again: ReopenedUnprompted counts the spells we ended by ourselves,
	// before Linux probed, ProbedSpells those during which Linux probed
	// (with a stack that never announces its window, every spell).
	ZeroWindowSpells, ReopenedUnprompted, ProbedSpells uint64

	FINOut, FINIn bool // each side sent its FIN
	// FINOutAcked: the kernel acknowledged our FIN; FINInAcked: we
	// acknowledged the kernel's.
	FINOutAcked, FINInAcked bool
	RSTOut, RSTIn           bool
	// LateRSTs counts RSTs after both FINs were acknowledged: a side that
	// already forgot the connection answering a stray (duplicate) ACK.
	// The connection had closed cleanly by then.
	LateRSTs uint64

	finOutEnd, finInEnd receiver.Wrap32 // the ackno that covers each FIN
	sentOut, sentIn     bool
	nxtOut, nxtIn       receiver.Wrap32 // one past the highest seqno each side sent
	ackOut              receiver.Wrap32 // the last ackno we sent
	ackedOut            bool
	zeroSpell, probed   bool // our window is closed; Linux probed since it closed
}

// Closed reports whether the connection ended the way TCP means it to:
// both FINs sent and acknowledged, no RST either way.
func (f Flow) Closed() bool {
	return f.FINOut && f.FINIn && f.FINOutAcked && f.FINInAcked && !f.RSTOut && !f.RSTIn
}

// Done reports whether nothing more will happen on the connection: closed
// cleanly or reset.
func (f Flow) Done() bool { return f.Closed() || f.RSTOut || f.RSTIn }

func (f Flow) String() string {
	return fmt.Sprintf("%v ⇄ %v: out %d B, %d segments (retx %d, zero windows %d in %d spells: %d reopened unprompted, %d probed) in %d B, %d segments (retx %d, probes %d) FIN out=%v acked=%v in=%v acked=%v RST out=%v in=%v late %d",
		f.Lab, f.Peer, f.BytesOut, f.SegmentsOut, f.RetransmitsOut, f.ZeroWindowsOut, f.ZeroWindowSpells, f.ReopenedUnprompted, f.ProbedSpells,
		f.BytesIn, f.SegmentsIn, f.RetransmitsIn, f.ProbesIn,
		f.FINOut, f.FINOutAcked, f.FINIn, f.FINInAcked, f.RSTOut, f.RSTIn, f.LateRSTs)
}

// Watcher follows every TCP connection through a Tap and judges how each
// ended, independently of the stack: it reads only the datagrams. Use its
// Observe method as a Tap observer.
type Watcher struct {
	mu      sync.Mutex
	changed chan struct{} // closed and replaced whenever a flow changes
	flows   map[[2]netip.AddrPort]*Flow
	order   [][2]netip.AddrPort
	// NotTCP counts datagrams that were not IPv4 TCP (or did not parse).
	notTCP uint64
}

// NewWatcher returns an empty Watcher.
func NewWatcher() *Watcher {
	return &Watcher{changed: make(chan struct{}), flows: make(map[[2]netip.AddrPort]*Flow)}
}

// Observe is the Watcher's Tap observer.
func (w *Watcher) Observe(dir Dir, _ time.Time, b []byte, vouched bool) {
	seg, err := parseSeen(b, vouched)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.notTCP++
		return
	}
	k := [2]netip.AddrPort{seg.Src, seg.Dst}
	if dir == In {
		k = [2]netip.AddrPort{seg.Dst, seg.Src}
	}
	f := w.flows[k]
	if f == nil || (seg.Sender.SYN && !seg.Receiver.ACK && f.Done()) {
		// A new connection, or a new one reusing a finished one's ports.
		f = &Flow{Lab: k[0], Peer: k[1]}
		if _, ok := w.flows[k]; !ok {
			w.order = append(w.order, k)
		}
		w.flows[k] = f
	}
	s, r := seg.Sender, seg.Receiver
	end := s.Seqno + receiver.Wrap32(s.SequenceLength())
	// Our side's segment: what it sends, and what it acknowledges of the
	// kernel's; the kernel's the other way round.
	sent, nxt, finSent, finEnd, rst := &f.sentOut, &f.nxtOut, &f.FINOut, &f.finOutEnd, &f.RSTOut
	retx, segs, bytes := &f.RetransmitsOut, &f.SegmentsOut, &f.BytesOut
	peerFIN, peerFINEnd, peerFINAcked := &f.FINIn, &f.finInEnd, &f.FINInAcked
	if dir == In {
		sent, nxt, finSent, finEnd, rst = &f.sentIn, &f.nxtIn, &f.FINIn, &f.finInEnd, &f.RSTIn
		retx, segs, bytes = &f.RetransmitsIn, &f.SegmentsIn, &f.BytesIn
		peerFIN, peerFINEnd, peerFINAcked = &f.FINOut, &f.finOutEnd, &f.FINOutAcked
		if f.ackedOut && s.SequenceLength() == 0 && s.Seqno == f.ackOut-1 {
			f.ProbesIn++
			if f.zeroSpell && !f.probed {
				f.probed = true
				f.ProbedSpells++
			}
		}
	} else {
		switch {
		case seg.IsRST():
		case r.WindowSize == 0:
			f.ZeroWindowsOut++
			if !f.zeroSpell {
				f.zeroSpell, f.probed = true, false
				f.ZeroWindowSpells++
			}
		case f.zeroSpell:
			f.zeroSpell = false
			if !f.probed {
				f.ReopenedUnprompted++
			}
		}
		if r.ACK {
			f.ackOut, f.ackedOut = r.Ackno, true
		}
	}
	*segs++
	if seg.IsRST() {
		if f.Closed() {
			f.LateRSTs++
		} else {
			*rst = true
		}
	}
	if n := s.SequenceLength(); n > 0 {
		if *sent && s.Seqno.Less(*nxt) {
			*retx++
		}
		*bytes += newBytes(s, *sent, *nxt)
		if !*sent || nxt.Less(end) {
			*nxt, *sent = end, true
		}
	}
	if s.FIN {
		*finSent, *finEnd = true, end
	}
	if r.ACK && *peerFIN && !r.Ackno.Less(*peerFINEnd) {
		*peerFINAcked = true
	}
	close(w.changed)
	w.changed = make(chan struct{})
}

// newBytes is how far s's payload takes the stream past nxt, one past the
// highest sequence number sent before (if anything was: sent). A gap
// counts as soon as something beyond it is seen: a datagram lost before
// the Tap saw it leaves one, and its retransmission fills it.
func newBytes(s receiver.SenderMessage, sent bool, nxt receiver.Wrap32) uint64 {
	n := uint64(len(s.Payload))
	if !sent {
		return n
	}
	end := s.Seqno + receiver.Wrap32(n)
	if s.SYN {
		end++
	}
	if nxt.Less(end) {
		return uint64(uint32(end - nxt))
	}
	return 0
}

// Flows returns every connection seen, in the order they began.
func (w *Watcher) Flows() []Flow {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]Flow, 0, len(w.order))
	for _, k := range w.order {
		out = append(out, *w.flows[k])
	}
	return out
}

// Flow returns what was seen of the connection between lab and peer.
func (w *Watcher) Flow(lab, peer netip.AddrPort) (Flow, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f, ok := w.flows[[2]netip.AddrPort{lab, peer}]
	if !ok {
		return Flow{}, false
	}
	return *f, true
}

// NotTCP counts datagrams that were not IPv4 TCP.
func (w *Watcher) NotTCP() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.notTCP
}

// Wait blocks until cond holds for what was seen, or ctx ends.
func (w *Watcher) Wait(ctx context.Context, cond func(w *Watcher) bool) error {
	for {
		w.mu.Lock()
		ch := w.changed
		w.mu.Unlock()
		if cond(w) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// WaitDone blocks until every connection seen so far is done (closed or
// reset), or ctx ends.
func (w *Watcher) WaitDone(ctx context.Context) error {
	return w.Wait(ctx, func(w *Watcher) bool {
		for _, f := range w.Flows() {
			if !f.Done() {
				return false
			}
		}
		return true
	})
}
