package interop

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"tcplab/internal/device"

	"tcplab/internal/sandbox"
	"tcplab/internal/wire"
)

// dropKinds counts parse failures the way the stack's Stats do.
type dropKinds struct{ Truncated, BadLength, BadChecksum, Fragments, NotTCP, Malformed uint64 }

func classify(b []byte, k *dropKinds) bool {
	_, err := wire.Parse(b)
	switch {
	case err == nil:
		return false
	case errors.Is(err, wire.ErrNotTCP):
		k.NotTCP++
	case errors.Is(err, wire.ErrTruncated):
		k.Truncated++
	case errors.Is(err, wire.ErrBadLength):
		k.BadLength++
	case errors.Is(err, wire.ErrBadChecksum):
		k.BadChecksum++
	case errors.Is(err, wire.ErrFragment):
		k.Fragments++
	default:
		k.Malformed++
	}
	return true
}

// badDatagrams makes n datagrams from the kernel's address to the lab's
// that no TCP should accept: valid segments with a broken checksum,
// fragments, UDP, and random bytes behind a valid IPv4 header. The IPv4
// header is whole (length and checksum right) because the kernel rewrites
// those of what a raw socket sends; everything behind it is fair game.
func badDatagrams(rng *rand.Rand, n int, from, to netip.Addr, port uint16) ([][]byte, dropKinds) {
	var kinds dropKinds
	var out [][]byte
	for len(out) < n {
		var seg wire.Segment
		seg.Src = netip.AddrPortFrom(from, uint16(1024+rng.IntN(60000)))
		seg.Dst = netip.AddrPortFrom(to, port)
		seg.Sender.Seqno = 0
		seg.Sender.Payload = make([]byte, rng.IntN(100))
		seg.Receiver.ACK = true
		b := seg.AppendTo(nil)
		switch len(out) % 4 {
		case 0: // a bad TCP checksum
			b[20+16] ^= 0x5a
		case 1: // a fragment (more fragments follows)
			b[6] |= 0x20
			fixIPChecksum(b)
		case 2: // not TCP at all
			b[9] = unix.IPPROTO_UDP
			fixIPChecksum(b)
		case 3: // garbage where the TCP header should be
			g := make([]byte, rng.IntN(80))
			for i := range g {
				g[i] = byte(rng.Uint32())
			}
			b = append(b[:20], g...)
			b[2], b[3] = byte(len(b)>>8), byte(len(b))
			fixIPChecksum(b)
		}
		b[4], b[5] = 0x14, 0x4 // a non-zero IP ID: the kernel fills in zero ones
		fixIPChecksum(b)
		if classify(b, &kinds) {
			out = append(out, b)
		}
	}
	return out, kinds
}

func fixIPChecksum(b []byte) {
	b[10], b[11] = 0, 0
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	c := ^uint16(sum)
	b[10], b[11] = byte(c>>8), byte(c)
}

func TestGarbageFloodDuringATransfer(t *testing.T) {
	eachOffloadMode(t, func(t *testing.T, offload bool) {
		sandbox.Run(t, func(t *testing.T, env *sandbox.Env) {
			garbageFlood(t, env, offload)
		})
	})
}

func garbageFlood(t *testing.T, env *sandbox.Env, offload bool) {
	seed := seedFor(t.Name())
	t.Logf("seed %d", seed)
	bad, want := badDatagrams(rand.New(rand.NewPCG(seed, seed)), 4000, env.KernelAddr, env.LabAddr, 5001)
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW)
	if err != nil {
		t.Skipf("no raw socket inside the sandbox: %v", err)
	}
	defer unix.Close(fd)
	// The lab first: with offloads it makes tun144 anew. The kernel
	// queues at most txqueuelen datagrams for a TUN device (500) and
	// drops the rest where we cannot count them; make room for the
	// whole flood so every datagram reaches the stack.
	l := newLab(t, env, labConfig{observe: traceOnFailure(t), offload: offload})
	link, err := netlink.LinkByName(device.DefaultName)
	require.NoError(t, err)
	require.NoError(t, netlink.LinkSetTxQLen(link, 2*len(bad)))
	flooded := make(chan error, 1)
	go func() {
		to := &unix.SockaddrInet4{Addr: env.LabAddr.As4()}
		for _, b := range bad {
			if err := unix.Sendto(fd, b, 0, to); err != nil {
				flooded <- fmt.Errorf("sendto: %w", err)
				return
			}
		}
		flooded <- nil
	}()
	runTransferOn(t, env, l, transfer{role: labServer, dir: bothWays, size: 1 << 20})
	require.NoError(t, <-flooded)
	// A segment for a closed port after the flood: its RST means the
	// stack has taken in everything sent before it.
	_, err = net.DialTimeout("tcp4", netip.AddrPortFrom(env.LabAddr, 9).String(), 30*time.Second)
	require.Error(t, err, "port 9 is closed")
	st := l.Stats()
	got := dropKinds{st.Truncated, st.BadLength, st.BadChecksum, st.Fragments, st.NotTCP, st.Malformed}
	t.Logf("stack: %+v", st)
	// Both kinds of device queue as many small datagrams (the stack copies
	// them out of a whole-reading device's 64 KiB buffers), so the flood
	// fits the queue either way and every datagram is judged.
	require.Equal(t, want, got, "drops by kind (want what wire.Parse says of each datagram sent)")
	require.Zero(t, st.QueueFull)
}

func TestCurlFetchesFromALabListener(t *testing.T) {
	sandbox.Run(t, func(t *testing.T, env *sandbox.Env) {
		curl, err := sandbox.LookTool("curl")
		if err != nil {
			t.Skip(err)
		}
		l := newLab(t, env, labConfig{observe: traceOnFailure(t)})
		ll, err := l.Listen(8080)
		require.NoError(t, err)
		big := payload(1<<20, 3)
		srv := &http.Server{
			Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(big) }),
			ReadHeaderTimeout: 30 * time.Second,
		}
		go srv.Serve(ll)
		defer srv.Close()
		out := filepath.Join(t.TempDir(), "got")
		cmdOut, err := exec.Command(curl, "-sS", "--fail", "--max-time", "60", "-o", out,
			fmt.Sprintf("http://%s:8080/big", env.LabAddr)).CombinedOutput()
		require.NoError(t, err, "curl: %s", cmdOut)
		got, err := os.ReadFile(out)
		require.NoError(t, err)
		require.Equal(t, sha256.Sum256(big), sha256.Sum256(got))
	})
}

func TestTcpcatChatsWithTheKernel(t *testing.T) {
	tcpcat := program(t, "tcpcat")
	sandbox.Run(t, func(t *testing.T, env *sandbox.Env) {
		handOverTUN(t, env)
		kl := kernelListen(t, env)
		host, port, _ := net.SplitHostPort(kl.Addr().String())
		p := startProgram(t, []byte("hello from the lab\n"), tcpcat, host, port)
		// Every wait below ends as soon as tcpcat does: a tcpcat that
		// crashed or gave up never connects, or never finishes talking.
		c := acceptFrom(t, kl, p, 30*time.Second)
		p.closeOnExit(c)
		defer c.Close()
		require.NoError(t, c.SetDeadline(time.Now().Add(30*time.Second)))
		// tcpcat half-closes at the end of its stdin: EOF here, and the
		// way back stays open for the answer.
		heard, err := io.ReadAll(c)
		p.failIfExited(t, "the kernel reads what tcpcat sends", err)
		require.NoError(t, err, "the kernel reads what tcpcat sends: %v", p)
		require.Equal(t, "hello from the lab\n", string(heard))
		_, err = c.Write([]byte("hello from the kernel\n"))
		require.NoError(t, err)
		require.NoError(t, c.Close())
		r := p.wait(t, 30*time.Second)
		require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
		require.Equal(t, "hello from the kernel\n", string(r.stdout))
	})
}
