package sandbox

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"tcplab/internal/device"
)

var benchLineRE = regexp.MustCompile(`^Benchmark\S+\s+(\d+)\s+(.*)$`)

// Bench runs the calling benchmark in a sandboxed child for exactly b.N
// iterations and reports the child's figures as b's own. A benchmark cannot
// run inside Run (that takes a *testing.T), so a sandboxed benchmark starts
//
//	if !sandbox.Inside() {
//		sandbox.Bench(b)
//		return
//	}
//
// and does its work below. Where the sandbox is unavailable, b is skipped
// (or fails, with TCPLAB_REQUIRE_SANDBOX=1). The child's log lines (b.Log)
// are passed on.
func Bench(b *testing.B) {
	b.Helper()
	if err := Available(); err != nil {
		if os.Getenv(EnvRequire) == "1" {
			b.Fatal(err)
		}
		b.Skip(err)
	}
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	pattern := "^" + strings.ReplaceAll(regexp.QuoteMeta(b.Name()), "/", "$/^") + "$"
	cmd, err := Command(self, "-test.run=^$", "-test.bench="+pattern,
		fmt.Sprintf("-test.benchtime=%dx", b.N), "-test.benchmem", "-test.count=1", "-test.v=true")
	if err != nil {
		b.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// The timer runs through the child, start-up and all, so that the
	// framework picks the next b.N from a time near the real one; the
	// child's own figures are reported below.
	if err := cmd.Run(); err != nil {
		b.Fatalf("the sandboxed benchmark failed: %v\n%s", err, out.String())
	}
	found := false
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		line := sc.Text()
		m := benchLineRE.FindStringSubmatch(line)
		if m == nil || found {
			if strings.Contains(line, "_test.go:") { // the child's b.Log
				b.Log("sandbox| " + strings.TrimSpace(line))
			}
			continue
		}
		found = true
		f := strings.Fields(m[2])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			b.ReportMetric(v, f[i+1])
		}
	}
	if !found {
		b.Fatalf("no result from the sandboxed benchmark:\n%s", out.String())
	}
}

// BenchEnv opens tun144 in a benchmark's sandboxed child (one Bench
// started) and returns what Run would give a test. Close Dev when done.
func BenchEnv() (*Env, error) {
	if !Inside() {
		return nil, fmt.Errorf("sandbox: BenchEnv outside a sandbox")
	}
	dev, err := device.OpenTUN(device.DefaultName, MTU)
	if err != nil {
		return nil, err
	}
	return newEnv(dev), nil
}
