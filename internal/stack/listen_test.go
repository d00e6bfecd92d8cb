package stack

import (
	"io"
	"net"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"tcplab/internal/device"
	"tcplab/internal/wire"
	"tcplab/labs/2-receiver"
	connection "tcplab/labs/4-connection"
)

func TestCookiesRoundTrip(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	j := newCookieJar(start)
	local := netip.MustParseAddrPort("169.254.144.9:80")
	remote := netip.MustParseAddrPort("169.254.144.1:40000")
	const peer = receiver.Wrap32(123456)
	cases := []struct {
		name    string
		mss     uint16 // announced in the SYN
		later   time.Duration
		remote  netip.AddrPort
		peerISN receiver.Wrap32
		wantOK  bool
		wantMSS uint16
	}{
		{"a fresh cookie carries the MSS", 1460, 0, remote, peer, true, 1460},
		{"an MSS between the table's values is rounded down", 1450, 0, remote, peer, true, 1440},
		{"no MSS option means 536", 0, 0, remote, peer, true, 536},
		{"a tiny MSS is rounded down too", 100, 0, remote, peer, true, 64},
		{"a cookie is good in the next period", 1460, cookiePeriod + time.Second, remote, peer, true, 1460},
		{"and stale two periods later", 1460, 2*cookiePeriod + time.Second, remote, peer, false, 0},
		{"another peer port cannot use it", 1460, 0, netip.MustParseAddrPort("169.254.144.1:40001"), peer, false, 0},
		{"another peer ISN cannot use it", 1460, 0, remote, peer + 1, false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			now := start.Add(7 * time.Minute)
			c := j.make(local, remote, peer, tc.mss, now)
			mss, ok := j.check(local, tc.remote, tc.peerISN, c, now.Add(tc.later))
			require.Equal(t, tc.wantOK, ok)
			require.Equal(t, tc.wantMSS, mss)
		})
	}
	t.Run("a cookie from another jar is refused", func(t *testing.T) {
		other := newCookieJar(start)
		c := other.make(local, remote, peer, 1460, start)
		_, ok := j.check(local, remote, peer, c, start)
		require.False(t, ok)
	})
}

// sendFrom writes one segment from any source to the stack's port.
func (p *peer) sendFrom(src netip.AddrPort, to uint16, seg wire.Segment) {
	p.t.Helper()
	seg.Src, seg.Dst = src, netip.AddrPortFrom(stackAddr, to)
	_, err := p.dev.Write(seg.AppendTo(nil))
	require.NoError(p.t, err)
}

// acceptOne runs Accept and returns its result once it has one.
func acceptOne(l net.Listener) chan net.Conn {
	ch := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			close(ch)
			return
		}
		ch <- c
	}()
	return ch
}

// connCount asks the loop how many connections it holds.
func connCount(s *Stack) int {
	var n int
	_ = s.call(func() { n = len(s.conns) })
	return n
}

func TestAFullHalfOpenTableAnswersWithCookies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, p, stop := newPeer(t, Config{Backlog: 2})
		defer stop()
		l, err := s.Listen(80)
		require.NoError(t, err)
		defer l.Close()
		// Two SYNs fill the half-open table: each gets a real SYN-ACK.
		for port := range uint16(2) {
			p.send(1000+port, 80, msg("S", 100, 0, 65535, ""), 1460)
			require.Equal(t, "SA", flagsOf(p.recv()))
		}
		require.Equal(t, 2, connCount(s))
		// The third gets a cookie and costs nothing.
		p.send(3000, 80, msg("S", peerISN, 0, 65535, ""), 1460)
		synack := p.recv()
		require.Equal(t, "SA", flagsOf(synack))
		require.Equal(t, uint32(peerISN+1), uint32(synack.Receiver.Ackno))
		require.Equal(t, uint16(1460), synack.MSS, "a cookie's SYN-ACK announces our MSS")
		require.Equal(t, 2, connCount(s), "a cookie holds no state")
		require.Equal(t, uint64(1), s.Stats().CookiesSent)

		// The ACK that returns the cookie makes the connection.
		cookie := uint32(synack.Sender.Seqno)
		accepted := acceptOne(l)
		p.send(3000, 80, msg("A", peerISN+1, cookie+1, 65535, "hello"), 0)
		c := <-accepted
		require.NotNil(t, c, "Accept returns the cookie's connection")
		defer c.Close()
		require.Equal(t, "169.254.144.1:3000", c.RemoteAddr().String())
		if d := diffSeen(seen{Flags: "A", Seq: cookie + 1, Ack: peerISN + 6}, seenOf(p.recv()), false); d != "" {
			t.Fatalf("the data after the cookie is acknowledged (-want +got):\n%s", d)
		}
		buf := make([]byte, 10)
		n, err := c.Read(buf)
		require.NoError(t, err)
		require.Equal(t, "hello", string(buf[:n]))
		_, err = c.Write([]byte("world"))
		require.NoError(t, err)
		if d := diffSeen(seen{Flags: "A", Seq: cookie + 1, Ack: peerISN + 6, Payload: 5}, seenOf(p.recv()), false); d != "" {
			t.Fatalf("our reply starts at the cookie's seqno + 1 (-want +got):\n%s", d)
		}
		require.Equal(t, uint64(1), s.Stats().CookiesAccepted)
	})
}

func TestForgedAndStaleCookiesAreRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, p, stop := newPeer(t, Config{Backlog: 1})
		defer stop()
		l, err := s.Listen(80)
		require.NoError(t, err)
		defer l.Close()
		p.send(1000, 80, msg("S", 100, 0, 65535, ""), 1460) // fills the table
		require.Equal(t, "SA", flagsOf(p.recv()))

		// A guessed cookie is a segment for no connection: RST.
		p.send(2000, 80, msg("A", peerISN+1, 4242, 65535, ""), 0)
		if d := diffSeen(seen{Flags: "R", Seq: 4242}, seenOf(p.recv()), false); d != "" {
			t.Fatalf("a forged cookie (-want +got):\n%s", d)
		}
		// A real cookie returned too late: RST as well.
		p.send(3000, 80, msg("S", peerISN, 0, 65535, ""), 1460)
		cookie := uint32(p.recv().Sender.Seqno)
		time.Sleep(3 * cookiePeriod)
		p.recvAll() // the half-open connection's SYN-ACK retransmissions
		p.send(3000, 80, msg("A", peerISN+1, cookie+1, 65535, ""), 0)
		if d := diffSeen(seen{Flags: "R", Seq: cookie + 1}, seenOf(p.recv()), false); d != "" {
			t.Fatalf("a stale cookie (-want +got):\n%s", d)
		}
		require.Zero(t, s.Stats().CookiesAccepted)
		// An RST to a listening port is never answered.
		p.send(4000, 80, msg("R", 1, 0, 0, ""), 0)
		p.none()
	})
}

func TestAFullAcceptQueueHoldsHandshakesBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, p, stop := newPeer(t, Config{Backlog: 2})
		defer stop()
		l, err := s.Listen(80)
		require.NoError(t, err)
		defer l.Close()
		// A and B half-open; A completes and waits for Accept.
		isn := map[uint16]uint32{}
		for _, port := range []uint16{1000, 2000} {
			p.send(port, 80, msg("S", peerISN, 0, 65535, ""), 1460)
			isn[port] = uint32(p.recv().Sender.Seqno)
		}
		p.send(1000, 80, msg("A", peerISN+1, isn[1000]+1, 65535, ""), 0)
		// C comes through a cookie (the table is full) and fills the
		// accept queue.
		p.send(3000, 80, msg("S", peerISN, 0, 65535, ""), 1460)
		isn[3000] = uint32(p.recv().Sender.Seqno)
		p.send(3000, 80, msg("A", peerISN+1, isn[3000]+1, 65535, ""), 0)
		p.none()

		// With the queue full, B's ACK and a new SYN are dropped: nothing
		// is reset because the application is slow.
		p.send(2000, 80, msg("A", peerISN+1, isn[2000]+1, 65535, ""), 0)
		p.send(4000, 80, msg("S", peerISN, 0, 65535, ""), 1460)
		p.none()
		require.Equal(t, uint64(2), s.Stats().ListenOverflows)

		// Once the application accepts, B's handshake completes when its
		// SYN-ACK is retransmitted and answered again.
		for _, want := range []string{"169.254.144.1:1000", "169.254.144.1:3000"} {
			c := <-acceptOne(l)
			require.NotNil(t, c)
			require.Equal(t, want, c.RemoteAddr().String())
			defer c.Close()
		}
		time.Sleep(2 * time.Second)
		retx := p.recv()
		require.Equal(t, "SA", flagsOf(retx))
		require.Equal(t, netip.AddrPortFrom(peerAddr, 2000), retx.Dst)
		accepted := acceptOne(l)
		p.send(2000, 80, msg("A", peerISN+1, isn[2000]+1, 65535, "GET"), 0)
		c := <-accepted
		require.NotNil(t, c)
		defer c.Close()
		buf := make([]byte, 3)
		_, err = io.ReadFull(c, buf)
		require.NoError(t, err)
		require.Equal(t, "GET", string(buf))
	})
}

func TestASYNFloodLeavesRealClientsAWayIn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const backlog, flood = 8, 2000
		s, p, stop := newPeer(t, Config{Backlog: backlog})
		defer stop()
		l, err := s.Listen(80)
		require.NoError(t, err)
		defer l.Close()
		// Spoofed SYNs from addresses that will never answer.
		for i := range flood {
			src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), uint16(1024+i))
			p.sendFrom(src, 80, wire.Segment{Message: msg("S", uint32(i), 0, 65535, "")})
			if i%256 == 0 {
				p.recvAll()
			}
		}
		p.recvAll()
		require.Equal(t, backlog, connCount(s), "the flood holds only the half-open table")
		require.Equal(t, uint64(flood-backlog), s.Stats().CookiesSent)

		// A real client still gets in.
		p.send(5000, 80, msg("S", peerISN, 0, 65535, ""), 1460)
		synack := p.recv()
		accepted := acceptOne(l)
		p.send(5000, 80, msg("A", peerISN+1, uint32(synack.Sender.Seqno)+1, 65535, ""), 0)
		c := <-accepted
		require.NotNil(t, c)
		c.Close()
	})
}

func TestHandshakesCompletingTogetherNeverOverfillTheAcceptQueue(t *testing.T) {
	// Seen with 200 clients at once: every handshake completed in one
	// batch saw the accept queue as it was before the batch, the queue
	// overfilled at the end of the turn, and the excess was reset.
	synctest.Test(t, func(t *testing.T) {
		const backlog, clients = 4, 12
		s, p, stop := newPeer(t, Config{Backlog: backlog})
		defer stop()
		l, err := s.Listen(80)
		require.NoError(t, err)
		defer l.Close()
		isn := map[uint16]uint32{}
		for i := range uint16(clients) {
			p.send(1000+i, 80, msg("S", peerISN, 0, 65535, ""), 1460)
			isn[1000+i] = uint32(p.recv().Sender.Seqno)
		}
		// Every ACK in one burst: the loop takes them as one batch.
		var burst [][]byte
		for i := range uint16(clients) {
			seg := wire.Segment{
				Src: netip.AddrPortFrom(peerAddr, 1000+i), Dst: netip.AddrPortFrom(stackAddr, 80),
				Message: msg("A", peerISN+1, isn[1000+i]+1, 65535, "GET"), MSS: 0,
			}
			burst = append(burst, seg.AppendTo(nil))
		}
		_ = s.call(func() {
			for _, b := range burst {
				s.input(append(make([]byte, device.Headroom), b...))
			}
		})
		for _, seg := range p.recvAll() {
			require.NotContains(t, flagsOf(seg), "R", "a connection whose handshake completed was reset: %v", seg)
		}
		require.Equal(t, uint64(clients-backlog), s.Stats().ListenOverflows, "what did not fit waits for the peer to retransmit")
	})
}

// What a listener answers to a segment that opens nothing, as RFC 9293
// §3.10.7.2 lists it: an RST is ignored, an ACK gets <SEQ=SEG.ACK><CTL=RST>,
// and anything else without a SYN is dropped.
func TestAListenerAnswersOnlyWhatClaimsAConnection(t *testing.T) {
	cases := []struct {
		name string
		in   connection.Message
		want string // flags of the answer, "" for none
	}{
		{"an RST is ignored", msg("R", 100, 0, 0, ""), ""},
		{"an RST with an ACK is ignored", msg("RA", 100, 7, 0, ""), ""},
		{"an ACK is reset", msg("A", 100, 7, 65535, ""), "R"},
		{"data with an ACK is reset", msg("A", 100, 7, 65535, "hi"), "R"},
		{"a SYN-ACK is reset", msg("SA", 100, 7, 65535, ""), "R"},
		{"a bare FIN is dropped", msg("F", 100, 0, 65535, ""), ""},
		{"data without an ACK is dropped", msg("", 100, 0, 65535, "hi"), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s, p, stop := newPeer(t, Config{})
				defer stop()
				l, err := s.Listen(80)
				require.NoError(t, err)
				defer l.Close()
				p.send(1000, 80, c.in, 0)
				if c.want == "" {
					p.none()
					return
				}
				rst := p.recv()
				require.Equal(t, c.want, flagsOf(rst))
				require.Equal(t, uint32(c.in.Receiver.Ackno), uint32(rst.Sender.Seqno), "the reset's seqno is the segment's ackno")
				require.Zero(t, connCount(s), "nothing is made for it")
			})
		})
	}
}
