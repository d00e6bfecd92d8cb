package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// proc is a program a test started (tcpcat, webget, ...). A test that waits
// for something the program should do (connect, answer, close) waits
// through proc's helpers, so that a program that exits early ends the wait
// at once with its exit status and output, instead of the test sitting out
// its deadline for a connection that can no longer come.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stdout lockedBuffer
	stderr lockedBuffer
	// ctx is done once the program has exited; err is then Wait's.
	ctx context.Context
	err error
}

// startProgram starts path with args and stdin, and kills it when the test
// ends if it is still running.
func startProgram(t *testing.T, stdin []byte, path string, args ...string) *proc {
	t.Helper()
	p := &proc{name: filepath.Base(path) + " " + strings.Join(args, " ")}
	p.cmd = exec.Command(path, args...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	p.cmd.Stdin = bytes.NewReader(stdin)
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.name, err)
	}
	ctx, exited := context.WithCancel(context.Background())
	p.ctx = ctx
	go func() {
		p.err = p.cmd.Wait()
		exited()
	}()
	t.Cleanup(func() {
		if p.ctx.Err() == nil {
			p.cmd.Process.Kill()
			<-p.ctx.Done()
		}
	})
	return p
}

// code is the program's exit status; valid once ctx is done.
func (p *proc) code() int {
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		return -1
	}
	return 0
}

// String says how the program ended (or that it still runs) and what it
// wrote to stderr.
func (p *proc) String() string {
	state := "is still running"
	if p.ctx.Err() != nil {
		state = fmt.Sprintf("exited with status %d", p.code())
		if p.code() < 0 {
			state = fmt.Sprintf("ended: %v", p.err)
		}
	}
	return fmt.Sprintf("%s %s; %d bytes on stdout; stderr:\n%s", p.name, state, len(p.stdout.String()), p.stderr.String())
}

// wait waits for the program to exit, at most within; past it the program
// is killed and the test fails.
func (p *proc) wait(t *testing.T, within time.Duration) ran {
	t.Helper()
	select {
	case <-p.ctx.Done():
	case <-time.After(within):
		p.cmd.Process.Kill()
		<-p.ctx.Done()
		t.Fatalf("%s did not exit within %v and was killed: %v", p.name, within, p)
	}
	if p.code() < 0 {
		t.Fatalf("run %v", p)
	}
	t.Logf("%s: exit %d, %d bytes out, stderr:\n%s", p.name, p.code(), len(p.stdout.String()), p.stderr.String())
	return ran{stdout: []byte(p.stdout.String()), stderr: []byte(p.stderr.String()), code: p.code()}
}

// closeOnExit closes c when the program exits, so that a test reading from
// or writing to the program's peer stops at once (an exited program's
// stack sends nothing more, not even a RST). Closing c first is harmless.
func (p *proc) closeOnExit(c interface{ Close() error }) {
	context.AfterFunc(p.ctx, func() { c.Close() })
}

// failIfExited fails the test, saying how the program ended, if it has
// exited: what the test waited for failed because the program is gone.
func (p *proc) failIfExited(t *testing.T, what string, err error) {
	t.Helper()
	if p.ctx.Err() != nil {
		t.Fatalf("%s: %v: %v", what, err, p)
	}
}

// acceptFrom returns the connection the program makes to l. It fails at
// once if the program exits first, and after within if neither happens.
func acceptFrom(t *testing.T, l net.Listener, p *proc, within time.Duration) net.Conn {
	t.Helper()
	c, err := p.accept(l, within)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// accept is acceptFrom's wait, returning its failure.
func (p *proc) accept(l net.Listener, within time.Duration) (net.Conn, error) {
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := l.Accept()
		ch <- res{c, err}
	}()
	timer := time.NewTimer(within)
	defer timer.Stop()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("accept on %v: %w", l.Addr(), r.err)
		}
		return r.c, nil
	case <-p.ctx.Done():
		// It may have connected, said its piece and gone.
		select {
		case r := <-ch:
			if r.err == nil {
				return r.c, nil
			}
		case <-time.After(100 * time.Millisecond):
		}
		l.Close()
		return nil, fmt.Errorf("no connection on %v: %v", l.Addr(), p)
	case <-timer.C:
		l.Close()
		return nil, fmt.Errorf("no connection on %v within %v: %v", l.Addr(), within, p)
	}
}

// A program that dies before it connects ends the wait for its connection
// at once, and the failure says how it died. (The hour is never reached:
// only the program's exit can end this wait in time.)
func TestAWaitEndsWhenTheProgramExits(t *testing.T) {
	sh, err := exec.LookPath("sh")
	require.NoError(t, err)
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	p := startProgram(t, nil, sh, "-c", "echo 'tcpcat: open TUN tun144: no such device' >&2; exit 3")
	_, err = p.accept(l, time.Hour)
	require.ErrorContains(t, err, "exited with status 3")
	require.ErrorContains(t, err, "open TUN tun144: no such device")
}
