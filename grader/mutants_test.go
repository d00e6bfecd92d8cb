//lab:solution-only

// Instructors' tests: the catalogue's edits are written against the
// reference's text, which a student's code need not share, so the starter
// leaves these out.

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"tcplab/internal/mutants"
)

const bytestreamGo = "labs/0-bytestream/bytestream.go"

// catalogued returns the catalogue's mutant called name.
func catalogued(t *testing.T, name string) mutants.Mutant {
	t.Helper()
	i := slices.IndexFunc(mutants.Catalogue, func(m mutants.Mutant) bool { return m.Name == name })
	require.GreaterOrEqual(t, i, 0, "no mutant %s in the catalogue", name)
	return mutants.Catalogue[i]
}

func lab0(name, old, new string) mutants.Mutant {
	return mutants.Mutant{Name: name, Lab: 0, Why: name, File: bytestreamGo, Edits: []mutants.Edit{{Old: old, New: new}}}
}

// runMutantsJSON runs `grader mutants` over catalogue and returns its exit
// status, its output and its JSON results by mutant name.
func runMutantsJSON(t *testing.T, catalogue []mutants.Mutant, args ...string) (int, string, map[string]mutantResult) {
	t.Helper()
	results := filepath.Join(t.TempDir(), "mutants.json")
	var stdout, stderr bytes.Buffer
	code := mutantsMain(append([]string{"-json", results}, args...), &stdout, &stderr, catalogue)
	out := stdout.String() + stderr.String()
	b, err := os.ReadFile(results)
	require.NoError(t, err, "no results written; output:\n%s", out)
	var rs []mutantResult
	require.NoError(t, json.Unmarshal(b, &rs))
	byName := map[string]mutantResult{}
	for _, r := range rs {
		byName[r.Name] = r
	}
	return code, out, byName
}

// The runner's verdicts on the reference: real bugs are caught, by name; an
// edit that does not apply and a mutant that does not build are errors in
// the catalogue, not catches; a "bug" that changes only a comment survives,
// and any of these fails the run.
func TestMutantsVerdicts(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the byte stream's tests against five mutants")
	}
	catalogue := []mutants.Mutant{
		catalogued(t, "push-after-close"),
		catalogued(t, "popped-counts-pushed"),
		lab0("not-in-the-file", "this text is not in bytestream.go", "x"),
		lab0("does-not-build", "	return r.popped\n", "	return \"popped\"\n"),
		lab0("comment-only", "// BytesPopped is the total number of bytes ever popped.", "// BytesPopped: every byte popped so far."),
	}
	code, out, rs := runMutantsJSON(t, catalogue, "-j", "2")
	require.Equal(t, 1, code, out)

	type verdict struct{ Outcome, Check string }
	got := map[string]verdict{}
	for name, r := range rs {
		got[name] = verdict{r.Outcome, r.Check}
	}
	want := map[string]verdict{
		"push-after-close":     {caught, "TestByteStreamCloseAndFinish/a push after close is ignored"},
		"popped-counts-pushed": {caught, "TestByteStreamBasics/pushed bytes are buffered until popped"},
		"not-in-the-file":      {broken, ""},
		"does-not-build":       {broken, ""},
		"comment-only":         {survived, ""},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("verdicts (-want +got):\n%s\noutput:\n%s", d, out)
	}
	require.Equal(t, "✗ 4. expect 2 bytes pushed", rs["push-after-close"].Message)
	require.Contains(t, rs["not-in-the-file"].Error, "does not apply")
	require.Contains(t, rs["does-not-build"].Error, "does not compile")
	require.Contains(t, out, "comment-only (lab 0) SURVIVED")
	require.Contains(t, out, "mutants: 2/5 caught, 1 survived, 2 errors in the catalogue")
}

// -tree measures another tree's tests against the reference's mutants: a
// byte stream test file that checks nothing lets the bug through, and the
// grader's official tests, given -official, catch it again.
func TestMutantsMeasureAnotherTreesTests(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the byte stream's tests against a mutant twice")
	}
	tree := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(tree, "go.mod"), []byte("module tcplab\n\ngo 1.26.0\n"), 0o644))
	lab := filepath.Join(tree, "labs/0-bytestream")
	require.NoError(t, os.MkdirAll(lab, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(lab, "bytestream_test.go"),
		[]byte("package bytestream_test\n\nimport \"testing\"\n\nfunc TestNothing(t *testing.T) {}\n"), 0o644))
	catalogue := []mutants.Mutant{catalogued(t, "push-after-close")}

	code, out, rs := runMutantsJSON(t, catalogue, "-tree", tree)
	require.Equal(t, 1, code, out)
	require.Equal(t, survived, rs["push-after-close"].Outcome, out)
	require.Equal(t, 1, rs["push-after-close"].Checks, "only the tree's own test ran")

	var stdout, stderr bytes.Buffer
	code = mutantsMain([]string{"-official", "-markdown"}, &stdout, &stderr, catalogue)
	require.Equal(t, 0, code, stderr.String())
	require.Contains(t, stderr.String(), "mutants: 1/1 caught")
	require.Equal(t, "| mutant | lab | the bug | caught by |\n|---|---|---|---|\n"+
		"| `push-after-close` | 0 | Push still accepts bytes after Close | "+
		"`TestByteStreamCloseAndFinish/a push after close is ignored`: ✗ 4. expect 2 bytes pushed |\n", stdout.String())
}

// The copy a mutant is tested in holds every package the labs import from
// this module, so a lab that starts importing another internal package
// fails here, not as 67 baffling errors.
func TestMutantDirsHoldEveryDependency(t *testing.T) {
	root, err := findRoot("")
	require.NoError(t, err)
	cmd := exec.Command("go", "list", "-deps", "-test", "-f", "{{.ImportPath}}", "./labs/...")
	cmd.Dir = root
	out, err := cmd.Output()
	require.NoError(t, err)
	for _, p := range strings.Fields(string(out)) {
		dir, ok := strings.CutPrefix(p, "tcplab/")
		if !ok {
			continue
		}
		require.True(t, slices.ContainsFunc(mutantDirs, func(d string) bool { return dir == d || strings.HasPrefix(dir, d+"/") }),
			"the labs import %s, which the mutants' copy (%v) leaves out", p, mutantDirs)
	}
}

func TestFailureLine(t *testing.T) {
	cases := []struct{ name, detail, want string }{
		{"the harness's failing step", "steps so far:\n  1. push \"ab\"\n✗ 2. expect 2 bytes pushed\n      (-want +got)", "✗ 2. expect 2 bytes pushed"},
		{"testify's error", "x_test.go:9:\nError: Not equal:\n  expected: 10", "Not equal: expected: 10"},
		{"a randomized test's seed is skipped", "extra_test.go:175: seed 1\nextra_test.go:263: seed 1, round 9: beyond the window", "seed 1, round 9: beyond the window"},
		{"a panic", "panic: runtime error: index out of range\n  at bytestream.go:50", "panic: runtime error: index out of range"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, failureLine(c.detail))
		})
	}
}
