// Package scripts holds no Go code: this test runs tun144-setup.sh as a
// student's machine would, in namespaces of its own.
package scripts

import (
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"tcplab/internal/device"
)

// machine is a shell script that makes, in the private mount and network
// namespaces it runs in, a machine like a student's: a user "tcplabstudent"
// (uid 1444, in a copy of /etc/passwd), /dev/net/tun with the mode under
// test (a fresh node mounted over it: the host's is never touched), a
// private /run, and a default route. Then it runs the script's "up", lets
// the student open tun144, and runs "down".
const machine = `set -u
mount --make-rprivate /
cp /etc/passwd "$DIR/passwd"
echo 'tcplabstudent:x:1444:1444:tcplab student:/nonexistent:/bin/sh' >>"$DIR/passwd"
mount --bind "$DIR/passwd" /etc/passwd
mkdir "$DIR/dev" && mount -t tmpfs tcplab "$DIR/dev"
mknod -m "$MODE" "$DIR/dev/tun" c 10 200
mount --bind "$DIR/dev/tun" /dev/net/tun
mount -t tmpfs tcplab /run
ip tuntap add dev up0 mode tun && ip link set up0 up && ip addr add 10.144.0.2/24 dev up0 &&
	ip route add default via 10.144.0.1 dev up0 onlink || exit 99
"$SCRIPT" up tcplabstudent
echo "up: exit $?"
if ip link show tun144 >/dev/null 2>&1; then
	setpriv --reuid=1444 --regid=1444 --clear-groups "$DIR/scripts.test" -test.run='^TestHelperStudentOpensTun144$' -test.v=true
fi
"$SCRIPT" down
echo "down: exit $?"
`

func TestSetupChecksTheStudentCanOpenTheDevice(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root: runs the set-up script in namespaces of its own")
	}
	for _, tool := range []string{"ip", "setpriv", "mount", "mknod"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: %v", tool, err)
		}
	}
	script, err := filepath.Abs("tun144-setup.sh")
	require.NoError(t, err)
	self, err := os.Executable()
	require.NoError(t, err)

	run := func(t *testing.T, mode string) string {
		// A directory the student may enter, holding a copy of this test
		// binary the student runs to open tun144.
		dir, err := os.MkdirTemp("", "tcplab-setup-")
		require.NoError(t, err)
		t.Cleanup(func() { os.RemoveAll(dir) })
		require.NoError(t, os.Chmod(dir, 0o755))
		copyFile(t, self, filepath.Join(dir, "scripts.test"))
		cmd := exec.Command("sh", "-c", machine)
		cmd.Env = append(os.Environ(), "DIR="+dir, "MODE="+mode, "SCRIPT="+script)
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		t.Logf("%s", out)
		return string(out)
	}

	t.Run("mode 0600: up refuses, saying why and what to run, and changes nothing", func(t *testing.T) {
		out := run(t, "0600")
		require.Contains(t, out, "up: exit 1")
		require.Contains(t, out, "tun144-setup: tcplabstudent cannot open /dev/net/tun (mode 0600, owner root)")
		require.Contains(t, out, "chmod 0666 /dev/net/tun")
		require.NotContains(t, out, "tun144 is up")
		require.NotContains(t, out, "TestHelperStudentOpensTun144", "no tun144 was made")
	})
	t.Run("mode 0666: up succeeds and the student opens tun144", func(t *testing.T) {
		out := run(t, "0666")
		require.Contains(t, out, "tun144 is up for tcplabstudent")
		require.Contains(t, out, "up: exit 0")
		require.Contains(t, out, "--- PASS: TestHelperStudentOpensTun144")
		require.Contains(t, out, "down: exit 0")
	})
}

// TestHelperStudentOpensTun144 is what the student does after "up": open
// tun144 as webget does.
func TestHelperStudentOpensTun144(t *testing.T) {
	if os.Getuid() != 1444 {
		t.Skip("run by TestSetupChecksTheStudentCanOpenTheDevice as the student")
	}
	dev, err := device.OpenTUN(device.DefaultName, 1500)
	require.NoError(t, err)
	require.NoError(t, dev.Close())
	// Still there: the device is persistent, and closing it must not
	// undo what the script made.
	_, err = net.InterfaceByName(device.DefaultName)
	require.NoError(t, err)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	require.NoError(t, err)
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	require.NoError(t, err)
	_, err = io.Copy(dst, src)
	require.NoError(t, err)
	require.NoError(t, dst.Close())
}
