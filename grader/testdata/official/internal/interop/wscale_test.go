package interop

import (
	"cmp"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"tcplab/internal/sandbox"
	"tcplab/internal/stack"
)

// tcpiOptWScale is TCPI_OPT_WSCALE (linux/tcp.h): tcpi_options has it once
// both SYNs carried the window scale option.
const tcpiOptWScale = 4

// kernelTCPInfo is the kernel's TCP_INFO for its end of c.
func kernelTCPInfo(t *testing.T, c net.Conn) *unix.TCPInfo {
	t.Helper()
	raw, err := c.(*net.TCPConn).SyscallConn()
	require.NoError(t, err)
	var info *unix.TCPInfo
	var infoErr error
	require.NoError(t, raw.Control(func(fd uintptr) {
		info, infoErr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}))
	require.NoError(t, infoErr)
	return info
}

func TestLinuxSeesOurWindowScale(t *testing.T) {
	// Linux's SYN always offers window scaling. Ours does when the
	// receive buffer is past 64 KiB, and then the kernel reads our
	// windows scaled: its view of our window (tcpi_snd_wnd) passes 16
	// bits. With a buffer 16 bits cover we offer nothing, and the kernel's
	// SYN-ACK must not offer either.
	cases := []struct {
		name      string
		role      role
		rcvBuf    uint64 // 0: the stack's default
		wantScale bool
	}{
		{"lab client, default buffer", labClient, 0, true},
		{"lab server, default buffer", labServer, 0, true},
		{"lab client, a 48 KiB buffer", labClient, 48 << 10, false},
		{"lab server, a 48 KiB buffer", labServer, 48 << 10, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sandbox.Run(t, func(t *testing.T, env *sandbox.Env) {
				l := newLab(t, env, labConfig{capacity: tc.rcvBuf})
				labConn, kernelConn := l.open(t, env, tc.role)
				defer labConn.Close()
				defer kernelConn.Close()

				// The kernel sends what our buffer takes with nobody
				// reading, and waits until all of it is acknowledged:
				// each ACK carries our window.
				size := int(cmp.Or(tc.rcvBuf, stack.DefaultReceiveBuffer) / 2)
				data := payload(size, 13)
				_, err := kernelConn.Write(data)
				require.NoError(t, err)
				deadline := time.Now().Add(30 * time.Second)
				info := kernelTCPInfo(t, kernelConn)
				for info.Bytes_acked < uint64(size) {
					require.True(t, time.Now().Before(deadline), "the kernel had %d of %d bytes acknowledged after 30 s: %+v", info.Bytes_acked, size, info)
					time.Sleep(10 * time.Millisecond)
					info = kernelTCPInfo(t, kernelConn)
				}
				t.Logf("kernel: options %#x, its view of our window %d bytes, rcv_wnd %d", info.Options, info.Snd_wnd, info.Rcv_wnd)
				require.Equal(t, tc.wantScale, info.Options&tcpiOptWScale != 0, "window scaling negotiated")
				if tc.wantScale {
					require.Greater(t, info.Snd_wnd, uint32(0xffff), "our window, as the kernel reads it, passes 16 bits")
				} else {
					require.LessOrEqual(t, info.Snd_wnd, uint32(0xffff))
				}

				require.NoError(t, labConn.SetReadDeadline(deadline))
				got := make([]byte, size)
				_, err = io.ReadFull(labConn, got)
				require.NoError(t, err)
				require.Equal(t, sha256.Sum256(data), sha256.Sum256(got))
				require.NoError(t, kernelConn.Close())
				n, err := labConn.Read(got)
				require.Zero(t, n)
				require.True(t, errors.Is(err, io.EOF), "EOF after the kernel's FIN, got %v", err)
			})
		})
	}
}
