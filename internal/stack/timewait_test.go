package stack

import (
	"context"
	"io"
	"net/netip"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"tcplab/internal/device"
)

// tables asks the loop how many connections and TIME_WAIT records it holds.
func tables(s *Stack) (conns, timeWaits int) {
	_ = s.call(func() { conns, timeWaits = len(s.conns), len(s.timeWaits) })
	return conns, timeWaits
}

func TestAClosedConnectionLingersAsARecord(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, p, stop := newPeer(t, Config{})
		defer stop()
		c, port, iss := dialPeer(t, s, p, 1460)
		require.NoError(t, c.Close())
		require.Equal(t, "AF", flagsOf(p.recv()))
		p.send(80, port, msg("AF", peerISN+1, iss+2, 65535, ""), 0)
		wantACK := seen{Flags: "A", Seq: iss + 2, Ack: peerISN + 2}
		if d := diffSeen(wantACK, seenOf(p.recv()), false); d != "" {
			t.Fatalf("the peer's FIN is acknowledged (-want +got):\n%s", d)
		}
		conns, records := tables(s)
		require.Equal(t, [2]int{0, 1}, [2]int{conns, records}, "in TIME_WAIT with its socket closed, only a record is left")

		// The port stays taken while the record lingers.
		_ = s.call(func() {
			for range 100 {
				got, ok := s.ephemeralPort(netip.AddrPortFrom(peerAddr, 80))
				require.True(t, ok)
				require.NotEqual(t, port, got, "a lingering 4-tuple was picked again")
			}
		})
		// A pure ACK restarts the wait but is not answered; an RST ends it.
		time.Sleep(8 * time.Second)
		p.send(80, port, msg("A", peerISN+2, iss+2, 65535, ""), 0)
		p.none()
		time.Sleep(8 * time.Second)
		_, records = tables(s)
		require.Equal(t, 1, records, "the ACK 8 s ago restarted the 10 s wait")
		p.send(80, port, msg("R", peerISN+2, 0, 0, ""), 0)
		synctest.Wait()
		_, records = tables(s)
		require.Zero(t, records, "an RST ends TIME_WAIT")
		require.False(t, ticking(s), "nothing left to time")
	})
}

// With a short RTO the Connection would linger only 1 s (10 × 100 ms), but
// the peer's retransmitted FIN keeps the peer's own, backed-off time: the
// record waits at least minTimeWait and answers it with the ACK, not RST.
func TestTimeWaitOutlastsAPeersBackedOffFIN(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := Config{}
		cfg.Connection.InitialRTO = 100 * time.Millisecond
		s, p, stop := newPeer(t, cfg)
		defer stop()
		c, port, iss := dialPeer(t, s, p, 1460)
		require.NoError(t, c.Close())
		require.Equal(t, "AF", flagsOf(p.recv()))
		p.send(80, port, msg("AF", peerISN+1, iss+2, 65535, ""), 0)
		wantACK := seen{Flags: "A", Seq: iss + 2, Ack: peerISN + 2}
		require.Empty(t, diffSeen(wantACK, seenOf(p.recv()), false), "the peer's FIN is acknowledged")

		// Our ACK was lost, and so was the peer's first retransmission:
		// its FIN comes again 1.2 s later.
		time.Sleep(1200 * time.Millisecond)
		p.send(80, port, msg("AF", peerISN+1, iss+2, 65535, ""), 0)
		if d := diffSeen(wantACK, seenOf(p.recv()), false); d != "" {
			t.Fatalf("the FIN again, past 10 × RTO, is acknowledged again (-want +got):\n%s", d)
		}
		time.Sleep(minTimeWait + time.Second)
		_, records := tables(s)
		require.Zero(t, records, "the record expires minTimeWait after the last segment")
	})
}

func TestANewSYNEndsTimeWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, p, stop := newPeer(t, Config{})
		defer stop()
		l, err := s.Listen(80)
		require.NoError(t, err)
		defer l.Close()
		// A connection the stack's server side closes first.
		p.send(1000, 80, msg("S", peerISN, 0, 65535, ""), 1460)
		iss := uint32(p.recv().Sender.Seqno)
		accepted := acceptOne(l)
		p.send(1000, 80, msg("A", peerISN+1, iss+1, 65535, ""), 0)
		c := <-accepted
		require.NotNil(t, c)
		require.NoError(t, c.Close())
		require.Equal(t, "AF", flagsOf(p.recv()))
		p.send(1000, 80, msg("AF", peerISN+1, iss+2, 65535, ""), 0)
		require.Equal(t, "A", flagsOf(p.recv()))
		_, records := tables(s)
		require.Equal(t, 1, records)

		// An old duplicate SYN is answered with the old ACK; a SYN past
		// what the old connection received opens a new connection.
		p.send(1000, 80, msg("S", peerISN, 0, 65535, ""), 1460)
		if d := diffSeen(seen{Flags: "A", Seq: iss + 2, Ack: peerISN + 2}, seenOf(p.recv()), false); d != "" {
			t.Fatalf("an old SYN in TIME_WAIT (-want +got):\n%s", d)
		}
		p.send(1000, 80, msg("S", peerISN+100_000, 0, 65535, ""), 1460)
		synack := p.recv()
		require.Equal(t, "SA", flagsOf(synack))
		require.Equal(t, uint32(peerISN+100_001), uint32(synack.Receiver.Ackno))
		conns, records := tables(s)
		require.Equal(t, [2]int{1, 0}, [2]int{conns, records})
	})
}

func TestTimeWaitHoldsUnderAKiBAConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 500
		a, b := device.Pipe(1500)
		cfg := Config{Addr: stackAddr}
		client, err := New(a, cfg)
		require.NoError(t, err)
		defer client.Close()
		cfg.Addr = peerAddr
		server, err := New(b, cfg)
		require.NoError(t, err)
		defer server.Close()
		l, err := server.Listen(80)
		require.NoError(t, err)
		defer l.Close()
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				go func() {
					// A server that answers and closes first, as HTTP/1.0
					// does: the server side lingers.
					_, _ = c.Write([]byte("bye"))
					_ = c.Close()
				}()
			}
		}()
		dial := func() {
			c, err := client.DialAddrPort(context.Background(), netip.AddrPortFrom(peerAddr, 80))
			require.NoError(t, err)
			_, err = io.ReadAll(c)
			require.NoError(t, err)
			require.NoError(t, c.Close())
		}
		dial() // warm up: pools, maps, goroutines
		synctest.Wait()
		conns, records := tables(server)
		require.Equal(t, [2]int{0, 1}, [2]int{conns, records})
		before := heapAlloc()
		for range n {
			dial()
		}
		synctest.Wait()
		conns, records = tables(server)
		require.Equal(t, [2]int{0, n + 1}, [2]int{conns, records}, "every connection lingers (the whole test takes well under the linger)")
		perConn := (int64(heapAlloc()) - int64(before)) / n
		t.Logf("%d bytes of heap per connection in TIME_WAIT", perConn)
		require.Less(t, perConn, int64(1024))
	})
}

func heapAlloc() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
