package stack

import (
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"tcplab/labs/2-receiver"
	"tcplab/labs/4-connection"
)

// One test per thing the endpoint adds to a lab Connection, with the
// endpoint driven by hand: no stack, no device, each message it sends
// caught as it leaves. Inside a synctest bubble, time.Now moves only when
// the test sleeps.

// testEndpoint is an endpoint whose messages land in sent.
type testEndpoint struct {
	*endpoint
	t    *testing.T
	sent []receiver.Message
}

const (
	testISN = 1000 // the endpoint's ISN
	testMSS = 1460 // ours
)

func newTestEndpoint(t *testing.T, capacity uint64) *testEndpoint {
	cfg := connection.DefaultConfig()
	cfg.ISN = testISN
	cfg.Capacity = capacity
	cfg.MaxPayloadSize = testMSS
	te := &testEndpoint{t: t}
	te.endpoint = newEndpoint(connection.New(cfg), endpointConfig{
		mss:           testMSS,
		orphanTimeout: 30 * time.Second,
	}, func(m receiver.Message) {
		m.Sender.Payload = slices.Clone(m.Sender.Payload)
		te.sent = append(te.sent, m)
	})
	return te
}

// take returns what was sent since the last take, as the tests' seen.
func (te *testEndpoint) take() []seen {
	var got []seen
	for _, m := range te.sent {
		s := seen{Seq: uint32(m.Sender.Seqno), Payload: len(m.Sender.Payload)}
		if m.Sender.SYN {
			s.Flags += "S"
		}
		if m.Receiver.ACK {
			s.Flags += "A"
			s.Ack = uint32(m.Receiver.Ackno)
		}
		if m.Sender.FIN {
			s.Flags += "F"
		}
		if m.IsRST() {
			s.Flags += "R"
		}
		got = append(got, s)
	}
	te.sent = nil
	return got
}

// expect checks what was sent since the last take.
func (te *testEndpoint) expect(what string, want ...seen) {
	te.t.Helper()
	if d := cmp.Diff(want, te.take()); d != "" {
		te.t.Fatalf("%s (-want +got):\n%s", what, d)
	}
}

// established runs an active open against a peer whose ISN is peerISN and
// whose SYN-ACK announces mss.
func (te *testEndpoint) established(mss uint16) {
	te.t.Helper()
	te.connect()
	te.expect("the SYN", seen{Flags: "S", Seq: testISN})
	te.receive(msg("SA", peerISN, testISN+1, 65535, ""), synOptions{mss: mss})
	te.flush()
	te.expect("the handshake's ACK", seen{Flags: "A", Seq: testISN + 1, Ack: peerISN + 1})
}

// passive runs a passive open to ESTABLISHED.
func (te *testEndpoint) passive() {
	te.t.Helper()
	te.receive(msg("S", peerISN, 0, 65535, ""), synOptions{mss: 1460})
	te.expect("the SYN-ACK", seen{Flags: "SA", Seq: testISN, Ack: peerISN + 1})
	te.receive(msg("A", peerISN+1, testISN+1, 65535, ""), synOptions{})
	te.flush()
	te.expect("nothing answers the handshake's last ACK")
	require.Equal(te.t, connection.ESTABLISHED, te.conn.State())
}

// data is a segment from the peer carrying n bytes at offset off of its stream.
func data(off, n int) receiver.Message {
	return msg("A", uint32(peerISN+1+off), testISN+1, 65535, strings.Repeat("x", n))
}

func TestEndpointCoalescesACKsToOnePerTurn(t *testing.T) {
	te := newTestEndpoint(t, 64<<10)
	te.passive()
	for i := range 3 {
		te.receive(data(100*i, 100), synOptions{})
	}
	te.expect("in-order data waits for the end of the turn")
	te.flush()
	te.expect("one ACK for the batch", seen{Flags: "A", Seq: testISN + 1, Ack: peerISN + 301})
	te.flush()
	te.expect("and only one")
}

func TestEndpointAcknowledgesOutOfOrderSegmentsAtOnce(t *testing.T) {
	te := newTestEndpoint(t, 64<<10)
	te.passive()
	te.receive(data(0, 100), synOptions{})
	dup := seen{Flags: "A", Seq: testISN + 1, Ack: peerISN + 101}
	// Segment 100..200 is lost; the three after it each draw a duplicate
	// ACK at once, so the peer's fast retransmit can count them.
	for i := 2; i <= 4; i++ {
		te.receive(data(100*i, 100), synOptions{})
		te.expect("an out-of-order segment", dup)
	}
	te.receive(data(200, 100), synOptions{}) // a duplicate of one already held
	te.expect("a duplicate segment", dup)
	te.receive(data(100, 100), synOptions{})
	te.expect("the segment that fills the hole", seen{Flags: "A", Seq: testISN + 1, Ack: peerISN + 501})
	te.flush()
	te.expect("nothing more at the end of the turn")
}

func TestEndpointAnnouncesTheWindowTheApplicationOpens(t *testing.T) {
	const capacity = 16 << 10
	te := newTestEndpoint(t, capacity)
	te.passive()
	// Fill the buffer up to the reserve: the window closes.
	free := capacity - min(capacity/8, 4096)
	for off := 0; off < free; off += 1000 {
		te.receive(data(off, min(1000, free-off)), synOptions{})
	}
	te.flush()
	require.Len(t, te.sent, 1)
	require.Zero(t, te.sent[0].Receiver.WindowSize, "a full buffer less the reserve advertises no window")
	te.take()

	in := te.conn.Inbound()
	in.Pop(1000) // less than the threshold (two segments)
	te.flush()
	te.expect("a small opening is not announced")

	in.Pop(in.BytesBuffered())
	te.flush()
	require.Len(t, te.sent, 1, "a wide opening is announced")
	require.Equal(t, uint16(free-free%testMSS), te.sent[0].Receiver.WindowSize, "the window, in whole segments")
	te.take()
}

func TestEndpointKeepsRoomForAZeroWindowProbe(t *testing.T) {
	const capacity = 16 << 10
	te := newTestEndpoint(t, capacity)
	te.passive()
	reserve := min(capacity/8, 4096)
	te.receive(data(0, capacity-reserve), synOptions{})
	te.flush()
	require.Zero(t, te.take()[0].Ack-(peerISN+1+uint32(capacity-reserve)), "all of it acknowledged")
	require.Zero(t, te.window(te.conn.EmptyMessage().Receiver))
	// The lab sender's probe: one byte of new data, which must be taken.
	te.receive(data(capacity-reserve, 1), synOptions{})
	require.Equal(t, uint64(capacity-reserve+1), te.conn.Inbound().BytesBuffered(), "the probe's byte fits in the reserve")
}

func TestEndpointRateLimitsZeroWindowACKs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const capacity = 16 << 10
		te := newTestEndpoint(t, capacity)
		te.passive()
		full := capacity - min(capacity/8, 4096)
		te.receive(data(0, full), synOptions{})
		te.flush()
		te.take()
		zeroACK := func(probes int) seen {
			return seen{Flags: "A", Seq: testISN + 1, Ack: uint32(peerISN + 1 + full + probes)}
		}
		// Probe after probe: only the first within zeroWindowGap is answered.
		te.receive(data(full, 1), synOptions{})
		te.flush()
		te.expect("the first zero-window ACK", zeroACK(1))
		te.receive(data(full+1, 1), synOptions{})
		te.flush()
		te.expect("a second one within the gap is held back")
		time.Sleep(zeroWindowGap)
		te.receive(data(full+2, 1), synOptions{})
		te.flush()
		te.expect("one per gap", zeroACK(3))
	})
}

func TestEndpointBacksOffZeroWindowProbes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		te := newTestEndpoint(t, 64<<10)
		te.established(1460)
		// The peer's window shuts; the lab sender probes with one byte and
		// retransmits it every RTO (1 s), not backing off.
		te.receive(msg("A", peerISN+1, testISN+1, 0, ""), synOptions{})
		te.conn.Outbound().Push([]byte("probe"))
		te.push()
		te.expect("the first probe", seen{Flags: "A", Seq: testISN + 1, Ack: peerISN + 1, Payload: 1})
		var at []time.Duration
		start := time.Now()
		for range 60 * 20 {
			time.Sleep(50 * time.Millisecond)
			te.tick(50 * time.Millisecond)
			if len(te.take()) > 0 {
				at = append(at, time.Since(start).Round(time.Second))
			}
		}
		// Through the seam: after 1 s, then each wait twice the last.
		want := []time.Duration{1, 3, 7, 15, 31}
		for i := range want {
			want[i] *= time.Second
		}
		require.Equal(t, want, at, "probes sent in a minute")
		require.Equal(t, uint64(len(want)), te.retransmits.Load(), "only probes sent count as retransmissions")

		te.receive(msg("A", peerISN+1, testISN+1, 1000, ""), synOptions{})
		te.flush()
		require.NotEmpty(t, te.take(), "an opening window lets data go at once")
	})
}

func TestEndpointTellsTheConnectionThePeersMSS(t *testing.T) {
	te := newTestEndpoint(t, 64<<10)
	te.established(536)
	te.conn.Outbound().Push(make([]byte, 2000))
	te.push()
	var sizes []int
	for _, s := range te.take() {
		sizes = append(sizes, s.Payload)
	}
	require.Equal(t, []int{536, 536, 536, 392}, sizes, "segments the peer's MSS allows")
}

func TestEndpointResetsAnUnacceptableACKInTheHandshake(t *testing.T) {
	t.Run("SYN-SENT: RST numbered with the ACK, then the SYN again once", func(t *testing.T) {
		te := newTestEndpoint(t, 64<<10)
		te.connect()
		te.take()
		// A kernel holding this 4-tuple in TIME_WAIT acknowledges its old
		// connection, not our SYN.
		te.receive(msg("A", 777, 4242, 65535, ""), synOptions{})
		te.expect("the RST and the SYN", seen{Flags: "R", Seq: 4242}, seen{Flags: "S", Seq: testISN})
		te.receive(msg("A", 777, 4242, 65535, ""), synOptions{})
		te.expect("a second time only the RST", seen{Flags: "R", Seq: 4242})
		require.Equal(t, connection.SYN_SENT, te.conn.State(), "still connecting")
		require.Equal(t, uint64(2), te.resetsSent.Load())
		te.receive(msg("SA", peerISN, testISN+1, 65535, ""), synOptions{mss: 1460})
		require.Equal(t, connection.ESTABLISHED, te.conn.State())
	})
	t.Run("SYN-RECEIVED: an ACK of more than our SYN", func(t *testing.T) {
		te := newTestEndpoint(t, 64<<10)
		te.receive(msg("S", peerISN, 0, 65535, ""), synOptions{mss: 1460})
		te.take()
		te.receive(msg("A", peerISN+1, testISN+5, 65535, ""), synOptions{})
		te.expect("the RST", seen{Flags: "R", Seq: testISN + 5})
		require.Equal(t, connection.SYN_RECEIVED, te.conn.State())
	})
	t.Run("an RST is never answered", func(t *testing.T) {
		te := newTestEndpoint(t, 64<<10)
		te.connect()
		te.take()
		te.receive(msg("AR", 777, 4242, 0, ""), synOptions{})
		te.expect("nothing")
		require.Equal(t, connection.SYN_SENT, te.conn.State(), "an RST that does not acknowledge our SYN is ignored")
	})
}

func TestEndpointResetsAnOrphanStuckInFinWait2(t *testing.T) {
	te := newTestEndpoint(t, 64<<10)
	te.established(1460)
	te.conn.Outbound().Close()
	te.push()
	te.expect("our FIN", seen{Flags: "AF", Seq: testISN + 1, Ack: peerISN + 1})
	te.receive(msg("A", peerISN+1, testISN+2, 65535, ""), synOptions{})
	require.Equal(t, connection.FIN_WAIT_2, te.conn.State())

	require.False(t, te.needsTicks(), "a socket still open may wait for the FIN for ever")
	te.orphan = true
	require.True(t, te.needsTicks(), "an orphan is timed")
	te.tick(29 * time.Second)
	te.expect("nothing before the timeout")
	te.tick(time.Second)
	te.expect("the RST", seen{Flags: "AR", Seq: testISN + 2, Ack: peerISN + 1})
	require.Equal(t, connection.RESET, te.conn.State())
	require.ErrorIs(t, te.failure(), ErrTimedOut)
}

func TestEndpointSaysWhyItFailed(t *testing.T) {
	cases := []struct {
		name string
		run  func(te *testEndpoint)
		want error
	}{
		{"an RST answering our SYN refuses", func(te *testEndpoint) {
			te.connect()
			te.receive(msg("AR", 0, testISN+1, 0, ""), synOptions{})
		}, ErrConnectionRefused},
		{"an RST once established resets", func(te *testEndpoint) {
			te.established(1460)
			te.receive(msg("R", peerISN+1, 0, 0, ""), synOptions{})
		}, ErrConnectionReset},
		{"giving up retransmitting times out", func(te *testEndpoint) {
			te.established(1460)
			te.conn.Outbound().Push([]byte("hello"))
			te.push()
			for range 1000 {
				te.tick(time.Second)
			}
		}, ErrTimedOut},
		{"an abort says why", func(te *testEndpoint) {
			te.established(1460)
			te.abort(ErrAborted)
		}, ErrAborted},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			te := newTestEndpoint(t, 64<<10)
			tc.run(te)
			require.Equal(t, connection.RESET, te.conn.State())
			require.ErrorIs(t, te.failure(), tc.want)
		})
	}
}

func TestEndpointAbortSendsRSTAndEndsTheConnection(t *testing.T) {
	t.Run("established", func(t *testing.T) {
		te := newTestEndpoint(t, 64<<10)
		te.established(1460)
		te.abort(ErrAborted)
		te.expect("RST+ACK as Linux's active reset", seen{Flags: "AR", Seq: testISN + 1, Ack: peerISN + 1})
		require.False(t, te.conn.Active())
		require.True(t, te.conn.Inbound().HasError(), "the streams fail")
		te.abort(ErrAborted)
		te.expect("a second abort sends nothing")
	})
	t.Run("connecting", func(t *testing.T) {
		te := newTestEndpoint(t, 64<<10)
		te.connect()
		te.take()
		te.abort(ErrTimedOut)
		te.expect("an RST after our SYN", seen{Flags: "R", Seq: testISN + 1})
		require.Equal(t, connection.RESET, te.conn.State())
	})
}

func TestEndpointCountsRetransmissions(t *testing.T) {
	te := newTestEndpoint(t, 64<<10)
	te.established(1460)
	te.conn.Outbound().Push([]byte("hello"))
	te.push()
	te.expect("the data", seen{Flags: "A", Seq: testISN + 1, Ack: peerISN + 1, Payload: 5})
	require.True(t, te.needsTicks(), "data in flight is timed")
	te.tick(999 * time.Millisecond)
	require.Zero(t, te.retransmits.Load())
	te.tick(time.Millisecond)
	te.expect("the retransmission", seen{Flags: "A", Seq: testISN + 1, Ack: peerISN + 1, Payload: 5})
	require.Equal(t, uint64(1), te.retransmits.Load())
	te.receive(msg("A", peerISN+1, testISN+6, 65535, ""), synOptions{})
	require.False(t, te.needsTicks(), "nothing in flight, nothing to time")
}

// TestEndpointSaysHowFarReadsMustDrainForAWindowUpdate: with the window
// shut, announceAt names the most the receive buffer may hold for flush to
// announce the opening; the socket's Reads nudge the loop at that point
// and at no other. Whatever the buffer holds, flush announces exactly
// when that is at most announceAt.
func TestEndpointSaysHowFarReadsMustDrainForAWindowUpdate(t *testing.T) {
	cases := []struct {
		name     string
		capacity uint64
		syn      synOptions
	}{
		{"a small buffer", 4 << 10, synOptions{mss: 1460}},
		{"16 KiB", 16 << 10, synOptions{mss: 1460}},
		{"a buffer larger than an unscaled window", 256 << 10, synOptions{mss: 1460}},
		{"a scaled window", 512 << 10, synOptions{mss: 1460, wscale: 7, scales: true}},
		{"a few bytes", 16, synOptions{mss: 1460}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// fill makes an endpoint whose buffer filled until its window
			// shut, and returns how many bytes that took.
			fill := func() (*testEndpoint, uint64) {
				te := newTestEndpoint(t, tc.capacity)
				te.receive(msg("S", peerISN, 0, 65535, ""), tc.syn)
				te.receive(msg("A", peerISN+1, testISN+1, 65535, ""), synOptions{})
				off := 0
				for w := te.window(te.conn.EmptyMessage().Receiver); w > 0; w = te.window(te.conn.EmptyMessage().Receiver) {
					n := int(min(w, 1000))
					te.receive(data(off, n), synOptions{})
					off += n
				}
				te.flush()
				te.take()
				require.Zero(t, te.advWnd, "the window shut")
				return te, uint64(off)
			}
			te, full := fill()
			at, ok := te.announceAt()
			require.True(t, ok, "a shut window is worth announcing once the reads open it")
			require.Less(t, at, full, "not before any read")
			var tries []uint64
			for b := uint64(0); b <= full; b += max(1, full/64) {
				tries = append(tries, b)
			}
			tries = append(tries, at, at+1, full)
			for _, b := range tries {
				te, _ := fill()
				te.conn.Inbound().Pop(full - b) // the application read the rest
				te.flush()
				announced := len(te.take()) > 0
				require.Equal(t, b <= at, announced, "holding %d bytes (announceAt %d)", b, at)
				if at2, again := te.announceAt(); announced && again {
					// Else the loop, which serves a connection again when
					// its reads already drained that far, would spin.
					require.Less(t, at2, b, "once announced, the next update waits for more reads")
				}
			}
		})
	}
}
