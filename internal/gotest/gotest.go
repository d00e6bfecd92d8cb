// Package gotest runs a package's tests in a child `go test -json` process
// and turns its event stream into results, one per leaf test (a test with no
// subtests) and one per benchmark.
//
// It sits between the grader and the go command: the grader says which
// package, which tests and how long any one test may take; gotest makes sure
// that nothing a student's code does — a panic, an infinite loop, a build
// error — can hang or crash the caller. A crash or a hang ends the child
// process, so the tests after it are run again in a fresh one, skipping the
// tests already decided, until every test has a result.
package gotest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Status is how a test ended.
type Status int

const (
	Pass Status = iota
	Fail
	Skip
)

func (s Status) String() string {
	switch s {
	case Pass:
		return "pass"
	case Fail:
		return "fail"
	}
	return "skip"
}

// Result is the outcome of one leaf test or one benchmark.
type Result struct {
	Name    string        // full name, "TestPush/push_beyond_capacity"
	Status  Status        // how it ended
	Elapsed time.Duration // as the test binary measured it
	Output  string        // everything the test printed, framing lines removed
	// Bench is the benchmark's result line ("1234  567 ns/op  1.2 Gbit/s"),
	// for benchmarks only.
	Bench string
}

// Options say what to run and how long it may take.
type Options struct {
	Dir     string        // module root the package path is relative to
	Package string        // "./labs/0-bytestream"
	Run     string        // -run pattern ("" runs every test)
	Bench   string        // -bench pattern; set, it runs benchmarks and no tests
	Args    []string      // more go test flags (-benchtime=...)
	Timeout time.Duration // longest one test or benchmark may run
	Budget  time.Duration // longest the whole package may take, reruns included
	// Credential, when set, is the user the go command and the tests run
	// as: on Gradescope an unprivileged one, which can write neither the
	// tree being graded nor the results.
	Credential *syscall.Credential
	// Progress, when set, hears what the child process is doing, from the
	// goroutine that called Run: building, then each test as it starts.
	Progress func(Progress)
}

// Progress is what a run is doing now.
type Progress struct {
	Building bool   // no test binary runs yet: the go command builds the tests
	Running  string // the test that started last
	Done     int    // tests and benchmarks decided so far
}

// BuildError is returned when the package's tests do not compile. Its
// message is the compiler's output.
type BuildError struct{ Output string }

func (e *BuildError) Error() string { return "build failed:\n" + e.Output }

// maxRuns bounds the reruns after crashes, so a package whose tests crash
// one after another still finishes.
const maxRuns = 500

// Run runs the package's tests (or benchmarks) and returns one result per
// leaf test, in the order they started. A test that crashed the binary or
// ran past Timeout is a failure with what it printed and why it ended.
func Run(ctx context.Context, o Options) ([]Result, error) {
	if o.Budget > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Budget)
		defer cancel()
	}
	c := newCollector()
	for range maxRuns {
		done := c.decidedCount()
		end, err := runOnce(ctx, o, c)
		if err != nil {
			return nil, err
		}
		if end.normal {
			break
		}
		if end.hungAtStart {
			if len(c.tests) == 0 {
				return nil, fmt.Errorf("no test started in the %v the test binary ran: does the package hang as it starts (init, TestMain)?", o.Timeout)
			}
			// A rerun that hangs before its first test: the tests it
			// would have run are never reported.
			break
		}
		if end.exited {
			// Nothing to learn from running it again: it exits again,
			// and the tests after it never run.
			c.failRunning("the test binary exited during this test, without a panic: os.Exit or log.Fatal in lab code?")
		}
		if ctx.Err() != nil && len(c.tests) == 0 {
			return nil, fmt.Errorf("no test started in %v: does the package hang as it starts (init, TestMain)?", o.Budget)
		}
		if ctx.Err() == context.DeadlineExceeded {
			c.failRunning(fmt.Sprintf("the package ran out of time (%v for all its tests)", o.Budget))
			break
		}
		if ctx.Err() != nil {
			c.failRunning("interrupted")
			break
		}
		if c.decidedCount() == done {
			break // no progress: the crash is outside any test we can skip
		}
	}
	c.failRunning("the test binary stopped before this test ended")
	return c.results(), nil
}

// runEnd says how one child process ended.
type runEnd struct {
	normal bool // every test that started also ended, nothing crashed
	// hungAtStart: the test binary ran for a test's timeout without
	// starting a test.
	hungAtStart bool
	// exited: the binary ended while tests ran, with no panic and no
	// timeout: it exited on its own.
	exited bool
}

// runOnce runs one child process, skipping every test already decided.
func runOnce(ctx context.Context, o Options, c *collector) (runEnd, error) {
	args := []string{"test", "-json", "-count=1"}
	if o.Bench != "" {
		args = append(args, "-run=^$", "-bench="+o.Bench)
	} else if o.Run != "" {
		args = append(args, "-run="+o.Run)
	}
	if skip := c.skipPattern(); skip != "" {
		args = append(args, "-skip="+skip)
	}
	args = append(args, o.Args...)
	args = append(args, o.Package)

	cmd := exec.Command("go", args...)
	cmd.Dir = o.Dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	// Its own process group, so a timeout kills the test binary too, not
	// only the go command that started it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: o.Credential}
	var stderr boundedBuffer
	cmd.Stderr = &stderr
	// Our own pipe rather than StdoutPipe: reading it can be given a
	// deadline, for when a process the tests left behind holds it open.
	stdout, w, err := os.Pipe()
	if err != nil {
		return runEnd{}, fmt.Errorf("go test %s: %w", o.Package, err)
	}
	defer stdout.Close()
	cmd.Stdout = w
	err = cmd.Start()
	w.Close()
	if err != nil {
		return runEnd{}, fmt.Errorf("go test %s: %w", o.Package, err)
	}
	kill := func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	watch := binaryWatch{goPid: cmd.Process.Pid}
	// Whatever the run left behind in its group goes with it, however it
	// ended: nothing a test started outlives its run.
	defer kill()

	events := make(chan Event)
	readErr := make(chan error, 1)
	go func() {
		readErr <- decode(stdout, events)
		close(events)
	}()

	c.crashed, c.binaryStarted = false, false
	if o.Progress != nil {
		o.Progress(Progress{Building: true, Done: c.decidedCount()})
	}
	var timedOut string
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
loop:
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				break loop
			}
			c.add(ev)
			if o.Progress != nil && (ev.Action == "start" || ev.Action == "run" || ev.Test != "" && ev.Action != "output") {
				o.Progress(Progress{Running: c.lastRun, Done: c.decidedCount()})
			}
		case <-tick.C:
			if name := c.overdue(o.Timeout); name != "" && timedOut == "" {
				timedOut = name
				kill()
			}
			if c.started == 0 && timedOut == "" && watch.silentFor(o.Timeout) {
				// The binary runs, but no test has begun within the time
				// one test may take: an init (or TestMain) that never
				// returns. Waiting out the package's budget tells no more.
				timedOut = "-init"
				kill()
			}
			if watch.gone(c.binaryStarted) {
				// The test binary has exited, but the go command still
				// waits for its output to end: a process the tests
				// started holds it open. What the binary said is all
				// there is; stop waiting for the rest.
				kill()
				_ = stdout.SetReadDeadline(time.Now().Add(time.Second))
			}
		case <-ctx.Done():
			if timedOut == "" {
				timedOut = "-"
				kill()
			}
		}
	}
	<-readErr
	waitErr := cmd.Wait()

	if c.buildFailed != "" || (c.started == 0 && waitErr != nil && c.decidedCount() == 0 && strings.Contains(stderr.String()+c.pkgOutput.String(), "build failed")) {
		msg := c.buildFailed
		if msg == "" {
			msg = stderr.String()
		}
		return runEnd{}, &BuildError{Output: strings.TrimSpace(msg)}
	}
	if timedOut == "-init" {
		return runEnd{hungAtStart: true}, nil
	}
	if timedOut != "" && timedOut != "-" {
		c.fail(timedOut, fmt.Sprintf("timed out: still running after %v (an endless loop?)", o.Timeout))
	}
	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) {
		return runEnd{}, fmt.Errorf("go test %s: %w", o.Package, waitErr)
	}
	if c.started == 0 && waitErr != nil && !c.crashed && timedOut == "" {
		// go test failed before running anything and not as a build
		// failure: a bad flag, a missing package. Say so.
		return runEnd{}, fmt.Errorf("go test %s: %s%s", o.Package, stderr.String(), c.pkgOutput.String())
	}
	normal := timedOut == "" && !c.crashed && !c.anyRunning()
	exited := timedOut == "" && !c.crashed && c.anyRunning()
	return runEnd{normal: normal, exited: exited}, nil
}

// binaryWatch tells when the test binary the go command started has
// exited, from /proc: the go command's child whose program ends in
// ".test". The go command waits until every copy of the binary's output is
// closed, so a process the tests started and left behind would otherwise
// keep the run going, for as long as that process lives.
type binaryWatch struct {
	goPid   int
	polls   int
	seen    bool      // the binary has been running
	seenAt  time.Time // when it was first seen running
	goneAt  time.Time // when it was first found gone
	reached bool      // goneAt passed its grace
}

// gone reports, once, that the binary ran (started: the event stream says
// so, for a binary too quick to be seen), has exited, and the go command
// has had a second to pass on its last words.
func (b *binaryWatch) gone(started bool) bool {
	b.polls++
	if b.reached || b.polls%5 != 0 {
		return false
	}
	if testBinaryRunning(b.goPid) {
		if !b.seen {
			b.seenAt = time.Now()
		}
		b.seen, b.goneAt = true, time.Time{}
		return false
	}
	if !b.seen && !started {
		return false
	}
	if b.goneAt.IsZero() {
		b.goneAt = time.Now()
		return false
	}
	if time.Since(b.goneAt) < time.Second {
		return false
	}
	b.reached = true
	return true
}

// silentFor reports whether the binary has been seen running for longer
// than limit (0: no limit).
func (b *binaryWatch) silentFor(limit time.Duration) bool {
	return limit > 0 && b.seen && time.Since(b.seenAt) > limit
}

// testBinaryRunning reports whether a child of the process parent runs a
// program whose name ends in ".test".
func testBinaryRunning(parent int) bool {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return true // cannot tell: assume it runs, as before
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// "pid (comm) state ppid ...": comm may hold spaces and parens.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(parent) {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if err != nil {
			continue
		}
		prog, _, _ := bytes.Cut(cmdline, []byte{0})
		if bytes.HasSuffix(prog, []byte(".test")) {
			return true
		}
	}
	return false
}

// Event is one line of `go test -json` (cmd/test2json's TestEvent, plus
// the build events of Go 1.24).
type Event struct {
	Time        time.Time
	Action      string
	Package     string
	Test        string
	Elapsed     float64
	Output      string
	ImportPath  string
	FailedBuild string
}

func decode(r io.Reader, out chan<- Event) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := readLine(br, maxLine)
		if len(line) > 0 {
			var ev Event
			if line[0] != '{' || json.Unmarshal(line, &ev) != nil {
				// Not an event: stray output of a build step, or an
				// event too long to keep whole. Keep it as output.
				out <- Event{Action: "output", Output: string(line) + "\n"}
			} else {
				out <- ev
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// maxLine bounds the part of one line of the child's output that is read
// into memory; the rest of a longer line is read and dropped, so a test
// that prints one endless line neither stops the decoding nor fills memory.
const maxLine = 16 << 20

// readLine reads one line without its newline, keeping at most max bytes.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		if room := max - len(line); room > 0 {
			line = append(line, frag[:min(len(frag), room)]...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return bytes.TrimRight(line, "\r\n"), err
	}
}

// test is what the collector knows about one test.
type test struct {
	name     string
	started  time.Time // wall clock at its run event, for the timeout
	running  bool
	paused   bool
	decided  bool
	status   Status
	elapsed  time.Duration
	out      strings.Builder
	parent   bool // has subtests
	bench    string
	order    int
	isBench  bool
	benchOut string          // a benchmark's output line so far
	failNote strings.Builder // why it failed, when the runner knows more than the test said
}

// collector accumulates events over one or more child processes.
type collector struct {
	tests   map[string]*test
	order   int
	started int // tests started in the current process
	// binaryStarted: the current process's test binary has started.
	binaryStarted bool
	lastRun       string // the test that started last
	crashed       bool
	capture       int // lines of a panic still to copy to lastFailed
	buildFailed   string
	buildOut      strings.Builder
	pkgOutput     strings.Builder
	lastFailed    *test
	kept          int                       // bytes of output kept so far, every buffer together
	cut           map[*strings.Builder]bool // buffers that were cut: nothing more goes in
}

func newCollector() *collector {
	return &collector{tests: map[string]*test{}, cut: map[*strings.Builder]bool{}}
}

func (c *collector) get(name string) *test {
	t := c.tests[name]
	if t == nil {
		t = &test{name: name, order: c.order, isBench: strings.HasPrefix(name, "Benchmark")}
		c.order++
		c.tests[name] = t
	}
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		p := c.get(name[:i])
		p.parent = true
	}
	return t
}

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(-\d+)?\s+(\d+\s+.*)$`)

func (c *collector) add(ev Event) {
	switch ev.Action {
	case "build-output":
		c.keep(&c.buildOut, ev.Output)
		return
	case "build-fail":
		c.buildFailed = c.buildOut.String()
		return
	}
	if ev.Test == "" {
		switch ev.Action {
		case "start":
			c.started, c.capture = 0, 0
			c.binaryStarted = true
		case "output":
			c.keep(&c.pkgOutput, ev.Output)
			if c.capture > 0 && c.lastFailed != nil {
				c.capture--
				c.keep(&c.lastFailed.failNote, ev.Output)
			}
			if m := benchLine.FindStringSubmatch(strings.TrimRight(ev.Output, "\n")); m != nil {
				// A benchmark's result line comes as package output.
				b := c.get(m[1])
				b.bench = strings.Join(strings.Fields(m[3]), " ")
				b.decided, b.running, b.status = true, false, Pass
			}
			c.notePanic(ev.Output)
		case "fail", "pass":
			c.capture = 0
			// Benchmarks that ran sub-benchmarks get no end event.
			for _, t := range c.tests {
				if t.isBench && t.parent {
					t.running = false
				}
			}
			if ev.FailedBuild != "" && c.buildFailed == "" {
				c.buildFailed = c.buildOut.String()
			}
		}
		return
	}
	t := c.get(ev.Test)
	if ev.Action != "output" && ev.Action != "fail" {
		c.capture = 0 // the panic's report is over
	}
	switch ev.Action {
	case "run":
		c.started++
		c.lastRun = ev.Test
		t.running, t.started = true, time.Now()
	case "pause":
		t.paused = true // a parallel test waiting its turn is not slow
	case "cont":
		t.paused, t.started = false, time.Now()
	case "output":
		if isFraming(ev.Output) {
			return
		}
		if t.isBench {
			// A result line may come in pieces ("BenchmarkX-8 \t", then
			// " 1000\t 241 ns/op ...\n").
			t.benchOut += ev.Output
			if len(t.benchOut) > maxOutput {
				t.benchOut = "" // no result line is this long
			}
			if !strings.HasSuffix(t.benchOut, "\n") {
				return
			}
			line := strings.TrimRight(t.benchOut, "\n")
			t.benchOut = ""
			if m := benchLine.FindStringSubmatch(line); m != nil {
				b := c.get(m[1])
				b.bench = strings.Join(strings.Fields(m[3]), " ")
				b.decided, b.running, b.status = true, false, Pass
				return
			}
			if line == t.name {
				return // the name, printed as it starts
			}
			ev.Output = line + "\n"
		}
		if c.capture > 0 && c.lastFailed != nil && c.lastFailed != t {
			c.capture--
			c.keep(&c.lastFailed.failNote, ev.Output)
			return
		}
		c.keep(&t.out, ev.Output)
		c.notePanic(ev.Output)
	case "pass", "fail", "skip", "bench":
		t.running, t.decided = false, true
		t.elapsed = time.Duration(ev.Elapsed * float64(time.Second))
		switch ev.Action {
		case "fail":
			t.status = Fail
			if !t.parent {
				c.lastFailed = t
			}
		case "skip":
			t.status = Skip
		default:
			t.status = Pass
		}
	}
}

// notePanic marks the process as crashed when the runtime reports a panic
// that escaped a test; the panic belongs to the leaf that failed last.
func (c *collector) notePanic(out string) {
	if !strings.HasPrefix(out, "panic: ") && !strings.HasPrefix(out, "fatal error: ") {
		return
	}
	c.crashed = true
	if t := c.lastFailed; t != nil && t.failNote.Len() == 0 {
		c.keep(&t.failNote, out)
		c.capture = 40
	}
}

func isFraming(s string) bool {
	for _, p := range []string{"=== RUN", "=== PAUSE", "=== CONT", "=== NAME", "--- PASS", "--- FAIL", "--- SKIP", "--- BENCH", "PASS\n", "FAIL\n", "ok  \t"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func (c *collector) decidedCount() int {
	n := 0
	for _, t := range c.tests {
		if t.decided {
			n++
		}
	}
	return n
}

func (c *collector) anyRunning() bool {
	for _, t := range c.tests {
		if t.running {
			return true
		}
	}
	return false
}

// overdue returns a running leaf that has run longer than limit.
func (c *collector) overdue(limit time.Duration) string {
	if limit <= 0 {
		return ""
	}
	for _, t := range c.tests {
		if t.running && !t.parent && !t.paused && time.Since(t.started) > limit {
			return t.name
		}
	}
	return ""
}

// fail decides a test as failed with a note on why.
func (c *collector) fail(name, why string) {
	t := c.get(name)
	t.running, t.decided, t.status = false, true, Fail
	// The runner's own words, replacing whatever was noted: not charged
	// to the run's bound.
	t.failNote.Reset()
	delete(c.cut, &t.failNote)
	t.failNote.WriteString(why)
}

// failRunning fails every leaf still marked running: the process it ran in
// is gone.
func (c *collector) failRunning(why string) {
	for _, t := range c.tests {
		if t.running && !t.parent {
			c.fail(t.name, why)
		}
		if t.running {
			t.running = false
		}
	}
}

// skipPattern is a -skip pattern matching every decided leaf and every
// top-level test whose subtests are all decided, so a rerun starts where
// the crash stopped the last process. Top-level | separates whole paths
// (testing's splitRegexp), so each alternative names exactly one test.
func (c *collector) skipPattern() string {
	var alts []string
	for _, t := range c.tests {
		if !t.decided || t.isBench {
			continue
		}
		if t.parent {
			// A parent may have failed because a subtest crashed before
			// its later subtests ran: run it again, skipping its leaves.
			continue
		}
		var parts []string
		for _, e := range strings.Split(t.name, "/") {
			parts = append(parts, "^"+regexp.QuoteMeta(e)+"$")
		}
		alts = append(alts, strings.Join(parts, "/"))
	}
	return strings.Join(alts, "|")
}

// results lists the leaves and benchmarks in the order they started.
func (c *collector) results() []Result {
	var ts []*test
	for _, t := range c.tests {
		if !t.parent || t.bench != "" {
			ts = append(ts, t)
		}
	}
	for i := 1; i < len(ts); i++ {
		for j := i; j > 0 && ts[j].order < ts[j-1].order; j-- {
			ts[j], ts[j-1] = ts[j-1], ts[j]
		}
	}
	var rs []Result
	for _, t := range ts {
		out := t.out.String()
		if note := t.failNote.String(); note != "" {
			if out != "" && !strings.HasSuffix(out, "\n") {
				out += "\n"
			}
			out += strings.TrimRight(note, "\n") + "\n"
		}
		if t.isBench && t.bench == "" && !t.decided {
			t.status = Fail
		}
		rs = append(rs, Result{Name: t.name, Status: t.status, Elapsed: t.elapsed, Output: out, Bench: t.bench})
	}
	return rs
}

// maxOutput bounds what is kept of any one test's output (and the
// package's): a test that prints a gigabyte costs the grader a megabyte.
const maxOutput = 1 << 20

// maxRunOutput bounds what one Run keeps of everything the package printed,
// all its tests and reruns together: a thousand tests that print a
// megabyte each (lab code that returns a megabyte of data, printed by
// every failing check) cost the grader 16 MiB, not a gigabyte.
const maxRunOutput = 16 << 20

const (
	cutNote    = "\n… (output cut: more than 1 MiB)\n"
	runCutNote = "\n… (output cut: the package printed more than 16 MiB)\n"
)

// keep appends s to b within b's bound (maxOutput) and what is left of the
// run's (maxRunOutput), then notes the cut once and takes no more into b.
func (c *collector) keep(b *strings.Builder, s string) {
	if c.cut[b] {
		return
	}
	room := max(0, min(maxOutput-b.Len(), maxRunOutput-c.kept))
	if len(s) <= room {
		b.WriteString(s)
		c.kept += len(s)
		return
	}
	b.WriteString(s[:room])
	c.kept += room
	if b.Len() >= maxOutput {
		b.WriteString(cutNote)
	} else {
		b.WriteString(runCutNote)
	}
	c.cut[b] = true
}

// boundedBuffer keeps the first maxOutput bytes written to it: the go
// command's own stderr, which a run cannot otherwise bound.
type boundedBuffer struct {
	b   strings.Builder
	cut bool
}

func (w *boundedBuffer) Write(p []byte) (int, error) {
	switch room := maxOutput - w.b.Len(); {
	case w.cut:
	case len(p) <= room:
		w.b.Write(p)
	default:
		w.b.Write(p[:room])
		w.b.WriteString(cutNote)
		w.cut = true
	}
	return len(p), nil
}

func (w *boundedBuffer) String() string { return w.b.String() }
