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

// report prints a suite's checks: one line per top-level test (every leaf
// with -v), every failing and skipped leaf, and under each failure what went
// wrong.
func (g *grading) report(cs []check) {
	if len(cs) == 0 {
		g.printf("  %s\n", faint("(no checks matched)"))
		return
	}
	if cs[0].suite.bench != "" {
		for _, c := range cs {
			g.printf("  %s %s: %s\n", mark(c.status), c.name, c.detail)
			if c.status == gotest.Fail && c.output != "" && !strings.Contains(c.detail, "Gbit/s") && !strings.HasPrefix(c.detail, "not measured") {
				g.printIndented(condense(c.output), 6)
			}
		}
		return
	}
	for len(cs) > 0 {
		top := topName(cs[0].name)
		n := 1
		for n < len(cs) && topName(cs[n].name) == top {
			n++
		}
		group := cs[:n]
		cs = cs[n:]

		passed, failed, skipped := tally(group)
		var elapsed time.Duration
		for _, c := range group {
			elapsed += c.elapsed
		}
		single := len(group) == 1 && group[0].name == top
		if single {
			g.leaf(group[0], top, 2)
			continue
		}
		status := gotest.Pass
		if failed > 0 {
			status = gotest.Fail
		} else if passed == 0 {
			status = gotest.Skip
		}
		count := fmt.Sprintf("%d checks", len(group))
		if len(group) == 1 {
			count = "1 check"
		}
		switch {
		case passed+failed == 0:
			count = fmt.Sprintf("%d skipped", skipped)
		case failed > 0 || skipped > 0:
			count = fmt.Sprintf("%d/%d passed", passed, passed+failed)
			if skipped > 0 {
				count += fmt.Sprintf(", %d skipped", skipped)
			}
		}
		g.printf("  %s %s %s %s\n", mark(status), top, faint("("+count+")"), faint(seconds(elapsed)))
		for _, c := range group {
			if g.cfg.verbose || c.status != gotest.Pass {
				g.leaf(c, leafName(c.name), 4)
			}
		}
	}
}

// leaf prints one check and, for a failure, what the student should read.
func (g *grading) leaf(c check, name string, indent int) {
	pad := strings.Repeat(" ", indent)
	switch c.status {
	case gotest.Fail:
		g.printf("%s%s %s %s\n", pad, mark(c.status), name, faint(seconds(c.elapsed)))
		g.printIndented(c.detail, indent+4)
	case gotest.Skip:
		g.printf("%s%s %s %s\n", pad, mark(c.status), name, yellow("skipped: "+c.detail))
	default:
		g.printf("%s%s %s %s\n", pad, mark(c.status), name, faint(seconds(c.elapsed)))
	}
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

// condense picks out of a failing test's output what a student needs: the
// harness's "steps so far / ✗ step / diff" block when there is one, else the
// panic and the frames in lab code, else the test's own messages.
func condense(out string) string {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
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
			return report
		}
	}
	for i, l := range lines {
		if strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") {
			return panicSummary(lines[i:])
		}
	}
	lines = dropTestifyNoise(lines)
	// Plain t.Error/t.Fatal messages, without the file:line headers'
	// indentation; at most 20 lines.
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
	if len(msg) > 20 {
		msg = append(msg[:20], fmt.Sprintf("… (%d more lines)", len(msg)-20))
	}
	return dedentAll(strings.Join(msg, "\n"))
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
