package main

// The attacks command proves the trust boundary: it plants each attack of
// internal/attacks into a copy of the student starter tree, grades it with
// -official, and shows that the score is no higher than the bare starter's
// (and, for an attack the allowlist is meant to refuse, that it was
// refused before anything was built).

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"tcplab/internal/attacks"
)

type attacksConfig struct {
	run        *regexp.Regexp
	starter    string // a starter tree made already
	jsonPath   string
	markdown   bool
	timeout    time.Duration
	pkgTimeout time.Duration
	stdout     io.Writer
	stderr     io.Writer
}

// attackResult is the verdict on one attack ("" for a bare starter's run).
type attackResult struct {
	Name    string  `json:"name"`
	Stage   string  `json:"stage"`
	Want    string  `json:"want"`
	Score   float64 `json:"score"`
	Bare    float64 `json:"bare"`
	Held    bool    `json:"held"`
	How     string  `json:"how"` // the refusal, or why it was contained
	Seconds float64 `json:"seconds"`
}

func attacksMain(args []string, stdout, stderr io.Writer, catalogue []attacks.Attack) int {
	fs := flag.NewFlagSet("grader attacks", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, `usage: go run ./grader attacks [flags]

Plants each attack of internal/attacks into a copy of the starter tree,
grades it with -official, and checks the score is no higher than the bare
starter's. Exit status 0 only if every attack was held.

flags:
`)
		fs.PrintDefaults()
	}
	c := attacksConfig{stdout: stdout, stderr: stderr}
	runPat := fs.String("run", "", "only the attacks whose name matches `REGEX`")
	fs.StringVar(&c.starter, "starter", "", "use the starter tree `DIR` (default: generate one with cmd/mkstarter)")
	fs.StringVar(&c.jsonPath, "json", "", "also write the results as JSON to `FILE`")
	fs.BoolVar(&c.markdown, "markdown", false, "also print the results as a Markdown table")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "longest any one check may run under an attack")
	fs.DurationVar(&c.pkgTimeout, "package-timeout", 30*time.Second, "longest one package's checks may run under an attack")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		return 2
	}
	if *runPat != "" {
		re, err := regexp.Compile(*runPat)
		if err != nil {
			fmt.Fprintf(stderr, "grader attacks: -run: %v\n", err)
			return 2
		}
		c.run = re
	}
	rs, err := runAttacks(c, catalogue)
	if err != nil {
		fmt.Fprintf(stderr, "grader attacks: %v\n", err)
		return 2
	}
	if c.markdown {
		fmt.Fprint(stdout, "\n"+attackTable(rs))
	}
	if c.jsonPath != "" {
		b, _ := json.MarshalIndent(rs, "", "  ")
		if err := os.WriteFile(c.jsonPath, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintf(stderr, "grader attacks: %v\n", err)
			return 2
		}
	}
	for _, r := range rs {
		if !r.Held {
			return 1
		}
	}
	return 0
}

func runAttacks(c attacksConfig, catalogue []attacks.Attack) ([]attackResult, error) {
	root, err := findRoot("")
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "tcplab-attacks-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	starter := c.starter
	if starter == "" {
		starter = filepath.Join(tmp, "starter")
		cmd := exec.Command("go", "run", "./cmd/mkstarter", "-out", starter)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("making the starter: %v\n%s", err, out)
		}
	}
	var todo []attacks.Attack
	for _, a := range catalogue {
		if c.run == nil || c.run.MatchString(a.Name) {
			todo = append(todo, a)
		}
	}

	// The bare starter's score at each stage an attack is graded at.
	bare := map[string]float64{}
	var rs []attackResult
	for _, a := range todo {
		if _, ok := bare[a.Stage]; ok {
			continue
		}
		start := time.Now()
		score, _, err := c.grade(starter, a.Stage)
		if err != nil {
			return nil, fmt.Errorf("the bare starter at %s: %w", a.Stage, err)
		}
		bare[a.Stage] = score
		r := attackResult{Name: "(bare starter)", Stage: a.Stage, Score: score, Bare: score, Held: true, Seconds: time.Since(start).Seconds()}
		c.print(r)
		rs = append(rs, r)
	}
	for i, a := range todo {
		start := time.Now()
		r := attackResult{Name: a.Name, Stage: a.Stage, Want: a.Want, Bare: bare[a.Stage]}
		tree := filepath.Join(tmp, fmt.Sprintf("attack%d", i))
		if err := copyTree(starter, tree); err != nil {
			return nil, err
		}
		if err := a.Plant(tree); err != nil {
			return nil, err
		}
		score, out, err := c.grade(tree, a.Stage)
		os.RemoveAll(tree)
		if err != nil {
			return nil, fmt.Errorf("attack %s: %w", a.Name, err)
		}
		r.Score, r.Seconds = score, time.Since(start).Seconds()
		refusal := firstRefusal(out)
		switch {
		case r.Score > r.Bare:
			r.How = fmt.Sprintf("FORGED: %.2f, above the bare starter's %.2f", r.Score, r.Bare)
		case a.Want == attacks.Refused && refusal == "":
			r.How = "NOT REFUSED: the allowlist let it through (scored no higher all the same)"
		case a.Want == attacks.Contained && refusal != "":
			r.How = "refused, though it was meant to be allowed code: " + refusal
		case refusal != "":
			r.Held, r.How = true, refusal
		default:
			r.Held, r.How = true, "contained: it built and ran, and scored no higher"
		}
		c.print(r)
		rs = append(rs, r)
	}
	return rs, nil
}

// grade grades tree at stage with -official, in this process, and returns
// the score and what the grader printed.
func (c attacksConfig) grade(tree, stage string) (float64, string, error) {
	results := filepath.Join(filepath.Dir(tree), filepath.Base(tree)+"-results.json")
	defer os.Remove(results)
	var out bytes.Buffer
	code := run([]string{"-dir", tree, "-official", "-json", results,
		"-timeout", c.timeout.String(), "-package-timeout", c.pkgTimeout.String(), stage}, &out, &out)
	b, err := os.ReadFile(results)
	if err != nil {
		return 0, out.String(), fmt.Errorf("no results (exit status %d): %v\n%s", code, err, out.String())
	}
	var r gsResults
	if err := json.Unmarshal(b, &r); err != nil {
		return 0, out.String(), err
	}
	if code == 2 {
		return 0, out.String(), fmt.Errorf("the grader could not grade (exit status 2):\n%s", out.String())
	}
	return r.Score, out.String(), nil
}

func (c attacksConfig) print(r attackResult) {
	mark := green("held")
	if !r.Held {
		mark = red("BROKEN")
	}
	if r.Want == "" {
		mark = faint("baseline")
	}
	fmt.Fprintf(c.stdout, "%-24s %-7s %6.2f (bare %6.2f) %s %s %s\n", r.Name, r.Stage, r.Score, r.Bare, mark, r.How, faint(fmt.Sprintf("%.0fs", r.Seconds)))
}

// firstRefusal is the first line of the grader's output that says it
// refused lab code, without its label.
func firstRefusal(out string) string {
	for _, l := range strings.Split(stripColor(out), "\n") {
		if r, ok := strings.CutPrefix(l, "refused: "); ok {
			return r
		}
	}
	return ""
}

// copyTree copies a tree's regular files, .git left out.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			if d.Name() == ".git" {
				return fs.SkipDir
			}
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
	})
}

// attackTable is the catalogue's results as a Markdown table.
func attackTable(rs []attackResult) string {
	var b strings.Builder
	b.WriteString("| attack | stage | score | bare starter | how it was held |\n|---|---|---|---|---|\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "| `%s` | %s | %.2f | %.2f | %s |\n", r.Name, r.Stage, r.Score, r.Bare, strings.ReplaceAll(r.How, "|", "\\|"))
	}
	return b.String()
}
