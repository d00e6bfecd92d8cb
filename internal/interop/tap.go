// Package interop puts the lab stack on tun144, facing the Linux kernel's
// own TCP: it opens (or creates) the device for webget and tcpcat, taps it so
// every datagram both ways can go to a pcap file, a trace and a Watcher, and
// its tests run the lab stack against Linux inside the sandbox.
//
// In the data flow it sits around the device, below the stack:
//
//	kernel TCP ⇄ tun144 ⇄ Tap (pcap, trace, Watcher) ⇄ impairments ⇄ stack ⇄ net.Conn
//
// BatchTap is the Tap for a batch device (device.OffloadTUN), so that the
// stack behind it still reads and writes in batches and takes the kernel's
// super-packets whole.
package interop

import (
	"sync/atomic"
	"time"

	"tcplab/internal/device"
	"tcplab/internal/wire"
)

// Dir is the direction a datagram crossed the device.
type Dir int

const (
	Out Dir = iota // lab stack → kernel (written to the device)
	In             // kernel → lab stack (read from the device)
)

func (d Dir) String() string {
	if d == In {
		return "←"
	}
	return "→"
}

// Observer sees one datagram as it crossed the device. It must not keep b.
// vouched says the device vouched for the datagram's TCP checksum: a
// super-packet the kernel made (up to 64 KiB, many segments' payload in
// one) carries only a partial sum there, so parse b with parseSeen, which
// checks the sum only where nobody vouched for it.
type Observer func(dir Dir, at time.Time, b []byte, vouched bool)

// parseSeen parses what an Observer was shown.
func parseSeen(b []byte, vouched bool) (wire.Segment, error) {
	if vouched {
		return wire.ParseVouched(b)
	}
	return wire.Parse(b)
}

// show hands one datagram to every observer.
func show(obs []Observer, dir Dir, at time.Time, b []byte, vouched bool) {
	for _, o := range obs {
		o(dir, at, b, vouched)
	}
}

// Tap wraps a device and shows every datagram read or written to its
// observers, in the order they crossed. Reads come from one goroutine and
// writes from another (the stack's reader and loop), so observers must be
// safe for concurrent use. A Device moves datagrams of at most the MTU
// with their checksums complete, so nothing it shows is vouched for.
type Tap struct {
	device.Device
	obs []Observer
}

// NewTap wraps dev; observers are called on the reading and writing
// goroutines, so they should be quick.
func NewTap(dev device.Device, obs ...Observer) *Tap {
	return &Tap{Device: dev, obs: obs}
}

func (t *Tap) Read(p []byte) (int, error) {
	n, err := t.Device.Read(p)
	if err == nil && len(t.obs) > 0 {
		show(t.obs, In, time.Now(), p[:n], false)
	}
	return n, err
}

// Write shows p to the observers before it goes out, so that a reply the
// kernel sends at once is never seen before what it answers.
func (t *Tap) Write(p []byte) (int, error) {
	if len(t.obs) > 0 {
		show(t.obs, Out, time.Now(), p, false)
	}
	return t.Device.Write(p)
}

// Stats passes on the wrapped device's counters.
func (t *Tap) Stats() device.Stats { return device.StatsOf(t.Device) }

// BatchTap is Tap for a batch device: it shows each datagram of every
// batch read or written, in order, and hides nothing the stack looks for
// behind it. In particular it passes on SetWhole and Offloads, so a stack
// on a device.OffloadTUN with its virtio header still has the kernel's
// super-packets handed over whole; the observers then see them as they
// are, up to 64 KiB with a partial TCP checksum (vouched), and a written
// batch as the stack made it, segments of at most the MTU with their
// checksums complete, before the device joins them (TSO).
type BatchTap struct {
	device.BatchDevice
	obs []Observer
	// whole is what SetWhole last passed on to a device that has
	// offloads: reads then carry a virtio_net_hdr in the headroom.
	whole atomic.Bool
}

// NewBatchTap wraps dev; observers are called on the reading and writing
// goroutines, so they should be quick.
func NewBatchTap(dev device.BatchDevice, obs ...Observer) *BatchTap {
	return &BatchTap{BatchDevice: dev, obs: obs}
}

// offloader is a batch device that can hand super-packets over whole
// (device.OffloadTUN): what the stack looks for.
type offloader interface {
	SetWhole(bool)
	Offloads() device.Offloads
}

// Offloads is the wrapped device's, or none.
func (t *BatchTap) Offloads() device.Offloads {
	if o, ok := t.BatchDevice.(offloader); ok {
		return o.Offloads()
	}
	return 0
}

// SetWhole passes the setting on, if the wrapped device takes it. Call it
// before the first Read (the stack does, when it starts).
func (t *BatchTap) SetWhole(whole bool) {
	if o, ok := t.BatchDevice.(offloader); ok {
		o.SetWhole(whole)
		t.whole.Store(whole && o.Offloads()&device.VnetHdr != 0)
	}
}

func (t *BatchTap) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	n, err := t.BatchDevice.Read(bufs, sizes, offset)
	if n > 0 && len(t.obs) > 0 {
		now := time.Now()
		// With whole reads each datagram has its virtio_net_hdr just
		// before it, and its flags say whether the kernel vouched for
		// the checksum: read them as the stack does (stack.parse).
		hdr := t.whole.Load() && offset >= device.Headroom
		for i := range n {
			vouched := hdr && bufs[i][offset-device.Headroom]&(device.VirtioNeedsCsum|device.VirtioDataValid) != 0
			show(t.obs, In, now, bufs[i][offset:offset+sizes[i]], vouched)
		}
	}
	return n, err
}

// Write shows the batch to the observers before it goes out (see
// Tap.Write), and before the device may join or change it.
func (t *BatchTap) Write(bufs [][]byte, offset int) (int, error) {
	if len(t.obs) > 0 {
		now := time.Now()
		for _, b := range bufs {
			show(t.obs, Out, now, b[offset:], false)
		}
	}
	return t.BatchDevice.Write(bufs, offset)
}

// Stats passes on the wrapped device's counters.
func (t *BatchTap) Stats() device.Stats {
	if s, ok := t.BatchDevice.(interface{ Stats() device.Stats }); ok {
		return s.Stats()
	}
	return device.Stats{}
}
