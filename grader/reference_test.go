//lab:solution-only

package main

// Tests that check the reference tree itself: its text and its copy of the
// official tests. A student's tree is written differently (that is the
// point), so these are instructors' tests and the starter leaves them out.

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOfficialCopyIsCurrent(t *testing.T) {
	root, err := findRoot("")
	require.NoError(t, err)
	tree, err := selectFiles(os.DirFS(root))
	require.NoError(t, err)
	sub, err := fs.Sub(embedded, officialRoot)
	require.NoError(t, err)
	copied, err := selectFiles(sub)
	require.NoError(t, err)
	var stale []string
	for p, b := range tree {
		if c, ok := copied[p]; !ok || !bytes.Equal(b, c) {
			stale = append(stale, p)
		}
	}
	for p := range copied {
		if _, ok := tree[p]; !ok {
			stale = append(stale, p+" (gone from the tree)")
		}
	}
	slices.Sort(stale)
	if len(stale) > 0 {
		t.Fatalf("the grader's official tests are out of date; run `go run ./grader sync-official`:\n%v", stale)
	}
}

// Editing a test cannot change the grade under -official: a lab with a bug
// and a test file rewritten to pass still fails, and the grader says the
// test file differs.
func TestOfficialOverridesEditedTests(t *testing.T) {
	if testing.Short() {
		t.Skip("copies the tree and runs the byte stream's tests")
	}
	root, err := findRoot("")
	require.NoError(t, err)
	tree := t.TempDir()
	require.NoError(t, overlayOfficial(root, tree, nil))
	lab := filepath.Join(tree, "labs/0-bytestream")
	src, err := os.ReadFile(filepath.Join(lab, "bytestream.go"))
	require.NoError(t, err)
	buggy := strings.Replace(string(src), "return r.closed && r.pushed == r.popped", "return r.closed", 1)
	require.NotEqual(t, string(src), buggy, "the bug applies")
	require.NoError(t, os.WriteFile(filepath.Join(lab, "bytestream.go"), []byte(buggy), 0o644))
	tests, err := filepath.Glob(filepath.Join(lab, "*_test.go"))
	require.NoError(t, err)
	for _, f := range tests {
		require.NoError(t, os.Remove(f))
	}
	require.NoError(t, os.WriteFile(filepath.Join(lab, "bytestream_test.go"),
		[]byte("package bytestream\n\nimport \"testing\"\n\nfunc TestByteStreamCloseAndFinish(t *testing.T) {}\n"), 0o644))

	var stdout, stderr bytes.Buffer
	code := run([]string{"-dir", tree, "-official", "-run", "TestByteStreamCloseAndFinish", "check0"}, &stdout, &stderr)
	require.Equal(t, 1, code, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	require.Contains(t, stdout.String(), "labs/0-bytestream/bytestream_test.go differs from the official tests")
	require.Contains(t, stdout.String(), "✗ a closed stream finishes only once everything is popped")
}
