package device_test

import (
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/stretchr/testify/require"

	"tcplab/internal/device"
)

func TestBatchOverPipe(t *testing.T) {
	a, b := device.Pipe(1500)
	ba, bb := device.Batch(a), device.Batch(b)
	require.Equal(t, 64, bb.BatchSize(), "a pipe can be drained without waiting")

	var out [][]byte
	for i := range 100 {
		d := fmt.Appendf(make([]byte, device.Headroom, 64), "datagram %d", i)
		out = append(out, d)
	}
	n, err := ba.Write(out, device.Headroom)
	require.NoError(t, err)
	require.Equal(t, 100, n)

	bufs, sizes := make([][]byte, 64), make([]int, 64)
	for i := range bufs {
		bufs[i] = make([]byte, 4+1500)
	}
	var got []string
	for len(got) < 100 {
		n, err := bb.Read(bufs, sizes, 4)
		require.NoError(t, err)
		require.LessOrEqual(t, n, 64)
		for i := range n {
			got = append(got, string(bufs[i][4:4+sizes[i]]))
		}
	}
	for i, g := range got {
		require.Equal(t, fmt.Sprintf("datagram %d", i), g)
	}
	require.Equal(t, device.Stats{Written: 100}, device.StatsOf(device.Single(ba)), "counters pass through both adapters")

	require.Same(t, a, device.Single(ba), "Single undoes Batch")
	require.NoError(t, bb.Close())
	_, err = bb.Read(bufs, sizes, 0)
	require.ErrorIs(t, err, net.ErrClosed)
}

// fakeBatch is a BatchDevice that returns datagrams three at a time.
type fakeBatch struct {
	queue   [][]byte
	written [][]byte
}

func (f *fakeBatch) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	if len(f.queue) == 0 {
		return 0, net.ErrClosed
	}
	n := 0
	for n < 3 && n < len(bufs) && len(f.queue) > 0 {
		sizes[n] = copy(bufs[n][offset:], f.queue[0])
		f.queue = f.queue[1:]
		n++
	}
	return n, nil
}

func (f *fakeBatch) Write(bufs [][]byte, offset int) (int, error) {
	for _, b := range bufs {
		if offset < device.Headroom {
			return 0, fmt.Errorf("offset %d", offset)
		}
		f.written = append(f.written, append([]byte(nil), b[offset:]...))
	}
	return len(bufs), nil
}

func (f *fakeBatch) BatchSize() int { return 8 }
func (f *fakeBatch) MTU() int       { return 100 }
func (f *fakeBatch) Name() string   { return "fake" }
func (f *fakeBatch) Close() error   { return nil }

func TestSingleOverBatch(t *testing.T) {
	f := &fakeBatch{queue: [][]byte{[]byte("a"), []byte("bb"), []byte("ccc"), []byte("dddd")}}
	d := device.Single(f)
	buf := make([]byte, 100)
	for _, want := range []string{"a", "bb", "ccc", "dddd"} {
		n, err := d.Read(buf)
		require.NoError(t, err)
		require.Equal(t, want, string(buf[:n]))
	}
	_, err := d.Read(buf)
	require.ErrorIs(t, err, net.ErrClosed)

	f.queue = [][]byte{[]byte("too long for the buffer")}
	_, err = d.Read(buf[:3])
	require.ErrorIs(t, err, io.ErrShortBuffer)

	for _, w := range []string{"x", "yy"} {
		n, err := d.Write([]byte(w))
		require.NoError(t, err)
		require.Equal(t, len(w), n)
	}
	require.Equal(t, [][]byte{[]byte("x"), []byte("yy")}, f.written, "each written with headroom before it")
	_, err = d.Write(make([]byte, 101))
	require.ErrorContains(t, err, "exceeds the MTU")
	require.Same(t, device.BatchDevice(f), device.Batch(d), "Batch undoes Single")
}
