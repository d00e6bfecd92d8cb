package sandbox

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"tcplab/internal/device"
)

// The student of the issue: a normal user whose /dev/net/tun is 0600 was
// told "permission denied: run as root or inside the sandbox", from inside
// the sandbox. These tests make that machine: as root, in a private mount
// namespace (so the host's /dev/net/tun is never touched), a fresh device
// node with the mode under test is mounted over /dev/net/tun, and the test
// binary runs again as an ordinary uid, which asks Available and OpenTUN.

const (
	envUserStage = "TCPLAB_SANDBOX_USER_STAGE" // "root", then "user"
	envUserMode  = "TCPLAB_SANDBOX_USER_TUNMODE"
	envUserDir   = "TCPLAB_SANDBOX_USER_DIR"
	studentUID   = 1444 // no such user: the test needs none, only a uid
)

// asAStudent runs the probes as studentUID with /dev/net/tun at mode, and
// returns what Available and OpenTUN said ("" for no error).
func asAStudent(t *testing.T, mode os.FileMode) (available, openTUN string) {
	t.Helper()
	self, err := os.Executable()
	require.NoError(t, err)
	// The uid must be able to run the test binary: a copy in a directory
	// anyone may enter (go test's own is root's alone).
	dir, err := os.MkdirTemp("", "tcplab-student-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	bin := filepath.Join(dir, "sandbox.test")
	copyFile(t, self, bin, 0o755)
	mnt := filepath.Join(dir, "dev")
	require.NoError(t, os.Mkdir(mnt, 0o755))

	cmd := exec.Command(bin, "-test.run=^TestHelperStudent$", "-test.v=true")
	cmd.Env = append(os.Environ(), envUserStage+"=root", envUserDir+"="+mnt, envUserMode+"="+strconv.FormatUint(uint64(mode), 8))
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "AVAILABLE: "); ok {
			available = strings.TrimPrefix(v, "<nil>")
		}
		if v, ok := strings.CutPrefix(sc.Text(), "OPENTUN: "); ok {
			openTUN = strings.TrimPrefix(v, "<nil>")
		}
	}
	require.Contains(t, string(out), "--- PASS: TestHelperStudent", "%s", out)
	return available, openTUN
}

func TestAStudentIsToldWhatToFix(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root: to mount a device node in a private mount namespace and to become another uid")
	}
	t.Run("/dev/net/tun 0600: the node, its mode and chmod", func(t *testing.T) {
		avail, open := asAStudent(t, 0o600)
		t.Logf("Available: %s", avail)
		t.Logf("OpenTUN: %s", open)
		require.NotContains(t, avail, "\n", "one line")
		for _, want := range []string{"sandbox unavailable: ", "/dev/net/tun is mode 0600", "owner root", "uid 1444 may not open it", "sudo chmod 0666 /dev/net/tun"} {
			require.Contains(t, avail, want)
		}
		// webget's error says the same, not "run as root".
		require.Contains(t, open, "open TUN tun144: /dev/net/tun is mode 0600")
		require.Contains(t, open, "sudo chmod 0666 /dev/net/tun")
		require.NotContains(t, open, "run as root")
	})
	t.Run("/dev/net/tun 0666: nothing to fix about the node", func(t *testing.T) {
		avail, open := asAStudent(t, 0o666)
		t.Logf("Available: %s", avail)
		t.Logf("OpenTUN: %s", open)
		if _, blamed := userNSSetting(readSysctl); !blamed {
			require.Empty(t, avail, "a normal user runs the sandbox where user namespaces are allowed")
		}
		require.NotContains(t, avail, "/dev/net/tun")
		// Outside any namespace a normal user may open the node but not
		// make a device: that, and only that, needs root.
		require.Contains(t, open, "open TUN tun144: permission denied: run as root")
	})
}

// TestHelperStudent is run by asAStudent: first as root in a private mount
// namespace, where it mounts the device node and runs itself again as the
// student, who reports what the probes say.
func TestHelperStudent(t *testing.T) {
	switch os.Getenv(envUserStage) {
	case "":
		t.Skip("run by TestAStudentIsToldWhatToFix")
	case "root":
		mode, err := strconv.ParseUint(os.Getenv(envUserMode), 8, 32)
		require.NoError(t, err)
		mnt := os.Getenv(envUserDir)
		// Nothing mounted here reaches the host's mount namespace.
		require.NoError(t, syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""))
		require.NoError(t, syscall.Mount("tcplab", mnt, "tmpfs", 0, "mode=0755"))
		node := filepath.Join(mnt, "tun")
		require.NoError(t, syscall.Mknod(node, syscall.S_IFCHR|uint32(mode), 10<<8|200))
		require.NoError(t, os.Chmod(node, os.FileMode(mode))) // past the umask
		require.NoError(t, syscall.Mount(node, "/dev/net/tun", "", syscall.MS_BIND, ""))
		self, err := os.Executable()
		require.NoError(t, err)
		cmd := exec.Command(self, "-test.run=^TestHelperStudent$", "-test.v=true")
		cmd.Env = append(os.Environ(), envUserStage+"=user", "HOME=/", "TMPDIR=/tmp")
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: studentUID, Gid: studentUID, Groups: []uint32{}},
			Pdeathsig:  syscall.SIGKILL,
		}
		out, err := cmd.CombinedOutput()
		fmt.Printf("%s", out)
		require.NoError(t, err)
	case "user":
		require.Equal(t, studentUID, os.Getuid())
		fmt.Printf("AVAILABLE: %v\n", Available())
		dev, err := device.OpenTUN(device.DefaultName, MTU)
		if err == nil {
			dev.Close()
		}
		fmt.Printf("OPENTUN: %v\n", err)
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	src, err := os.Open(from)
	require.NoError(t, err)
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	require.NoError(t, err)
	_, err = io.Copy(dst, src)
	require.NoError(t, err)
	require.NoError(t, dst.Close())
}
