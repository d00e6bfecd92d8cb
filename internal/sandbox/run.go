package sandbox

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// envResult names the file where a test's child writes how its body ended,
// so the parent can tell "passed" from "never ran" (a -test.run pattern
// that matched nothing also exits 0).
const envResult = "TCPLAB_SANDBOX_RESULT"

// EnvRequire, set to 1, turns Run's skip where the sandbox is unavailable
// into a failure.
const EnvRequire = "TCPLAB_REQUIRE_SANDBOX"

// Run runs fn inside a fresh sandbox and reports its outcome as t's: the
// test binary is re-executed with -test.run selecting exactly t, and in that
// child Run calls fn with tun144 open and configured. The child's output
// appears in t's log, each line marked "sandbox|"; a failure inside fails t,
// a skip inside skips it. Where the sandbox cannot run, t is skipped with
// the reason, or fails if TCPLAB_REQUIRE_SANDBOX=1 (set it in CI, so that a
// broken sandbox cannot pass as a run of skipped tests).
//
// The rest of t's body runs twice, in the parent and in the child: do the
// work inside fn, and guard anything before or after Run that must happen
// only on the host with Inside (after Run returns, the parent can check
// that the sandbox left nothing behind). Run must be called from t's own
// goroutine, at most once per test.
func Run(t *testing.T, fn func(t *testing.T, env *Env)) {
	t.Helper()
	if os.Getenv(envMode) == "test:"+t.Name() {
		runChild(t, fn)
		return
	}
	a, err := availability()
	if err != nil {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("%v (and %s=1)", err, EnvRequire)
		}
		t.Skip(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatalf("sandbox: cannot find the test binary to re-run it: %v", err)
	}
	result := filepath.Join(t.TempDir(), "result")
	// Verbose, so that a skip's reason is printed: the parent reports it
	// as its own (the lines reach the parent's log, which go test shows
	// only when asked to or when the test fails).
	args := []string{"-test.run=" + runPattern(t.Name()), "-test.count=1", "-test.v=true"}
	if deadline, ok := t.Deadline(); ok {
		args = append(args, "-test.timeout="+time.Until(deadline).String())
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), envMode+"=test:"+t.Name(), envResult+"="+result)
	sa := *a
	cmd.SysProcAttr = &sa
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	err = cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		t.Fatalf("sandbox: start the child: %v", err)
	}
	// Stream as it comes: a hanging child's output is what explains it.
	// The pipe ends when the child (PID 1 of its namespace, so the last of
	// its processes) exits.
	relay := relayer{name: t.Name(), log: func(line string) { t.Log("sandbox| " + line) }}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		relay.line(sc.Text())
	}
	relay.flush()
	r.Close()
	waitErr := cmd.Wait()
	outcome, readErr := os.ReadFile(result)
	switch {
	case readErr != nil:
		t.Fatalf("sandbox: the child never ran the test's body (%v; exit: %v)", readErr, waitErr)
	case strings.HasPrefix(string(outcome), "skip"):
		if relay.skipReason == "" {
			t.Skip("skipped inside the sandbox")
		}
		t.Skip(relay.skipReason)
	case string(outcome) != "pass":
		t.Fatalf("sandbox: the test failed inside (exit: %v)", waitErr)
	case waitErr != nil:
		t.Fatalf("sandbox: the test passed inside but the child failed: %v", waitErr)
	}
}

// relayer passes the child's output on to the parent's log, without the
// test framework's own lines (=== RUN, --- PASS, PASS, ok, ...), which
// would read as the parent's, and keeps back the log line just before the
// child's "--- SKIP: name": that line is the skip's reason, which the
// parent gives as its own.
type relayer struct {
	name       string
	log        func(string)
	held       string // a log line, until we know whether it is the skip's
	skipReason string
}

var logLine = regexp.MustCompile(`^\s+\S+\.go:\d+: (.*)$`)

func (r *relayer) line(l string) {
	trimmed := strings.TrimSpace(l)
	if strings.HasPrefix(trimmed, "--- SKIP: "+r.name+" ") && r.held != "" {
		r.skipReason = logLine.FindStringSubmatch(r.held)[1]
		r.held = ""
		return
	}
	r.flush()
	switch {
	case frameworkLine(trimmed):
	case logLine.MatchString(l):
		r.held = l
	default:
		r.log(l)
	}
}

func (r *relayer) flush() {
	if r.held != "" {
		r.log(r.held)
		r.held = ""
	}
}

// frameworkLine reports whether l is one the testing package prints about
// tests rather than one a test logged.
func frameworkLine(l string) bool {
	for _, p := range []string{"=== RUN ", "=== PAUSE ", "=== CONT ", "=== NAME ", "--- PASS: ", "--- FAIL: ", "--- SKIP: "} {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return l == "PASS" || l == "FAIL" || strings.HasPrefix(l, "ok ") || strings.HasPrefix(l, "testing: warning: no tests to run")
}

// runPattern selects exactly the test called name (as t.Name() gives it,
// subtests separated by "/") and none of its siblings.
func runPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

func runChild(t *testing.T, fn func(t *testing.T, env *Env)) {
	result := os.Getenv(envResult)
	t.Cleanup(func() {
		outcome := "pass"
		switch {
		case t.Failed():
			outcome = "fail"
		case t.Skipped():
			outcome = "skip"
		}
		if err := os.WriteFile(result, []byte(outcome), 0o600); err != nil {
			fmt.Fprintf(os.Stderr, "sandbox: record the outcome: %v\n", err)
			os.Exit(3)
		}
	})
	dev, err := prepare(false)
	if err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	t.Cleanup(func() { dev.Close() })
	fn(t, newEnv(dev))
}
