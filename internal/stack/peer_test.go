package stack

import (
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"

	"tcplab/internal/device"
	"tcplab/internal/wire"
	"tcplab/labs/2-receiver"
	"tcplab/labs/4-connection"
)

// The addresses the tests use: the stack under test and a hand-driven peer.
var (
	stackAddr = netip.MustParseAddr("169.254.144.9")
	peerAddr  = netip.MustParseAddr("169.254.144.1")
)

// peer is the far end of a device.Pipe, driven by hand: the test writes
// exactly the segments it wants and sees exactly what the stack sends. Use
// it inside a synctest bubble, so "nothing was sent" can be checked.
type peer struct {
	t   *testing.T
	dev device.Device
	in  chan received
}

// received is a segment the stack sent, with the window scale option it
// carried (Parse reads no option but the MSS).
type received struct {
	wire.Segment
	wscale uint8
	scales bool // it had the option
}

// newPeer starts a stack joined to a hand-driven peer. Call stop (deferred)
// before the bubble ends.
func newPeer(t *testing.T, cfg Config) (s *Stack, p *peer, stop func()) {
	t.Helper()
	a, b := device.Pipe(1500)
	cfg.Addr = stackAddr
	s, err := New(a, cfg)
	require.NoError(t, err)
	p = &peer{t: t, dev: b, in: make(chan received, 4096)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.collect()
	}()
	return s, p, func() {
		s.Close()
		b.Close()
		<-done
	}
}

// collect queues what the stack sends until the peer's device closes.
func (p *peer) collect() {
	buf := make([]byte, 2000)
	for {
		n, err := p.dev.Read(buf)
		if err != nil {
			return
		}
		seg, err := wire.Parse(buf[:n])
		if err != nil {
			p.t.Errorf("the stack sent a datagram that does not parse: %v", err)
			continue
		}
		seg.Sender.Payload = slices.Clone(seg.Sender.Payload)
		r := received{Segment: seg}
		r.wscale, r.scales = wire.WindowScaleOf(buf[:n])
		p.in <- r
	}
}

// send writes one segment from the peer's port to the stack's.
func (p *peer) send(from, to uint16, m connection.Message, mss uint16) {
	p.t.Helper()
	p.sendWithOptions(from, to, m, mss, nil)
}

// sendWithOptions writes one segment with TCP options after the MSS
// option (see wire.AppendWithOptions).
func (p *peer) sendWithOptions(from, to uint16, m connection.Message, mss uint16, opts []byte) {
	p.t.Helper()
	seg := wire.Segment{
		Src:     netip.AddrPortFrom(peerAddr, from),
		Dst:     netip.AddrPortFrom(stackAddr, to),
		Message: m,
		MSS:     mss,
	}
	_, err := p.dev.Write(seg.AppendWithOptions(nil, opts))
	require.NoError(p.t, err)
}

// sendRaw writes a datagram as is.
func (p *peer) sendRaw(b []byte) {
	p.t.Helper()
	_, err := p.dev.Write(b)
	require.NoError(p.t, err)
}

// recv returns the next segment the stack sent, once everything settled.
func (p *peer) recv() wire.Segment {
	p.t.Helper()
	return p.recvOptions().Segment
}

// recvOptions is recv with the window scale option.
func (p *peer) recvOptions() received {
	p.t.Helper()
	synctest.Wait()
	select {
	case r := <-p.in:
		return r
	default:
		p.t.Fatal("the stack sent nothing")
		return received{}
	}
}

// recvAll returns every segment the stack sent, once everything settled.
func (p *peer) recvAll() []wire.Segment {
	p.t.Helper()
	synctest.Wait()
	var segs []wire.Segment
	for {
		select {
		case r := <-p.in:
			segs = append(segs, r.Segment)
		default:
			return segs
		}
	}
}

// none checks that the stack sent nothing.
func (p *peer) none() {
	p.t.Helper()
	if segs := p.recvAll(); len(segs) > 0 {
		p.t.Fatalf("the stack sent %d segments, want none; first: %v", len(segs), segs[0])
	}
}

// msg builds a message: flags from the string ("S", "A", "F", "R" in any
// combination), then seqno, ackno, window and payload.
func msg(flags string, seq, ack uint32, win uint16, payload string) connection.Message {
	var m connection.Message
	for _, f := range flags {
		switch f {
		case 'S':
			m.Sender.SYN = true
		case 'F':
			m.Sender.FIN = true
		case 'R':
			m.Sender.RST, m.Receiver.RST = true, true
		case 'A':
			m.Receiver.ACK = true
		}
	}
	m.Sender.Seqno = receiver.Wrap32(seq)
	m.Receiver.Ackno = receiver.Wrap32(ack)
	m.Receiver.WindowSize = win
	if payload != "" {
		m.Sender.Payload = []byte(payload)
	}
	return m
}

// flagsOf renders a segment's flags the way msg takes them.
func flagsOf(seg wire.Segment) string {
	var f string
	if seg.Sender.SYN {
		f += "S"
	}
	if seg.Receiver.ACK {
		f += "A"
	}
	if seg.Sender.FIN {
		f += "F"
	}
	if seg.IsRST() {
		f += "R"
	}
	return f
}

// seen is the part of a segment the tests compare.
type seen struct {
	Flags   string
	Seq     uint32
	Ack     uint32
	Payload int
}

func seenOf(seg wire.Segment) seen {
	s := seen{Flags: flagsOf(seg), Seq: uint32(seg.Sender.Seqno), Payload: len(seg.Sender.Payload)}
	if seg.Receiver.ACK {
		s.Ack = uint32(seg.Receiver.Ackno)
	}
	return s
}

// diffSeen compares what was sent with what was wanted; ignoreSeq leaves
// out seqnos the stack chose at random.
func diffSeen(want, got seen, ignoreSeq bool) string {
	var opts []cmp.Option
	if ignoreSeq {
		opts = append(opts, cmpopts.IgnoreFields(seen{}, "Seq"))
	}
	return cmp.Diff(want, got, opts...)
}
