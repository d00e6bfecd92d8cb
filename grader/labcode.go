package main

import (
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"tcplab/internal/gotest"
	"tcplab/internal/labcheck"
)

// refusals maps each lab whose code the allowlist refuses ("labs/0-bytestream")
// to the line that says why. Nothing of a refused lab is built or run: a
// test process that links it could report anything.
type refusals map[string]string

// checkLabCode runs the allowlist (internal/labcheck) over the tree about to
// be tested and prints each refusal. Only -official (and so Gradescope)
// refuses; without it the grader warns, since a student's own run is for
// working and may print to debug.
func (g *grading) checkLabCode() refusals {
	ps, err := labcheck.Check(os.DirFS(g.root))
	if err != nil {
		// A tree the grader cannot read is a tree it cannot vouch for.
		g.fatal(err)
		return refusals{"labs/": err.Error()}
	}
	r := refusals{}
	for _, p := range ps {
		if _, seen := r[p.Lab]; seen {
			continue // one line per lab is enough to act on
		}
		r[p.Lab] = p.String()
		if !g.cfg.official {
			// Working on their own tree, a student may print to debug;
			// they hear now what grading will say.
			g.printf("%s %s (graded with -official, and on Gradescope, this lab is refused)\n", yellow("warning:"), p.String())
			continue
		}
		g.printf("%s %s\n", red("refused:"), p.String())
	}
	if !g.cfg.official {
		return refusals{}
	}
	return r
}

// reason says why suite s cannot run, or "" if it can. Labs import only
// earlier labs, so lab N links every lab before it; a package outside labs/
// (the interop tests) links them all.
func (r refusals) reason(s suite) string {
	n, isLab := labNumber(s.pkg)
	labs := slices.Sorted(maps.Keys(r))
	for _, lab := range labs {
		m, ok := labNumber(lab)
		switch {
		case lab == s.pkg:
			return r[lab]
		case !isLab || !ok || m < n:
			return r[lab] + " (" + s.pkg + " links it)"
		}
	}
	return ""
}

// labNumber is N of "labs/N-name".
func labNumber(pkg string) (int, bool) {
	rest, ok := strings.CutPrefix(pkg, "labs/")
	if !ok {
		return 0, false
	}
	num, _, _ := strings.Cut(rest, "-")
	n, err := strconv.Atoi(num)
	return n, err == nil
}

// refusedChecks stands for a suite that was not run because lab code it
// links was refused: every check fails.
func (g *grading) refusedChecks(s suite, why string) []check {
	name := "lab code"
	if s.bench != "" {
		name = benchName(s.bench)
	}
	return []check{{suite: s, name: name, status: gotest.Fail, detail: "not run: " + why}}
}
