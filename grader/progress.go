package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"tcplab/internal/gotest"
)

// progress tells a student waiting for the first result what the grader
// is doing: building a package's tests can take a minute on a fresh
// machine, and silence reads as a hang. On a terminal it is one live line,
// redrawn in place and erased before each result; piped, one plain line per
// suite; with nowhere to go (w nil), nothing.
type progress struct {
	w    io.Writer
	live bool

	mu    sync.Mutex
	what  string    // the suite's part: "[2/11] labs/1-reassembler"
	since time.Time // when the suite started
	now   gotest.Progress
	shown bool   // a live line is on the screen
	drawn string // and what it says
	stop  chan struct{}
	done  chan struct{}
}

// newProgress writes to w, live if w is a terminal.
func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok && os.Getenv("TERM") != "dumb" {
		p.live = isTerminal(f)
	}
	if p.live {
		// A ticker redraws the line, so its clock moves while a build
		// says nothing, and a suite of fast tests costs one write per
		// tick, not one per test.
		p.stop, p.done = make(chan struct{}), make(chan struct{})
		go p.redraw()
	}
	return p
}

// suite says that suite i (from 1) of n starts on package pkg.
func (p *progress) suite(i, n int, s suite) {
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.what = fmt.Sprintf("[%d/%d] %s", i, n, s.pkg)
	p.since = time.Now()
	p.now = gotest.Progress{Building: true}
	if !p.live {
		verb := "testing"
		if s.bench != "" {
			verb = "measuring"
		}
		fmt.Fprintf(p.w, "%s: building and %s %s…\n", p.what, verb, s.name)
	}
}

// update is gotest's report of what the child process does.
func (p *progress) update(now gotest.Progress) {
	if p == nil || p.w == nil || !p.live {
		return
	}
	p.mu.Lock()
	p.now = now
	p.mu.Unlock()
}

// clear erases the live line before a result is printed over it.
func (p *progress) clear() {
	if p == nil || !p.live {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.shown = false
	}
}

// close stops the redrawing and erases the line.
func (p *progress) close() {
	if p == nil || !p.live {
		return
	}
	close(p.stop)
	<-p.done
	p.clear()
}

func (p *progress) redraw() {
	defer close(p.done)
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		p.mu.Lock()
		if l := p.line(); p.what != "" && (!p.shown || l != p.drawn) {
			fmt.Fprintf(p.w, "\r\x1b[K%s", l)
			p.shown, p.drawn = true, l
		}
		p.mu.Unlock()
	}
}

// line is the live line's text, short enough for a narrow terminal.
func (p *progress) line() string {
	// The clock first: a long test name is what gets cut.
	s := fmt.Sprintf("%s %ds: ", p.what, int(time.Since(p.since).Seconds()))
	switch {
	case p.now.Building:
		s += "building the tests"
	case p.now.Running != "":
		s += fmt.Sprintf("%d done, running %s", p.now.Done, p.now.Running)
	default:
		s += fmt.Sprintf("%d done", p.now.Done)
	}
	if r := []rune(s); len(r) > 78 {
		s = string(r[:77]) + "…"
	}
	return strings.ReplaceAll(s, "_", " ")
}

// isTerminal reports whether f is a terminal: whether it has terminal
// attributes to get.
func isTerminal(f *os.File) bool {
	var t syscall.Termios
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), syscall.TCGETS, uintptr(unsafe.Pointer(&t)))
	return errno == 0
}
