package stack

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"tcplab/internal/wire"
	"tcplab/labs/2-receiver"
)

// Window scaling (RFC 7323) as the peer sees it on the wire: the option on
// the SYNs, the windows after them.

// scaleOffer is the window scale option a test peer puts on its SYN: nil
// for none.
func scaleOffer(offers bool, shift uint8) []byte {
	if !offers {
		return nil
	}
	return wire.AppendWindowScale(nil, shift)
}

// handshake opens a connection between the stack and the peer: actively
// (the stack dials the peer's port 80) or passively (the peer connects to
// the stack's port 80). The peer's SYN or SYN-ACK carries opts and
// announces a window of peerWnd. It returns the stack's SYN or SYN-ACK,
// the stack's socket and port, and the stack's ISN.
func handshake(t *testing.T, s *Stack, p *peer, active bool, opts []byte, peerWnd uint16) (syn received, c net.Conn, port uint16, iss uint32) {
	t.Helper()
	if active {
		dialed := make(chan net.Conn, 1)
		go func() {
			c, err := s.DialAddrPort(context.Background(), netip.AddrPortFrom(peerAddr, 80))
			if err != nil {
				t.Errorf("dial: %v", err)
			}
			dialed <- c
		}()
		syn = p.recvOptions()
		require.Equal(t, "S", flagsOf(syn.Segment))
		port, iss = syn.Src.Port(), uint32(syn.Sender.Seqno)
		p.sendWithOptions(80, port, msg("SA", peerISN, iss+1, peerWnd, ""), 1460, opts)
		require.Equal(t, "A", flagsOf(p.recv()), "the handshake's ACK")
		c = <-dialed
		require.NotNil(t, c)
		return syn, c, port, iss
	}
	l, err := s.Listen(80)
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	accepted := acceptOne(l)
	port = 80
	p.sendWithOptions(1000, port, msg("S", peerISN, 0, peerWnd, ""), 1460, opts)
	syn = p.recvOptions()
	require.Equal(t, "SA", flagsOf(syn.Segment))
	iss = uint32(syn.Sender.Seqno)
	p.send(1000, port, msg("A", peerISN+1, iss+1, peerWnd, ""), 0)
	c = <-accepted
	require.NotNil(t, c)
	p.none()
	return syn, c, port, iss
}

// peerPort is the peer's end of a connection handshake opened.
func peerPort(active bool) uint16 {
	if active {
		return 80
	}
	return 1000
}

// sentPayload writes n bytes on c and returns how many the stack sends
// before it waits for an ACK.
func sentPayload(t *testing.T, p *peer, c net.Conn, n int) int {
	t.Helper()
	synctest.Wait()             // what the peer sent is in
	go c.Write(make([]byte, n)) // blocks on what does not fit: ends with the socket
	synctest.Wait()
	total := 0
	for _, seg := range p.recvAll() {
		total += len(seg.Sender.Payload)
	}
	return total
}

func TestWindowScaleIsNegotiatedInTheHandshake(t *testing.T) {
	const small = 48 << 10 // covered by 16 bits: no scaling offered
	cases := []struct {
		name       string
		rcvBuf     uint64 // 0: the default
		active     bool
		peerOffers bool
		wantOffer  bool // our SYN or SYN-ACK carries the option
		wantScaled bool
	}{
		{"dialing, both offer: scaled", 0, true, true, true, true},
		{"dialing, the peer does not answer our offer: not scaled", 0, true, false, true, false},
		{"dialing with a small buffer: no offer, the peer's option alone is not enough", small, true, true, false, false},
		{"dialing, neither offers", small, true, false, false, false},
		{"listening, both offer: the SYN-ACK answers, scaled", 0, false, true, true, true},
		{"listening, the peer's SYN has none: nor has the SYN-ACK", 0, false, false, false, false},
		{"listening with a small buffer: the peer's offer is declined", small, false, true, false, false},
		{"listening, neither offers", small, false, false, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s, p, stop := newPeer(t, Config{ReceiveBuffer: tc.rcvBuf})
				defer stop()
				rcvBuf := s.cfg.ReceiveBuffer
				const peerShift = 7
				syn, c, port, iss := handshake(t, s, p, tc.active, scaleOffer(tc.peerOffers, peerShift), 100)
				defer c.Close()

				shift := windowShift(rcvBuf)
				require.Equal(t, tc.wantOffer, syn.scales, "the window scale option on our %v", flagsOf(syn.Segment))
				if tc.wantOffer {
					require.Equal(t, shift, syn.wscale, "the smallest shift that covers %d bytes", rcvBuf)
					require.Less(t, uint64(0xffff)<<(shift-1), rcvBuf)
				}
				synWnd := min(rcvBuf-zeroWindowReserve(rcvBuf, 1), 0xffff)
				require.Greater(t, uint64(syn.Receiver.WindowSize)+uint64(s.mss), synWnd, "the window on a SYN is the buffer's, unscaled")

				// The peer's data draws an ACK whose window is the free
				// buffer, scaled if both offered; its own window (100)
				// is scaled by its shift if both offered.
				const n = 1000
				p.send(peerPort(tc.active), port, msg("A", peerISN+1, iss+1, 100, string(make([]byte, n))), 0)
				ack := p.recv()
				require.Equal(t, uint32(peerISN+1+n), uint32(ack.Receiver.Ackno))
				wnd := uint64(ack.Receiver.WindowSize)
				unit := uint64(1)
				if tc.wantScaled {
					wnd <<= shift
					unit <<= shift
				}
				hold := min(rcvBuf-n-zeroWindowReserve(rcvBuf, unit), 0xffff*unit)
				require.LessOrEqual(t, wnd, hold, "never more than the buffer holds")
				require.Greater(t, wnd+uint64(s.mss)+unit, hold, "nearly all of it")

				want := 100
				if tc.wantScaled {
					want <<= peerShift
				}
				require.Equal(t, want, sentPayload(t, p, c, 20_000), "what the peer's window lets us send")
			})
		})
	}
}

func TestTheWindowOnASYNIsNeverScaled(t *testing.T) {
	for _, active := range []bool{true, false} {
		name := map[bool]string{true: "on the peer's SYN-ACK", false: "on the peer's SYN"}[active]
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s, p, stop := newPeer(t, Config{})
				defer stop()
				// A passive open takes the peer's window from its third
				// segment, which is scaled: only its SYN's is not.
				_, c, _, _ := handshake(t, s, p, active, scaleOffer(true, 7), 1000)
				defer c.Close()
				want := 1000
				if !active {
					want = 1000 << 7
				}
				require.Equal(t, min(want, 0xffff), sentPayload(t, p, c, 200_000))
			})
		})
	}
}

func TestThePeersScaledWindowReachesTheLabSenderCappedAt16Bits(t *testing.T) {
	cases := []struct {
		name       string
		peerOffers bool
		peerShift  uint8
		field      uint16 // the peer's window field after the handshake
		want       int    // bytes the lab sender sends into it
	}{
		{"shift 2: a field of 10 is 40 bytes", true, 2, 10, 40},
		{"shift 0: scaling on, factor 1", true, 0, 1000, 1000},
		{"shift 7: 1000 is 128000 bytes, capped at 65535 for the lab sender", true, 7, 1000, 0xffff},
		{"shift 14: the largest window", true, 14, 0xffff, 0xffff},
		{"a shift over 14 counts as 14", true, 15, 1, 1 << 14},
		{"no scaling: the field is bytes", false, 7, 1000, 1000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s, p, stop := newPeer(t, Config{})
				defer stop()
				_, c, port, iss := handshake(t, s, p, true, scaleOffer(tc.peerOffers, tc.peerShift), 0xffff)
				defer c.Close()
				p.send(80, port, msg("A", peerISN+1, iss+1, tc.field, ""), 0)
				require.Equal(t, tc.want, sentPayload(t, p, c, 100_000))
			})
		})
	}
}

func TestACookieConnectionDoesNotScale(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, p, stop := newPeer(t, Config{Backlog: 1})
		defer stop()
		l, err := s.Listen(80)
		require.NoError(t, err)
		defer l.Close()
		opts := scaleOffer(true, 7)
		p.sendWithOptions(999, 80, msg("S", 100, 0, 65535, ""), 1460, opts)
		first := p.recvOptions()
		require.True(t, first.scales, "the SYN-ACK of a half-open connection answers the offer")

		// The half-open table is full: the cookie's SYN-ACK cannot keep
		// the peer's shift, so it does not answer the offer.
		p.sendWithOptions(1000, 80, msg("S", peerISN, 0, 65535, ""), 1460, opts)
		synack := p.recvOptions()
		require.Equal(t, uint64(1), s.Stats().CookiesSent)
		require.False(t, synack.scales, "a cookie's SYN-ACK offers no window scale")
		cookie := uint32(synack.Sender.Seqno)

		accepted := acceptOne(l)
		p.send(1000, 80, msg("A", peerISN+1, cookie+1, 100, "hello"), 0)
		c := <-accepted
		require.NotNil(t, c)
		defer c.Close()
		ack := p.recv()
		require.GreaterOrEqual(t, ack.Receiver.WindowSize, uint16(60_000), "our window is in bytes, unscaled")
		require.Equal(t, 100, sentPayload(t, p, c, 1000), "and so is the peer's")
	})
}

// The endpoint's side: what window it advertises, driven by hand.

// passiveScaled opens te passively to a peer whose SYN offers window
// scaling, and returns our shift.
func (te *testEndpoint) passiveScaled() uint8 {
	te.t.Helper()
	te.receive(msg("S", peerISN, 0, 65535, ""), synOptions{mss: 1460, wscale: 7, scales: true})
	te.expect("the SYN-ACK", seen{Flags: "SA", Seq: testISN, Ack: peerISN + 1})
	te.receive(msg("A", peerISN+1, testISN+1, 65535, ""), synOptions{})
	te.flush()
	te.take()
	require.True(te.t, te.scaled)
	return te.rcvShift
}

func TestEndpointScalesTheWindowOfItsFreeBuffer(t *testing.T) {
	const rcvBuf = 1 << 20
	const reserve = 4096
	cases := []struct {
		name     string
		received int // bytes the peer sent, in order
		read     int // of them, what the application read
	}{
		{"an empty buffer", 1000, 1000},
		{"a third of it unread", 350_000, 0},
		{"read again", 350_000, 350_000},
		{"all but 50,000 bytes unread: under 64 KiB, still scaled", rcvBuf - reserve - 50_000, 0},
		{"full up to the reserve: zero", rcvBuf - reserve, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			te := newTestEndpoint(t, rcvBuf)
			shift := te.passiveScaled()
			require.Equal(t, uint8(5), shift, "the smallest that covers 1 MiB")
			for off := 0; off < tc.received; off += testMSS {
				te.receive(data(off, min(testMSS, tc.received-off)), synOptions{})
			}
			te.conn.Inbound().Pop(uint64(tc.read))
			te.flush()
			te.take()
			te.receive(msg("A", uint32(peerISN+1+tc.received), testISN+1, 65535, "x"), synOptions{})
			te.flush()
			require.Len(t, te.sent, 1)
			got := uint64(te.sent[0].Receiver.WindowSize) << shift
			hold := uint64(rcvBuf - (tc.received + 1 - tc.read) - reserve)
			if tc.received+1-tc.read >= rcvBuf-reserve {
				hold = 0
			}
			require.LessOrEqual(t, got, hold, "never more than the buffer holds")
			require.Greater(t, got+testMSS+1<<shift, hold, "the free buffer, in whole segments and units")
		})
	}
}

func TestEndpointNeverShrinksTheWindow(t *testing.T) {
	// A peer that fills the window in segments of the given sizes, while
	// the application reads nothing, until the window closes. Rounding
	// down (to whole segments, to the scale's unit) must never pull the
	// right edge back; rounding up must never put it a unit or more past
	// what the buffer holds.
	cases := []struct {
		name   string
		rcvBuf uint64
		scaled bool
		sizes  []int // cycled through
	}{
		{"unscaled, rounded to whole segments, one byte short of them", 48 << 10, false, []int{testMSS - 1}},
		{"unscaled, small segments", 48 << 10, false, []int{100}},
		{"scaled, whole segments", 1 << 20, true, []int{testMSS}},
		{"scaled, segments of odd sizes", 256 << 10, true, []int{100, 1, 37, 1000, 3}},
		{"scaled, one byte at a time after a full segment", 256 << 10, true, []int{testMSS, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			te := newTestEndpoint(t, tc.rcvBuf)
			var shift uint8
			if tc.scaled {
				shift = te.passiveScaled()
			} else {
				te.passive()
			}
			unit := uint64(1) << shift
			reserve := zeroWindowReserve(tc.rcvBuf, unit)
			holdEdge := tc.rcvBuf - reserve // the buffer holds the peer's stream up to here
			edge := te.advWnd               // the right edge last advertised, as an offset in the peer's stream: the SYN-ACK's
			off := 0
			for i := 0; off < int(edge); i++ {
				n := min(tc.sizes[i%len(tc.sizes)], int(edge)-off)
				te.receive(data(off, n), synOptions{})
				te.flush()
				off += n
				require.Len(t, te.sent, 1, "one ACK a turn")
				ack := te.sent[0].Receiver
				te.take()
				require.Equal(t, receiver.Wrap32(peerISN+1+off), ack.Ackno)
				got := uint64(off) + uint64(ack.WindowSize)<<shift
				require.Less(t, got, holdEdge+unit, "after %d bytes: the edge passes what the buffer holds by a unit", off)
				if got < edge {
					require.Greater(t, edge, holdEdge, "after %d bytes: the edge moved left from %d to %d", off, edge, got)
					require.Less(t, edge-got, unit)
				}
				edge = got
			}
			require.Equal(t, uint64(off), edge, "the window closed")
			require.LessOrEqual(t, uint64(off), tc.rcvBuf-1, "everything sent was taken, the probe's byte still fits")
			require.Equal(t, uint64(off), te.conn.Inbound().BytesBuffered())
		})
	}
}
