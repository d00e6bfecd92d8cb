package main

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"tcplab/internal/gotest"
	"tcplab/internal/sandbox"
)

// check is one graded unit: a leaf test, a speed measurement, or a whole
// package that did not build.
type check struct {
	suite   suite
	name    string // "TestPush/push_beyond_capacity", "BenchmarkByteStream/pop=4096"
	status  gotest.Status
	elapsed time.Duration
	detail  string  // what a student should read: the failing step, the speed
	output  string  // everything the check printed
	gbits   float64 // speed checks: the measured rate
}

// grading is one run of the grader.
type grading struct {
	cfg      config
	start    time.Time
	root     string // the tree actually tested (a temporary copy under -official)
	checks   []check
	warnings []string
	failure  error     // the grader could not finish
	progress *progress // nil: silent
	// credential is the user the tests run as (-run-as), nil for the
	// grader's own.
	credential *syscall.Credential
	// log is what Gradescope shows above the tests: every line printed but
	// the failure details, which each test's own output carries.
	log strings.Builder
}

func (g *grading) printf(format string, args ...any) {
	g.progress.clear()
	s := fmt.Sprintf(format, args...)
	fmt.Fprint(g.cfg.stdout, s)
	g.log.WriteString(stripColor(s))
}

// detailf prints a line of failure detail: on the terminal, not in the log.
func (g *grading) detailf(format string, args ...any) {
	g.progress.clear()
	fmt.Fprintf(g.cfg.stdout, format, args...)
}

func (g *grading) fatal(err error) {
	if g.failure == nil {
		g.failure = err
	}
	fmt.Fprintf(g.cfg.stderr, "grader: %v\n", err)
	g.log.WriteString("grader: " + err.Error() + "\n")
}

// grade runs the stage and returns the exit status.
func (g *grading) grade(ctx context.Context) int {
	root, err := findRoot(g.cfg.dir)
	if err != nil {
		g.fatal(err)
		return 2
	}
	g.root = root
	if err := g.lookUpRunAs(); err != nil {
		g.fatal(err)
		return 2
	}
	todo := stageSuites(g.cfg.stage)
	for _, s := range todo {
		// A stage's own labs must be here; what else a suite needs may
		// come with a later lab's release (runTests says so per suite).
		if !strings.HasPrefix(s.pkg, "labs/") {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, s.pkg)); err != nil {
			g.fatal(fmt.Errorf("%w: %s needs %s, which this tree does not have (not released yet?)", errUsage, g.cfg.stageName, s.pkg))
			return 2
		}
	}

	official, err := g.officialFiles()
	if err != nil {
		g.fatal(err)
		return 2
	}
	g.warnings = compareOfficial(root, official, todo)
	if g.cfg.official {
		tmp, err := os.MkdirTemp("", "tcplab-grade-")
		if err != nil {
			g.fatal(err)
			return 2
		}
		defer os.RemoveAll(tmp)
		if err := overlayOfficial(root, tmp, official); err != nil {
			g.fatal(err)
			return 2
		}
		g.root = tmp
		isolateGoEnv()
		if err := g.shareCopy(tmp); err != nil {
			g.fatal(err)
			return 2
		}
	}
	for _, w := range g.warnings {
		if g.cfg.official {
			w += " (graded with the official tests instead)"
		} else {
			w += " (run with -official to grade with the official tests)"
		}
		g.printf("%s %s\n", yellow("warning:"), w)
	}
	refused := g.checkLabCode()

	passedPkg := map[string]bool{} // package → all its test checks passed
	defer g.progress.close()
	for i, s := range todo {
		if s.bench != "" && g.cfg.run != nil && !g.cfg.run.MatchString(benchName(s.bench)) && !g.cfg.run.MatchString(s.name) {
			continue
		}
		gatedCheck, gated := g.gate(s, passedPkg)
		why := refused.reason(s)
		// -run that can pick none of the suite's tests builds nothing: a
		// student looking at one lab 0 check does not wait for the
		// checks against Linux to build only to match nothing.
		unmatched := s.bench == "" && !gated && why == "" && g.runMatchesNone(s)
		collapsed := gated || why != "" || unmatched // one reason stands for the suite
		if !collapsed {
			g.progress.suite(i+1, len(todo), s)
		}
		g.printf("%s\n", bold(fmt.Sprintf("%s (%s)", s.name, s.pkg)))
		var cs []check
		if gated {
			cs = []check{gatedCheck}
		} else if why != "" {
			cs = g.refusedChecks(s, why)
		} else if unmatched {
			cs = nil
		} else if s.bench != "" {
			cs = g.runSpeed(ctx, s, passedPkg)
		} else {
			cs = g.runTests(ctx, s)
		}
		// What a student reads of a gated or refused suite is its one
		// reason; what it scores is every official check, each failed or
		// skipped for it.
		shown := cs
		if g.cfg.run == nil {
			cs = complete(s, theManifest.checks(s), cs)
		}
		if s.bench == "" && !gated {
			passedPkg[s.pkg] = !anyFailed(cs)
		}
		if ctx.Err() != nil {
			g.fatal(fmt.Errorf("interrupted"))
			return 130
		}
		if g.cfg.stop {
			// Report up to the first failure; the rest of the suite ran in
			// the same process, but a student asked to see one thing.
			for i, c := range cs {
				if c.status == gotest.Fail {
					cs = cs[:i+1]
					break
				}
			}
		}
		if !collapsed {
			shown = cs
		}
		g.report(shown)
		g.checks = append(g.checks, cs...)
		if g.cfg.stop && anyFailed(cs) {
			g.printf("stopping at the first failure (-stop)\n")
			break
		}
	}

	passed, failed, skipped := g.counts()
	summary := fmt.Sprintf("%s: %d/%d passed", g.cfg.stageName, passed, passed+failed)
	if skipped > 0 {
		summary += fmt.Sprintf(", %d skipped", skipped)
	}
	if failed == 0 && passed > 0 {
		g.printf("%s\n", green(summary))
		return 0
	}
	g.printf("%s\n", red(summary))
	g.hints()
	return 1
}

// hints tells a student with failures the two ways to narrow a run down.
func (g *grading) hints() {
	for _, c := range g.checks {
		if c.status != gotest.Fail || c.name == "not run" || c.name == "builds" || c.name == "runs" {
			continue
		}
		g.printf("%s\n", faint(fmt.Sprintf("one check at a time: go run ./grader %s -run %s", g.cfg.stageName, shellQuote(runPattern(c.name)))))
		break
	}
	if !g.cfg.stop {
		g.printf("%s\n", faint(fmt.Sprintf("stop at the first failure: go run ./grader %s -stop", g.cfg.stageName)))
	}
}

// runPattern is a -run pattern that matches the check called name and no
// other: go test matches each level of a subtest's name separately.
func runPattern(name string) string {
	var parts []string
	for _, p := range strings.Split(name, "/") {
		parts = append(parts, "^"+regexp.QuoteMeta(p)+"$")
	}
	return strings.Join(parts, "/")
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func (g *grading) counts() (passed, failed, skipped int) { return tally(g.checks) }

// tally counts checks by how they ended.
func tally(cs []check) (passed, failed, skipped int) {
	for _, c := range cs {
		switch c.status {
		case gotest.Pass:
			passed++
		case gotest.Fail:
			failed++
		default:
			skipped++
		}
	}
	return
}

func anyFailed(cs []check) bool {
	for _, c := range cs {
		if c.status == gotest.Fail {
			return true
		}
	}
	return false
}

// The checks against Linux run in internal/interop, in the sandbox; those
// of check4 drive the student's whole TCP (webget at check0 uses the
// kernel's).
const (
	interopPkg    = "internal/interop"
	connectionPkg = "labs/4-connection"
)

// sandboxAvailable says whether the sandbox can be made here; tests
// replace it.
var sandboxAvailable = sandbox.Available

func (s suite) needsSandbox() bool    { return s.pkg == interopPkg }
func (s suite) needsWholeStack() bool { return s.pkg == interopPkg && s.stage >= 4 }

// gate decides, before anything is built, that a suite cannot run: the
// sandbox cannot be made here (a skip: not the student's fault), or the
// suite needs the student's whole TCP and the connection's own checks
// failed (a failure). Unfinished code would otherwise make each check
// against Linux wait out its timeout, minutes in all, to say what the
// connection's checks already said.
func (g *grading) gate(s suite, passedPkg map[string]bool) (check, bool) {
	if s.needsWholeStack() {
		if ok, ran := passedPkg[connectionPkg]; ran && !ok {
			return check{suite: s, name: "not run", status: gotest.Fail,
				detail: "not run: these need your whole TCP, and the connection's checks above fail: fix those first"}, true
		}
	}
	if s.needsSandbox() {
		if err := sandboxAvailable(); err != nil {
			return check{suite: s, name: "not run", status: gotest.Skip, detail: err.Error()}, true
		}
	}
	return check{}, false
}

// runMatchesNone reports whether -run can select none of the suite's
// tests, judged from the names of the test functions in its package's
// test files, before anything is built. In doubt (no -run, files it cannot
// read) it says false, and the suite runs.
func (g *grading) runMatchesNone(s suite) bool {
	if g.cfg.run == nil {
		return false
	}
	names, err := testFuncs(filepath.Join(g.root, s.pkg))
	if err != nil {
		return false
	}
	// go test matches each level of a name separately; the first level
	// is a test function's name. A pattern that does not split cleanly
	// (a slash inside brackets) is left to go test.
	first, _, _ := strings.Cut(g.cfg.run.String(), "/")
	run, err := regexp.Compile(first)
	if err != nil {
		return false
	}
	var own *regexp.Regexp
	if s.tests != "" {
		own = levels(s.tests)[0]
	}
	for _, n := range names {
		if run.MatchString(n) && (own == nil || own.MatchString(n)) {
			return false
		}
	}
	return true
}

// testFuncs lists the tests and fuzz targets go test would find in dir:
// the top-level functions named Test… or Fuzz… in its _test.go files.
func testFuncs(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil {
		return nil, err
	}
	var names []string
	fset := token.NewFileSet()
	for _, f := range files {
		af, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		for _, d := range af.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil &&
				(strings.HasPrefix(fd.Name.Name, "Test") || strings.HasPrefix(fd.Name.Name, "Fuzz")) {
				names = append(names, fd.Name.Name)
			}
		}
	}
	return names, nil
}

// runTests runs a suite's tests: one check per leaf test, or one failing
// check for the whole package if it does not build.
func (g *grading) runTests(ctx context.Context, s suite) []check {
	if _, err := os.Stat(filepath.Join(g.root, s.pkg)); errors.Is(err, fs.ErrNotExist) {
		// A starter released lab by lab leaves out what needs later labs
		// (the checks against Linux need the whole stack).
		return []check{{suite: s, name: "not run", status: gotest.Skip,
			detail: s.pkg + " is not in this tree: it comes with a later lab's release (Gradescope runs these checks)"}}
	}
	o := gotest.Options{
		Dir:      g.root,
		Package:  "./" + s.pkg,
		Timeout:  max(g.cfg.timeout, s.timeout),
		Budget:   max(g.cfg.pkgTimeout, 2*s.timeout),
		Progress: g.progress.update,

		Credential: g.credential,
	}
	// A suite that takes only some of its package's tests runs just those,
	// unless -run asks for others: then -run picks, and the suite keeps the
	// ones that are its own.
	var own []*regexp.Regexp
	switch {
	case g.cfg.run != nil:
		o.Run = g.cfg.run.String()
		if s.tests != "" {
			own = levels(s.tests)
		}
	case s.tests != "":
		o.Run = s.tests
	}
	if g.cfg.race {
		o.Args = append(o.Args, "-race")
	}
	rs, err := gotest.Run(ctx, o)
	if err != nil {
		return []check{g.brokenPackage(s, err)}
	}
	var cs []check
	for _, r := range rs {
		if own != nil && !matchLevels(own, r.Name) {
			continue
		}
		c := check{suite: s, name: r.Name, status: r.Status, elapsed: r.Elapsed, output: r.Output}
		switch r.Status {
		case gotest.Fail:
			c.detail = condense(r.Output)
		case gotest.Skip:
			c.detail = skipReason(r.Output)
		}
		cs = append(cs, c)
	}
	return cs
}

// levels splits a go test -run pattern at its slashes, one pattern per
// level of a subtest's name, as go test matches them.
func levels(pattern string) []*regexp.Regexp {
	var res []*regexp.Regexp
	for _, p := range strings.Split(pattern, "/") {
		res = append(res, regexp.MustCompile(p))
	}
	return res
}

// matchLevels reports whether the test called name is one that the
// pattern's levels select: each level of its name matches the pattern's
// level (a name with fewer levels than the pattern would run its subtests).
func matchLevels(levels []*regexp.Regexp, name string) bool {
	for i, part := range strings.Split(name, "/") {
		if i < len(levels) && !levels[i].MatchString(part) {
			return false
		}
	}
	return true
}

// brokenPackage is the one check that stands for a package that could not
// be tested at all.
func (g *grading) brokenPackage(s suite, err error) check {
	var be *gotest.BuildError
	c := check{suite: s, name: "builds", status: gotest.Fail}
	if errors.As(err, &be) {
		c.detail, c.output = strings.TrimSpace(be.Output), be.Output
	} else {
		c.name = "runs"
		c.detail, c.output = err.Error(), err.Error()
	}
	return c
}

var gbitsRe = regexp.MustCompile(`([0-9.eE+-]+) Gbit/s`)

// runSpeed measures a suite's benchmark briefly. A speed check only counts
// once the package's tests pass: code that does nothing is fast.
func (g *grading) runSpeed(ctx context.Context, s suite, passedPkg map[string]bool) []check {
	name := benchName(s.bench)
	if ok, ran := passedPkg[s.pkg]; ran && !ok {
		return []check{{suite: s, name: name, status: gotest.Fail,
			detail: "not measured: fix the failing checks above first (code that does nothing is fast)"}}
	}
	o := gotest.Options{
		Dir:      g.root,
		Package:  "./" + s.pkg,
		Bench:    s.bench,
		Args:     []string{"-benchtime=" + g.cfg.benchtime},
		Timeout:  g.cfg.timeout,
		Budget:   g.cfg.pkgTimeout,
		Progress: g.progress.update,

		Credential: g.credential,
	}
	rs, err := gotest.Run(ctx, o)
	if err != nil {
		c := g.brokenPackage(s, err)
		c.name = name
		return []check{c}
	}
	var cs []check
	for _, r := range rs {
		c := check{suite: s, name: r.Name, status: r.Status, elapsed: r.Elapsed, output: r.Output}
		if r.Status == gotest.Fail {
			c.detail = condense(r.Output)
			cs = append(cs, c)
			continue
		}
		m := gbitsRe.FindStringSubmatch(r.Bench)
		if m == nil {
			c.status = gotest.Fail
			c.detail = fmt.Sprintf("the benchmark reported no Gbit/s: %q", r.Bench)
			cs = append(cs, c)
			continue
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		c.gbits = v
		if v < speedFloor {
			c.status = gotest.Fail
			c.detail = fmt.Sprintf("%.3g Gbit/s: below the %.1f Gbit/s floor (%.2g× of it)", v, speedFloor, v/speedFloor)
		} else {
			c.detail = fmt.Sprintf("%.1f Gbit/s (%.0f× the %.1f floor)", v, v/speedFloor, speedFloor)
		}
		cs = append(cs, c)
	}
	if len(cs) == 0 {
		cs = append(cs, check{suite: s, name: name, status: gotest.Fail, detail: "no benchmark matched " + s.bench})
	}
	return cs
}

// benchName turns a benchmark pattern back into a name: ^BenchmarkX$ → BenchmarkX.
func benchName(pat string) string {
	return strings.TrimSuffix(strings.TrimPrefix(pat, "^"), "$")
}

// findRoot returns the module root at or above dir.
func findRoot(dir string) (string, error) {
	if dir == "" {
		var err error
		if dir, err = os.Getwd(); err != nil {
			return "", err
		}
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil {
			if !strings.HasPrefix(string(b), "module tcplab") {
				return "", fmt.Errorf("%w: %s is module %q, not tcplab", errUsage, d, firstLine(string(b)))
			}
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("%w: no go.mod at or above %s: run the grader inside a tcplab tree, or pass -dir", errUsage, dir)
		}
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
