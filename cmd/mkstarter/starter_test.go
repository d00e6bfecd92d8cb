//lab:solution-only

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"tcplab/internal/starter"
)

// The starter is proved the way a course uses it: it builds, vets, the
// grader runs on it to the end and fails every lab check, and putting a
// lab's reference code back makes that lab's checks, and only those, pass.
//
// The tests here run in parallel: most of their time is spent waiting for
// the go command and for checks that time out on stubs, not computing.
// (TestStudentTreePassesGoTest lives in internal/starter, so that go test
// ./... runs it beside these, in another package with a time limit of its
// own.)
func TestStarter(t *testing.T) {
	if testing.Short() {
		t.Skip("generates, builds and grades a whole starter tree")
	}
	t.Parallel()
	start := time.Now()
	root, out, rep := generate(t, 4)

	// The stubs compile and are vet-clean. Only the packages with stubs
	// differ from the reference; internal/starter's
	// TestStudentTreePassesGoTest builds and tests every other package of
	// a starter tree (compiling them all here too cost a minute on a
	// loaded machine).
	stubbed := map[string]bool{}
	for _, f := range rep.Stripped {
		stubbed["./"+path.Dir(f)] = true
	}
	gocmd(t, out, append([]string{"vet"}, slices.Sorted(maps.Keys(stubbed))...)...)
	for _, f := range instructorsOnly {
		_, err := os.Stat(filepath.Join(out, f))
		require.True(t, os.IsNotExist(err), "%s is instructors' only and left out of the starter", f)
	}
	grader := filepath.Join(t.TempDir(), "grader")
	gocmd(t, out, "build", "-o", grader, "./grader")

	// Every lab check fails on the stubs. Some pass anyway: those that
	// test given code (outside the solution regions) or expect a zero
	// value. They are listed, and must stay a minority of each lab's.
	t.Logf("%v: generated, vetted, grader built", time.Since(start).Round(time.Second))
	res := grade(t, grader, out, "all")
	t.Logf("%v: graded all", time.Since(start).Round(time.Second))
	byLab := res.byLab()
	stubPass := map[string]bool{}
	for lab := range 5 {
		require.NotEmpty(t, byLab[lab], "lab %d has checks", lab)
		var passing []string
		for _, tc := range byLab[lab] {
			if tc.Status == "passed" {
				passing = append(passing, tc.Name)
				stubPass[tc.Name] = true
			}
		}
		t.Logf("lab %d: %d of %d checks pass on the bare stubs: %v", lab, len(passing), len(byLab[lab]), passing)
		require.Less(t, 4*len(passing), len(byLab[lab]), "lab %d: too many checks pass on stubs", lab)
	}

	// Lab 0's reference code back in place: lab 0 passes, lab 1 still fails.
	copyLabCode(t, root, out, 0)
	res = grade(t, grader, out, "check1")
	t.Logf("%v: graded check1 with lab 0 back", time.Since(start).Round(time.Second))
	byLab = res.byLab()
	for _, tc := range byLab[0] {
		require.Equal(t, "passed", tc.Status, "%s: %s", tc.Name, tc.Output)
	}
	for _, tc := range byLab[1] {
		if !stubPass[tc.Name] {
			require.Equal(t, "failed", tc.Status, "%s passes with lab 1 still stubbed", tc.Name)
		}
	}
	require.NotEmpty(t, byLab[1])
	require.Empty(t, byLab[2], "check1 stops at lab 1")
}

// instructorsOnly are the files a student's `go test ./...` must not run:
// instructors' tools, and tests that check the reference's own text (the
// mutant catalogue's edits, the official copy's sync).
var instructorsOnly = []string{
	"cmd/mkstarter",
	"internal/starter",
	"internal/mutants/mutants_test.go",
	"grader/mutants_test.go",
	"grader/reference_test.go",
}

// generate writes the starter through lab `through` to a fresh directory
// and returns the reference's root, that directory and what was done.
func generate(t *testing.T, through int) (root, out string, rep starter.Report) {
	t.Helper()
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	out = t.TempDir()
	rep, err = starter.Generate(starter.Options{Root: root, Out: out, Through: through})
	require.NoError(t, err)
	require.Positive(t, rep.Regions)
	t.Logf("starter through lab %d: %d files, %d regions stubbed in %v", through, rep.Files, rep.Regions, rep.Stripped)
	return root, out, rep
}

// copyLabCode puts the reference's code (not its tests) of one lab into
// the tree at out.
func copyLabCode(t *testing.T, root, out string, lab int) {
	t.Helper()
	dirs := mustGlob(t, filepath.Join(root, "labs", fmt.Sprintf("%d-*", lab)))
	for _, f := range mustGlob(t, filepath.Join(dirs[0], "*.go")) {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(out, "labs", filepath.Base(dirs[0]), filepath.Base(f)), b, 0o644))
	}
}

type results struct {
	Score float64
	Tests []struct {
		Name, Status, Output string
		Tags                 []string
	}
}

func (r results) byLab() map[int][]struct {
	Name, Status, Output string
	Tags                 []string
} {
	m := map[int][]struct {
		Name, Status, Output string
		Tags                 []string
	}{}
	for _, tc := range r.Tests {
		for lab := range 5 {
			for _, tag := range tc.Tags {
				if strings.HasPrefix(tag, "labs/"+string(rune('0'+lab))+"-") {
					m[lab] = append(m[lab], tc)
				}
			}
		}
	}
	return m
}

// grade runs the grader on the tree with short timeouts (stubs can make a
// test loop forever) and returns its Gradescope results.
//
// The sandbox is off: what is asserted here is the labs' own checks, and
// on stubs the checks against Linux could only fail, slowly (two thirds
// of this test's time went there). A whole stack against Linux is what
// internal/starter's TestStudentTreePassesGoTest runs.
func grade(t *testing.T, grader, dir, stage string) results {
	t.Helper()
	js := filepath.Join(t.TempDir(), "results.json")
	cmd := exec.Command(grader, "-timeout=3s", "-package-timeout=90s", "-benchtime=50ms", "-json", js, stage)
	cmd.Dir = dir
	cmd.Env = append(slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "TCPLAB_REQUIRE_SANDBOX=")
	}), "TCPLAB_SANDBOX_DISABLE=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "the grader fails a stubbed tree, and ends: %s", stderr.String())
	require.Equal(t, 1, exit.ExitCode(), "a failing check, not a grader error: %s", stderr.String())
	b, err := os.ReadFile(js)
	require.NoError(t, err)
	var r results
	require.NoError(t, json.Unmarshal(b, &r))
	t.Logf("grader %s: %s", stage, lastLine(stdout.String()))
	return r
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func gocmd(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go %s:\n%s", strings.Join(args, " "), out)
}

func mustGlob(t *testing.T, pat string) []string {
	m, err := filepath.Glob(pat)
	require.NoError(t, err)
	require.NotEmpty(t, m, pat)
	return m
}

// A course releases labs one at a time: the starter through lab 1 has
// labs 0 and 1 only, nothing that needs the later labs, and still builds.
func TestStarterThrough(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and builds a starter tree")
	}
	t.Parallel()
	_, out, _ := generate(t, 1)
	labs, err := filepath.Glob(filepath.Join(out, "labs/*"))
	require.NoError(t, err)
	var names []string
	for _, l := range labs {
		names = append(names, filepath.Base(l))
	}
	require.Equal(t, []string{"0-bytestream", "1-reassembler"}, names)
	official, err := filepath.Glob(filepath.Join(out, "grader/testdata/official/labs/*"))
	require.NoError(t, err)
	for _, o := range official {
		require.Contains(t, []string{"0-bytestream", "1-reassembler"}, filepath.Base(o), "official tests of an unreleased lab")
	}
	gocmd(t, out, "build", "./...")
}
