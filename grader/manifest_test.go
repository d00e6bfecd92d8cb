//lab:solution-only

package main

import (
	"io/fs"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"tcplab/internal/gotest"
)

// The manifest must list the checks of today's official tests and stage
// table: `go run ./grader sync-official` rewrites it.
func TestManifestIsCurrent(t *testing.T) {
	sub, err := fs.Sub(embedded, officialRoot)
	require.NoError(t, err)
	official, err := selectFiles(sub)
	require.NoError(t, err)
	require.Equal(t, manifestSource(official), theManifest.Source,
		"grader/manifest.json was listed from other official tests or another stage table: run `go run ./grader sync-official` (as root: it runs the reference's checks)")
	for _, s := range suites {
		require.NotEmpty(t, theManifest.checks(s), "the manifest lists no checks for %q", s.name)
	}
}

// Every stage is worth exactly 100 points, and a full pass scores them all.
func TestEveryStageTotals100(t *testing.T) {
	for name, n := range stageNames {
		t.Run(name, func(t *testing.T) {
			g := &grading{cfg: config{stage: n, stageName: name}}
			for _, s := range stageSuites(n) {
				for _, c := range theManifest.checks(s) {
					g.checks = append(g.checks, check{suite: s, name: c, status: gotest.Pass})
				}
			}
			r := g.results()
			var cents int
			for _, tc := range r.Tests {
				require.Equal(t, round2(tc.MaxScore), tc.MaxScore, "%s: a whole number of hundredths", tc.Name)
				require.Positive(t, tc.MaxScore, tc.Name)
				cents += int(tc.MaxScore*100 + 0.5)
			}
			require.Equal(t, 10000, cents, "the max_scores add up to 100.00")
			require.Equal(t, 100.0, r.Score, "a full pass")

			// A passing check whose name the manifest does not hold earns
			// nothing, in a full pass or a failing one.
			s := stageSuites(n)[0]
			g.checks = append(g.checks, check{suite: s, name: "TestForged", status: gotest.Pass})
			forged := g.results()
			require.Equal(t, 100.0, forged.Score, "a forged name adds nothing to a full pass")
			last := forged.Tests[len(forged.Tests)-1]
			require.Equal(t, 0.0, last.MaxScore, last.Name)
			require.Equal(t, 0.0, last.Score, last.Name)

			// One check failing costs exactly its own points.
			g.checks[0].status = gotest.Fail
			require.Equal(t, round2(100-g.results().Tests[0].MaxScore), g.results().Score)
		})
	}
}

func TestApportion(t *testing.T) {
	cases := []struct {
		total   int
		weights []float64
		want    []int
	}{
		{10000, []float64{1, 1, 1}, []int{3334, 3333, 3333}},
		{10000, []float64{18, 2, 2}, []int{8182, 909, 909}},
		{7, []float64{1, 1, 1, 1, 1, 1, 1, 1}, []int{1, 1, 1, 1, 1, 1, 1, 0}},
		{5, nil, []int{}},
		{5, []float64{0, 0}, []int{0, 0}},
	}
	for _, c := range cases {
		got := apportion(c.total, c.weights)
		require.Equal(t, c.want, got, "apportion(%d, %v)", c.total, c.weights)
	}
}

// complete makes the manifest, not the run, say what the checks are.
func TestComplete(t *testing.T) {
	s := suite{name: "byte stream", pkg: "labs/0-bytestream"}
	bench := suite{name: "speed", pkg: "labs/0-bytestream", bench: "^BenchmarkB$"}
	pass := func(s suite, n string) check { return check{suite: s, name: n, status: gotest.Pass} }
	fail := func(s suite, n, d string) check { return check{suite: s, name: n, status: gotest.Fail, detail: d} }
	type want struct {
		name   string
		status gotest.Status
		detail string
	}
	cases := []struct {
		name     string
		s        suite
		official []string
		got      []check
		want     []want
	}{
		{
			name: "a check that was never reported fails", s: s,
			official: []string{"TestA/x", "TestA/y"},
			got:      []check{pass(s, "TestA/x")},
			want:     []want{{"TestA/x", gotest.Pass, ""}, {"TestA/y", gotest.Fail, "never reported"}},
		},
		{
			name: "a name outside the manifest earns nothing", s: s,
			official: []string{"TestA"},
			got:      []check{pass(s, "TestA"), pass(s, "TestForged")},
			want:     []want{{"TestA", gotest.Pass, ""}, {"TestForged", gotest.Skip, "not one of the official checks"}},
		},
		{
			name: "a check reported twice, once failing, fails", s: s,
			official: []string{"TestA"},
			got:      []check{fail(s, "TestA", "boom"), pass(s, "TestA")},
			want:     []want{{"TestA", gotest.Fail, "boom"}},
		},
		{
			name: "a parent that crashed before its subtests fails them with its detail", s: s,
			official: []string{"TestA/x", "TestA/y"},
			got:      []check{fail(s, "TestA", "panic: nil map")},
			want:     []want{{"TestA/x", gotest.Fail, "panic: nil map"}, {"TestA/y", gotest.Fail, "panic: nil map"}},
		},
		{
			name: "a package that did not build fails every check", s: s,
			official: []string{"TestA", "TestB"},
			got:      []check{fail(s, "builds", "syntax error")},
			want:     []want{{"TestA", gotest.Fail, "syntax error"}, {"TestB", gotest.Fail, "syntax error"}},
		},
		{
			name: "a speed check not measured fails every benchmark", s: bench,
			official: []string{"BenchmarkB/a", "BenchmarkB/b"},
			got:      []check{fail(bench, "BenchmarkB", "not measured")},
			want:     []want{{"BenchmarkB/a", gotest.Fail, "not measured"}, {"BenchmarkB/b", gotest.Fail, "not measured"}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := complete(c.s, c.official, c.got)
			require.Len(t, got, len(c.want))
			for i, w := range c.want {
				require.Equal(t, w.name, got[i].name)
				require.Equal(t, w.status, got[i].status, w.name)
				require.Contains(t, got[i].detail, w.detail, w.name)
			}
		})
	}
}

// A check's output in results.json is bounded, however much of the lab's
// data the check printed: results.json stays a report, not a dump.
func TestResultsOutputIsBounded(t *testing.T) {
	s := stageSuites(0)[0]
	name := theManifest.checks(s)[0]
	huge := "peek returned " + strings.Repeat("é", 1<<20)
	g := &grading{cfg: config{stage: 0, stageName: "check0"}, checks: []check{{suite: s, name: name, status: gotest.Fail, detail: huge}}}
	r := g.results()
	out := r.Tests[0].Output
	require.LessOrEqual(t, len(out), maxTestOutput+64)
	require.True(t, utf8.ValidString(out))
	require.True(t, strings.HasPrefix(out, "peek returned é"), "%.40q", out)
	require.True(t, strings.HasSuffix(out, "(cut: more than 32 KiB)\n"), "%q", out[max(0, len(out)-40):])
}
