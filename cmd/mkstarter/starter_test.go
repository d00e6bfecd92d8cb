//lab:solution-only

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"tcplab/internal/starter"
)

// The starter is proved the way a course uses it: it builds, vets, the
// grader runs on it to the end and fails every lab check, and putting a
// lab's reference code back makes that lab's checks, and only those, pass.
func TestStarter(t *testing.T) {
	if testing.Short() {
		t.Skip("generates, builds and grades a whole starter tree")
	}
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	out := t.TempDir()
	rep, err := starter.Generate(starter.Options{Root: root, Out: out, Through: 4})
	require.NoError(t, err)
	require.Positive(t, rep.Regions)
	t.Logf("starter: %d files, %d regions stubbed in %v", rep.Files, rep.Regions, rep.Stripped)

	gocmd(t, out, "build", "./...")
	gocmd(t, out, "vet", "./...")
	_, err = os.Stat(filepath.Join(out, "cmd/mkstarter"))
	require.True(t, os.IsNotExist(err), "instructors' tools are left out of the starter")
	grader := filepath.Join(t.TempDir(), "grader")
	gocmd(t, out, "build", "-o", grader, "./grader")

	// Every lab check fails on the stubs. Some pass anyway: those that
	// test given code (outside the solution regions) or expect a zero
	// value. They are listed, and must stay a minority of each lab's.
	res := grade(t, grader, out, "all")
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
	for _, f := range mustGlob(t, filepath.Join(root, "labs/0-bytestream/*.go")) {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(out, "labs/0-bytestream", filepath.Base(f)), b, 0o644))
	}
	res = grade(t, grader, out, "check1")
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
func grade(t *testing.T, grader, dir, stage string) results {
	t.Helper()
	js := filepath.Join(t.TempDir(), "results.json")
	cmd := exec.Command(grader, "-timeout=3s", "-package-timeout=90s", "-benchtime=50ms", "-json", js, stage)
	cmd.Dir = dir
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
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	out := t.TempDir()
	_, err = starter.Generate(starter.Options{Root: root, Out: out, Through: 1})
	require.NoError(t, err)
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
