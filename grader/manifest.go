package main

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"tcplab/internal/gotest"
)

// The manifest lists every official check, suite by suite: what a stage's
// points are split over. It is written by `go run ./grader sync-official`,
// which runs the official tests on the reference tree, and it is never
// taken from what a graded run happens to report: a check that is deleted,
// renamed or never reported fails, and a name that is not in the manifest
// earns nothing.
//
//go:embed manifest.json
var manifestJSON []byte

const manifestPath = "grader/manifest.json"

type manifest struct {
	// Source is a digest of what the checks were listed from: the official
	// copy and the stage table. TestManifestIsCurrent compares it.
	Source string          `json:"source"`
	Suites []manifestSuite `json:"suites"`
}

type manifestSuite struct {
	Name   string   `json:"name"` // the suite's name in the stage table
	Checks []string `json:"checks"`
}

// theManifest is the embedded manifest; an empty one if it cannot be read
// (TestManifestIsCurrent says so).
var theManifest = func() manifest {
	var m manifest
	_ = json.Unmarshal(manifestJSON, &m)
	return m
}()

// checks returns the official checks of suite s, nil if the manifest does
// not know it.
func (m manifest) checks(s suite) []string {
	for _, ms := range m.Suites {
		if ms.Name == s.name {
			return ms.Checks
		}
	}
	return nil
}

// manifestSource digests the official files and the stage table: when
// either changes, the manifest must be listed again.
func manifestSource(official map[string][]byte) string {
	h := sha256.New()
	for _, p := range slices.Sorted(maps.Keys(official)) {
		fmt.Fprintf(h, "%s %d\n", p, len(official[p]))
		h.Write(official[p])
	}
	for _, s := range suites {
		fmt.Fprintf(h, "suite %q %q %q %q\n", s.name, s.pkg, s.tests, s.bench)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// standIns are the names of the one check that stands for a whole suite
// which did not run: it did not build, did not start, or its lab code was
// refused.
func standIn(s suite, name string) bool {
	return name == "builds" || name == "runs" || name == "lab code" || (s.bench != "" && name == benchName(s.bench))
}

// complete makes a suite's checks the manifest's: every official check once,
// in the manifest's order. One that was not reported fails (with the detail
// of the failure that stands for it, when a parent test or the whole
// package failed); one that is reported but not official is kept for the
// student to see and earns nothing.
func complete(s suite, official []string, got []check) []check {
	if official == nil {
		return got
	}
	byName := map[string]check{}
	for _, c := range got {
		if prev, dup := byName[c.name]; dup && prev.status == gotest.Fail {
			continue // reported twice: a failure is not undone
		}
		byName[c.name] = c
	}
	var out []check
	used := map[string]bool{}
	for _, name := range official {
		if c, ok := byName[name]; ok {
			out = append(out, c)
			used[name] = true
			continue
		}
		c := check{suite: s, name: name, status: gotest.Fail,
			detail: "never reported: the test did not run, or the test binary stopped before it ended"}
		for _, r := range got {
			if r.name == "not run" || r.status == gotest.Fail && (standIn(s, r.name) || strings.HasPrefix(name, r.name+"/")) {
				c.status, c.detail, c.output = r.status, r.detail, r.output
				used[r.name] = true
				break
			}
		}
		out = append(out, c)
	}
	for _, c := range got {
		if used[c.name] || slices.Contains(official, c.name) {
			continue
		}
		if c.name == "not run" || c.status == gotest.Fail && standIn(s, c.name) {
			continue
		}
		c.status = gotest.Skip
		c.detail = "not one of the official checks: earns nothing"
		out = append(out, c)
	}
	return out
}

// shares apportions a stage's 100 points, in hundredths, over its suites by
// their points in the stage table, and each suite's over its official
// checks: largest remainders, so the hundredths add up to exactly 10000.
// The result maps suite name and check name to points.
func shares(stage []suite, m manifest) map[string]map[string]float64 {
	weights := make([]float64, len(stage))
	for i, s := range stage {
		weights[i] = s.points
	}
	suiteCents := apportion(10000, weights)
	out := map[string]map[string]float64{}
	for i, s := range stage {
		names := m.checks(s)
		ones := make([]float64, len(names))
		for j := range ones {
			ones[j] = 1
		}
		cents := apportion(suiteCents[i], ones)
		out[s.name] = map[string]float64{}
		for j, n := range names {
			out[s.name][n] = float64(cents[j]) / 100
		}
	}
	return out
}

// suiteShare is a suite's part of its stage's 100 points.
func suiteShare(stage []suite, s suite) float64 {
	weights := make([]float64, len(stage))
	at := -1
	for i, t := range stage {
		weights[i] = t.points
		if t.name == s.name {
			at = i
		}
	}
	if at < 0 {
		return 0
	}
	return float64(apportion(10000, weights)[at]) / 100
}

// apportion splits total whole units over weights by largest remainder
// (earlier entries win ties), so the parts add up to total exactly.
func apportion(total int, weights []float64) []int {
	var sum float64
	for _, w := range weights {
		sum += w
	}
	parts := make([]int, len(weights))
	if sum <= 0 {
		return parts
	}
	rem := make([]float64, len(weights))
	given := 0
	for i, w := range weights {
		exact := float64(total) * w / sum
		parts[i] = int(math.Floor(exact))
		rem[i] = exact - float64(parts[i])
		given += parts[i]
	}
	order := make([]int, len(weights))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case rem[a] > rem[b]:
			return -1
		case rem[a] < rem[b]:
			return 1
		}
		return 0
	})
	for i := 0; given < total; i++ {
		parts[order[i%len(order)]]++
		given++
	}
	return parts
}

// listChecks runs every suite of the stage table on the reference tree at
// root and lists the checks each reports. On the reference every check
// should pass: a suite where one did not runs once more, and the run that
// reported more checks is kept (a parent test that fails or skips early
// can hide its subtests), with a warning to check the list.
func listChecks(ctx context.Context, root string, progress io.Writer) (manifest, error) {
	var m manifest
	for _, s := range suites {
		fmt.Fprintf(progress, "listing %s (%s)\n", s.name, s.pkg)
		o := gotest.Options{Dir: root, Package: "./" + s.pkg, Run: s.tests, Timeout: max(s.timeout, defaultTimeout), Budget: max(2*s.timeout, defaultPkgTimeout)}
		if s.bench != "" {
			o.Run, o.Bench, o.Args = "", s.bench, []string{"-benchtime=1x"}
		}
		var best manifestSuite
		var notPassed []string
		for try := 0; try < 2; try++ {
			rs, err := gotest.Run(ctx, o)
			if err != nil {
				return m, fmt.Errorf("%s: %w", s.name, err)
			}
			ms := manifestSuite{Name: s.name}
			notPassed = notPassed[:0]
			for _, r := range rs {
				if r.Status != gotest.Pass {
					notPassed = append(notPassed, fmt.Sprintf("%s (%s)", r.Name, r.Status))
				}
				ms.Checks = append(ms.Checks, r.Name)
			}
			if len(ms.Checks) > len(best.Checks) {
				best = ms
			}
			if len(notPassed) == 0 {
				break
			}
		}
		if len(notPassed) > 0 {
			fmt.Fprintf(progress, "warning: %s: on the reference these did not pass, twice: %s; check that the manifest lists every check of the suite\n", s.name, strings.Join(notPassed, ", "))
		}
		if len(best.Checks) == 0 {
			return m, fmt.Errorf("%s: no checks", s.name)
		}
		m.Suites = append(m.Suites, best)
	}
	return m, nil
}

// The grader's defaults (main.go), for listing checks.
const (
	defaultTimeout    = 30 * time.Second
	defaultPkgTimeout = 5 * time.Minute
)

// writeManifest lists the checks of the reference tree at root, whose
// official files are official, into grader/manifest.json.
func writeManifest(root string, official map[string][]byte, progress io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	source := manifestSource(official)
	if theManifest.Source == source {
		fmt.Fprintf(progress, "%s is current: the official tests and the stage table have not changed\n", manifestPath)
		return nil
	}
	m, err := listChecks(ctx, root, progress)
	if err != nil {
		return fmt.Errorf("listing the official checks: %w", err)
	}
	m.Source = source
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(root, filepath.FromSlash(manifestPath)), append(b, '\n'), 0o644)
}
