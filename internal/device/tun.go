package device

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"

	"github.com/songgao/water"
	"github.com/vishvananda/netlink"
)

// DefaultName is the TUN device the labs, tests and programs use.
const DefaultName = "tun144"

// The addresses the labs use: the kernel's side of tun144 and the lab
// stack's. 169.254.0.0/16 is link-local, so nothing outside the machine is
// ever reached by mistake.
var (
	KernelAddr = netip.MustParsePrefix("169.254.144.1/24")
	LabAddr    = netip.MustParseAddr("169.254.144.9")
)

// ErrNoPermission is wrapped by OpenTUN and Configure when the process may
// not create or configure network devices.
var ErrNoPermission = errors.New("run as root or inside the sandbox (see tcplab/internal/sandbox)")

type tun struct {
	ifce          *water.Interface
	name          string
	mtu           int
	written, read atomic.Uint64
}

// OpenTUN creates (or attaches to a persistent) TUN device called name: the
// kernel's end of it is an ordinary network interface, ours carries one bare
// IPv4 or IPv6 datagram per Read or Write (IFF_TUN, no packet information).
// Writes longer than mtu are refused; Configure gives the interface the same
// MTU. A device that is not persistent disappears when it is closed.
func OpenTUN(name string, mtu int) (Device, error) {
	// water always sets or clears TUNSETPERSIST. Clearing it on a device
	// someone made persistent (the sandbox, or the set-up script's tun144)
	// would make the device vanish when we close it, so a device that
	// already exists keeps its persistence.
	_, err := net.InterfaceByName(name)
	ifce, err := openTUN(name, err == nil)
	if err != nil {
		return nil, err
	}
	return &tun{ifce: ifce, name: ifce.Name(), mtu: mtu}, nil
}

// CreatePersistentTUN creates a TUN device that outlives the process, so a
// program started later can OpenTUN it by name and find it configured (the
// sandbox does this for commands it runs). It lasts until deleted (ip link
// del) or until its network namespace goes away.
func CreatePersistentTUN(name string) error {
	ifce, err := openTUN(name, true)
	if err != nil {
		return err
	}
	return ifce.Close()
}

func openTUN(name string, persist bool) (*water.Interface, error) {
	ifce, err := water.New(water.Config{
		DeviceType:             water.TUN,
		PlatformSpecificParams: water.PlatformSpecificParams{Name: name, Persist: persist},
	})
	if err != nil {
		return nil, explainTUNError(name, err)
	}
	return ifce, nil
}

func explainTUNError(name string, err error) error {
	switch {
	case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.EACCES):
		// Opening /dev/net/tun failed (making the device would say EPERM).
		return fmt.Errorf("open TUN %s: %w", name, tunNodeError(err))
	case errors.Is(err, syscall.EPERM):
		return fmt.Errorf("open TUN %s: permission denied: %w: %w", name, ErrNoPermission, err)
	case errors.Is(err, syscall.EBUSY):
		return fmt.Errorf("open TUN %s: the device is busy (another process has it open, or it is not a TUN device): %w", name, err)
	case errors.Is(err, syscall.EINVAL):
		return fmt.Errorf("open TUN %s: the kernel refused the device (an existing device of that name with other flags?): %w", name, err)
	}
	return fmt.Errorf("open TUN %s: %w", name, err)
}

func (t *tun) MTU() int     { return t.mtu }
func (t *tun) Name() string { return t.name }

func (t *tun) Stats() Stats {
	return Stats{Written: t.written.Load(), Read: t.read.Load()}
}

func (t *tun) Read(p []byte) (int, error) {
	n, err := t.ifce.Read(p)
	if err != nil {
		return n, t.ioError("read", err)
	}
	t.read.Add(1)
	return n, nil
}

func (t *tun) Write(p []byte) (int, error) {
	if len(p) > t.mtu {
		return 0, fmt.Errorf("write %s: %d-byte datagram exceeds the MTU of %d", t.name, len(p), t.mtu)
	}
	n, err := t.ifce.Write(p)
	if err != nil {
		return n, t.ioError("write", err)
	}
	t.written.Add(1)
	return n, nil
}

// ioError makes a closed device say net.ErrClosed, which is what the stack
// (and every Device) tests for; the os package says os.ErrClosed.
func (t *tun) ioError(op string, err error) error {
	if errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("%s %s: %w (%w)", op, t.name, net.ErrClosed, err)
	}
	return fmt.Errorf("%s %s: %w", op, t.name, err)
}

func (t *tun) Close() error {
	if err := t.ifce.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("close %s: %w", t.name, err)
	}
	return nil
}

// Config is how Configure sets up the kernel's side of a TUN device.
type Config struct {
	// MTU of the interface; 0 leaves it as it is (1500 on a new TUN).
	MTU int
	// KernelAddr is the kernel's address on the link and the prefix it
	// routes into the device; the zero value means KernelAddr
	// (169.254.144.1/24).
	KernelAddr netip.Prefix
	// GSOMaxSegs, when positive, caps how many segments the kernel packs
	// into one generic-segmentation-offload super-packet. 1 makes every
	// datagram the kernel's firewall sees a real one, which tests that drop
	// datagrams on the kernel side need (see LINUX-NOTES: GSO).
	GSOMaxSegs int
}

// Configure readies the kernel's side of the interface called name: sets
// its MTU (and GSO cap), gives it cfg.KernelAddr, which makes the kernel
// route that prefix into the device, and brings the link up. Configuring an
// interface that already has the address is not an error.
func Configure(name string, cfg Config) error {
	if !cfg.KernelAddr.IsValid() {
		cfg.KernelAddr = KernelAddr
	}
	link, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("configure %s: %w", name, err)
	}
	fail := func(what string, err error) error {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			return fmt.Errorf("configure %s: %s: permission denied: %w: %w", name, what, ErrNoPermission, err)
		}
		return fmt.Errorf("configure %s: %s: %w", name, what, err)
	}
	if cfg.MTU > 0 {
		if err := netlink.LinkSetMTU(link, cfg.MTU); err != nil {
			return fail(fmt.Sprintf("set MTU %d", cfg.MTU), err)
		}
	}
	if cfg.GSOMaxSegs > 0 {
		if err := netlink.LinkSetGSOMaxSegs(link, cfg.GSOMaxSegs); err != nil {
			return fail(fmt.Sprintf("set gso_max_segs %d", cfg.GSOMaxSegs), err)
		}
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{
		IP:   cfg.KernelAddr.Addr().AsSlice(),
		Mask: net.CIDRMask(cfg.KernelAddr.Bits(), cfg.KernelAddr.Addr().BitLen()),
	}}
	if err := netlink.AddrAdd(link, addr); err != nil && !errors.Is(err, syscall.EEXIST) {
		return fail("add address "+cfg.KernelAddr.String(), err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fail("bring the link up", err)
	}
	return nil
}
