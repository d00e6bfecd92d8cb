package pcap

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
	"github.com/stretchr/testify/require"

	"tcplab/internal/wire"
	"tcplab/labs/2-receiver"
	"tcplab/labs/4-connection"
)

var (
	lab    = netip.MustParseAddrPort("169.254.144.9:40000")
	kernel = netip.MustParseAddrPort("169.254.144.1:80")
	t0     = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
)

// handshake is a connection's first three segments and a request.
func handshake() []wire.Segment {
	msg := func(snd receiver.SenderMessage, rcv receiver.ReceiverMessage) connection.Message {
		return connection.Message{Sender: snd, Receiver: rcv}
	}
	return []wire.Segment{
		{Src: lab, Dst: kernel, MSS: 1460, Message: msg(receiver.SenderMessage{Seqno: 100, SYN: true}, receiver.ReceiverMessage{WindowSize: 64000})},
		{Src: kernel, Dst: lab, MSS: 1460, Message: msg(receiver.SenderMessage{Seqno: 900, SYN: true}, receiver.ReceiverMessage{ACK: true, Ackno: 101, WindowSize: 64240})},
		{Src: lab, Dst: kernel, Message: msg(receiver.SenderMessage{Seqno: 101}, receiver.ReceiverMessage{ACK: true, Ackno: 901, WindowSize: 64000})},
		{Src: lab, Dst: kernel, Message: msg(receiver.SenderMessage{Seqno: 101, Payload: []byte("GET / HTTP/1.1\r\n\r\n")}, receiver.ReceiverMessage{ACK: true, Ackno: 901, WindowSize: 64000})},
	}
}

type record struct {
	CI   gopacket.CaptureInfo
	Data []byte
}

// readAll reads a pcap file back with gopacket's reader.
func readAll(t *testing.T, file []byte) []record {
	t.Helper()
	r, err := pcapgo.NewReader(bytes.NewReader(file))
	require.NoError(t, err)
	require.Equal(t, layers.LinkTypeRaw, r.LinkType())
	require.EqualValues(t, SnapLen, r.Snaplen())
	var recs []record
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return recs
		}
		require.NoError(t, err)
		recs = append(recs, record{ci, data})
	}
}

func TestAConversationReadsBack(t *testing.T) {
	var file bytes.Buffer
	w, err := NewWriter(&file)
	require.NoError(t, err)
	segs := handshake()
	var want []record
	for i, s := range segs {
		d := s.AppendTo(nil)
		ts := t0.Add(time.Duration(i) * 1500 * time.Microsecond)
		require.NoError(t, w.WritePacket(ts, d))
		want = append(want, record{gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(d), Length: len(d)}, d})
	}

	got := readAll(t, file.Bytes())
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(gopacket.CaptureInfo{}, "InterfaceIndex", "AncillaryData"),
		cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Fatalf("records (-want +got):\n%s", diff)
	}
	for i, rec := range got {
		t.Run(fmt.Sprintf("record %d decodes as %v", i, segs[i]), func(t *testing.T) {
			p := gopacket.NewPacket(rec.Data, layers.LinkTypeRaw, gopacket.Default)
			require.Nil(t, p.ErrorLayer())
			require.NotNil(t, p.Layer(layers.LayerTypeIPv4))
			tcp, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
			require.True(t, ok, "no TCP layer in %v", p)
			require.Equal(t, uint32(segs[i].Sender.Seqno), tcp.Seq)
			s, err := wire.Parse(rec.Data)
			require.NoError(t, err)
			require.Equal(t, segs[i].String(), s.String())
		})
	}
}

func TestEveryConcurrentWriteIsOneWholeRecord(t *testing.T) {
	var file bytes.Buffer
	cw := &countingWriter{w: &file}
	w, err := NewWriter(cw)
	require.NoError(t, err)
	require.Equal(t, 1, cw.writes, "the file header is one Write")

	const goroutines, each = 4, 50
	segs := handshake()
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				s := segs[(g+i)%len(segs)]
				s.Sender.Seqno = receiver.Wrap32(g<<16 | i) // which goroutine, which write
				if err := w.WritePacket(t0.Add(time.Duration(i)*time.Millisecond), s.AppendTo(nil)); err != nil {
					t.Error(err) // not require: this is not the test's goroutine
					return
				}
			}
		})
	}
	wg.Wait()
	require.Equal(t, 1+goroutines*each, cw.writes, "one Write per record")

	recs := readAll(t, file.Bytes())
	require.Len(t, recs, goroutines*each)
	seen := map[receiver.Wrap32]bool{}
	for _, rec := range recs {
		s, err := wire.Parse(rec.Data)
		require.NoError(t, err, "a record was torn by a concurrent write")
		seen[s.Sender.Seqno] = true
	}
	require.Len(t, seen, goroutines*each, "every write appears once")
}

func TestDatagramsPastSnapLenAreCut(t *testing.T) {
	var file bytes.Buffer
	w, err := NewWriter(&file)
	require.NoError(t, err)
	big := bytes.Repeat([]byte{0x45}, SnapLen+10)
	require.NoError(t, w.WritePacket(t0, big))
	recs := readAll(t, file.Bytes())
	require.Len(t, recs, 1)
	require.Equal(t, SnapLen, recs[0].CI.CaptureLength)
	require.Equal(t, SnapLen+10, recs[0].CI.Length, "the record keeps the original length")
}

func TestWriteErrorsAreReturned(t *testing.T) {
	broken := errors.New("disk full")
	t.Run("on the file header", func(t *testing.T) {
		_, err := NewWriter(&countingWriter{w: io.Discard, failAfter: 0, err: broken})
		require.ErrorIs(t, err, broken)
	})
	t.Run("on a record", func(t *testing.T) {
		w, err := NewWriter(&countingWriter{w: io.Discard, failAfter: 1, err: broken})
		require.NoError(t, err)
		require.ErrorIs(t, w.WritePacket(t0, handshake()[0].AppendTo(nil)), broken)
	})
}

// countingWriter counts Writes and fails those past failAfter when err is set.
type countingWriter struct {
	mu        sync.Mutex
	w         io.Writer
	writes    int
	failAfter int
	err       error
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes++
	if c.err != nil && c.writes > c.failAfter {
		return 0, c.err
	}
	return c.w.Write(p)
}
