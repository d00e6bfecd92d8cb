package interop

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"tcplab/internal/device"
	"tcplab/internal/ladder"
	"tcplab/internal/pcap"
	"tcplab/internal/stack"
	"tcplab/internal/wire"
)

// Options say how webget and tcpcat reach the kernel.
type Options struct {
	Dev        string       // TUN device name (tun144)
	LabAddr    netip.Addr   // the lab stack's address (169.254.144.9)
	KernelAddr netip.Prefix // the kernel's side, used only if we create the device
	MTU        int
	Stack      stack.Config // Addr is set from LabAddr
	PcapFile   string       // write every datagram both ways here
	Trace      io.Writer    // print every segment here, one line each
	Ladder     io.Writer    // draw every segment here as a live ladder diagram
	LadderSVG  string       // write the ladder of the whole run here as SVG on Close
	// Loss, when positive, drops that share of datagrams each way
	// (seeded by Seed), like the original course's -l/-L switches.
	Loss float64
	Seed uint64
}

// Net is the lab stack running on a TUN device.
type Net struct {
	*stack.Stack
	Watcher *Watcher
	pcapF   *os.File
	trace   *Tracer
	ladder  *ladderTracer
	svgFile string
}

// Open attaches to the TUN device opts.Dev, or creates and configures it
// when it does not exist yet (which takes CAP_NET_ADMIN: root, or the
// sandbox), and starts the lab stack on it.
func Open(opts Options) (*Net, error) {
	if opts.Dev == "" {
		opts.Dev = device.DefaultName
	}
	if !opts.LabAddr.IsValid() {
		opts.LabAddr = device.LabAddr
	}
	if opts.MTU == 0 {
		opts.MTU = 1500
	}
	_, err := net.InterfaceByName(opts.Dev)
	existed := err == nil
	tun, err := device.OpenTUN(opts.Dev, opts.MTU)
	if err != nil {
		return nil, err
	}
	if !existed {
		// A device we made is ours to set up; one that already existed
		// was set up by whoever made it (the set-up script, the sandbox),
		// possibly with rights we lack.
		if err := device.Configure(opts.Dev, device.Config{MTU: opts.MTU, KernelAddr: opts.KernelAddr}); err != nil {
			tun.Close()
			return nil, err
		}
	}
	n := &Net{Watcher: NewWatcher()}
	obs := []Observer{n.Watcher.Observe}
	if opts.PcapFile != "" {
		f, err := os.Create(opts.PcapFile)
		if err != nil {
			tun.Close()
			return nil, fmt.Errorf("pcap: %w", err)
		}
		pw, err := pcap.NewWriter(f)
		if err != nil {
			f.Close()
			tun.Close()
			return nil, err
		}
		n.pcapF = f
		obs = append(obs, func(_ Dir, at time.Time, b []byte, _ bool) { _ = pw.WritePacket(at, b) })
	}
	if opts.Trace != nil {
		n.trace = NewTracer(opts.Trace)
		obs = append(obs, n.trace.Observe)
	}
	if opts.Ladder != nil || opts.LadderSVG != "" {
		n.ladder = newLadderTracer(opts.Ladder)
		n.svgFile = opts.LadderSVG
		obs = append(obs, n.ladder.Observe)
	}
	var dev device.Device = NewTap(tun, obs...)
	if opts.Loss > 0 {
		dev = device.Impair(dev, device.Impairment{Loss: opts.Loss, Seed: opts.Seed})
		dev = device.ImpairReads(dev, device.Impairment{Loss: opts.Loss, Seed: opts.Seed + 1})
	}
	cfg := opts.Stack
	cfg.Addr = opts.LabAddr
	st, err := stack.New(dev, cfg)
	if err != nil {
		dev.Close()
		if n.pcapF != nil {
			n.pcapF.Close()
		}
		return nil, err
	}
	n.Stack = st
	return n, nil
}

// Close waits (at most grace) until every connection has finished its
// closing handshake, so our last FIN or ACK is not lost with the process,
// then stops the stack and closes the pcap file.
func (n *Net) Close(grace time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	_ = n.Watcher.WaitDone(ctx)
	err := n.Stack.Close()
	if n.trace != nil {
		n.trace.Flush()
	}
	if n.svgFile != "" {
		if werr := os.WriteFile(n.svgFile, ladder.SVG(n.ladder.live.Recording()), 0o644); werr != nil && err == nil {
			err = fmt.Errorf("ladder SVG: %w", werr)
		}
	}
	if n.pcapF != nil {
		if cerr := n.pcapF.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("pcap: %w", cerr)
		}
	}
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// ladderTracer draws every segment as it crosses the device: the lab stack
// on the left, the kernel on the right. What it sees is what crossed the
// device, so each arrow is level: sent and seen at once.
type ladderTracer struct {
	mu    sync.Mutex
	live  *ladder.Live
	start time.Time
}

func newLadderTracer(w io.Writer) *ladderTracer {
	if w == nil {
		w = io.Discard // recording for the SVG only
	}
	return &ladderTracer{live: ladder.NewLive(w, 80, "tcplab", "linux")}
}

// Observe is the ladder's Tap observer. Datagrams that are not ours (IPv6
// chatter, garbage) are left out of the picture.
func (l *ladderTracer) Observe(dir Dir, at time.Time, b []byte, vouched bool) {
	seg, err := parseSeen(b, vouched)
	if err != nil {
		return
	}
	l.mu.Lock()
	if l.start.IsZero() {
		l.start = at
	}
	since := at.Sub(l.start)
	l.mu.Unlock()
	side := ladder.A
	if dir == In {
		side = ladder.B
	}
	l.live.Message(since, side, seg.Message)
}

// Tracer prints one line per TCP segment, the way the lecture labels them:
//
//	0.000312 → SYN seq=3126201977 ack=0 win=64240 len=0 mss=1460 wscale=6
//	0.000355 ← SYN ACK seq=711538917 ack=3126201978 win=64240 len=0 mss=1460 wscale=7
//
// → is what the lab stack sent, ← what it received; times are seconds since
// the first segment. win is the header's field: once both SYNs carried a
// wscale, the window is that field shifted left by the sender's wscale.
type Tracer struct {
	mu    sync.Mutex
	w     *bufio.Writer
	start time.Time
	buf   []byte
}

// NewTracer prints to w.
func NewTracer(w io.Writer) *Tracer { return &Tracer{w: bufio.NewWriter(w)} }

// Observe is the Tracer's Tap observer.
func (t *Tracer) Observe(dir Dir, at time.Time, b []byte, vouched bool) {
	seg, err := parseSeen(b, vouched)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.start.IsZero() {
		t.start = at
	}
	t.buf = fmt.Appendf(t.buf[:0], "%10.6f %s ", at.Sub(t.start).Seconds(), dir)
	if err != nil {
		t.buf = fmt.Appendf(t.buf, "(%d bytes, not ours: %v)\n", len(b), err)
	} else {
		t.buf = appendLabel(t.buf, seg, b)
	}
	_, _ = t.w.Write(t.buf)
	// Flush per line: a trace is for watching live.
	_ = t.w.Flush()
}

// Flush writes out anything buffered.
func (t *Tracer) Flush() {
	t.mu.Lock()
	defer t.mu.Unlock()
	_ = t.w.Flush()
}

// appendLabel appends the line for seg, parsed from datagram d.
func appendLabel(b []byte, seg wire.Segment, d []byte) []byte {
	s, r := seg.Sender, seg.Receiver
	for _, f := range []struct {
		on   bool
		name string
	}{{s.SYN, "SYN "}, {r.ACK, "ACK "}, {s.FIN, "FIN "}, {s.RST || r.RST, "RST "}} {
		if f.on {
			b = append(b, f.name...)
		}
	}
	b = fmt.Appendf(b, "seq=%d ack=%d win=%d len=%d", uint32(s.Seqno), uint32(r.Ackno), r.WindowSize, len(s.Payload))
	if seg.MSS != 0 {
		b = fmt.Appendf(b, " mss=%d", seg.MSS)
	}
	if shift, ok := wire.WindowScaleOf(d); ok {
		b = fmt.Appendf(b, " wscale=%d", shift)
	}
	return append(b, '\n')
}
