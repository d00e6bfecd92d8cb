package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"tcplab/internal/gotest"
)

// Gradescope's results.json, as its autograder specification describes it.
type gsResults struct {
	Score         float64   `json:"score"`
	ExecutionTime int       `json:"execution_time"`
	Output        string    `json:"output"`
	Visibility    string    `json:"visibility"`
	Tests         []gsTest  `json:"tests"`
	Leaderboard   []gsBoard `json:"leaderboard,omitempty"`
}

type gsTest struct {
	Name       string   `json:"name"`
	Score      float64  `json:"score"`
	MaxScore   float64  `json:"max_score"`
	Status     string   `json:"status"`
	Output     string   `json:"output,omitempty"`
	Visibility string   `json:"visibility"`
	Tags       []string `json:"tags,omitempty"` // the package, so tools can group checks
}

type gsBoard struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Order string  `json:"order"`
}

// results builds the Gradescope results from the checks so far. A stage is
// worth 100 points, apportioned over its suites by the stage table and over
// each suite's official checks (the manifest) in hundredths, so a full pass
// scores exactly 100. A check earns its points only by passing; a skipped
// one earns nothing, and a name outside the manifest is worth nothing.
func (g *grading) results() gsResults {
	r := gsResults{
		ExecutionTime: int(math.Ceil(time.Since(g.start).Seconds())),
		Output:        g.log.String(),
		Visibility:    "visible",
		Tests:         []gsTest{},
	}
	stage := stageSuites(g.cfg.stage)
	points := shares(stage, theManifest)
	// A suite the manifest does not know (a stale manifest, which
	// TestManifestIsCurrent catches) splits its share over what ran.
	counted := map[string]int{}
	for _, c := range g.checks {
		if c.status != gotest.Skip {
			counted[c.suite.name]++
		}
	}
	worth := func(c check) float64 {
		if theManifest.checks(c.suite) != nil {
			return points[c.suite.name][c.name]
		}
		if c.status == gotest.Skip {
			return 0
		}
		return round4(suiteShare(stage, c.suite) / float64(counted[c.suite.name]))
	}
	var score float64
	for _, c := range g.checks {
		t := gsTest{Name: fmt.Sprintf("%s: %s", c.suite.name, displayName(c.name)), Visibility: "visible", Status: "passed", Tags: []string{c.suite.pkg}}
		t.MaxScore = worth(c)
		switch c.status {
		case gotest.Pass:
			t.Score = t.MaxScore
			if c.suite.bench != "" {
				t.Output = c.detail
			}
		case gotest.Fail:
			t.Status, t.Output = "failed", c.detail
		default:
			t.Output = "skipped: " + c.detail
			if t.MaxScore > 0 {
				t.Status = "failed"
			}
		}
		t.Output = clipOutput(t.Output)
		score += t.Score
		r.Tests = append(r.Tests, t)
		if c.suite.bench != "" && c.gbits > 0 {
			r.Leaderboard = append(r.Leaderboard, gsBoard{Name: c.name + " (Gbit/s)", Value: round2(c.gbits), Order: "desc"})
		}
	}
	r.Score = round2(score)
	if g.failure != nil && !strings.Contains(r.Output, g.failure.Error()) {
		r.Output += "grader: " + g.failure.Error() + "\n"
	}
	return r
}

// maxTestOutput bounds what results.json carries for one check. A
// failure's report is a few hundred bytes; lab code that returns a megabyte
// of data makes it a megabyte for every check that prints the data, and
// results.json hundreds of them.
const maxTestOutput = 32 << 10

func clipOutput(s string) string {
	if len(s) <= maxTestOutput {
		return s
	}
	return strings.ToValidUTF8(s[:maxTestOutput], "") + "\n… (cut: more than 32 KiB)\n"
}

func displayName(name string) string {
	top, rest, ok := strings.Cut(name, "/")
	if !ok {
		return name
	}
	return top + "/" + strings.ReplaceAll(rest, "_", " ")
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// round4 keeps a check's share of its suite's points exact enough that the
// shares add up to the suite's points at two decimals.
func round4(f float64) float64 { return math.Round(f*10000) / 10000 }

// writeJSON writes results.json if -json asked for it.
func (g *grading) writeJSON() error {
	if g.cfg.jsonPath == "" {
		return nil
	}
	b, err := json.MarshalIndent(g.results(), "", "  ")
	if err != nil {
		return fmt.Errorf("results: %w", err)
	}
	if g.cfg.jsonPath == "-" {
		if _, err := g.cfg.jsonOut.Write(append(b, '\n')); err != nil {
			return fmt.Errorf("results: %w", err)
		}
		return nil
	}
	if err := os.WriteFile(g.cfg.jsonPath, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("results: %w", err)
	}
	return nil
}
