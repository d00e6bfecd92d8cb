//lab:solution-only

package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The Gradescope path, end to end, as an instructor meets it: the zip of a
// stage built by make_autograder.sh, laid out as Gradescope lays it out
// (AUTOGRADER_ROOT with source/, submission/ and results/), the grader
// built by setup.sh (with the Go this test runs with, and the modules this
// machine already has, instead of downloading them), then run_autograder
// on three submissions: the reference's own labs score 100, the bare
// starter scores what the grader gives it locally, and a submission without
// labs/ scores 0 with one line saying what to upload.
//
// It needs root (setup.sh makes the user the students' code runs as) and
// zip, and takes many minutes (a cold build as setup.sh does it, and stage
// all runs every check against Linux), so it runs only when
// TCPLAB_GRADESCOPE_E2E is set, as .ci/run sets it. The stages are check0,
// check2 and all, or the space-separated list in TCPLAB_GRADESCOPE_STAGES
// (check1 check3 check4 to measure the rest for grader/README.md).
func TestGradescopeEndToEnd(t *testing.T) {
	if os.Getenv("TCPLAB_GRADESCOPE_E2E") == "" {
		// Minutes of building and grading, more than go test ./... gives
		// a package: .ci/run runs it on its own line.
		t.Skip("builds three autograders and grades nine submissions: set TCPLAB_GRADESCOPE_E2E=1 (.ci/run does)")
	}
	if dl, ok := t.Deadline(); ok && time.Until(dl) < 30*time.Minute {
		// A timeout panics past the cleanups, leaving the user and the
		// autograder root behind: better not to start.
		t.Skipf("needs -timeout of 30m or more (has %v)", time.Until(dl).Round(time.Second))
	}
	if os.Geteuid() != 0 {
		t.Skip("setup.sh makes a user for the students' code: run as root")
	}
	for _, tool := range []string{"zip", "runuser", "useradd", "pkill", "pgrep", "setsid"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (apt-get install zip util-linux passwd procps)", tool)
		}
	}
	root, err := findRoot("")
	require.NoError(t, err)
	if _, err := os.Stat(filepath.Join(root, ".git")); err != nil {
		t.Skip("make_autograder.sh builds the starter from a git checkout of the reference")
	}
	modcache := goEnv(t, "GOMODCACHE")

	// One autograder root for every stage, as one Gradescope image would be
	// rebuilt: the build cache warmed for the first stage serves the rest.
	// Not t.TempDir: the student's user must reach its build cache in it.
	ag, err := os.MkdirTemp("", "tcplab-ag-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(ag, 0o755))
	t.Cleanup(func() { _ = os.RemoveAll(ag) })
	student := fmt.Sprintf("tcplab-ag%d", os.Getpid()%100000)
	t.Cleanup(func() {
		_ = exec.Command("pkill", "-KILL", "-u", student).Run()
		_ = exec.Command("userdel", student).Run()
		// The module cache is read-only, to root too, until made writable.
		_ = exec.Command("chmod", "-R", "u+w", ag).Run()
	})
	env := append(os.Environ(),
		"AUTOGRADER_ROOT="+ag,
		"TCPLAB_GOROOT="+goEnv(t, "GOROOT"),
		"TCPLAB_STUDENT_USER="+student,
		"GOPROXY=file://"+filepath.Join(modcache, "cache", "download"),
		"GOSUMDB=off", "GOFLAGS=", "GOWORK=off",
	)
	sh := func(dir string, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s %v:\n%s", name, args, out)
		return string(out)
	}

	stages := []string{"check0", "check2", "all"}
	if s := os.Getenv("TCPLAB_GRADESCOPE_STAGES"); s != "" {
		stages = strings.Fields(s)
	}
	for _, stage := range stages {
		t.Run(stage, func(t *testing.T) {
			zipPath := filepath.Join(t.TempDir(), stage+".zip")
			sh(root, "grader/gradescope/make_autograder.sh", stage, zipPath)
			src := filepath.Join(ag, "source")
			require.NoError(t, os.RemoveAll(src))
			unzip(t, zipPath, src)
			sh(src, filepath.Join(src, "setup.sh"))

			grade := func(name string, fill func(sub string)) gsResults {
				t.Helper()
				sub, res := filepath.Join(ag, "submission"), filepath.Join(ag, "results")
				require.NoError(t, os.RemoveAll(sub))
				require.NoError(t, os.RemoveAll(res))
				require.NoError(t, os.MkdirAll(sub, 0o755))
				require.NoError(t, os.MkdirAll(res, 0o755))
				fill(sub)
				out := sh(ag, filepath.Join(src, "run_autograder"))
				b, err := os.ReadFile(filepath.Join(res, "results.json"))
				require.NoError(t, err, "run_autograder wrote no results for the %s submission:\n%s", name, out)
				var r gsResults
				require.NoError(t, json.Unmarshal(b, &r), "%s", b)
				t.Logf("%s %s: score %.2f", stage, name, r.Score)
				return r
			}

			// A process of the students' user, in a session of its own, as
			// a submission's code would leave one behind to rewrite
			// results.json: run_autograder ends it before it publishes.
			// Not sh: CombinedOutput would wait for the sleep, which
			// holds its output.
			plant := exec.Command("runuser", "-u", student, "--", "setsid", "-f", "sleep", "600")
			require.NoError(t, plant.Run())
			planted, _ := exec.Command("pgrep", "-u", student).Output()
			require.NotEmpty(t, planted, "the planted process runs")
			honest := grade("honest", func(sub string) { copyDir(t, filepath.Join(root, "labs"), filepath.Join(sub, "labs")) })
			left, _ := exec.Command("pgrep", "-a", "-u", student).Output()
			require.Empty(t, string(left), "processes of %s outlived run_autograder", student)
			require.Equal(t, 100.0, honest.Score, "the reference's labs score full marks:\n%s", failedTests(honest))

			empty := grade("empty", func(sub string) {
				require.NoError(t, os.WriteFile(filepath.Join(sub, "README.md"), []byte("hello\n"), 0o644))
			})
			require.Zero(t, empty.Score)
			require.Empty(t, empty.Tests)
			require.Equal(t, 1, strings.Count(strings.TrimSpace(empty.Output), "\n")+1, "one line: %q", empty.Output)
			require.Contains(t, empty.Output, "upload your whole tcplab repository")

			bare := grade("bare", func(sub string) { copyDir(t, filepath.Join(src, "labs"), filepath.Join(sub, "tcplab", "labs")) })
			local := filepath.Join(t.TempDir(), "local.json")
			cmd := exec.Command(filepath.Join(ag, "grader"), "-official", "-json", local, stage)
			cmd.Dir, cmd.Env = src, env
			_ = cmd.Run() // exit status 1: the starter fails
			b, err := os.ReadFile(local)
			require.NoError(t, err)
			var want gsResults
			require.NoError(t, json.Unmarshal(b, &want))
			require.Less(t, bare.Score, 100.0)
			t.Logf("%s bare locally: score %.2f", stage, want.Score)
			require.Equal(t, want.Score, bare.Score, "the bare starter scores on Gradescope what it scores locally")
		})
	}
}

func goEnv(t *testing.T, name string) string {
	out, err := exec.Command("go", "env", name).Output()
	require.NoError(t, err)
	return strings.TrimSpace(string(out))
}

func failedTests(r gsResults) string {
	var b strings.Builder
	for _, tc := range r.Tests {
		if tc.Score < tc.MaxScore {
			fmt.Fprintf(&b, "%s: %s\n", tc.Name, tc.Output)
		}
	}
	return b.String() + r.Output
}

// unzip unpacks a zip as Gradescope does, keeping the scripts executable.
func unzip(t *testing.T, zipPath, dst string) {
	t.Helper()
	zr, err := zip.OpenReader(zipPath)
	require.NoError(t, err)
	defer zr.Close()
	for _, f := range zr.File {
		p := filepath.Join(dst, filepath.FromSlash(f.Name))
		require.True(t, strings.HasPrefix(p, dst+string(filepath.Separator)), f.Name)
		if f.FileInfo().IsDir() {
			require.NoError(t, os.MkdirAll(p, 0o755))
			continue
		}
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		rc, err := f.Open()
		require.NoError(t, err)
		var buf bytes.Buffer
		_, err = io.Copy(&buf, rc)
		rc.Close()
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(p, buf.Bytes(), f.Mode().Perm()|0o644))
	}
}

// copyDir copies the regular files of a tree.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	require.NoError(t, filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	}))
}
