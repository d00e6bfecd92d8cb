package device

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// Offloads is the work a TUN device's kernel side takes off the stack's
// hands: what OpenOffloadTUN asks for, and what it got.
type Offloads uint8

const (
	// VnetHdr: a virtio_net_hdr before every datagram read and written
	// (IFF_VNET_HDR), which is how the rest are expressed.
	VnetHdr Offloads = 1 << iota
	// Csum: the kernel may hand over datagrams whose TCP checksum is
	// partial, and takes ours that way (TUN_F_CSUM).
	Csum
	// TSO4, TSO6: the kernel hands over TCP super-packets of up to 64 KiB
	// and cuts ours up (TUN_F_TSO4, TUN_F_TSO6). They need Csum.
	TSO4
	TSO6

	// AllOffloads is everything tcplab can use.
	AllOffloads = VnetHdr | Csum | TSO4 | TSO6
)

func (o Offloads) String() string {
	if o == 0 {
		return "none"
	}
	var parts []string
	for _, f := range []struct {
		bit  Offloads
		name string
	}{{VnetHdr, "vnet_hdr"}, {Csum, "csum"}, {TSO4, "tso4"}, {TSO6, "tso6"}} {
		if o&f.bit != 0 {
			parts = append(parts, f.name)
		}
	}
	return strings.Join(parts, "+")
}

// setOffload is the TUNSETOFFLOAD ioctl; tests replace it to play a kernel
// that refuses.
var setOffload = func(fd int, flags int) error {
	return unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, flags)
}

// OffloadTUN is a TUN device read and written in batches, with as many of
// the kernel's offloads as it would grant: a super-packet comes in with
// one read and goes to the caller as MSS-sized segments with complete
// checksums (SplitGSO), and the caller's consecutive segments of one
// connection go out as one super-packet (coalesce). Without offloads it
// still batches: after the first datagram, Read takes whatever else the
// kernel has queued without waiting.
type OffloadTUN struct {
	file *os.File
	rc   syscall.RawConn
	name string
	mtu  int
	got  Offloads
	why  error

	rmu     sync.Mutex
	rbuf    []byte // one read with its virtio header
	pending int    // bytes in rbuf that the last Read had no room for
	whole   atomic.Bool

	wmu sync.Mutex
	gro *coalescer

	read, written                    atomic.Uint64
	readCalls, writeCalls, superPkts atomic.Uint64
	joined, bad                      atomic.Uint64
	closed                           atomic.Bool
}

// OffloadStats counts what an OffloadTUN did beyond Stats: system calls,
// and what the offloads saved.
type OffloadStats struct {
	ReadCalls    uint64 // read system calls that returned a datagram
	WriteCalls   uint64 // write system calls
	SuperPackets uint64 // reads that were GSO super-packets
	Joined       uint64 // datagrams written as part of another's super-packet
	Bad          uint64 // reads dropped: a virtio header that did not fit
}

// OffloadBatch is how many datagrams an OffloadTUN's Read can return: a
// 64 KiB super-packet cut at the smallest MSS Linux uses (536) and a few
// more.
const OffloadBatch = 128

// OpenOffloadTUN creates (or attaches to) the TUN device called name with
// the offloads in want that the kernel grants (see OpenTUNFD). Offloads
// says what it got and Fallback why that is less than want. Persistence
// is left as it is, as OpenTUN does.
func OpenOffloadTUN(name string, mtu int, want Offloads) (*OffloadTUN, error) {
	fd, got, why, err := OpenTUNFD(name, want)
	if err != nil {
		return nil, err
	}
	t := &OffloadTUN{mtu: mtu, got: got, why: why}
	ifr, _ := unix.NewIfreq(name)
	if unix.IoctlIfreq(fd, unix.TUNGETIFF, ifr) == nil {
		name = ifr.Name()
	}
	t.name = name
	t.file = os.NewFile(uintptr(fd), "/dev/net/tun")
	if t.rc, err = t.file.SyscallConn(); err != nil {
		t.file.Close()
		return nil, fmt.Errorf("open TUN %s: %w", name, err)
	}
	if got.has(VnetHdr) {
		t.rbuf = make([]byte, VirtioNetHdrLen+maxIPv4Size)
		t.gro = newCoalescer()
	}
	return t, nil
}

// OpenTUNFD opens the TUN device called name, non-blocking, with the
// offloads in want that the kernel grants, and returns the file
// descriptor, what it got, and why that is less than want (nil if it is
// not). With VnetHdr it asks for IFF_VNET_HDR, then for the checksum and
// TSO offloads, dropping TSO and then the checksum offload if the kernel
// refuses them; if no offload at all is granted it reopens the device
// plain. It is the part of OpenOffloadTUN that other stacks can use too
// (the benchmark gives gVisor's netstack the same device).
func OpenTUNFD(name string, want Offloads) (fd int, got Offloads, why error, err error) {
	if want&(TSO4|TSO6) != 0 {
		want |= Csum // TSO needs the checksum offload
	}
	if want&Csum != 0 {
		want |= VnetHdr
	}
	var notes []error
	fd, got, err = openTUNFD(name, want&VnetHdr != 0)
	if err != nil && want&VnetHdr != 0 && errors.Is(err, syscall.EINVAL) {
		notes = append(notes, fmt.Errorf("IFF_VNET_HDR refused: %w", err))
		fd, got, err = openTUNFD(name, false)
	}
	if err != nil {
		return -1, 0, nil, err
	}
	if got.has(VnetHdr) {
		for _, try := range []Offloads{want & (Csum | TSO4 | TSO6), want & Csum} {
			if try == 0 {
				continue
			}
			err := setOffload(fd, tunFlags(try))
			if err == nil {
				got |= try
				break
			}
			notes = append(notes, fmt.Errorf("TUNSETOFFLOAD %v refused: %w", try, err))
		}
		if !got.has(Csum) {
			// A virtio header with nothing in it only costs: go plain.
			unix.Close(fd)
			if fd, got, err = openTUNFD(name, false); err != nil {
				return -1, 0, nil, err
			}
			notes = append(notes, errors.New("no offload granted: the device is plain"))
		}
	}
	if got != want && len(notes) == 0 {
		notes = append(notes, fmt.Errorf("asked for %v", want))
	}
	return fd, got, errors.Join(notes...), nil
}

func (o Offloads) has(f Offloads) bool { return o&f == f }

func tunFlags(o Offloads) int {
	var f int
	if o.has(Csum) {
		f |= unix.TUN_F_CSUM
	}
	if o.has(TSO4) {
		f |= unix.TUN_F_TSO4
	}
	if o.has(TSO6) {
		f |= unix.TUN_F_TSO6
	}
	return f
}

// openTUNFD opens /dev/net/tun non-blocking (so reads and writes go
// through Go's poller) and attaches it to the device called name.
func openTUNFD(name string, vnet bool) (int, Offloads, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return -1, 0, explainTUNError(name, err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return -1, 0, fmt.Errorf("open TUN %s: %w", name, err)
	}
	flags := uint16(unix.IFF_TUN | unix.IFF_NO_PI)
	var got Offloads
	if vnet {
		flags |= unix.IFF_VNET_HDR
		got = VnetHdr
	}
	ifr.SetUint16(flags)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return -1, 0, explainTUNError(name, err)
	}
	return fd, got, nil
}

// Offloads says which offloads the device got.
func (t *OffloadTUN) Offloads() Offloads { return t.got }

// Fallback says why the device has fewer offloads than were asked for,
// or is nil.
func (t *OffloadTUN) Fallback() error { return t.why }

func (t *OffloadTUN) MTU() int     { return t.mtu }
func (t *OffloadTUN) Name() string { return t.name }

// BatchSize is OffloadBatch: room for a whole super-packet, or for that
// many datagrams queued on a plain device.
func (t *OffloadTUN) BatchSize() int { return OffloadBatch }

func (t *OffloadTUN) Stats() Stats {
	return Stats{Read: t.read.Load(), Written: t.written.Load()}
}

func (t *OffloadTUN) OffloadStats() OffloadStats {
	return OffloadStats{
		ReadCalls: t.readCalls.Load(), WriteCalls: t.writeCalls.Load(),
		SuperPackets: t.superPkts.Load(), Joined: t.joined.Load(), Bad: t.bad.Load(),
	}
}

func (t *OffloadTUN) Close() error {
	t.closed.Store(true)
	if err := t.file.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("close %s: %w", t.name, err)
	}
	return nil
}

// ioError makes a closed device say net.ErrClosed, as every Device does.
// (A raw read on a closed file says "use of closed file", which is not
// os.ErrClosed, so the device remembers that it was closed.)
func (t *OffloadTUN) ioError(op string, err error) error {
	if t.closed.Load() || errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("%s %s: %w (%w)", op, t.name, net.ErrClosed, err)
	}
	return fmt.Errorf("%s %s: %w", op, t.name, err)
}

// Read waits for the first datagram, then takes what else the kernel has
// queued, until bufs are full or nothing is left: one read system call per
// datagram or super-packet, never a wait once something is in hand. Offer
// BatchSize buffers: a super-packet with more segments than all of them
// hold is dropped and counted (OffloadStats.Bad); one that only does not
// fit the buffers left waits for the next Read.
func (t *OffloadTUN) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	t.rmu.Lock()
	defer t.rmu.Unlock()
	count := 0
	if t.pending > 0 {
		n := t.pending
		t.pending = 0
		count = t.deliver(t.rbuf[:n], bufs, sizes, offset, 0)
	}
	var opErr error
	whole := t.rbuf != nil && t.whole.Load() && offset >= Headroom
	err := t.rc.Read(func(fd uintptr) bool {
		for count < len(bufs) {
			into := t.rbuf
			// A whole-datagram reader's buffer that holds the largest
			// read is read into directly: no copy out of rbuf.
			direct := whole && len(bufs[count])-(offset-Headroom) >= len(t.rbuf)
			switch {
			case into == nil:
				into = bufs[count][offset:]
			case direct:
				into = bufs[count][offset-Headroom:]
			}
			n, err := unix.Read(int(fd), into)
			switch {
			case err == unix.EAGAIN:
				return count > 0 // wait only while empty-handed
			case err == unix.EINTR:
				continue
			case err != nil:
				opErr = err
				return true
			}
			t.readCalls.Add(1)
			if t.rbuf == nil {
				sizes[count] = n
				count++
				continue
			}
			if direct {
				if _, ok := t.header(into[:n]); ok {
					sizes[count] = n - VirtioNetHdrLen
					count++
				}
				continue
			}
			k := t.deliver(into[:n], bufs, sizes, offset, count)
			if k < 0 {
				t.pending = n // no room left: the next Read starts with it
				return true
			}
			count = k
		}
		return true
	})
	if err == nil {
		err = opErr
	}
	if err != nil && count == 0 {
		return 0, t.ioError("read", err)
	}
	t.read.Add(uint64(count))
	return count, nil
}

// SetWhole makes Read hand over super-packets whole, as the kernel made
// them, each with its virtio_net_hdr in the VirtioNetHdrLen bytes before
// it (Read's offset must then be at least Headroom): for a stack that
// takes a super-segment in one piece. Such a datagram may be up to 64 KiB
// (give buffers offset+65535 bytes; a super-packet that does not fit is
// split after all), and its TCP checksum is partial when the header says
// VirtioNeedsCsum: the kernel made it and vouches for it. Datagrams that
// are not super-packets come whole too, with their header, their
// checksums as the kernel left them. A device without VnetHdr has no
// super-packets and no headers: it reads as before.
func (t *OffloadTUN) SetWhole(whole bool) { t.whole.Store(whole) }

// deliver splits one read (virtio header and datagram) into bufs from
// index count on (or copies it whole, see SetWhole) and returns the new
// count, or -1 if it does not fit the buffers left and some are already
// filled.
func (t *OffloadTUN) deliver(in []byte, bufs [][]byte, sizes []int, offset, count int) int {
	hdr, ok := t.header(in)
	if !ok {
		return count
	}
	if t.whole.Load() && offset >= Headroom && len(bufs[count])-offset >= len(in)-VirtioNetHdrLen {
		sizes[count] = copy(bufs[count][offset-Headroom:], in) - VirtioNetHdrLen
		return count + 1
	}
	k, err := SplitGSO(hdr, in[VirtioNetHdrLen:], bufs[count:], sizes[count:], offset)
	if errors.Is(err, ErrTooManySegments) && count > 0 {
		if hdr.GSOType != VirtioGSONone {
			t.superPkts.Add(^uint64(0)) // counted again when it is delivered
		}
		return -1
	}
	if err != nil {
		t.bad.Add(1)
		return count
	}
	if t.whole.Load() && offset >= Headroom {
		// A reader of whole datagrams reads a header before each: the
		// split segments carry checksums just computed from what the
		// kernel vouched for, so say so, rather than leave the buffer's
		// stale bytes there.
		for i := count; i < count+k; i++ {
			VirtioNetHdr{Flags: VirtioDataValid}.Encode(bufs[i][offset-Headroom:])
		}
	}
	return count + k
}

// header decodes the virtio header of one read and counts it: a
// super-packet, or a datagram dropped for a header that does not decode.
func (t *OffloadTUN) header(in []byte) (VirtioNetHdr, bool) {
	hdr, err := DecodeVirtioNetHdr(in)
	if err != nil {
		t.bad.Add(1)
		return hdr, false
	}
	if hdr.GSOType != VirtioGSONone {
		t.superPkts.Add(1)
	}
	return hdr, true
}

// Write sends the datagrams at bufs[i][offset:]; offset must be at least
// Headroom. With TSO the consecutive segments of a connection go to the
// kernel as one super-packet, which grows bufs[i] within its capacity:
// give buffers a capacity of offset+65535 for the most effect.
func (t *OffloadTUN) Write(bufs [][]byte, offset int) (int, error) {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	for i, b := range bufs {
		if len(b)-offset > t.mtu {
			return 0, fmt.Errorf("write %s: datagram %d: %d bytes exceed the MTU of %d", t.name, i, len(b)-offset, t.mtu)
		}
	}
	if t.rbuf == nil {
		for i, b := range bufs {
			if err := t.writeOne(b[offset:]); err != nil {
				return i, err
			}
		}
		return len(bufs), nil
	}
	if offset < Headroom {
		return 0, fmt.Errorf("write %s: offset %d leaves no room for the %d-byte virtio header", t.name, offset, Headroom)
	}
	var toWrite []int
	if t.got.has(TSO4) || t.got.has(TSO6) {
		toWrite = t.gro.coalesce(bufs, offset)
	} else {
		toWrite = t.gro.toWrite[:0]
		for i := range bufs {
			VirtioNetHdr{}.Encode(bufs[i][offset-Headroom:])
			toWrite = append(toWrite, i)
		}
	}
	for k, i := range toWrite {
		if err := t.writeOne(bufs[i][offset-Headroom:]); err != nil {
			return k, err
		}
	}
	t.joined.Add(uint64(len(bufs) - len(toWrite)))
	t.written.Add(uint64(len(bufs) - len(toWrite)))
	return len(bufs), nil
}

func (t *OffloadTUN) writeOne(b []byte) error {
	var opErr error
	err := t.rc.Write(func(fd uintptr) bool {
		for {
			_, err := unix.Write(int(fd), b)
			switch {
			case err == unix.EAGAIN:
				return false
			case err == unix.EINTR:
				continue
			}
			opErr = err
			return true
		}
	})
	if err == nil {
		err = opErr
	}
	if err != nil {
		return t.ioError("write", err)
	}
	t.writeCalls.Add(1)
	t.written.Add(1)
	return nil
}
