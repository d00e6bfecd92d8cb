package stack_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"tcplab/internal/stack"
	"tcplab/internal/stack/stacktest"
)

// connect returns a connected pair over two fresh stacks.
func connect(t *testing.T, cfg stack.Config) (client, server *stack.Stack, c, s net.Conn) {
	t.Helper()
	client, server = stacktest.Pair(t, cfg)
	c, s, err := stacktest.Connect(t.Context(), client, server, 80)
	require.NoError(t, err)
	return client, server, c, s
}

func TestDialToAPortNobodyListensOnIsRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client, server := stacktest.Pair(t, stack.Config{})
		defer client.Close()
		defer server.Close()
		start := time.Now()
		_, err := client.DialAddrPort(context.Background(), netip.AddrPortFrom(server.Addr(), 81))
		require.ErrorIs(t, err, stack.ErrConnectionRefused)
		require.Contains(t, err.Error(), "connection refused")
		require.Zero(t, time.Since(start), "the RST answers at once: no timer involved")
		require.Equal(t, uint64(1), server.Stats().ResetsSent)
	})
}

func TestConnectionsCarryBytesBothWays(t *testing.T) {
	cases := []struct {
		name string
		size int
	}{
		{"one byte", 1},
		{"less than a segment", 1000},
		{"exactly one segment", 1460},
		{"more than a window", 300_000},
		{"a mebibyte", 1 << 20},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, c, s := connect(t, stack.Config{})
			seed := uint64(len(tc.name))
			t.Logf("seed %d", seed)
			up, down := randomBytes(seed, tc.size), randomBytes(seed+1, tc.size)
			var wg sync.WaitGroup
			var gotUp, gotDown []byte
			var errUp, errDown error
			wg.Go(func() { gotUp, errUp = echoOnce(s, down) })
			wg.Go(func() { gotDown, errDown = echoOnce(c, up) })
			wg.Wait()
			require.NoError(t, errUp)
			require.NoError(t, errDown)
			require.Equal(t, sha256.Sum256(up), sha256.Sum256(gotUp), "client → server")
			require.Equal(t, sha256.Sum256(down), sha256.Sum256(gotDown), "server → client")
		})
	}
}

// echoOnce writes data, half-closes, and reads until EOF.
func echoOnce(c net.Conn, data []byte) ([]byte, error) {
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		if err == nil {
			err = c.(interface{ CloseWrite() error }).CloseWrite()
		}
		errc <- err
	}()
	got, err := io.ReadAll(c)
	if werr := <-errc; werr != nil {
		return got, werr
	}
	return got, err
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 0))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestHalfCloseLetsThePeerAnswerAfterOurEOF(t *testing.T) {
	_, _, c, s := connect(t, stack.Config{})
	_, err := c.Write([]byte("question"))
	require.NoError(t, err)
	require.NoError(t, c.(interface{ CloseWrite() error }).CloseWrite())
	q, err := io.ReadAll(s)
	require.NoError(t, err, "the server reads to EOF")
	require.Equal(t, "question", string(q))
	_, err = s.Write([]byte("answer"))
	require.NoError(t, err, "the server may still write after the client's FIN")
	require.NoError(t, s.Close())
	a, err := io.ReadAll(c)
	require.NoError(t, err)
	require.Equal(t, "answer", string(a))
	_, err = c.Write([]byte("more"))
	require.ErrorIs(t, err, stack.ErrWriteAfterCloseWrite)
}

func TestReadAfterFINIsEOF(t *testing.T) {
	_, _, c, s := connect(t, stack.Config{})
	require.NoError(t, c.Close())
	n, err := s.Read(make([]byte, 10))
	require.Equal(t, 0, n)
	require.Equal(t, io.EOF, err, "io.EOF itself, unwrapped")
	_, err = c.Read(make([]byte, 10))
	require.ErrorIs(t, err, net.ErrClosed, "reading a closed socket")
}

func TestDeadlinesWrapErrDeadlineExceeded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client, server := stacktest.Pair(t, stack.Config{})
		defer client.Close()
		defer server.Close()
		c, s, err := stacktest.Connect(t.Context(), client, server, 80)
		require.NoError(t, err)
		defer c.Close()
		defer s.Close()
		start := time.Now()
		require.NoError(t, c.SetReadDeadline(start.Add(2*time.Second)))
		_, err = c.Read(make([]byte, 10))
		require.ErrorIs(t, err, os.ErrDeadlineExceeded)
		var ne net.Error
		require.True(t, errors.As(err, &ne) && ne.Timeout(), "a net.Error with Timeout() true")
		require.Equal(t, 2*time.Second, time.Since(start))

		// Nobody reads the server: Write blocks once both buffers are full.
		require.NoError(t, c.SetWriteDeadline(time.Now().Add(time.Second)))
		const size = stack.DefaultCapacity + stack.DefaultReceiveBuffer + 1<<20
		n, err := c.Write(make([]byte, size))
		require.ErrorIs(t, err, os.ErrDeadlineExceeded)
		require.Positive(t, n, "what fit is reported")
		require.LessOrEqual(t, n, stack.DefaultCapacity+stack.DefaultReceiveBuffer, "what our send buffer and the peer's receive buffer hold")
	})
}

func TestListenerBasics(t *testing.T) {
	client, server := stacktest.Pair(t, stack.Config{})
	l, err := server.Listen(80)
	require.NoError(t, err)
	_, err = server.Listen(80)
	require.ErrorIs(t, err, stack.ErrAddressInUse, "one listener per port")
	require.Equal(t, "169.254.144.1:80", l.Addr().String())

	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	c, err := client.Dial(t.Context(), "169.254.144.1:80")
	require.NoError(t, err)
	defer c.Close()
	s := <-accepted
	defer s.Close()
	local := c.LocalAddr().(*net.TCPAddr)
	require.GreaterOrEqual(t, local.Port, 49152, "an ephemeral port")
	require.Equal(t, c.LocalAddr().String(), s.RemoteAddr().String())
	require.Equal(t, c.RemoteAddr().String(), s.LocalAddr().String())

	require.NoError(t, l.Close())
	_, err = l.Accept()
	require.ErrorIs(t, err, net.ErrClosed)
	_, err = client.Dial(t.Context(), "169.254.144.1:80")
	require.ErrorIs(t, err, stack.ErrConnectionRefused, "a closed listener's port is closed")
	_, err = s.Write([]byte("accepted connections carry on"))
	require.NoError(t, err)
}

func TestManyConcurrentConnections(t *testing.T) {
	const conns, size = 50, 64 << 10
	client, server := stacktest.Pair(t, stack.Config{})
	l, err := server.Listen(7)
	require.NoError(t, err)
	defer l.Close()
	go func() {
		for {
			s, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer s.Close()
				_, _ = io.Copy(s, s) // echo until EOF, then FIN
			}()
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := range conns {
		wg.Go(func() {
			c, err := client.Dial(t.Context(), "169.254.144.1:7")
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			data := randomBytes(uint64(i), size)
			got, err := echoOnce(c, data)
			if err == nil && !bytes.Equal(got, data) {
				err = fmt.Errorf("connection %d: %d bytes echoed, not the %d sent", i, len(got), len(data))
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestHTTPServerOnAStackListener(t *testing.T) {
	client, server := stacktest.Pair(t, stack.Config{})
	l, err := server.Listen(80)
	require.NoError(t, err)
	body := randomBytes(7, 1<<20)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(body)
	})}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()

	hc := &http.Client{Transport: &http.Transport{DialContext: client.DialContext}}
	defer hc.CloseIdleConnections()
	for i := range 3 { // the second and third reuse the kept-alive connection
		resp, err := hc.Get("http://169.254.144.1/file")
		require.NoError(t, err, "request %d", i)
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, sha256.Sum256(body), sha256.Sum256(got), "request %d", i)
	}
}

func TestTLSOverStackConns(t *testing.T) {
	cert, pool := selfSigned(t, "169.254.144.1")
	_, _, c, s := connect(t, stack.Config{})
	srv := tls.Server(s, &tls.Config{Certificates: []tls.Certificate{cert}})
	cli := tls.Client(c, &tls.Config{RootCAs: pool, ServerName: "169.254.144.1"})
	msg := randomBytes(3, 200_000)
	errc := make(chan error, 1)
	go func() {
		got, err := io.ReadAll(io.LimitReader(srv, int64(len(msg))))
		if err == nil && !bytes.Equal(got, msg) {
			err = errors.New("the server decrypted other bytes than were sent")
		}
		if err == nil {
			_, err = srv.Write([]byte("done"))
		}
		errc <- err
	}()
	_, err := cli.Write(msg)
	require.NoError(t, err, "handshake and write")
	reply := make([]byte, 4)
	_, err = io.ReadFull(cli, reply)
	require.NoError(t, err)
	require.Equal(t, "done", string(reply))
	require.NoError(t, <-errc)
}

// selfSigned makes a certificate for ip and a pool that trusts it.
func selfSigned(t *testing.T, ip string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "tcplab test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP(ip)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(crand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func TestASlowReaderStallsNothingButItself(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client, server := stacktest.Pair(t, stack.Config{})
		defer client.Close()
		defer server.Close()
		c, s, err := stacktest.Connect(t.Context(), client, server, 80)
		require.NoError(t, err)
		defer c.Close()
		defer s.Close()
		data := randomBytes(11, 1<<20)
		go func() {
			_, _ = c.Write(data)
			_ = c.Close()
		}()
		// Nobody reads for ten seconds: the window closes and stays shut
		// without a storm of probes and answers.
		synctest.Wait()
		before := client.Stats().Sent + server.Stats().Sent
		// (Half a second off the probe's one-second beat, so the reading
		// starts clear of a retransmission.)
		time.Sleep(10*time.Second + 500*time.Millisecond)
		quiet := client.Stats().Sent + server.Stats().Sent - before
		require.Less(t, quiet, uint64(200), "segments exchanged while the window was shut")

		// Once the reader reads, the window update restarts the sender at
		// once: no retransmission timeout is waited out.
		start, probes := time.Now(), client.Stats().Retransmits
		require.LessOrEqual(t, probes, uint64(10), "the probe is resent about once a second")
		got, err := io.ReadAll(s)
		require.NoError(t, err)
		require.Equal(t, sha256.Sum256(data), sha256.Sum256(got))
		require.Less(t, time.Since(start), 100*time.Millisecond)
		require.Equal(t, probes, client.Stats().Retransmits, "nothing retransmitted once reading")
	})
}
