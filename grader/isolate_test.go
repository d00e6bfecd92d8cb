//lab:solution-only

package main

import (
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// With -run-as (Gradescope) the tests, and every line of lab code, run as
// an unprivileged user. The copy they run in is that user's to read and not
// to write: whatever lab code did, it could not replace the official tests
// of the packages graded after it, the harness, or the grader's own files.
func TestTheRunAsUserCannotWriteTheCopy(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("runs a command as another user: run as root")
	}
	if _, err := user.Lookup("nobody"); err != nil {
		t.Skip("no user nobody here")
	}
	root, err := findRoot("")
	require.NoError(t, err)
	g := &grading{cfg: config{runAs: "nobody"}}
	require.NoError(t, g.lookUpRunAs())
	official, err := g.officialFiles()
	require.NoError(t, err)
	// As grade makes it: a private temporary directory, shared.
	tmp, err := os.MkdirTemp("", "tcplab-grade-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(tmp) })
	require.NoError(t, overlayOfficial(root, tmp, official))
	require.NoError(t, g.shareCopy(tmp))

	as := func(script string, args ...string) error {
		cmd := exec.Command("sh", append([]string{"-c", script, "sh"}, args...)...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: g.credential}
		return cmd.Run()
	}
	official1 := filepath.Join(tmp, "labs/1-reassembler/reassembler_test.go")
	require.NoError(t, as(`cat "$1" >/dev/null`, official1), "the user the tests run as reads the copy")
	for _, p := range []string{
		"labs/1-reassembler/reassembler_test.go", // another lab's official tests
		"labs/1-reassembler/forged_test.go",      // a test of its own beside them
		"labs/0-bytestream/bytestream.go",        // its own lab, after the check
		"internal/harness/harness.go",
		"grader/manifest.json",
		"go.mod",
	} {
		err := as(`echo forged >>"$1"`, filepath.Join(tmp, p))
		require.Error(t, err, "the user the tests run as wrote %s", p)
	}
	require.Error(t, as(`rm -f "$1"`, official1))
	_, err = os.Stat(official1)
	require.NoError(t, err, "the user the tests run as removed an official test")
}
