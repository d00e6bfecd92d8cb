package device

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

func TestPipe(t *testing.T) {
	t.Run("a datagram written to one end is read from the other", func(t *testing.T) {
		a, b := Pipe(1500)
		defer a.Close()
		defer b.Close()
		for _, dir := range []struct {
			name     string
			from, to Device
		}{{"a to b", a, b}, {"b to a", b, a}} {
			msg := []byte("hello from " + dir.from.Name())
			n, err := dir.from.Write(msg)
			require.NoError(t, err)
			require.Equal(t, len(msg), n)
			buf := make([]byte, 1500)
			n, err = dir.to.Read(buf)
			require.NoError(t, err, dir.name)
			if d := cmp.Diff(msg, buf[:n]); d != "" {
				t.Errorf("%s: datagram changed (-sent +received):\n%s", dir.name, d)
			}
		}
	})

	t.Run("datagrams keep their boundaries and their order", func(t *testing.T) {
		a, b := Pipe(1500)
		var sent [][]byte
		for i := range 10 {
			msg := bytes.Repeat([]byte{byte(i)}, i+1)
			sent = append(sent, msg)
			_, err := a.Write(msg)
			require.NoError(t, err)
		}
		var got [][]byte
		buf := make([]byte, 1500)
		for range sent {
			n, err := b.Read(buf)
			require.NoError(t, err)
			got = append(got, bytes.Clone(buf[:n]))
		}
		if d := cmp.Diff(sent, got); d != "" {
			t.Errorf("(-sent +received):\n%s", d)
		}
	})

	t.Run("write copies, so the caller may reuse its buffer", func(t *testing.T) {
		a, b := Pipe(1500)
		msg := []byte("original")
		_, err := a.Write(msg)
		require.NoError(t, err)
		copy(msg, "XXXXXXXX")
		buf := make([]byte, 1500)
		n, err := b.Read(buf)
		require.NoError(t, err)
		require.Equal(t, "original", string(buf[:n]))
	})

	t.Run("a datagram larger than the MTU is rejected", func(t *testing.T) {
		a, b := Pipe(100)
		_, err := a.Write(make([]byte, 101))
		require.ErrorContains(t, err, "exceeds the MTU of 100")
		_, err = a.Write(make([]byte, 100))
		require.NoError(t, err, "a datagram of exactly the MTU fits")
		require.Equal(t, Stats{Written: 1}, StatsOf(a))
		_ = b
	})

	t.Run("a short read buffer is an error, not a silent truncation", func(t *testing.T) {
		a, b := Pipe(1500)
		_, err := a.Write(make([]byte, 100))
		require.NoError(t, err)
		n, err := b.Read(make([]byte, 10))
		require.ErrorIs(t, err, io.ErrShortBuffer)
		require.Equal(t, 10, n)
	})

	t.Run("a full queue makes the writer wait for the reader, losing nothing", func(t *testing.T) {
		a, b := Pipe(1500)
		for i := range PipeQueue {
			_, err := a.Write([]byte(fmt.Sprint(i)))
			require.NoError(t, err, "write %d", i)
		}
		wrote := make(chan error)
		go func() {
			_, err := a.Write([]byte("one too many"))
			wrote <- err
		}()
		select {
		case err := <-wrote:
			t.Fatalf("a write into a full queue returned (%v) before anything was read", err)
		default:
		}
		buf := make([]byte, 1500)
		for i := range PipeQueue {
			n, err := b.Read(buf)
			require.NoError(t, err)
			require.Equal(t, fmt.Sprint(i), string(buf[:n]), "datagrams keep their order")
		}
		require.NoError(t, <-wrote)
		require.Zero(t, StatsOf(a).Dropped, "the datagram that found the queue full was dropped")
		n, err := b.Read(buf)
		require.NoError(t, err)
		require.Equal(t, "one too many", string(buf[:n]))
		require.Equal(t, Stats{Written: PipeQueue + 1}, StatsOf(a))
		require.Equal(t, uint64(PipeQueue+1), StatsOf(b).Read)
	})

	t.Run("closing either end releases a waiting writer", func(t *testing.T) {
		for _, closeWriter := range []bool{false, true} {
			a, b := Pipe(1500)
			for range PipeQueue {
				_, err := a.Write([]byte("x"))
				require.NoError(t, err)
			}
			wrote := make(chan error)
			go func() {
				_, err := a.Write([]byte("waits"))
				wrote <- err
			}()
			if closeWriter {
				require.NoError(t, a.Close())
				require.ErrorIs(t, <-wrote, net.ErrClosed)
				continue
			}
			require.NoError(t, b.Close())
			require.NoError(t, <-wrote, "the sender of a datagram on a dead link is not told")
			require.Equal(t, uint64(1), StatsOf(a).Dropped)
		}
	})

	t.Run("close unblocks a waiting reader with net.ErrClosed", func(t *testing.T) {
		a, b := Pipe(1500)
		defer a.Close()
		errc := make(chan error)
		go func() {
			_, err := b.Read(make([]byte, 1500))
			errc <- err
		}()
		require.NoError(t, b.Close())
		require.ErrorIs(t, <-errc, net.ErrClosed)
	})

	t.Run("a closed end neither reads nor writes", func(t *testing.T) {
		a, b := Pipe(1500)
		_, err := b.Write([]byte("queued before close"))
		require.NoError(t, err)
		require.NoError(t, a.Close())
		require.NoError(t, a.Close(), "closing twice is harmless")
		_, err = a.Read(make([]byte, 1500))
		require.ErrorIs(t, err, net.ErrClosed)
		_, err = a.Write([]byte("x"))
		require.ErrorIs(t, err, net.ErrClosed)
	})

	t.Run("writing toward a closed end drops the datagram", func(t *testing.T) {
		a, b := Pipe(1500)
		require.NoError(t, b.Close())
		n, err := a.Write([]byte("into the void"))
		require.NoError(t, err, "the sender of a datagram on a dead link is not told")
		require.Equal(t, 13, n)
		require.Equal(t, Stats{Written: 1, Dropped: 1}, StatsOf(a))
	})

	t.Run("a steady stream allocates nothing", func(t *testing.T) {
		a, b := Pipe(1500)
		msg := make([]byte, 1500)
		buf := make([]byte, 1500)
		roundTrip := func() {
			if _, err := a.Write(msg); err != nil {
				t.Fatal(err)
			}
			if _, err := b.Read(buf); err != nil {
				t.Fatal(err)
			}
		}
		roundTrip() // the first datagram grows the pool
		if allocs := testing.AllocsPerRun(1000, roundTrip); allocs != 0 {
			t.Errorf("%v allocations per datagram, want 0", allocs)
		}
	})
}

func TestStatsOfADeviceWithoutCounters(t *testing.T) {
	var d Device = struct{ Device }{}
	require.Equal(t, Stats{}, StatsOf(d))
}

func BenchmarkPipe(b *testing.B) {
	a, z := Pipe(1500)
	defer a.Close()
	defer z.Close()
	done := make(chan error)
	go func() {
		buf := make([]byte, 1500)
		for {
			if _, err := z.Read(buf); err != nil {
				done <- nil
				return
			}
		}
	}()
	msg := make([]byte, 1500)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := a.Write(msg); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*float64(len(msg))*8/b.Elapsed().Seconds()/1e9, "Gbit/s")
	z.Close()
	<-done
}

// BenchmarkPipeBatch writes and reads in batches of 64 from one goroutine:
// the pipe's own cost per datagram (copies and queue operations), without
// the goroutine wake-ups that BenchmarkPipe includes.
func BenchmarkPipeBatch(b *testing.B) {
	a, z := Pipe(1500)
	msg := make([]byte, 1500)
	buf := make([]byte, 1500)
	const batch = 64
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)) * batch)
	for b.Loop() {
		for range batch {
			if _, err := a.Write(msg); err != nil {
				b.Fatal(err)
			}
		}
		for range batch {
			if _, err := z.Read(buf); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N)*batch*float64(len(msg))*8/b.Elapsed().Seconds()/1e9, "Gbit/s")
}
