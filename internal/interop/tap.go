// Package interop puts the lab stack on tun144, facing the Linux kernel's
// own TCP: it opens (or creates) the device for webget and tcpcat, taps it so
// every datagram both ways can go to a pcap file, a trace and a Watcher, and
// its tests run the lab stack against Linux inside the sandbox.
//
// In the data flow it sits around the device, below the stack:
//
//	kernel TCP ⇄ tun144 ⇄ Tap (pcap, trace, Watcher) ⇄ impairments ⇄ stack ⇄ net.Conn
package interop

import (
	"time"

	"tcplab/internal/device"
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
type Observer func(dir Dir, at time.Time, b []byte)

// Tap wraps a device and shows every datagram read or written to its
// observers, in the order they crossed. Reads come from one goroutine and
// writes from another (the stack's reader and loop), so observers must be
// safe for concurrent use.
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
		now := time.Now()
		for _, o := range t.obs {
			o(In, now, p[:n])
		}
	}
	return n, err
}

// Write shows p to the observers before it goes out, so that a reply the
// kernel sends at once is never seen before what it answers.
func (t *Tap) Write(p []byte) (int, error) {
	if len(t.obs) > 0 {
		now := time.Now()
		for _, o := range t.obs {
			o(Out, now, p)
		}
	}
	return t.Device.Write(p)
}

// Stats passes on the wrapped device's counters.
func (t *Tap) Stats() device.Stats { return device.StatsOf(t.Device) }
