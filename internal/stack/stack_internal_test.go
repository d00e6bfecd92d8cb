package stack

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"tcplab/internal/device"
	"tcplab/internal/wire"
	"tcplab/labs/4-connection"
)

const peerISN = 5000

// dialPeer opens a connection from the stack to the peer's port 80 and
// plays the peer's half of the handshake, announcing mss. It returns the
// socket, the stack's port and the stack's ISN.
func dialPeer(t *testing.T, s *Stack, p *peer, mss uint16) (net.Conn, uint16, uint32) {
	t.Helper()
	type dialed struct {
		c   net.Conn
		err error
	}
	res := make(chan dialed, 1)
	go func() {
		c, err := s.DialAddrPort(context.Background(), netip.AddrPortFrom(peerAddr, 80))
		res <- dialed{c, err}
	}()
	syn := p.recv()
	require.Equal(t, "S", flagsOf(syn), "the first segment of an active open")
	require.Equal(t, uint16(1460), syn.MSS, "our SYN announces MTU-40")
	port, iss := syn.Src.Port(), uint32(syn.Sender.Seqno)
	p.send(80, port, msg("SA", peerISN, iss+1, 65535, ""), mss)
	ack := p.recv()
	if d := diffSeen(seen{Flags: "A", Seq: iss + 1, Ack: peerISN + 1}, seenOf(ack), false); d != "" {
		t.Fatalf("the handshake's third segment (-want +got):\n%s", d)
	}
	d := <-res
	require.NoError(t, d.err)
	return d.c, port, iss
}

func TestSegmentsForNoConnectionAreRefused(t *testing.T) {
	cases := []struct {
		name string
		in   connection.Message
		want []seen
	}{
		{
			name: "a SYN to a closed port is answered with RST+ACK of the SYN",
			in:   msg("S", 1000, 0, 65535, ""),
			want: []seen{{Flags: "AR", Seq: 0, Ack: 1001}},
		},
		{
			name: "data and FIN without ACK are acknowledged in full by the RST",
			in:   msg("F", 500, 0, 65535, "hello"),
			want: []seen{{Flags: "AR", Seq: 0, Ack: 506}},
		},
		{
			name: "a segment with ACK gets an RST numbered with that ackno",
			in:   msg("A", 7, 4242, 65535, "x"),
			want: []seen{{Flags: "R", Seq: 4242}},
		},
		{
			name: "a SYN-ACK for no connection gets an RST numbered with its ackno",
			in:   msg("SA", 1, 99, 65535, ""),
			want: []seen{{Flags: "R", Seq: 99}},
		},
		{
			name: "an RST is never answered",
			in:   msg("AR", 7, 4242, 65535, ""),
			want: nil,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s, p, stop := newPeer(t, Config{})
				defer stop()
				p.send(40000, 9, tc.in, 0)
				var got []seen
				for _, seg := range p.recvAll() {
					got = append(got, seenOf(seg))
				}
				if d := cmp.Diff(tc.want, got); d != "" {
					t.Errorf("answer (-want +got):\n%s", d)
				}
				require.Equal(t, uint64(len(tc.want)), s.Stats().ResetsSent)
			})
		})
	}
}

func TestSmallPeerMSSCutsOurSegments(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, p, stop := newPeer(t, Config{})
		defer stop()
		c, port, iss := dialPeer(t, s, p, 536)
		defer c.Close()
		_, err := c.Write(make([]byte, 2000))
		require.NoError(t, err)
		next := iss + 1
		for _, seg := range p.recvAll() {
			require.Equal(t, next, uint32(seg.Sender.Seqno), "segments follow each other")
			require.LessOrEqual(t, len(seg.Sender.Payload), 536, "no segment exceeds the peer's MSS")
			next += uint32(len(seg.Sender.Payload))
		}
		require.Equal(t, iss+1+2000, next, "every byte was sent")
		p.send(80, port, msg("A", peerISN+1, next, 65535, ""), 0)
		p.none()
	})
}

func TestPeerResetSurfacesAsErrConnectionReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, p, stop := newPeer(t, Config{})
		defer stop()
		c, port, _ := dialPeer(t, s, p, 1460)
		defer c.Close()
		readErr := make(chan error, 1)
		go func() {
			_, err := c.Read(make([]byte, 10))
			readErr <- err
		}()
		synctest.Wait()
		p.send(80, port, msg("R", peerISN+1, 0, 0, ""), 0)
		err := <-readErr
		require.ErrorIs(t, err, ErrConnectionReset)
		require.Contains(t, err.Error(), "connection reset by peer")
		_, err = c.Write([]byte("after the reset"))
		require.ErrorIs(t, err, ErrConnectionReset)
		p.none() // an RST is not answered
	})
}

func TestDialToASilentHostEndsWithItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, p, stop := newPeer(t, Config{})
		defer stop()
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 3500*time.Millisecond)
		defer cancel()
		_, err := s.DialAddrPort(ctx, netip.AddrPortFrom(peerAddr, 80))
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Equal(t, 3500*time.Millisecond, time.Since(start), "Dial returns when ctx ends")
		var syns int
		for _, seg := range p.recvAll() {
			if seg.Sender.SYN {
				syns++
			}
		}
		require.Equal(t, 3, syns, "the SYN, and its retransmissions after 1s and 2s more")
	})
}

func TestLingerKeepsAnsweringAfterClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, p, stop := newPeer(t, Config{})
		defer stop()
		c, port, iss := dialPeer(t, s, p, 1460)
		require.NoError(t, c.Close())
		fin := p.recv()
		if d := diffSeen(seen{Flags: "AF", Seq: iss + 1, Ack: peerISN + 1}, seenOf(fin), false); d != "" {
			t.Fatalf("Close sends FIN (-want +got):\n%s", d)
		}
		// The peer acknowledges our FIN and sends its own.
		peerFIN := msg("AF", peerISN+1, iss+2, 65535, "")
		p.send(80, port, peerFIN, 0)
		wantACK := seen{Flags: "A", Seq: iss + 2, Ack: peerISN + 2}
		if d := diffSeen(wantACK, seenOf(p.recv()), false); d != "" {
			t.Fatalf("the peer's FIN is acknowledged (-want +got):\n%s", d)
		}
		// Our ACK was lost, as far as the peer knows: its FIN comes again
		// and must be acknowledged again, not refused.
		time.Sleep(5 * time.Second)
		p.send(80, port, peerFIN, 0)
		if d := diffSeen(wantACK, seenOf(p.recv()), false); d != "" {
			t.Fatalf("a retransmitted FIN 5s later is acknowledged again (-want +got):\n%s", d)
		}
		// The linger (at least minTimeWait) after the last segment, the
		// connection is gone.
		time.Sleep(max(10*connection.DefaultConfig().InitialRTO, minTimeWait) + time.Second)
		p.send(80, port, peerFIN, 0)
		if d := diffSeen(seen{Flags: "R", Seq: iss + 2}, seenOf(p.recv()), false); d != "" {
			t.Fatalf("after the linger the port is closed (-want +got):\n%s", d)
		}
		require.False(t, ticking(s), "no timer runs once no connection needs one")
	})
}

func TestAClosedSocketStopsWaitingForThePeersFIN(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, p, stop := newPeer(t, Config{OrphanTimeout: 30 * time.Second})
		defer stop()
		c, port, iss := dialPeer(t, s, p, 1460)
		require.NoError(t, c.Close())
		require.Equal(t, "AF", flagsOf(p.recv()))
		// The peer acknowledges our FIN and then never sends its own.
		p.send(80, port, msg("A", peerISN+1, iss+2, 65535, ""), 0)
		p.none()
		require.True(t, ticking(s), "an orphan in FIN_WAIT_2 is timed")
		time.Sleep(29 * time.Second)
		p.none()
		time.Sleep(2 * time.Second)
		rst := p.recv()
		// RST+ACK, numbered and acknowledging as Linux's active reset is.
		if d := diffSeen(seen{Flags: "AR", Seq: iss + 2, Ack: peerISN + 1}, seenOf(rst), false); d != "" {
			t.Fatalf("the orphan is reset (-want +got):\n%s", d)
		}
		require.False(t, ticking(s))
	})
}

// ticking asks the loop whether its tick timer is armed.
func ticking(s *Stack) bool {
	var on bool
	_ = s.call(func() { on = s.ticking })
	return on
}

func TestTimerRunsOnlyWhileSomethingIsInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, p, stop := newPeer(t, Config{})
		defer stop()
		c, port, iss := dialPeer(t, s, p, 1460)
		defer c.Close()
		synctest.Wait()
		require.False(t, ticking(s), "an idle established connection needs no ticks")
		_, err := c.Write([]byte("hello"))
		require.NoError(t, err)
		require.Len(t, p.recvAll(), 1)
		require.True(t, ticking(s), "unacknowledged data needs its retransmission timer")
		p.send(80, port, msg("A", peerISN+1, iss+6, 65535, ""), 0)
		synctest.Wait()
		require.False(t, ticking(s), "once acknowledged, nothing to time")
	})
}

func TestBatchesAreBoundedAndEachDrawsOneACK(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, p, stop := newPeer(t, Config{Batch: 32})
		defer stop()
		c, port, _ := dialPeer(t, s, p, 1460)
		defer c.Close()
		type read struct {
			n   int
			err error
		}
		res := make(chan read, 1)
		go func() {
			n, err := c.Read(make([]byte, 64<<10))
			res <- read{n, err}
		}()
		synctest.Wait()
		// 96 segments arrive at once, as if the device had a backlog.
		const segs, size = 96, 100
		payload := strings.Repeat("x", size)
		for i := range segs {
			seg := wire.Segment{
				Src:     netip.AddrPortFrom(peerAddr, 80),
				Dst:     netip.AddrPortFrom(stackAddr, port),
				Message: msg("A", peerISN+1+uint32(i*size), 0, 65535, payload),
			}
			seg.Receiver.Ackno = 0
			seg.Receiver.ACK = false
			b := seg.AppendTo(make([]byte, device.Headroom))
			require.Zero(t, s.rx.put([][]byte{b}, []int{len(b) - device.Headroom}, 1, len(b)))
		}
		s.poke()
		r := <-res
		require.NoError(t, r.err)
		// The first batch is readable at the end of its turn, which wakes
		// the Read; the loop may take its next turns before the Read
		// gets one.
		require.GreaterOrEqual(t, r.n, 32*size, "the waiting Read gets at least the first batch")
		rest, err := io.ReadAtLeast(c, make([]byte, 64<<10), segs*size-r.n)
		require.NoError(t, err)
		require.Equal(t, segs*size, r.n+rest, "every byte is read")
		var acks []seen
		for _, seg := range p.recvAll() {
			acks = append(acks, seenOf(seg))
		}
		var want []seen
		for b := 1; b <= 3; b++ {
			want = append(want, seen{Flags: "A", Ack: peerISN + 1 + uint32(b*32*size)})
		}
		for i := range acks {
			acks[i].Seq = 0
		}
		if d := cmp.Diff(want, acks); d != "" {
			t.Errorf("one ACK per batch of 32 (-want +got):\n%s", d)
		}
		st := s.Stats()
		require.Equal(t, uint64(32), st.MaxBatch)
	})
}

func TestGarbageIsCountedAndDropped(t *testing.T) {
	valid := func() []byte {
		seg := wire.Segment{
			Src:     netip.AddrPortFrom(peerAddr, 4000),
			Dst:     netip.AddrPortFrom(stackAddr, 80),
			Message: msg("A", 1, 1, 100, "payload"),
		}
		return seg.AppendTo(nil)
	}
	// fixIP recomputes the IPv4 header checksum after an edit.
	fixIP := func(b []byte) []byte {
		binary.BigEndian.PutUint16(b[10:], 0)
		binary.BigEndian.PutUint16(b[10:], wire.Checksum(b[:20]))
		return b
	}
	cases := []struct {
		name  string
		data  []byte
		count func(Stats) uint64
	}{
		{"an empty datagram is truncated", []byte{}, func(s Stats) uint64 { return s.Truncated }},
		{"a datagram cut short is truncated", valid()[:30], func(s Stats) uint64 { return s.Truncated }},
		{"IPv6 is not ours", append([]byte{0x60}, make([]byte, 47)...), func(s Stats) uint64 { return s.NotIPv4 }},
		{"UDP is not ours", func() []byte { b := valid(); b[9] = 17; return fixIP(b) }(), func(s Stats) uint64 { return s.NotTCP }},
		{"a flipped payload bit fails the TCP checksum", func() []byte { b := valid(); b[len(b)-1] ^= 1; return b }(), func(s Stats) uint64 { return s.BadChecksum }},
		{"a flipped header bit fails the IP checksum", func() []byte { b := valid(); b[8] ^= 1; return b }(), func(s Stats) uint64 { return s.BadChecksum }},
		{"a fragment is not reassembled", func() []byte { b := valid(); b[6] |= 0x20; return fixIP(b) }(), func(s Stats) uint64 { return s.Fragments }},
		{"a total length shorter than the header is a bad length", func() []byte {
			b := valid()
			binary.BigEndian.PutUint16(b[2:], 10)
			return fixIP(b)
		}(), func(s Stats) uint64 { return s.BadLength }},
		{"a datagram for another host is not ours", func() []byte {
			seg := wire.Segment{
				Src:     netip.AddrPortFrom(peerAddr, 4000),
				Dst:     netip.MustParseAddrPort("169.254.144.77:80"),
				Message: msg("S", 1, 0, 100, ""),
			}
			return seg.AppendTo(nil)
		}(), func(s Stats) uint64 { return s.NotForUs }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s, p, stop := newPeer(t, Config{})
				defer stop()
				for range 3 {
					p.sendRaw(tc.data)
				}
				p.none() // garbage is never answered, not even with RST
				st := s.Stats()
				require.Equal(t, uint64(3), tc.count(st), "%+v", st)
				require.Equal(t, uint64(3), st.Dropped(), "%+v", st)
				require.Equal(t, uint64(3), st.Received)
			})
		})
	}
	t.Run("a connection carries on through a flood of garbage", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s, p, stop := newPeer(t, Config{})
			defer stop()
			c, port, iss := dialPeer(t, s, p, 1460)
			defer c.Close()
			bad := valid()
			bad[len(bad)-1] ^= 1
			for i := range 50 {
				p.sendRaw(bad)
				p.send(80, port, msg("A", peerISN+1+uint32(i), iss+1, 65535, "y"), 0)
			}
			got, err := io.ReadAll(io.LimitReader(c, 50))
			require.NoError(t, err)
			require.Equal(t, strings.Repeat("y", 50), string(got))
			synctest.Wait()
			require.Equal(t, uint64(50), s.Stats().BadChecksum)
		})
	})
}

func TestAbortedDialFreesItsPort(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, p, stop := newPeer(t, Config{})
		defer stop()
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			time.Sleep(100 * time.Millisecond)
			cancel()
		}()
		_, err := s.DialAddrPort(ctx, netip.AddrPortFrom(peerAddr, 80))
		require.ErrorIs(t, err, context.Canceled)
		syn := p.recvAll()[0]
		// A late SYN-ACK finds no connection and is refused.
		p.send(80, syn.Src.Port(), msg("SA", peerISN, uint32(syn.Sender.Seqno)+1, 65535, ""), 1460)
		last := p.recvAll()
		require.NotEmpty(t, last)
		require.Equal(t, "R", flagsOf(last[len(last)-1]))
		require.True(t, errors.Is(err, context.Canceled))
	})
}

// brokenReads is a device whose reads start failing for good once broken
// is set (after the read under way returns).
type brokenReads struct {
	device.Device
	broken atomic.Bool
}

var errEIO = errors.New("input/output error")

func (d *brokenReads) Read(p []byte) (int, error) {
	if d.broken.Load() {
		return 0, errEIO
	}
	return d.Device.Read(p)
}

func TestABrokenDeviceFailsTheConnectionsInsteadOfSpinning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := device.Pipe(1500)
		dev := &brokenReads{Device: a}
		s, err := New(dev, Config{Addr: stackAddr})
		require.NoError(t, err)
		defer s.Close()
		p := &peer{t: t, dev: b, in: make(chan received, 16)}
		go p.collect()
		c, port, iss := dialPeer(t, s, p, 1460)
		l, err := s.Listen(80)
		require.NoError(t, err)
		readErr := make(chan error, 1)
		go func() {
			_, err := c.Read(make([]byte, 10))
			readErr <- err
		}()
		acceptErr := make(chan error, 1)
		go func() {
			_, err := l.Accept()
			acceptErr <- err
		}()
		synctest.Wait()

		dev.broken.Store(true)
		p.send(80, port, msg("A", peerISN+1, iss+1, 65535, ""), 0) // ends the read under way
		err = <-readErr
		require.ErrorIs(t, err, errEIO, "a blocked Read learns why")
		require.Contains(t, err.Error(), "pipe-a broke")
		require.ErrorIs(t, <-acceptErr, errEIO, "so does Accept")
		_, err = c.Write([]byte("x"))
		require.ErrorIs(t, err, errEIO, "and later calls")
		_, err = s.DialAddrPort(context.Background(), netip.AddrPortFrom(peerAddr, 80))
		require.ErrorIs(t, err, errEIO, "a new Dial fails at once")
		_, err = s.Listen(81)
		require.ErrorIs(t, err, errEIO)

		st := s.Stats()
		require.Equal(t, uint64(readFailureLimit), st.ReadErrors, "the reader gave up instead of spinning")
		require.Zero(t, st.Malformed, "a broken device is not a malformed datagram")
		if d := diffSeen(seen{Flags: "AR", Seq: iss + 1, Ack: peerISN + 1}, seenOf(p.recv()), false); d != "" {
			t.Errorf("the peer is told, as far as writes still work (-want +got):\n%s", d)
		}
		b.Close()
	})
}

// TestAReadWaitingForTheLoopWakes: a Read that found nothing waits for
// the loop, and whatever ends the wait -- data, the peer's FIN or RST, the
// socket's Close, the stack's, the deadline -- answers it at once.
func TestAReadWaitingForTheLoopWakes(t *testing.T) {
	type outcome struct {
		got string
		err error
	}
	cases := []struct {
		name string
		// wake ends the wait; ack is what the peer acknowledges.
		wake func(s *Stack, p *peer, c net.Conn, port uint16, ack uint32)
		want outcome
	}{
		{"data", func(_ *Stack, p *peer, _ net.Conn, port uint16, ack uint32) {
			p.send(80, port, msg("A", peerISN+1, ack, 65535, "hello"), 0)
		}, outcome{got: "hello"}},
		{"the peer's FIN", func(_ *Stack, p *peer, _ net.Conn, port uint16, ack uint32) {
			p.send(80, port, msg("AF", peerISN+1, ack, 65535, ""), 0)
		}, outcome{err: io.EOF}},
		{"the peer's RST", func(_ *Stack, p *peer, _ net.Conn, port uint16, _ uint32) {
			p.send(80, port, msg("R", peerISN+1, 0, 0, ""), 0)
		}, outcome{err: ErrConnectionReset}},
		{"the socket's Close", func(_ *Stack, _ *peer, c net.Conn, _ uint16, _ uint32) {
			c.Close()
		}, outcome{err: net.ErrClosed}},
		{"the stack's Close", func(s *Stack, _ *peer, _ net.Conn, _ uint16, _ uint32) {
			s.Close()
		}, outcome{err: net.ErrClosed}},
		{"the deadline", func(_ *Stack, _ *peer, c net.Conn, _ uint16, _ uint32) {
			c.SetReadDeadline(time.Now())
		}, outcome{err: os.ErrDeadlineExceeded}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s, p, stop := newPeer(t, Config{})
				defer stop()
				c, port, iss := dialPeer(t, s, p, 1460)
				defer c.Close()
				got := make(chan outcome, 1)
				go func() {
					b := make([]byte, 16)
					n, err := c.Read(b)
					got <- outcome{string(b[:n]), err}
				}()
				synctest.Wait()
				require.Empty(t, got, "the Read waits")
				tc.wake(s, p, c, port, iss+1)
				synctest.Wait()
				require.Len(t, got, 1, "the Read returned")
				o := <-got
				require.Equal(t, tc.want.got, o.got)
				if tc.want.err == nil {
					require.NoError(t, o.err)
				} else {
					require.ErrorIs(t, o.err, tc.want.err)
				}
			})
		})
	}
}
