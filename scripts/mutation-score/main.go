//lab:solution-only

// Command mutation-score runs gremlins (a general-purpose mutation tool) on
// each lab of the reference solution and fails when a mutant lives that is
// not listed as equivalent in labs/gremlins-equivalent.txt, when a listed
// mutant no longer lives (the list is stale), or when a lab's efficacy is
// below its threshold.
//
// The named mutant catalogue (internal/mutants, `go run ./grader mutants`)
// proves that each known student bug is caught at its own lab; gremlins
// proves breadth: every comparison, sign and operator of the reference is
// changed in turn, and some check must notice.
//
// Run it from the module root, on a tree with nothing uncommitted in labs/
// (gremlins edits the lab's files in place while it runs, and puts them
// back):
//
//	go install github.com/go-gremlins/gremlins/cmd/gremlins@v0.6.0
//	go run ./scripts/mutation-score                    # every lab
//	go run ./scripts/mutation-score -workers 1 labs/1-reassembler
//
// Efficacy is gremlins' own: killed / (killed + lived), counting a mutant
// that no test covers as lived; the threshold is checked on the efficacy
// once the listed equivalent mutants are set aside, since they cannot be
// killed.
//
// gremlins gives each mutant's test run the time its coverage run took,
// times a coefficient, and calls a mutant that overruns it TIMED OUT: the
// lab's tests hung on it (a loop that never ends), which counts as neither
// killed nor lived. A coverage run served from Go's test cache takes a
// fraction of a second, and then every mutant, which must be compiled,
// "times out" and the score says nothing; so the coverage run is made to
// run for real (-count=1), the coefficient is generous, and a lab where
// more than a quarter of the mutants time out fails.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// labs are the packages it scores by default, with their thresholds: the
// lowest efficacy, in percent, that passes once equivalent mutants are set
// aside.
var labs = []struct {
	dir       string
	threshold float64
}{
	{"labs/0-bytestream", 98},
	{"labs/1-reassembler", 98},
	{"labs/2-receiver", 98},
	{"labs/3-sender", 98},
	{"labs/4-connection", 98},
}

const equivalentFile = "labs/gremlins-equivalent.txt"

func main() {
	workers := flag.Int("workers", 2, "gremlins workers (the machine may be shared: keep it small)")
	coefficient := flag.Int("timeout-coefficient", 10, "a mutant's test run may take this many times the coverage run")
	gremlins := flag.String("gremlins", "gremlins", "the gremlins binary")
	list := flag.String("equivalent", equivalentFile, "the list of equivalent mutants")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: go run ./scripts/mutation-score [flags] [lab dirs]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if err := run(*gremlins, *workers, *coefficient, *list, flag.Args(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "mutation-score:", err)
		os.Exit(1)
	}
}

func run(gremlins string, workers, coefficient int, listPath string, dirs []string, out io.Writer) error {
	f, err := os.Open(listPath)
	if err != nil {
		return err
	}
	equivalent, err := parseEquivalent(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", listPath, err)
	}
	type target struct {
		dir       string
		threshold float64
	}
	var targets []target
	if len(dirs) == 0 {
		for _, l := range labs {
			targets = append(targets, target{l.dir, l.threshold})
		}
	}
	for _, d := range dirs {
		d = filepath.ToSlash(filepath.Clean(d))
		t := target{dir: d, threshold: 98}
		for _, l := range labs {
			if l.dir == d {
				t.threshold = l.threshold
			}
		}
		targets = append(targets, t)
	}

	failed := false
	for _, t := range targets {
		start := time.Now()
		results, err := unleash(gremlins, workers, coefficient, t.dir)
		if err != nil {
			return fmt.Errorf("%s: %w", t.dir, err)
		}
		s := score(t.dir, results, equivalent)
		fmt.Fprintf(out, "%s: %s (%s)\n", t.dir, s, time.Since(start).Round(time.Second))
		for _, m := range s.unlisted {
			fmt.Fprintf(out, "  %s %s: lives and is not listed as equivalent: kill it with a check, or list it with its reason\n", m.status, m.key)
		}
		for _, k := range s.stale {
			fmt.Fprintf(out, "  %s: listed as equivalent but does not live (killed, gone or moved): fix the list\n", k)
		}
		if s.efficacy() < t.threshold {
			fmt.Fprintf(out, "  efficacy %.1f%% is below the threshold %.0f%%\n", s.efficacy(), t.threshold)
		}
		if s.tooManyTimedOut() {
			fmt.Fprintf(out, "  %d of %d mutants timed out: gremlins' timeout was too short for this machine, so the score says nothing; run it again with a larger -timeout-coefficient\n", s.timedOut, s.mutants())
		}
		if len(s.unlisted) > 0 || len(s.stale) > 0 || s.efficacy() < t.threshold || s.tooManyTimedOut() {
			failed = true
		}
	}
	if failed {
		return errors.New("some lab's checks let mutants live")
	}
	return nil
}

// mutant is one of gremlins' results, named as the list names it.
type mutant struct {
	key    string // "labs/0-bytestream/bytestream.go:65:8 CONDITIONALS_BOUNDARY"
	status string // KILLED, LIVED, NOT COVERED, TIMED OUT, NOT VIABLE, ...
}

// parseEquivalent reads the list: one mutant a line, "PATH:LINE:COL
// MUTATOR", two or more spaces, and the reason. The reason is required.
func parseEquivalent(r io.Reader) (map[string]string, error) {
	list := map[string]string{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, reason, ok := strings.Cut(line, "  ")
		fields := strings.Fields(key)
		reason = strings.TrimSpace(reason)
		if !ok || len(fields) != 2 || strings.Count(fields[0], ":") != 2 || reason == "" {
			return nil, fmt.Errorf("line %d: want \"PATH:LINE:COL MUTATOR  reason\", got %q", n, line)
		}
		k := fields[0] + " " + fields[1]
		if _, dup := list[k]; dup {
			return nil, fmt.Errorf("line %d: %s is listed twice", n, k)
		}
		list[k] = reason
	}
	return list, sc.Err()
}

// report is the part of gremlins' JSON output (-o) that the score needs.
type report struct {
	Files []struct {
		FileName  string `json:"file_name"`
		Mutations []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
			Line   int    `json:"line"`
			Column int    `json:"column"`
		} `json:"mutations"`
	} `json:"files"`
}

// parseReport turns gremlins' JSON for the package in dir into mutants.
// Gremlins names files relative to the package it ran on.
func parseReport(dir string, data []byte) ([]mutant, error) {
	var r report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, err
	}
	var out []mutant
	for _, f := range r.Files {
		path := f.FileName
		if !strings.HasPrefix(path, dir+"/") {
			path = dir + "/" + filepath.Base(path)
		}
		for _, m := range f.Mutations {
			out = append(out, mutant{key: fmt.Sprintf("%s:%d:%d %s", path, m.Line, m.Column, m.Type), status: m.Status})
		}
	}
	return out, nil
}

// unleash runs gremlins on one package and returns its results.
func unleash(gremlins string, workers, coefficient int, dir string) ([]mutant, error) {
	tmp, err := os.CreateTemp("", "gremlins-*.json")
	if err != nil {
		return nil, err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	cmd := exec.Command(gremlins, "unleash", "--workers", fmt.Sprint(workers),
		"--timeout-coefficient", fmt.Sprint(coefficient), "-o", tmp.Name(), "./"+dir)
	// gremlins times the mutants against its coverage run: a cached one
	// would time them all out.
	cmd.Env = append(os.Environ(), "GOFLAGS="+strings.TrimSpace(os.Getenv("GOFLAGS")+" -count=1"))
	// gremlins prints a line per mutant as it goes: on stderr, it shows
	// progress through a run that takes minutes without mixing with the
	// score on stdout.
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %w", strings.Join(cmd.Args, " "), err)
	}
	data, err := os.ReadFile(tmp.Name())
	if err != nil {
		return nil, err
	}
	return parseReport(dir, data)
}

// result is one lab's score.
type result struct {
	killed, lived, equivalent, timedOut int
	unlisted                            []mutant // lived or not covered, and not listed
	stale                               []string // listed, and not living
}

// mutants is how many mutants gremlins ran the tests on.
func (r result) mutants() int { return r.killed + r.lived + r.timedOut }

// tooManyTimedOut reports whether so many mutants timed out that the run
// more likely measured a timeout too short for the machine than tests that
// hang: the labs' real hangs are a few mutants each.
func (r result) tooManyTimedOut() bool { return 4*r.timedOut > r.mutants() }

// efficacy is the percentage of killable mutants that were killed.
func (r result) efficacy() float64 {
	if r.killed+r.lived-r.equivalent == 0 {
		return 100
	}
	return 100 * float64(r.killed) / float64(r.killed+r.lived-r.equivalent)
}

func (r result) String() string {
	raw := 100.0
	if r.killed+r.lived > 0 {
		raw = 100 * float64(r.killed) / float64(r.killed+r.lived)
	}
	return fmt.Sprintf("%d killed, %d lived (%d of them listed as equivalent), %d timed out: efficacy %.1f%%, %.1f%% without the equivalent ones",
		r.killed, r.lived, r.equivalent, r.timedOut, raw, r.efficacy())
}

// score compares one lab's results with the list. A mutant no test covers
// counts as lived: no check can kill it.
func score(dir string, results []mutant, equivalent map[string]string) result {
	var r result
	living := map[string]bool{}
	for _, m := range results {
		switch m.status {
		case "KILLED":
			r.killed++
		case "TIMED OUT":
			// A loaded machine makes a slow test run time out: that is
			// no reason to call a listed mutant stale.
			r.timedOut++
			living[m.key] = true
		case "LIVED", "NOT COVERED":
			r.lived++
			living[m.key] = true
			if _, ok := equivalent[m.key]; ok {
				r.equivalent++
			} else {
				r.unlisted = append(r.unlisted, m)
			}
		}
	}
	for k := range equivalent {
		if strings.HasPrefix(k, dir+"/") && !living[k] {
			r.stale = append(r.stale, k)
		}
	}
	sort.Strings(r.stale)
	return r
}
