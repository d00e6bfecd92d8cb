package main

// The mutants command proves the checks: it applies each known student bug
// of internal/mutants to a copy of the reference solution, runs the checks
// of the stage that introduces it, and says which check caught it, or that
// it survived. A mutant that does not apply or does not build is an error
// in the catalogue, never a catch: a bug the compiler rejects teaches
// nothing about the tests.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"tcplab/internal/gotest"
	"tcplab/internal/mutants"
)

// Outcomes of one mutant.
const (
	caught   = "caught"
	survived = "SURVIVED"
	broken   = "ERROR"
)

// mutantsConfig is what `grader mutants` is asked for.
type mutantsConfig struct {
	run        *regexp.Regexp // nil: every mutant
	tree       string         // take the tests from this tree
	official   bool           // take the tests from the grader's official copy
	jsonPath   string
	markdown   bool
	verbose    bool
	jobs       int
	timeout    time.Duration // longest one test may run
	pkgTimeout time.Duration // longest one package's tests may run
	stdout     io.Writer
	stderr     io.Writer
}

// mutantResult is the verdict on one mutant; a baseline run (the checks on
// the unmutated reference) has Name "" in its Mutant.
type mutantResult struct {
	Mutant  mutants.Mutant `json:"-"`
	Name    string         `json:"name"`
	Lab     int            `json:"lab"`
	Why     string         `json:"why"`
	Outcome string         `json:"outcome"`             // caught, SURVIVED or ERROR
	Check   string         `json:"check,omitempty"`     // the first failing check
	Message string         `json:"message,omitempty"`   // the first line of its failure
	Failed  int            `json:"failed"`              // checks that failed
	All     []string       `json:"caught_by,omitempty"` // every failing check, in order
	Checks  int            `json:"checks"`              // checks that ran
	Error   string         `json:"error,omitempty"`     // why the mutant is an error
	Seconds float64        `json:"seconds"`
	detail  string         // the catching check's condensed failure, for -v
}

func mutantsUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, `usage: go run ./grader mutants [flags]

Applies each known student bug (internal/mutants) to a copy of this
reference tree, runs the checks of the lab that introduces it, and reports
which check caught it. Exit status 0 only if every mutant was caught.

flags:
`)
	fs.PrintDefaults()
}

// mutantsMain runs `grader mutants` over catalogue and returns the exit
// status: 0 every mutant caught, 1 any survived or is an error, 2 the
// command could not run.
func mutantsMain(args []string, stdout, stderr io.Writer, catalogue []mutants.Mutant) int {
	fs := flag.NewFlagSet("grader mutants", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { mutantsUsage(stderr, fs) }
	c := mutantsConfig{stdout: stdout, stderr: stderr}
	runPat := fs.String("run", "", "only the mutants whose name matches `REGEX`")
	fs.StringVar(&c.tree, "tree", "", "measure the tests of the tcplab tree `DIR` (its labs' test files, testdata and internal/harness) against the reference's mutants")
	fs.BoolVar(&c.official, "official", false, "measure the grader's built-in official tests")
	fs.StringVar(&c.jsonPath, "json", "", "also write the results as JSON to `FILE`")
	fs.BoolVar(&c.markdown, "markdown", false, "print the results as a Markdown table on stdout (the progress goes to stderr)")
	fs.BoolVar(&c.verbose, "v", false, "show the catching check's failure in full")
	fs.IntVar(&c.jobs, "j", 2, "mutants tested at once")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "longest any one check may run under a mutant")
	fs.DurationVar(&c.pkgTimeout, "package-timeout", 2*time.Minute, "longest one mutant's checks may run in all")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 0 {
		mutantsUsage(stderr, fs)
		return 2
	}
	if *runPat != "" {
		re, err := regexp.Compile(*runPat)
		if err != nil {
			fmt.Fprintf(stderr, "grader mutants: -run: %v\n", err)
			return 2
		}
		c.run = re
	}
	if c.tree != "" && c.official {
		fmt.Fprintf(stderr, "grader mutants: -tree and -official each say where the tests come from: give one\n")
		return 2
	}
	c.jobs = max(c.jobs, 1)
	if c.markdown {
		// The table is the output; the progress is a side note.
		c.stdout = stderr
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	results, code := runMutants(ctx, c, catalogue)
	if c.markdown && results != nil {
		fmt.Fprint(stdout, markdownTable(results))
	}
	if c.jsonPath != "" && results != nil {
		b, _ := json.MarshalIndent(results, "", "  ")
		if err := os.WriteFile(c.jsonPath, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintf(stderr, "grader mutants: %v\n", err)
			return 2
		}
	}
	return code
}

// runMutants tests every selected mutant and prints one verdict each, in
// catalogue order, and the summary.
func runMutants(ctx context.Context, c mutantsConfig, catalogue []mutants.Mutant) ([]mutantResult, int) {
	fail := func(err error) ([]mutantResult, int) {
		fmt.Fprintf(c.stderr, "grader mutants: %v\n", err)
		return nil, 2
	}
	root, err := findRoot("")
	if err != nil {
		return fail(err)
	}
	var tests map[string][]byte // nil: the reference's own tests
	switch {
	case c.official:
		sub, err := fs.Sub(embedded, officialRoot)
		if err != nil {
			return fail(err)
		}
		if tests, err = selectFiles(sub); err != nil {
			return fail(err)
		}
	case c.tree != "":
		dir, err := findRoot(c.tree)
		if err != nil {
			return fail(err)
		}
		if tests, err = selectFiles(os.DirFS(dir)); err != nil {
			return fail(err)
		}
	}

	var todo []mutants.Mutant
	for _, m := range catalogue {
		if c.run == nil || c.run.MatchString(m.Name) {
			todo = append(todo, m)
		}
	}
	if len(todo) == 0 {
		return fail(fmt.Errorf("no mutant matches -run %s", c.run))
	}
	// First the checks of each lab on the unmutated reference: a check that
	// fails there catches every mutant and proves nothing.
	var jobs []mutants.Mutant
	seen := map[int]bool{}
	for _, m := range todo {
		if !seen[m.Lab] {
			seen[m.Lab] = true
			jobs = append(jobs, mutants.Mutant{Lab: m.Lab})
		}
	}
	jobs = append(jobs, todo...)
	from := "the reference's own tests"
	switch {
	case c.official:
		from = "the grader's official tests"
	case c.tree != "":
		from = "the tests of " + c.tree
	}
	fmt.Fprintf(c.stdout, "%d mutants of %s, against %s, %d at a time\n", len(todo), root, from, c.jobs)

	start := time.Now()
	results := make([]mutantResult, len(jobs))
	done := make([]chan struct{}, len(jobs))
	for i := range done {
		done[i] = make(chan struct{})
	}
	sem := make(chan struct{}, c.jobs)
	var wg sync.WaitGroup
	for i, m := range jobs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i] = testMutant(ctx, c, root, tests, m)
			close(done[i])
		})
	}
	baseline := map[int]mutantResult{}
	var out []mutantResult
	counts := map[string]int{}
	for i := range jobs {
		<-done[i]
		r := results[i]
		if r.Name == "" {
			baseline[r.Lab] = r
			printBaseline(c.stdout, r)
			continue
		}
		if b := baseline[r.Lab]; b.Outcome == broken {
			r.Outcome, r.Check, r.Message = broken, "", ""
			r.Error = "the checks of lab " + fmt.Sprint(r.Lab) + " do not pass on the unmutated reference, so they prove nothing"
		}
		printMutant(c.stdout, r, c.verbose)
		counts[r.Outcome]++
		out = append(out, r)
	}
	wg.Wait()
	if ctx.Err() != nil {
		fmt.Fprintf(c.stderr, "grader mutants: interrupted\n")
		return out, 130
	}
	summary := fmt.Sprintf("mutants: %d/%d caught", counts[caught], len(out))
	if n := counts[survived]; n > 0 {
		summary += fmt.Sprintf(", %d survived", n)
	}
	if n := counts[broken]; n > 0 {
		summary += fmt.Sprintf(", %d errors in the catalogue", n)
	}
	summary += fmt.Sprintf(" (%.0fs)", time.Since(start).Seconds())
	if counts[caught] == len(out) {
		fmt.Fprintln(c.stdout, green(summary))
		return out, 0
	}
	fmt.Fprintln(c.stdout, red(summary))
	return out, 1
}

func printBaseline(w io.Writer, r mutantResult) {
	lab := mutants.LabDir(r.Lab)
	if r.Outcome == broken {
		fmt.Fprintf(w, "%s %s without a mutant: %s\n", red("!"), lab, r.Error)
		if r.detail != "" {
			fmt.Fprintln(w, indent(r.detail, 6))
		}
		return
	}
	fmt.Fprintf(w, "%s %s without a mutant: %d checks pass %s\n", green("✓"), lab, r.Checks, faint(fmt.Sprintf("%.1fs", r.Seconds)))
}

func printMutant(w io.Writer, r mutantResult, verbose bool) {
	head := fmt.Sprintf("%s (lab %d)", r.Name, r.Lab)
	secs := faint(fmt.Sprintf("%.1fs", r.Seconds))
	switch r.Outcome {
	case caught:
		fmt.Fprintf(w, "%s %s caught by %s %s %s\n", green("✓"), head, r.Check,
			faint(fmt.Sprintf("(%d/%d checks failed)", r.Failed, r.Checks)), secs)
		if verbose && r.detail != "" {
			fmt.Fprintln(w, indent(r.detail, 6))
		} else {
			fmt.Fprintf(w, "      %s\n", r.Message)
		}
	case survived:
		fmt.Fprintf(w, "%s %s %s: all %d checks of lab %d pass with the bug %s\n", red("✗"), head, red("SURVIVED"), r.Checks, r.Lab, secs)
		fmt.Fprintf(w, "      the bug: %s\n", r.Why)
	default:
		fmt.Fprintf(w, "%s %s %s: %s\n", red("!"), head, red("ERROR"), r.Error)
		if r.detail != "" {
			fmt.Fprintln(w, indent(r.detail, 6))
		}
	}
}

func indent(s string, n int) string {
	pad := strings.Repeat(" ", n)
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = pad + l
	}
	return strings.Join(lines, "\n")
}

// testMutant copies the reference into a temporary directory, puts the
// tests in place, applies m (none for a baseline run) and runs the checks
// of m's stage.
func testMutant(ctx context.Context, c mutantsConfig, root string, tests map[string][]byte, m mutants.Mutant) (r mutantResult) {
	r = mutantResult{Mutant: m, Name: m.Name, Lab: m.Lab, Why: m.Why}
	start := time.Now()
	defer func() { r.Seconds = time.Since(start).Seconds() }()
	errorf := func(detail, format string, args ...any) mutantResult {
		r.Outcome, r.Error, r.detail = broken, fmt.Sprintf(format, args...), detail
		return r
	}
	if ctx.Err() != nil {
		return errorf("", "interrupted")
	}
	if m.Lab < 0 || m.Lab > 4 {
		return errorf("", "lab %d does not exist", m.Lab)
	}
	tmp, err := os.MkdirTemp("", "tcplab-mutant-")
	if err != nil {
		return errorf("", "%v", err)
	}
	defer os.RemoveAll(tmp)
	if err := copyForMutants(root, tmp, tests); err != nil {
		return errorf("", "%v", err)
	}
	if m.Name != "" {
		if err := m.Apply(tmp); err != nil {
			return errorf("", "does not apply: %v", err)
		}
	}
	lab := mutants.LabDir(m.Lab)
	// The lab itself must build: a mutant the compiler rejects is an error
	// in the catalogue. Its tests not building is a different error: the
	// tests lean on something the mutant changed.
	build := exec.CommandContext(ctx, "go", "build", "./"+lab)
	build.Dir = tmp
	if out, err := build.CombinedOutput(); err != nil {
		if m.Name == "" {
			return errorf(string(out), "the reference's %s does not build", lab)
		}
		return errorf(firstLines(string(out), 5), "does not compile")
	}
	steppedCatch := false // r.Check failed at a harness step
	for _, s := range suites {
		if s.stage != m.Lab || s.bench != "" || !strings.HasPrefix(s.pkg, "labs/") {
			// Speed checks measure, they do not catch bugs; the checks
			// against Linux test the framework around the labs too.
			continue
		}
		rs, err := gotest.Run(ctx, gotest.Options{
			Dir:     tmp,
			Package: "./" + s.pkg,
			Args:    []string{"-vet=off"},
			Timeout: c.timeout,
			Budget:  c.pkgTimeout,
		})
		if err != nil {
			var be *gotest.BuildError
			if errors.As(err, &be) {
				return errorf(firstLines(be.Output, 5), "the tests of %s do not build", s.pkg)
			}
			return errorf("", "%s: %v", s.pkg, err)
		}
		for _, t := range rs {
			if t.Status == gotest.Skip {
				continue
			}
			r.Checks++
			if t.Status != gotest.Fail {
				continue
			}
			r.Failed++
			r.All = append(r.All, readableName(t.Name))
			// The catching check shown is the first named step-driven case
			// that failed, else the first check: a named case says what the
			// bug broke better than a randomized transfer does.
			detail := condense(t.Output)
			stepped := strings.Contains(detail, "✗ ")
			if r.Check == "" || stepped && !steppedCatch {
				r.Check, r.detail, r.Message = readableName(t.Name), detail, failureLine(detail)
				steppedCatch = stepped
			}
		}
	}
	if ctx.Err() != nil {
		return errorf("", "interrupted")
	}
	switch {
	case r.Checks == 0:
		return errorf("", "no checks ran for lab %d", m.Lab)
	case m.Name == "" && r.Failed > 0:
		return errorf(r.detail, "%d of %d checks fail: %s", r.Failed, r.Checks, r.Check)
	case r.Failed > 0:
		r.Outcome = caught
	default:
		r.Outcome = survived
	}
	return r
}

// readableName is a check's name as its author wrote it.
func readableName(name string) string {
	top, rest, ok := strings.Cut(name, "/")
	if !ok {
		return name
	}
	return top + "/" + strings.ReplaceAll(rest, "_", " ")
}

// failureLine picks the one line that says what went wrong: the harness's
// failing step, testify's error, or the first message.
func failureLine(detail string) string {
	lines := strings.Split(detail, "\n")
	for _, l := range lines {
		if t := strings.TrimSpace(l); strings.HasPrefix(t, "✗ ") || strings.HasPrefix(t, "panic: ") || strings.HasPrefix(t, "timed out") {
			return t
		}
	}
	for i, l := range lines {
		if t, ok := strings.CutPrefix(strings.TrimSpace(l), "Error: "); ok {
			if i+1 < len(lines) && (t == "" || strings.HasSuffix(t, ":")) {
				t += " " + strings.TrimSpace(lines[i+1])
			}
			return t
		}
	}
	for _, l := range lines {
		if t := strings.TrimSpace(logHeader.ReplaceAllString("    "+l, "")); t != "" && t != "steps so far:" && !seedOnly.MatchString(t) {
			return t
		}
	}
	return "(no message)"
}

// seedOnly is a randomized test's opening line: true, and no help.
var seedOnly = regexp.MustCompile(`^seed \d+$`)

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = append(lines[:n], "…")
	}
	return strings.Join(lines, "\n")
}

// mutantDirs is what a lab's tests need of the module: the labs (each may
// import the ones before it), the step runner and the ladder diagrams that
// failing sender and connection checks draw. TestMutantDirsHoldEveryDependency
// keeps it honest.
var mutantDirs = []string{"labs", harnessDir, "internal/ladder"}

// copyForMutants copies go.mod, go.sum and mutantDirs from root to dst.
// With tests set, every test file, testdata directory and harness file of
// the graded packages is theirs instead of the reference's.
func copyForMutants(root, dst string, tests map[string][]byte) error {
	for _, f := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			return fmt.Errorf("copying the reference: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dst, f), b, 0o644); err != nil {
			return fmt.Errorf("copying the reference: %w", err)
		}
	}
	replaced := func(slash string) bool {
		if tests == nil {
			return false
		}
		for _, dir := range officialDirs() {
			if dir == harnessDir && !hasOfficial(tests, dir) {
				continue // a tree without its own step runner uses the reference's
			}
			if r, ok := strings.CutPrefix(slash, dir+"/"); ok && officialFile(dir, r) {
				return true
			}
		}
		return false
	}
	for _, d := range mutantDirs {
		src := filepath.Join(root, filepath.FromSlash(d))
		err := filepath.WalkDir(src, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			if e.IsDir() {
				return os.MkdirAll(filepath.Join(dst, rel), 0o755)
			}
			if !e.Type().IsRegular() || replaced(filepath.ToSlash(rel)) {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
		})
		if err != nil {
			return fmt.Errorf("copying the reference: %w", err)
		}
	}
	for p, b := range tests {
		full := filepath.Join(dst, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, b, 0o644); err != nil {
			return fmt.Errorf("writing the tests: %w", err)
		}
	}
	return nil
}

// markdownTable is the README's table of mutants, from a run.
func markdownTable(rs []mutantResult) string {
	var b strings.Builder
	b.WriteString("| mutant | lab | the bug | caught by |\n|---|---|---|---|\n")
	cell := func(s string) string {
		return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
	}
	for _, r := range rs {
		var by string
		switch r.Outcome {
		case caught:
			by = fmt.Sprintf("`%s`: %s", cell(r.Check), cell(r.Message))
		case survived:
			by = "**survived**"
		default:
			by = "**error**: " + cell(r.Error)
		}
		fmt.Fprintf(&b, "| `%s` | %d | %s | %s |\n", r.Name, r.Lab, cell(r.Why), by)
	}
	return b.String()
}
