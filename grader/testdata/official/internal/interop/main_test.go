package interop

import (
	"flag"
	"os"
	"testing"
)

// TestMain lets more sandboxed tests run at once than there are cores
// (unless -parallel says otherwise): each spends most of its time waiting
// for the kernel, for timers and for its child process to start, not
// computing.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", "8")
	}
	dir, err := os.MkdirTemp("", "tcplab-interop-bin")
	if err != nil {
		panic(err)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
