package stack

import (
	"io"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"
)

func TestAnRSTAfterThePeersFINLeavesItsBytesReadable(t *testing.T) {
	// Seen under load: the echo server of TestManyConcurrentConnections,
	// gone after its FIN was acknowledged, answered the client's duplicate
	// ACK with RST before the client's application had read everything,
	// and the client's Read failed with "connection reset by peer" with
	// every byte and the FIN already in hand.
	synctest.Test(t, func(t *testing.T) {
		s, p, stop := newPeer(t, Config{})
		defer stop()
		c, port, iss := dialPeer(t, s, p, 1460)
		defer c.Close()
		p.send(80, port, msg("AF", peerISN+1, iss+1, 65535, "hello"), 0)
		require.Equal(t, "A", flagsOf(p.recv()))
		p.send(80, port, msg("R", peerISN+7, 0, 0, ""), 0)
		synctest.Wait()
		got, err := io.ReadAll(c)
		require.NoError(t, err, "the peer's FIN came before its RST: Read ends in EOF")
		require.Equal(t, "hello", string(got))
	})
	t.Run("an RST before the FIN is still an error", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s, p, stop := newPeer(t, Config{})
			defer stop()
			c, port, iss := dialPeer(t, s, p, 1460)
			defer c.Close()
			p.send(80, port, msg("A", peerISN+1, iss+1, 65535, "hello"), 0)
			p.recvAll()
			p.send(80, port, msg("R", peerISN+6, 0, 0, ""), 0)
			synctest.Wait()
			_, err := io.ReadAll(c)
			require.ErrorIs(t, err, ErrConnectionReset)
		})
	})
}
