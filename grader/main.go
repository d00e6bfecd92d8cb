// Command grader checks the labs stage by stage, as the course's
// `make check0` … `make check4` did: `go run ./grader check2` runs the
// byte stream, reassembler and receiver checks and says, for each failing
// one, which step broke and how.
//
// It sits outside the labs: it runs each package's tests in a child
// `go test -json` process (internal/gotest), so a panic, an endless loop or a
// build error in a lab fails that lab's checks and never hangs or crashes
// the grader. The stage table is in stages.go.
//
// Usage:
//
//	go run ./grader [flags] check0|check1|check2|check3|check4|all [flags]
//	go run ./grader sync-official
//	go run ./grader mutants [flags]   (see mutants.go)
//
// Exit status: 0 if every check passed, 1 if any failed, 2 if the grader
// could not run (bad arguments, not a tcplab tree).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"syscall"
	"time"

	"tcplab/internal/attacks"
	"tcplab/internal/mutants"
)

func usage() {
	fmt.Fprintf(os.Stderr, `usage: go run ./grader [flags] check0|check1|check2|check3|check4|all [flags]
       go run ./grader sync-official   (instructors: refresh the official tests)
       go run ./grader mutants [flags] (instructors: do the checks catch the known bugs?)
       go run ./grader attacks [flags] (instructors: can lab code forge its grade?)

flags:
`)
	flag.PrintDefaults()
}

// config is what the command line asks for.
type config struct {
	stage       int
	stageName   string
	dir         string         // module root to grade
	verbose     bool           // every leaf, not only groups and failures
	run         *regexp.Regexp // nil: every check
	stop        bool           // stop at the first failure
	timeout     time.Duration  // longest one test may run
	pkgTimeout  time.Duration  // longest one package may run
	benchtime   string
	official    bool      // grade with the embedded official tests
	officialDir string    // grade with the tests of this reference tree
	jsonPath    string    // Gradescope results.json ("-": stdout)
	jsonOut     io.Writer // where -json - writes
	race        bool
	runAs       string // run the tests as this user (Gradescope)
	stdout      io.Writer
	stderr      io.Writer
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "mutants" {
		return mutantsMain(args[1:], stdout, stderr, mutants.Catalogue)
	}
	if len(args) > 0 && args[0] == "attacks" {
		return attacksMain(args[1:], stdout, stderr, attacks.Catalogue)
	}
	fs := flag.NewFlagSet("grader", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = usage
	flag.CommandLine = fs
	c := config{stdout: stdout, stderr: stderr}
	fs.StringVar(&c.dir, "dir", "", "the tcplab tree to grade (default: the module around the current directory)")
	fs.BoolVar(&c.verbose, "v", false, "show every check, not only each group and the failures")
	runPat := fs.String("run", "", "only checks matching `REGEX` (a go test -run pattern; speed checks by benchmark name)")
	fs.BoolVar(&c.stop, "stop", false, "stop at the first failing check")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "longest any one check may run")
	fs.DurationVar(&c.pkgTimeout, "package-timeout", 5*time.Minute, "longest one package's checks may run in all")
	fs.StringVar(&c.benchtime, "benchtime", "200ms", "how long each speed check measures (go test -benchtime)")
	fs.BoolVar(&c.official, "official", false, "grade with the official tests built into the grader, whatever the tree's test files say")
	fs.StringVar(&c.officialDir, "official-dir", "", "grade with the test files of the reference tree `DIR` (implies -official)")
	fs.StringVar(&c.jsonPath, "json", "", "also write a Gradescope results.json to `FILE` (-: to stdout, instead of the report)")
	fs.BoolVar(&c.race, "race", false, "run the tests with the race detector")
	fs.StringVar(&c.runAs, "run-as", "", "run the tests as `USER`, who must not be able to write the results (the grader runs as root; see grader/README.md)")
	words, err := parseInterspersed(fs, args)
	if err != nil {
		return 2
	}
	if len(words) == 1 && words[0] == "sync-official" {
		return syncOfficial(c)
	}
	if len(words) > 0 && words[0] == "mutants" {
		fmt.Fprintf(stderr, "grader: mutants takes its own flags, after it: go run ./grader mutants -h\n")
		return 2
	}
	if len(words) != 1 {
		usage()
		return 2
	}
	n, ok := stageNames[words[0]]
	if !ok {
		fmt.Fprintf(stderr, "grader: unknown stage %q (want check0 … check4 or all)\n", words[0])
		return 2
	}
	c.stage, c.stageName = n, words[0]
	if *runPat != "" {
		re, err := regexp.Compile(*runPat)
		if err != nil {
			fmt.Fprintf(stderr, "grader: -run: %v\n", err)
			return 2
		}
		c.run = re
	}
	if c.officialDir != "" {
		c.official = true
	}

	// -json - wants the results on stdout and nothing else there: the
	// report is in them, and progress would only be noise.
	progressTo := io.Writer(stderr)
	if c.jsonPath == "-" {
		c.jsonOut, c.stdout, progressTo = stdout, io.Discard, nil
	}
	g := &grading{cfg: c, start: time.Now(), progress: newProgress(progressTo)}
	// The results file is written on every way out, a crash of the grader
	// itself included, so Gradescope always has something to show.
	defer func() {
		if p := recover(); p != nil {
			g.fatal(fmt.Errorf("the grader crashed: %v", p))
			g.writeJSON()
			panic(p)
		}
	}()
	// Interrupted, the grader stops its test processes (each runs in its
	// own process group, out of reach of the terminal's ^C) and still
	// writes its results.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := g.grade(ctx)
	if err := g.writeJSON(); err != nil {
		fmt.Fprintf(stderr, "grader: %v\n", err)
		if code == 0 {
			code = 2
		}
	}
	return code
}

// parseInterspersed parses flags wherever they stand among the other
// words, so `grader all -json r.json` means what `grader -json r.json all`
// does: a student adds a flag to the end of the command they just ran. A
// lone "--" ends the flags as usual. It returns the words that are not
// flags, in order.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var words []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return words, nil
		}
		// flag stops at "--" (consumed) or at a word; after "--" every
		// word is positional.
		if len(args) >= len(rest)+1 && args[len(args)-len(rest)-1] == "--" {
			return append(words, rest...), nil
		}
		words = append(words, rest[0])
		args = rest[1:]
	}
}

// errUsage marks errors in how the grader was called or where.
var errUsage = errors.New("cannot grade")
