package stack

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"tcplab/internal/device"
	"tcplab/internal/wire"
	"tcplab/labs/4-connection"
)

// offloadDev is a batch device shaped like device.OffloadTUN, driven by
// hand: the test hands it what a TUN with IFF_VNET_HDR reads (a virtio
// header and a datagram), and sees each Write as one batch. Given
// super-packets whole if the stack asks (SetWhole) and vnet is on; split
// into checksummed segments, as OffloadTUN does, otherwise.
type offloadDev struct {
	vnet   bool
	whole  atomic.Bool
	in     chan []byte
	out    chan []wire.Segment
	closed chan struct{}
	once   sync.Once
	// gate, if set, holds every Write until it receives: a system call
	// that takes its time.
	gate chan struct{}
}

func newOffloadDev(vnet bool) *offloadDev {
	return &offloadDev{vnet: vnet, in: make(chan []byte, 16), out: make(chan []wire.Segment, 64), closed: make(chan struct{})}
}

func (d *offloadDev) MTU() int       { return 1500 }
func (d *offloadDev) Name() string   { return "offload-test" }
func (d *offloadDev) BatchSize() int { return device.OffloadBatch }
func (d *offloadDev) SetWhole(w bool) {
	d.whole.Store(w)
}

func (d *offloadDev) Offloads() device.Offloads {
	if d.vnet {
		return device.AllOffloads
	}
	return 0
}

func (d *offloadDev) Close() error {
	d.once.Do(func() { close(d.closed) })
	return nil
}

func (d *offloadDev) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	select {
	case b := <-d.in:
		if d.vnet && d.whole.Load() {
			sizes[0] = copy(bufs[0][offset-device.Headroom:], b) - device.Headroom
			return 1, nil
		}
		hdr, err := device.DecodeVirtioNetHdr(b)
		if err != nil {
			return 0, err
		}
		return device.SplitGSO(hdr, b[device.VirtioNetHdrLen:], bufs, sizes, offset)
	case <-d.closed:
		return 0, net.ErrClosed
	}
}

func (d *offloadDev) Write(bufs [][]byte, offset int) (int, error) {
	if d.gate != nil {
		select {
		case <-d.gate:
		case <-d.closed:
			return 0, net.ErrClosed
		}
	}
	var batch []wire.Segment
	for _, b := range bufs {
		seg, err := wire.Parse(b[offset:])
		if err != nil {
			return 0, err
		}
		seg.Sender.Payload = slices.Clone(seg.Sender.Payload)
		batch = append(batch, seg)
	}
	select {
	case d.out <- batch:
		return len(bufs), nil
	case <-d.closed:
		return 0, net.ErrClosed
	}
}

// send hands the stack m from the peer's port 80, with a virtio header.
func (d *offloadDev) send(t *testing.T, to uint16, m connection.Message, hdr device.VirtioNetHdr) {
	t.Helper()
	seg := wire.Segment{Src: netip.AddrPortFrom(peerAddr, 80), Dst: netip.AddrPortFrom(stackAddr, to), Message: m}
	b := seg.AppendTo(make([]byte, device.VirtioNetHdrLen))
	hdr.Encode(b)
	if hdr.Flags&device.VirtioNeedsCsum != 0 {
		// What the kernel hands over: the pseudo-header's sum only.
		pkt := b[device.VirtioNetHdrLen:]
		var pseudo [12]byte
		copy(pseudo[:8], pkt[12:20])
		pseudo[9] = 6
		binary.BigEndian.PutUint16(pseudo[10:], uint16(len(pkt)-wire.IPv4HeaderLen))
		binary.BigEndian.PutUint16(pkt[wire.IPv4HeaderLen+16:], ^wire.Checksum(pseudo[:]))
	}
	d.in <- b
}

// batches returns every batch the stack wrote, once everything settled.
func (d *offloadDev) batches() [][]wire.Segment {
	synctest.Wait()
	var got [][]wire.Segment
	for {
		select {
		case b := <-d.out:
			got = append(got, b)
		default:
			return got
		}
	}
}

// dialOffload opens a connection from a stack on d to the peer's port 80
// and returns it with the stack's port and ISN.
func dialOffload(t *testing.T, s *Stack, d *offloadDev) (net.Conn, uint16, uint32) {
	t.Helper()
	type dialed struct {
		c   net.Conn
		err error
	}
	res := make(chan dialed, 1)
	go func() {
		c, err := s.DialAddrPort(context.Background(), netip.AddrPortFrom(peerAddr, 80))
		res <- dialed{c, err}
	}()
	b := d.batches()
	require.Len(t, b, 1)
	syn := b[0][0]
	port, iss := syn.Src.Port(), uint32(syn.Sender.Seqno)
	synack := msg("SA", peerISN, iss+1, 65535, "")
	seg := wire.Segment{Src: netip.AddrPortFrom(peerAddr, 80), Dst: netip.AddrPortFrom(stackAddr, port), Message: synack, MSS: 1460}
	d.in <- seg.AppendTo(make([]byte, device.VirtioNetHdrLen))
	r := <-res
	require.NoError(t, r.err)
	d.batches() // the handshake's ACK
	return r.c, port, iss
}

func TestSuperSegments(t *testing.T) {
	const segs, mss = 10, 1000
	payload := strings.Repeat("0123456789", segs*mss/10)
	super := device.VirtioNetHdr{
		Flags: device.VirtioNeedsCsum, GSOType: device.VirtioGSOTCPv4,
		HdrLen: 40, GSOSize: mss, CsumStart: 20, CsumOffset: 16,
	}
	whole := Stats{Received: 2, SuperSegments: 1, ChecksumsChecked: 1, ChecksumsVouched: 1}
	cases := []struct {
		name   string
		vnet   bool
		single bool  // given to New through device.Single
		want   Stats // the counters compared: Received and the checksums'
	}{
		// Counts include the SYN-ACK, whose checksum is checked.
		{"a super-segment goes to the Connection whole", true, false, whole},
		{"New finds the batch device behind device.Single", true, true, whole},
		{"a device that cannot hand it whole splits it", false, false, Stats{Received: 1 + segs, ChecksumsChecked: 1 + segs}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				d := newOffloadDev(tc.vnet)
				var s *Stack
				var err error
				if tc.single {
					s, err = New(device.Single(d), Config{Addr: stackAddr})
				} else {
					s, err = NewBatch(d, Config{Addr: stackAddr})
				}
				require.NoError(t, err)
				defer s.Close()
				c, port, iss := dialOffload(t, s, d)
				defer c.Close()

				d.send(t, port, msg("A", peerISN+1, iss+1, 65535, payload), super)
				got, err := io.ReadAll(io.LimitReader(c, int64(len(payload))))
				require.NoError(t, err)
				require.Equal(t, payload, string(got))

				var acks []seen
				for _, b := range d.batches() {
					for _, seg := range b {
						acks = append(acks, seenOf(seg))
					}
				}
				require.Equal(t, []seen{{Flags: "A", Seq: iss + 1, Ack: peerISN + 1 + segs*mss}}, acks, "one ACK for the lot")
				st := s.Stats()
				require.Equal(t, tc.want, Stats{
					Received: st.Received, SuperSegments: st.SuperSegments,
					ChecksumsChecked: st.ChecksumsChecked, ChecksumsVouched: st.ChecksumsVouched,
				})
			})
		})
	}
}

func TestChecksumsTheKernelDoesNotVouchForAreChecked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newOffloadDev(true)
		s, err := NewBatch(d, Config{Addr: stackAddr})
		require.NoError(t, err)
		defer s.Close()
		c, port, iss := dialOffload(t, s, d)
		defer c.Close()

		// No flags: the datagram came from somewhere the kernel did not
		// check (a packet socket, another TUN), so the stack must.
		bad := wire.Segment{Src: netip.AddrPortFrom(peerAddr, 80), Dst: netip.AddrPortFrom(stackAddr, port), Message: msg("A", peerISN+1, iss+1, 65535, "x")}
		b := bad.AppendTo(make([]byte, device.VirtioNetHdrLen))
		b[len(b)-1] ^= 1
		d.in <- b
		require.Empty(t, d.batches(), "a damaged segment is dropped unanswered")
		require.Equal(t, uint64(1), s.Stats().BadChecksum)

		d.send(t, port, msg("A", peerISN+1, iss+1, 65535, "y"), device.VirtioNetHdr{})
		d.send(t, port, msg("A", peerISN+2, iss+1, 65535, "z"), device.VirtioNetHdr{Flags: device.VirtioDataValid})
		got, err := io.ReadAll(io.LimitReader(c, 2))
		require.NoError(t, err)
		require.Equal(t, "yz", string(got))
		st := s.Stats()
		require.Equal(t, uint64(2), st.ChecksumsChecked, "the SYN-ACK and y")
		require.Equal(t, uint64(1), st.ChecksumsVouched, "z")
		require.Equal(t, uint64(1), st.BadChecksum)
	})
}

func TestWhatATurnSendsIsOneWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newOffloadDev(true)
		s, err := NewBatch(d, Config{Addr: stackAddr})
		require.NoError(t, err)
		defer s.Close()
		c, _, iss := dialOffload(t, s, d)
		defer c.Close()

		const segs = 10
		_, err = c.Write(make([]byte, segs*1460))
		require.NoError(t, err)
		b := d.batches()
		require.Len(t, b, 1, "one device write")
		var want, got []seen
		for i := range segs {
			want = append(want, seen{Flags: "A", Seq: iss + 1 + uint32(i*1460), Ack: peerISN + 1, Payload: 1460})
			got = append(got, seenOf(b[0][i]))
		}
		require.Equal(t, want, got, "the segments in order, for the device to join")
		st := s.Stats()
		require.Equal(t, uint64(segs+2), st.Sent, "with the SYN and the handshake's ACK")
		require.Equal(t, uint64(3), st.WriteCalls)
	})
}

// An ACK written to a TUN runs the kernel's side in the writer's system
// call (Linux takes it in and sends the next data there and then), so on
// an offload device the loop hands a turn of bare ACKs to a writer beside
// it: while that write takes its time, the loop still takes in what
// arrives and serves reads. Its data waits for the write before it, so
// the device sees every datagram in the order the stack sent it.
func TestBareACKsAreWrittenBesideTheLoopInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newOffloadDev(true)
		s, err := NewBatch(d, Config{Addr: stackAddr})
		require.NoError(t, err)
		defer s.Close()
		c, port, iss := dialOffload(t, s, d)
		defer c.Close()

		d.gate = make(chan struct{}) // every write from now on takes its time
		defer close(d.gate)          // until the end: Close's FIN goes at once
		var batches [][]seen
		written := func() { // lets one write through
			d.gate <- struct{}{}
			synctest.Wait()
			for _, b := range d.batches() {
				var segs []seen
				for _, seg := range b {
					segs = append(segs, seenOf(seg))
				}
				batches = append(batches, segs)
			}
		}
		read := func(want string) {
			got, err := io.ReadAll(io.LimitReader(c, int64(len(want))))
			require.NoError(t, err)
			require.Equal(t, want, string(got))
		}
		valid := device.VirtioNetHdr{Flags: device.VirtioDataValid}

		d.send(t, port, msg("A", peerISN+1, iss+1, 65535, "abc"), valid)
		synctest.Wait()
		require.Empty(t, d.out, "the ACK's write is under way")
		read("abc") // served by the loop all the same
		written()
		d.send(t, port, msg("A", peerISN+4, iss+1, 65535, "def"), valid)
		read("def")
		wrote := make(chan error, 1)
		go func() {
			_, err := c.Write([]byte("xyz"))
			wrote <- err
		}()
		synctest.Wait()
		require.Len(t, batches, 1, "the data waits for the ACK before it")
		written()
		written()
		require.NoError(t, <-wrote)
		require.Equal(t, [][]seen{
			{{Flags: "A", Seq: iss + 1, Ack: peerISN + 4}},
			{{Flags: "A", Seq: iss + 1, Ack: peerISN + 7}},
			{{Flags: "A", Seq: iss + 1, Ack: peerISN + 7, Payload: 3}},
		}, batches, "one write at a time, in the order sent")
	})
}
