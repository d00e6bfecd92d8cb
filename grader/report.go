package main

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/fatih/color"

	"tcplab/internal/gotest"
)

// Colors follow fatih/color's rules: on only when stdout is a terminal and
// NO_COLOR is unset.
var (
	green  = color.New(color.FgGreen).SprintFunc()
	red    = color.New(color.FgRed).SprintFunc()
	yellow = color.New(color.FgYellow).SprintFunc()
	bold   = color.New(color.Bold).SprintFunc()
	faint  = color.New(color.Faint).SprintFunc()
)

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

func stripColor(s string) string { return ansi.ReplaceAllString(s, "") }

func mark(s gotest.Status) string {
	switch s {
	case gotest.Pass:
		return green("✓")
	case gotest.Fail:
		return red("✗")
	}
	return yellow("–")
}

// How much of a suite's failures a student reads in full: one root cause
// often fails dozens of checks, and the first few failures say it; the
// next ones get a line each, the rest a count. -v lifts both limits.
const (
	fullFailures  = 2  // per suite, with steps, diff and ladder
	briefFailures = 12 // per suite, one line each, after the full ones
)

// report prints a suite's checks: one line per top-level test (every leaf
// with -v), the first failures in full and the next ones a line each, and
// each skip reason once with its count. A suite that passed whole is one
// line.
func (g *grading) report(cs []check) {
	if len(cs) == 0 {
		g.printf("  %s\n", faint("(no checks matched)"))
		return
	}
	if cs[0].suite.bench != "" {
		if len(cs) > 1 && !g.cfg.verbose && allNotMeasured(cs) {
			// One reason stands for every measurement: a line each would
			// repeat it.
			g.printf("  %s %s %s: %s\n", mark(gotest.Fail), benchName(cs[0].suite.bench), faint("("+plural(len(cs), "check")+")"), cs[0].detail)
			return
		}
		for _, c := range cs {
			g.printf("  %s %s: %s\n", mark(c.status), c.name, c.detail)
			if c.status == gotest.Fail && c.output != "" && !strings.Contains(c.detail, "Gbit/s") && !strings.HasPrefix(c.detail, "not measured") {
				g.printIndented(condense(c.output), 6)
			}
		}
		return
	}
	if len(cs) == 1 && (cs[0].name == "not run" || cs[0].name == "lab code") {
		// Gated or refused before it was built: the reason is the whole story.
		if cs[0].status == gotest.Skip {
			g.printf("  %s %s\n", mark(cs[0].status), yellow("skipped: "+cs[0].detail))
		} else {
			g.printf("  %s %s\n", mark(cs[0].status), cs[0].detail)
		}
		return
	}
	passed, failed, skipped := tally(cs)
	if failed == 0 && skipped == 0 && !g.cfg.verbose {
		g.printf("  %s %s %s\n", mark(gotest.Pass), plural(passed, "check")+" passed", faint(seconds(sumElapsed(cs))))
		return
	}
	r := suiteReport{g: g, full: fullFailures, brief: briefFailures}
	if g.cfg.verbose {
		r.full, r.brief = len(cs), 0
	}
	for len(cs) > 0 {
		top := topName(cs[0].name)
		n := 1
		for n < len(cs) && topName(cs[n].name) == top {
			n++
		}
		group := cs[:n]
		cs = cs[n:]

		if len(group) == 1 && group[0].name == top {
			r.leaf(group[0], top, 2)
			continue
		}
		passed, failed, skipped := tally(group)
		status := gotest.Pass
		if failed > 0 {
			status = gotest.Fail
		} else if passed == 0 {
			status = gotest.Skip
		}
		count := plural(len(group), "check")
		switch {
		case passed+failed == 0:
			count = fmt.Sprintf("%d skipped", skipped)
		case failed > 0 || skipped > 0:
			count = fmt.Sprintf("%d/%d passed", passed, passed+failed)
			if skipped > 0 {
				count += fmt.Sprintf(", %d skipped", skipped)
			}
		}
		g.printf("  %s %s %s %s\n", mark(status), top, faint("("+count+")"), faint(seconds(sumElapsed(group))))
		for _, c := range group {
			r.leaf(c, leafName(c.name), 4)
		}
	}
	if r.hidden > 0 {
		g.printf("  %s\n", faint(fmt.Sprintf("… and %s not shown (-v shows them all, -run picks some)", plural(r.hidden, "more failing check"))))
	}
	for _, reason := range r.skipOrder {
		g.printf("  %s %s %s\n", mark(gotest.Skip), plural(r.skips[reason], "check"), yellow("skipped: "+reason))
	}
}

// suiteReport is what report has shown of one suite so far.
type suiteReport struct {
	g           *grading
	full, brief int // failures still to show in full, and in a line
	hidden      int // failures shown only in the counts
	skips       map[string]int
	skipOrder   []string
}

// leaf prints one check and, for a failure, what the student should read:
// in full while the suite's budget lasts, then its failing step alone.
func (r *suiteReport) leaf(c check, name string, indent int) {
	g := r.g
	pad := strings.Repeat(" ", indent)
	switch c.status {
	case gotest.Fail:
		switch {
		case r.full > 0:
			r.full--
			g.printf("%s%s %s %s\n", pad, mark(c.status), name, faint(seconds(c.elapsed)))
			g.printIndented(c.detail, indent+4)
		case r.brief > 0:
			r.brief--
			g.printf("%s%s %s %s\n", pad, mark(c.status), name, faint(headline(c.detail)))
		default:
			r.hidden++
		}
	case gotest.Skip:
		if r.skips == nil {
			r.skips = map[string]int{}
		}
		if r.skips[c.detail] == 0 {
			r.skipOrder = append(r.skipOrder, c.detail)
		}
		r.skips[c.detail]++
		if g.cfg.verbose {
			g.printf("%s%s %s\n", pad, mark(c.status), name)
		}
	default:
		if g.cfg.verbose {
			g.printf("%s%s %s %s\n", pad, mark(c.status), name, faint(seconds(c.elapsed)))
		}
	}
}

// headline is a failure in one line: its failing step (the harness's
// "✗ 3. expect closed"), else the message a testify check was given (what
// its author says went wrong), else its first line of detail that says more
// than a seed.
func headline(detail string) string {
	first, message := "", ""
	for _, l := range strings.Split(detail, "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "✗ ") {
			first, message = t, ""
			break
		}
		if message == "" && strings.HasPrefix(t, "Messages: ") {
			message = t
		}
		said := strings.TrimSpace(logHeader.ReplaceAllString("    "+t, ""))
		if first == "" && said != "" && !seedOnly.MatchString(said) {
			first = t
		}
	}
	if message != "" {
		first = message
	}
	// A recovered panic's note adds nothing to a line.
	first = strings.NewReplacer(" [recovered, repanicked]", "", " [recovered]", "").Replace(first)
	const width = 90
	if r := []rune(first); len(r) > width {
		first = string(r[:width-1]) + "…"
	}
	return "— " + first
}

func sumElapsed(cs []check) time.Duration {
	var d time.Duration
	for _, c := range cs {
		d += c.elapsed
	}
	return d
}

// plural says "1 check", "2 checks".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func (g *grading) printIndented(s string, n int) {
	pad := strings.Repeat(" ", n)
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "✗") {
			g.detailf("%s%s\n", pad, red(line))
			continue
		}
		g.detailf("%s%s\n", pad, line)
	}
}

func topName(name string) string {
	top, _, _ := strings.Cut(name, "/")
	return top
}

// leafName is a subtest's name as its author wrote it: testing turns spaces
// into underscores.
func leafName(name string) string {
	_, rest, ok := strings.Cut(name, "/")
	if !ok {
		return name
	}
	return strings.ReplaceAll(rest, "_", " ")
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }

var logHeader = regexp.MustCompile(`^ {4}\S+\.go:\d+: ?`)

// relayed is the header sandbox.Run puts on each line a test printed inside
// the sandbox, the child's own line after it.
var relayed = regexp.MustCompile(`^ {4}\S+\.go:\d+: sandbox\|( |$)`)

// unrelay gives back the lines a test printed inside the sandbox as it
// printed them, so that its failure reads as any other test's: its seed and
// messages, its steps or testify's message, without a relay header on each
// line and testify's trace through the sandbox's frames.
func unrelay(lines []string) []string {
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		if m := relayed.FindString(l); m != "" {
			l = l[len(m):]
		}
		out = append(out, l)
	}
	return out
}

// runtimeHeader is the header of a message logged by a deferred function
// during a panic: the testing package names its caller, the runtime.
var runtimeHeader = regexp.MustCompile(`^ {4}panic\.go:\d+: `)

// condense picks out of a failing test's output what a student needs: the
// harness's "steps so far / ✗ step / diff" block when there is one, else the
// panic and the frames in lab code, else the test's own messages.
func condense(out string) string {
	lines := unrelay(strings.Split(strings.TrimRight(out, "\n"), "\n"))
	// The harness block: from "steps so far:" (or the first "✗ N.") to the
	// next log message.
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if t == "steps so far:" || strings.HasPrefix(t, "✗ ") {
			indent := len(l) - len(strings.TrimLeft(l, " \t"))
			var block []string
			for _, m := range lines[i:] {
				if logHeader.MatchString(m) || strings.HasPrefix(m, "panic: ") {
					break
				}
				block = append(block, dedent(m, indent))
			}
			report := strings.Join(elideSteps(trimEmpty(block)), "\n")
			if pic := picture(lines[:i], indent); pic != "" {
				report = pic + "\n\n" + report
			}
			if ctx := logContext(lines[:i]); ctx != "" {
				report = ctx + "\n" + report
			}
			return report
		}
	}
	for i, l := range lines {
		if strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") {
			return panicSummary(lines[i:])
		}
	}
	lines = dropTestifyNoise(lines)
	// A panic the harness recovered is logged from a deferred function,
	// so its header names the runtime's panic.go: no line of the test's
	// own, and the panic's own "at labs/..." line says where it was. The
	// message then stands where its continuation lines do.
	for i, l := range lines {
		if m := runtimeHeader.FindString(l); m != "" {
			lines[i] = "        " + l[len(m):]
		}
	}
	// Plain t.Error/t.Fatal messages, without the file:line headers'
	// indentation; at most 20 lines of words (a ladder the test drew
	// comes whole: half a picture explains nothing).
	const most = 20
	var msg []string
	for _, l := range lines {
		if logHeader.MatchString(l) {
			l = "  " + strings.TrimLeft(l, " ")
		} else {
			l = dedent(l, 4)
		}
		msg = append(msg, l)
	}
	msg = trimEmpty(msg)
	words := 0
	for i, l := range msg {
		if !strings.Contains(l, "│") {
			words++
		}
		if words > most {
			msg = append(msg[:i], fmt.Sprintf("… (%d more lines)", len(msg)-i))
			break
		}
	}
	return dedentAll(strings.Join(msg, "\n"))
}

// logContext returns the last few messages the test logged before the
// harness's report, one a line: a seeded test's seed, and the round and
// parameters a randomized test names in its failure's header line, without
// which its failure cannot be reproduced.
func logContext(before []string) string {
	const keep = 3
	var msgs []string
	for _, l := range before {
		if !logHeader.MatchString(l) {
			continue
		}
		if m := strings.TrimSpace(logHeader.ReplaceAllString(l, "")); m != "" {
			msgs = append(msgs, m)
		}
	}
	if len(msgs) > keep {
		msgs = msgs[len(msgs)-keep:]
	}
	return strings.Join(msgs, "\n")
}

// picture returns what a harness subject drew above its report (the
// ladder diagram of a failing connection or sender check): the lines after
// the test's last log header, dedented like the report.
func picture(before []string, indent int) string {
	start := 0
	for j := len(before) - 1; j >= 0; j-- {
		if logHeader.MatchString(before[j]) {
			start = j + 1
			break
		}
	}
	var pic []string
	for _, l := range before[start:] {
		pic = append(pic, dedent(l, indent))
	}
	return strings.Join(trimEmpty(pic), "\n")
}

// panicSummary keeps a panic's message and the stack frames outside the Go
// runtime and testing package: where in the lab (and test) it happened.
func panicSummary(lines []string) string {
	out := []string{lines[0]}
	for i := 1; i+1 < len(lines); i++ {
		fn, file := lines[i], strings.TrimSpace(lines[i+1])
		if !strings.HasPrefix(lines[i+1], "\t") {
			continue
		}
		i++
		if strings.HasPrefix(fn, "runtime.") || strings.HasPrefix(fn, "testing.") || strings.HasPrefix(fn, "panic(") || strings.HasPrefix(fn, "created by") {
			continue
		}
		if j := strings.LastIndex(file, " +0x"); j >= 0 {
			file = file[:j]
		}
		// The student knows where their tree is: from labs/ on is
		// the part that says which file.
		if j := strings.LastIndex(file, "/labs/"); j >= 0 {
			file = file[j+1:]
		}
		out = append(out, "  at "+file+" ("+shortFunc(fn)+")")
		if len(out) > 6 {
			break
		}
	}
	return strings.Join(out, "\n")
}

func shortFunc(fn string) string {
	if i := strings.LastIndexByte(fn, '('); i > 0 {
		fn = fn[:i]
	}
	if i := strings.LastIndexByte(fn, '/'); i >= 0 {
		fn = fn[i+1:]
	}
	return fn
}

func dedent(l string, n int) string {
	for i := 0; i < n && len(l) > 0 && (l[0] == ' ' || l[0] == '\t'); i++ {
		l = l[1:]
	}
	return l
}

func dedentAll(s string) string {
	lines := strings.Split(s, "\n")
	min := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, " "))
		if min < 0 || n < min {
			min = n
		}
	}
	for i := range lines {
		lines[i] = dedent(lines[i], max(min, 0))
	}
	return strings.Join(lines, "\n")
}

func trimEmpty(ls []string) []string {
	for len(ls) > 0 && strings.TrimSpace(ls[len(ls)-1]) == "" {
		ls = ls[:len(ls)-1]
	}
	for len(ls) > 0 && strings.TrimSpace(ls[0]) == "" {
		ls = ls[1:]
	}
	return ls
}

// skipReason is the first line a skipped test printed: why it skipped.
func skipReason(out string) string {
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(logHeader.ReplaceAllString(l, ""))
		if l != "" {
			return l
		}
	}
	return "no reason given"
}

var stepLine = regexp.MustCompile(`^  \d+\. `)

// elideSteps shortens a long "steps so far" list to its first few steps
// and the ones just before the failure, which are the ones that matter.
func elideSteps(block []string) []string {
	const head, tail = 3, 8
	first, last := -1, -1
	for i, l := range block {
		if stepLine.MatchString(l) {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 || last-first+1 <= head+tail+2 {
		return block
	}
	out := append([]string{}, block[:first+head]...)
	out = append(out, fmt.Sprintf("  … %d more steps …", last-first+1-head-tail))
	return append(out, block[last-tail+1:]...)
}

var testifyLabel = regexp.MustCompile(`^\s+(Error Trace|Error|Test|Messages):\s`)

// dropTestifyNoise removes from testify's failure blocks the stack of file
// names and the test's name: the student knows which test it is, and the
// error and messages say what went wrong.
func dropTestifyNoise(lines []string) []string {
	var out []string
	inBlock, skipping := false, false
	for _, l := range lines {
		m := testifyLabel.FindStringSubmatch(l)
		switch {
		case m != nil:
			inBlock, skipping = true, m[1] == "Error Trace" || m[1] == "Test"
			_, v, _ := strings.Cut(l, ":")
			l = "      " + m[1] + ": " + strings.TrimSpace(v)
		case logHeader.MatchString(l):
			inBlock, skipping = false, false
		case inBlock:
			l = "        " + strings.TrimSpace(l)
		}
		if !skipping {
			out = append(out, strings.TrimRight(l, " \t"))
		}
	}
	return out
}

// allNotMeasured reports whether a speed suite's checks all failed
// unmeasured, for the one reason that its package's tests fail.
func allNotMeasured(cs []check) bool {
	for _, c := range cs {
		if c.status != gotest.Fail || !strings.HasPrefix(c.detail, "not measured") {
			return false
		}
	}
	return true
}
