package main

import (
	"os"
	"slices"
	"strconv"
	"strings"

	"tcplab/internal/gotest"
	"tcplab/internal/labcheck"
)

// refusals says which labs' code the allowlist refuses, and what links
// them. Nothing that links a refused lab is built or run: a test process
// that links it could report anything.
type refusals struct {
	why     map[string]string   // refused lab ("labs/0-bytestream") → the line that says why
	imports map[string][]string // lab → the labs it imports
}

// checkLabCode runs the allowlist (internal/labcheck) over the tree about to
// be tested and prints each refusal. Only -official (and so Gradescope)
// refuses; without it the grader warns, since a student's own run is for
// working and may print to debug.
func (g *grading) checkLabCode() refusals {
	fsys := os.DirFS(g.root)
	ps, err := labcheck.Check(fsys)
	if err == nil {
		var imports map[string][]string
		imports, err = labcheck.LabImports(fsys)
		if err == nil {
			r := refusals{why: map[string]string{}, imports: imports}
			for _, p := range ps {
				if _, seen := r.why[p.Lab]; seen {
					continue // one line per lab is enough to act on
				}
				r.why[p.Lab] = p.String()
				if !g.cfg.official {
					// Working on their own tree, a student may print to
					// debug; they hear now what grading will say.
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
	}
	// A tree the grader cannot read is a tree it cannot vouch for.
	g.fatal(err)
	return refusals{why: map[string]string{"labs": err.Error()}}
}

// reason says why suite s cannot run, or "" if it can. A lab's suite links
// the lab and every lab it imports, transitively; a package outside labs/
// (the checks against Linux) links them all.
func (r refusals) reason(s suite) string {
	if why, ok := r.why["labs"]; ok {
		return why
	}
	var linked []string
	if _, isLab := labNumber(s.pkg); isLab {
		linked = r.closure(s.pkg)
	} else {
		for lab := range r.imports {
			linked = append(linked, lab)
		}
	}
	slices.Sort(linked)
	for _, lab := range linked {
		if why, ok := r.why[lab]; ok {
			if lab == s.pkg {
				return why
			}
			return why + " (" + s.pkg + " links it)"
		}
	}
	return ""
}

// closure lists lab and every lab it imports, directly or not.
func (r refusals) closure(lab string) []string {
	seen := []string{lab}
	for i := 0; i < len(seen); i++ {
		for _, next := range r.imports[seen[i]] {
			if !slices.Contains(seen, next) {
				seen = append(seen, next)
			}
		}
	}
	return seen
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
