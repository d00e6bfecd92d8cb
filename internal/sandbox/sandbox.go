package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"

	"github.com/vishvananda/netlink"

	"tcplab/internal/device"
)

// envMode tells a re-executed binary that it is a sandbox child and what to
// do: "probe" (set up, report, exit), "exec" (set up, then become the
// program in os.Args[1:]), "inside" (nothing: the program that "exec"
// became) or "test:" and a test's name.
const envMode = "TCPLAB_SANDBOX"

// EnvDisable, set to 1, makes Available report the sandbox unavailable, to
// check what happens where it is.
const EnvDisable = "TCPLAB_SANDBOX_DISABLE"

// MTU is tun144's MTU inside the sandbox.
const MTU = 1500

// Env is what code inside the sandbox is given.
type Env struct {
	// Dev is tun144, open and configured: reading it yields what the
	// kernel sends to the lab side, writing it delivers to the kernel.
	Dev device.Device
	// KernelAddr is the kernel's address on tun144 (169.254.144.1), where
	// a server started inside (Go net, python3 -m http.server, nc) listens.
	KernelAddr netip.Addr
	// LabAddr is the lab stack's address (169.254.144.9), which the kernel
	// routes into Dev.
	LabAddr netip.Addr
	// Prefix is the link's prefix (169.254.144.0/24).
	Prefix netip.Prefix
}

func newEnv(dev device.Device) *Env {
	return &Env{
		Dev:        dev,
		KernelAddr: device.KernelAddr.Addr(),
		LabAddr:    device.LabAddr,
		Prefix:     device.KernelAddr.Masked(),
	}
}

// Inside reports whether this process runs inside a sandbox made by this
// package.
func Inside() bool { return os.Getenv(envMode) != "" }

func init() {
	switch mode := os.Getenv(envMode); mode {
	case "probe":
		dev, err := prepare(false)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		dev.Close()
		os.Exit(0)
	case "exec":
		if _, err := prepare(true); err != nil {
			fmt.Fprintln(os.Stderr, "sandbox:", err)
			os.Exit(1)
		}
		if len(os.Args) < 2 {
			fmt.Fprintln(os.Stderr, "sandbox: no program to run")
			os.Exit(2)
		}
		// "inside" keeps Inside true for the program but stops this hook
		// from setting up again if the program imports sandbox too.
		os.Setenv(envMode, "inside")
		err := syscall.Exec(os.Args[1], os.Args[1:], os.Environ())
		fmt.Fprintf(os.Stderr, "sandbox: run %s: %v\n", os.Args[1], err)
		os.Exit(127)
	}
}

// prepare readies a fresh namespace: loopback up (a namespace starts with
// it down, and servers inside expect 127.0.0.1 to work) and tun144
// configured. For a program to open by name, tun144 is made persistent and
// left closed; otherwise it is returned open.
func prepare(persistent bool) (device.Device, error) {
	lo, err := netlink.LinkByName("lo")
	if err == nil {
		err = netlink.LinkSetUp(lo)
	}
	if err != nil {
		return nil, fmt.Errorf("bring up lo: %w", err)
	}
	var dev device.Device
	if persistent {
		err = device.CreatePersistentTUN(device.DefaultName)
	} else {
		dev, err = device.OpenTUN(device.DefaultName, MTU)
	}
	if err != nil {
		return nil, err
	}
	if err := device.Configure(device.DefaultName, device.Config{MTU: MTU}); err != nil {
		if dev != nil {
			dev.Close()
		}
		return nil, err
	}
	return dev, nil
}

// availability is what Available found, worked out once per process.
var availability = sync.OnceValues(probe)

// Available returns nil if the sandbox can run here, or an error whose
// message is one line saying what is missing and what to do.
func Available() error {
	_, err := availability()
	return err
}

// attrs is how a child is placed in its namespaces: with a user namespace
// when the kernel allows it, otherwise (as root) without.
func attrs(withUser bool) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNET | syscall.CLONE_NEWPID,
		// If we die, the child and so the namespaces die too.
		Pdeathsig: syscall.SIGKILL,
	}
	if withUser {
		a.Cloneflags |= syscall.CLONE_NEWUSER
		a.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}}
		a.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}
		// An unprivileged process may only map its group after giving
		// up setgroups.
		a.GidMappingsEnableSetgroups = false
	}
	return a
}

// probe tries a sandbox for real (namespaces, lo, tun144) in a throwaway
// child, since only trying tells whether a container's seccomp profile, an
// LSM or /dev/net/tun's permissions get in the way.
func probe() (*syscall.SysProcAttr, error) {
	if os.Getenv(EnvDisable) == "1" {
		return nil, fmt.Errorf("sandbox unavailable: disabled by %s=1", EnvDisable)
	}
	// The namespaces' root is still us to the device node, so a node we
	// cannot open here cannot be opened inside either; saying so names
	// the node, its mode and the fix, where the child could only say
	// "permission denied".
	if err := device.CheckTUNAccess(); err != nil {
		return nil, fmt.Errorf("sandbox unavailable: %v", err)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("sandbox unavailable: cannot find this program to re-run it: %w", err)
	}
	try := func(a *syscall.SysProcAttr) (startErr, runErr error) {
		cmd := exec.Command(self)
		cmd.Env = append(os.Environ(), envMode+"=probe")
		cmd.SysProcAttr = a
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			return err, nil
		}
		if err := cmd.Wait(); err != nil {
			msg := oneLine(stderr.String())
			if msg == "" {
				msg = err.Error()
			}
			return nil, errors.New(msg)
		}
		return nil, nil
	}
	userAttrs := attrs(true)
	startErr, runErr := try(userAttrs)
	if startErr == nil && runErr == nil {
		return userAttrs, nil
	}
	if startErr == nil && os.Geteuid() != 0 {
		// AppArmor's restriction lets the namespace be made and then
		// denies what is done in it: blame the setting where one is set.
		if why, ok := userNSSetting(readSysctl); ok {
			return nil, fmt.Errorf("sandbox unavailable: inside the new namespaces: %v; %s", runErr, why)
		}
	}
	if startErr == nil {
		return nil, fmt.Errorf("sandbox unavailable: inside the new namespaces: %v", runErr)
	}
	if os.Geteuid() == 0 {
		rootAttrs := attrs(false)
		rootStart, rootRun := try(rootAttrs)
		if rootStart == nil && rootRun == nil {
			return rootAttrs, nil
		}
		if rootStart == nil {
			return nil, fmt.Errorf("sandbox unavailable: inside the new namespaces: %v", rootRun)
		}
		return nil, fmt.Errorf("sandbox unavailable: cannot create namespaces even as root (%v; without a user namespace: %v): in a container, run it with --privileged or a seccomp profile that allows unshare", startErr, rootStart)
	}
	return nil, errors.New(userNSReason(startErr, readSysctl))
}

func readSysctl(name string) (string, error) {
	b, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(name, ".", "/"))
	return strings.TrimSpace(string(b)), err
}

// userNSReason says why an unprivileged user could not create a user
// namespace, naming the setting that forbids it where one does.
func userNSReason(cloneErr error, sysctl func(string) (string, error)) string {
	const prefix = "sandbox unavailable: "
	if why, ok := userNSSetting(sysctl); ok {
		return prefix + why
	}
	return fmt.Sprintf("%scannot create a user namespace (%v) and we are not root: run as root, or check that the kernel and any container allow unprivileged user namespaces", prefix, cloneErr)
}

// userNSSetting names the kernel setting that keeps an unprivileged user
// from using user namespaces, with the command that lifts it, if one is
// set so.
func userNSSetting(sysctl func(string) (string, error)) (string, bool) {
	const fix = ": run as root, or allow them with sudo sysctl -w "
	if v, err := sysctl("kernel.unprivileged_userns_clone"); err == nil && v == "0" {
		return "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone=0) and we are not root" + fix + "kernel.unprivileged_userns_clone=1", true
	}
	if v, err := sysctl("kernel.apparmor_restrict_unprivileged_userns"); err == nil && v == "1" {
		return "AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1) and we are not root" + fix + "kernel.apparmor_restrict_unprivileged_userns=0", true
	}
	if v, err := sysctl("user.max_user_namespaces"); err == nil && v == "0" {
		return "user namespaces are disabled (user.max_user_namespaces=0) and we are not root" + fix + "user.max_user_namespaces=15000", true
	}
	return "", false
}

// oneLine joins a child's stderr into one line: a skip reason is printed
// once per suite, and a second line would read as something else.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(strings.TrimSpace(s), "\n", " | ")), " ")
}

// Command returns a command that runs the program name (looked up by
// LookTool) with args inside a fresh sandbox, where tun144 exists,
// persistent, configured and closed, waiting for the program to open it.
// When the program exits the sandbox ends, and every process it started
// inside goes with it. Add to cmd.Env rather than replacing it: the variable
// that makes the sandbox is there.
func Command(name string, args ...string) (*exec.Cmd, error) {
	a, err := availability()
	if err != nil {
		return nil, err
	}
	path, err := LookTool(name)
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("sandbox: cannot find this program to re-run it: %w", err)
	}
	cmd := exec.Command(self, append([]string{path}, args...)...)
	cmd.Env = append(os.Environ(), envMode+"=exec")
	sa := *a
	cmd.SysProcAttr = &sa
	return cmd, nil
}
