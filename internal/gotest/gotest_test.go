package gotest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

type outcome struct {
	Name   string
	Status Status
}

func outcomes(rs []Result) []outcome {
	var os []outcome
	for _, r := range rs {
		os = append(os, outcome{r.Name, r.Status})
	}
	return os
}

func TestRun(t *testing.T) {
	t.Run("a panic and an endless loop fail one test each and the rest still runs", func(t *testing.T) {
		rs, err := Run(context.Background(), Options{Dir: "testdata/mod", Package: "./crash", Timeout: 2 * time.Second, Budget: time.Minute})
		require.NoError(t, err)
		want := []outcome{
			{"TestGroup/first_passes", Pass},
			{"TestGroup/nil_map_panics", Fail},
			{"TestGroup/after_the_panic", Pass},
			{"TestGroup/loops_forever", Fail},
			{"TestGroup/fails", Fail},
			{"TestLater", Pass},
			{"TestSkipped", Skip},
		}
		if d := cmp.Diff(want, outcomes(rs)); d != "" {
			t.Fatalf("(-want +got)\n%s", d)
		}
		byName := map[string]Result{}
		for _, r := range rs {
			byName[r.Name] = r
		}
		require.Contains(t, byName["TestGroup/nil_map_panics"].Output, "assignment to entry in nil map")
		require.Contains(t, byName["TestGroup/loops_forever"].Output, "timed out")
		require.Contains(t, byName["TestGroup/fails"].Output, "✗ 2. expect x")
		require.Contains(t, byName["TestSkipped"].Output, "needs the sandbox")
	})
	t.Run("a build error is an error with the compiler's message", func(t *testing.T) {
		_, err := Run(context.Background(), Options{Dir: "testdata/mod", Package: "./broken", Timeout: time.Minute})
		var be *BuildError
		require.True(t, errors.As(err, &be), "got %v", err)
		require.Contains(t, be.Output, "undefined: undefined")
	})
	t.Run("benchmarks report their metrics", func(t *testing.T) {
		rs, err := Run(context.Background(), Options{Dir: "testdata/mod", Package: "./bench", Bench: "Speed", Args: []string{"-benchtime=10x"}, Timeout: time.Minute})
		require.NoError(t, err)
		var names []string
		for _, r := range rs {
			names = append(names, r.Name)
			require.True(t, strings.Contains(r.Bench, "1.500 Gbit/s"), "%s: %q", r.Name, r.Bench)
		}
		require.Equal(t, []string{"BenchmarkSpeed/pop=0", "BenchmarkSpeed/pop=6"}, names)
	})
}

func TestRunStartup(t *testing.T) {
	t.Run("os.Exit(0) in a test fails it and the rest still runs", func(t *testing.T) {
		var heard []Progress
		rs, err := Run(context.Background(), Options{Dir: "testdata/mod", Package: "./hang", Timeout: 10 * time.Second, Budget: time.Minute,
			Progress: func(p Progress) { heard = append(heard, p) }})
		require.NoError(t, err)
		want := []outcome{{"TestExitZero", Fail}, {"TestAfter", Pass}}
		if d := cmp.Diff(want, outcomes(rs)); d != "" {
			t.Fatalf("(-want +got)\n%s", d)
		}
		// Each child process is first built, then runs its tests.
		require.NotEmpty(t, heard)
		require.Equal(t, Progress{Building: true}, heard[0])
		var ran []string
		for _, p := range heard {
			if !p.Building && p.Running != "" && !slices.Contains(ran, p.Running) {
				ran = append(ran, p.Running)
			}
		}
		require.Equal(t, []string{"TestExitZero", "TestAfter"}, ran)
	})
	t.Run("a test that exits (log.Fatal) fails alone and the tests after it still run", func(t *testing.T) {
		rs, err := Run(context.Background(), Options{Dir: "testdata/mod", Package: "./exit", Timeout: 10 * time.Second, Budget: time.Minute})
		require.NoError(t, err)
		want := []outcome{{"TestCallsLogFatal", Fail}, {"TestAfter", Pass}}
		if d := cmp.Diff(want, outcomes(rs)); d != "" {
			t.Fatalf("(-want +got)\n%s", d)
		}
		require.Contains(t, rs[0].Output, "lab code gave up")
		require.Contains(t, rs[0].Output, "exited during this test")
	})
	t.Run("a package that hangs before any test is an error once its budget is spent", func(t *testing.T) {
		t.Setenv("GOTEST_HANG", "1")
		_, err := Run(context.Background(), Options{Dir: "testdata/mod", Package: "./hang", Timeout: time.Second, Budget: 5 * time.Second})
		require.ErrorContains(t, err, "no test started")
	})
	t.Run("a binary that starts no test within a test's timeout ends before the budget", func(t *testing.T) {
		t.Setenv("GOTEST_HANG", "1")
		// The context only bounds a failure: waiting out the 10-minute
		// budget would end with the context's error instead.
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		_, err := Run(ctx, Options{Dir: "testdata/mod", Package: "./hang", Timeout: 2 * time.Second, Budget: 10 * time.Minute})
		require.ErrorContains(t, err, "no test started in the 2s the test binary ran")
	})
}

func TestRunEndsWhenTheBinaryDoes(t *testing.T) {
	// The test leaves `sleep 60` behind, in a session of its own, holding
	// the binary's output: the go command waits for it; the runner must
	// not. The deadline only bounds a failure: a run that waits for the
	// orphan takes its 60 s and fails the elapsed check below.
	pidFile := filepath.Join(t.TempDir(), "pid")
	t.Setenv("GOTEST_ORPHAN_PID", pidFile)
	t.Cleanup(func() {
		if b, err := os.ReadFile(pidFile); err == nil {
			if pid, err := strconv.Atoi(string(b)); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rs, err := Run(ctx, Options{Dir: "testdata/mod", Package: "./orphan", Timeout: time.Minute, Budget: 2 * time.Minute})
	require.NoError(t, err)
	want := []outcome{{"TestLeavesAProcessBehind", Pass}, {"TestAfter", Pass}}
	if d := cmp.Diff(want, outcomes(rs)); d != "" {
		t.Fatalf("(-want +got)\n%s", d)
	}
	b, err := os.ReadFile(pidFile)
	require.NoError(t, err, "the test started its orphan")
	pid, err := strconv.Atoi(string(b))
	require.NoError(t, err)
	require.NoError(t, syscall.Kill(pid, 0), "the orphan is still alive, so the run did not wait for it to end")
}

// Locally the runner is all that stands between a test's processes and the
// grader's next run: whatever a test left in its run's process group is
// gone when Run returns, however the run ended.
func TestRunEndsItsProcessGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	t.Setenv("GOTEST_GROUP_PID", pidFile)
	var pid int
	t.Cleanup(func() {
		if pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	rs, err := Run(context.Background(), Options{Dir: "testdata/mod", Package: "./group", Timeout: time.Minute, Budget: 2 * time.Minute})
	require.NoError(t, err)
	require.Equal(t, []outcome{{"TestLeavesAProcessInTheGroup", Pass}}, outcomes(rs))
	b, err := os.ReadFile(pidFile)
	require.NoError(t, err, "the test started its process")
	pid, err = strconv.Atoi(string(b))
	require.NoError(t, err)
	// SIGKILL was sent before Run returned: the process dies as soon as
	// it is scheduled (a zombie at most, then, waiting to be reaped). The
	// deadline only bounds a failure: a process that was never signalled
	// sleeps its 60 s.
	for deadline := time.Now().Add(30 * time.Second); !killed(pid) && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	b, _ = os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	require.True(t, killed(pid), "pid %d, left in the run's process group, outlived the run: %s", pid, b)
}

// killed reports whether process pid is gone or dead (a zombie).
func killed(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i >= 0 && len(stat) > i+2 && (stat[i+2] == 'Z' || stat[i+2] == 'X')
}

// A flood of output costs the runner a bounded amount of memory, and the
// tests after it still report.
func TestFloodIsBounded(t *testing.T) {
	rs, err := Run(context.Background(), Options{Dir: "testdata/mod", Package: "./flood", Timeout: 2 * time.Minute, Budget: 3 * time.Minute})
	require.NoError(t, err)
	require.Equal(t, []outcome{{"TestFlood", Pass}, {"TestLater", Pass}}, outcomes(rs))
	out := rs[0].Output
	require.LessOrEqual(t, len(out), maxOutput+len(cutNote)+1)
	require.True(t, strings.Contains(out, "output cut"), "%d bytes kept, ending %q", len(out), out[max(0, len(out)-200):])
}

// Many tests that each flood cost the runner a bounded amount together, not
// a bounded amount each: 24 tests print 1.5 MiB apiece, and the run keeps
// at most maxRunOutput of it all.
func TestFloodOfManyTestsIsBounded(t *testing.T) {
	rs, err := Run(context.Background(), Options{Dir: "testdata/mod", Package: "./floodmany", Timeout: 2 * time.Minute, Budget: 3 * time.Minute})
	require.NoError(t, err)
	require.Len(t, rs, 25)
	kept := 0
	for _, r := range rs {
		require.Equal(t, Pass, r.Status, r.Name)
		kept += len(r.Output)
	}
	require.LessOrEqual(t, kept, maxRunOutput+len(rs)*len(runCutNote))
	last := rs[len(rs)-2].Output // TestFlood/23
	require.True(t, strings.Contains(last, "the package printed more than 16 MiB"), "%d bytes kept of all, %d of the last flood", kept, len(last))
}
