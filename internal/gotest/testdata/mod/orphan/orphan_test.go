// Package orphan's test leaves behind a process that holds the test
// binary's output open, in a session of its own, as lab code that starts a
// program and forgets it can: the runner must not wait for it.
package orphan

import (
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
)

func TestLeavesAProcessBehind(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start sleep: %v", err)
	}
	t.Logf("left sleep (pid %d) behind", cmd.Process.Pid)
	os.WriteFile(os.Getenv("GOTEST_ORPHAN_PID"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o600)
}

func TestAfter(t *testing.T) {}
