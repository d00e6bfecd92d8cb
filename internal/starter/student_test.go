//lab:solution-only

package starter

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A student's tree is written differently from the reference: `go test
// ./...`, the README's own test command, must pass on it wherever the
// student's labs pass. Here lab 0 is a correct byte stream built on a
// plain slice (nothing like the reference's ring buffer) and labs 1-4 are
// the reference's, and every package's tests pass, the checks against
// Linux included where the sandbox can run.
func TestStudentTreePassesGoTest(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test ./... over a whole student tree")
	}
	t.Parallel()
	start := time.Now()
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	out := t.TempDir()
	_, err = Generate(Options{Root: root, Out: out, Through: 4})
	require.NoError(t, err)
	own, err := os.ReadFile("testdata/bytestream_slice.go")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(out, "labs/0-bytestream/bytestream.go"), own, 0o644))
	for lab := 1; lab <= 4; lab++ {
		copyLabCode(t, root, out, lab)
	}
	cmd := exec.Command("go", "test", "-count=1", "./...")
	cmd.Dir = out
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go test ./... fails on a correct student tree: %v\n%s", err, failures(string(b)))
	}
	t.Logf("go test ./... on the student tree passed in %v:\n%s", time.Since(start).Round(time.Second), b)
}

// copyLabCode puts the reference's code (not its tests) of one lab into
// the tree at out.
func copyLabCode(t *testing.T, root, out string, lab int) {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(root, "labs", fmt.Sprintf("%d-*", lab)))
	require.NoError(t, err)
	require.Len(t, dirs, 1)
	files, err := filepath.Glob(filepath.Join(dirs[0], "*.go"))
	require.NoError(t, err)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(out, "labs", filepath.Base(dirs[0]), filepath.Base(f)), b, 0o644))
	}
}

// failures keeps what says why go test failed: the FAIL lines and the
// output of failing tests, not the passing packages' "ok" lines.
func failures(out string) string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(l, "ok ") && !strings.HasPrefix(l, "?  ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// An instructor releases the labs one at a time (mkstarter -through N).
// Each release must grade what it releases: its stages run, a check that
// needs a later lab's code (webget over Linux's TCP lives with the stack)
// is skipped with that reason, a stage not yet released is refused in one
// line, and `go test ./...` passes once the released labs are done.
func TestALabByLabReleaseGradesWhatItReleases(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and grades a student tree")
	}
	t.Parallel()
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	out := t.TempDir()
	_, err = Generate(Options{Root: root, Out: out, Through: 0})
	require.NoError(t, err)
	copyLabCode(t, root, out, 0)
	run := func(args ...string) (string, int) {
		cmd := exec.Command("go", args...)
		cmd.Dir = out
		b, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return string(b), exit.ExitCode()
		}
		require.NoError(t, err, "%s", b)
		return string(b), 0
	}

	got, code := run("test", "-count=1", "./...")
	require.Zero(t, code, "go test ./... on a finished lab 0 release:\n%s", failures(got))

	got, code = run("run", "./grader", "check0")
	require.Zero(t, code, "check0 on a finished lab 0 release:\n%s", got)
	require.Contains(t, got, "comes with a later lab's release")
	require.Regexp(t, `check0: (\d+)/(\d+) passed, 1 skipped`, got)

	got, code = run("run", "./grader", "check1")
	require.NotZero(t, code, "check1 before lab 1 is released:\n%s", got)
	require.Contains(t, got, "cannot grade: check1 needs labs/1-reassembler")
}
