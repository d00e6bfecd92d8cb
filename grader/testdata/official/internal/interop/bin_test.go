package interop

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"tcplab/internal/device"
	"tcplab/internal/sandbox"
)

// binDir holds the programs the tests build, for the whole run.
var (
	binDir   string
	binMu    sync.Mutex
	binBuilt = map[string]error{}
)

// program builds cmd/name once, in the parent (outside any sandbox), and
// returns its path. The sandboxed child finds the path in the environment
// it inherits.
func program(t *testing.T, name string) string {
	t.Helper()
	env := "TCPLAB_TEST_BIN_" + name
	if sandbox.Inside() {
		p := os.Getenv(env)
		if p == "" {
			t.Fatalf("the parent did not build %s", name)
		}
		return p
	}
	binMu.Lock()
	defer binMu.Unlock()
	path := filepath.Join(binDir, name)
	err, done := binBuilt[name]
	if !done {
		out, berr := exec.Command("go", "build", "-o", path, "tcplab/cmd/"+name).CombinedOutput()
		if berr != nil {
			err = &buildError{name: name, out: string(out), err: berr}
		}
		binBuilt[name] = err
		if err == nil {
			os.Setenv(env, path)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return path
}

type buildError struct {
	name, out string
	err       error
}

func (e *buildError) Error() string {
	return "go build " + e.name + ": " + e.err.Error() + "\n" + e.out
}

// handOverTUN gives up the sandbox's open tun144 and makes a persistent,
// configured one in its place, so that a program the test starts can open
// it by name (an open TUN device is busy; a persistent one waits, set up).
func handOverTUN(t *testing.T, env *sandbox.Env) {
	t.Helper()
	if err := env.Dev.Close(); err != nil {
		t.Fatalf("close the sandbox's tun144: %v", err)
	}
	if err := device.CreatePersistentTUN(device.DefaultName); err != nil {
		t.Fatal(err)
	}
	if err := device.Configure(device.DefaultName, device.Config{MTU: sandbox.MTU}); err != nil {
		t.Fatal(err)
	}
}
