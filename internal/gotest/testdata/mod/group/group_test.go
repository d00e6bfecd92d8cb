// Package group's test leaves behind a process in its own process group
// (not a session of its own, unlike package orphan), as a test that starts
// a program and forgets it can: the runner must end it with the run.
package group

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
)

func TestLeavesAProcessInTheGroup(t *testing.T) {
	// Output of its own, so the go command does not wait for it.
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start sleep: %v", err)
	}
	t.Logf("left sleep (pid %d) behind", cmd.Process.Pid)
	os.WriteFile(os.Getenv("GOTEST_GROUP_PID"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o600)
}
