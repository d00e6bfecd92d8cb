package sandbox

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"tcplab/internal/device"
)

func interfaceNames(t *testing.T) []string {
	t.Helper()
	ifs, err := net.Interfaces()
	require.NoError(t, err)
	var names []string
	for _, i := range ifs {
		names = append(names, i.Name)
	}
	slices.Sort(names)
	return names
}

// shared returns a directory the parent creates and its sandboxed child
// sees too, since a test's body before Run runs in both.
func shared(t *testing.T) string {
	const key = "TCPLAB_SANDBOX_TEST_DIR"
	if Inside() {
		return os.Getenv(key)
	}
	dir := t.TempDir()
	t.Setenv(key, dir)
	return dir
}

// processesIn lists the processes whose network namespace is ns (as
// readlink /proc/PID/ns/net gives it).
func processesIn(ns string) []string {
	var pids []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if l, err := os.Readlink(filepath.Join("/proc", e.Name(), "ns/net")); err == nil && l == ns {
			pids = append(pids, e.Name())
		}
	}
	return pids
}

func TestSandbox(t *testing.T) {
	t.Run("the sandbox holds only lo and tun144, configured", func(t *testing.T) {
		Run(t, func(t *testing.T, env *Env) {
			if d := cmp.Diff([]string{"lo", "tun144"}, interfaceNames(t)); d != "" {
				t.Errorf("interfaces (-want +got):\n%s", d)
			}
			tun, err := net.InterfaceByName("tun144")
			require.NoError(t, err)
			require.Equal(t, MTU, tun.MTU)
			require.NotZero(t, tun.Flags&net.FlagUp, "tun144 is up")
			addrs, err := tun.Addrs()
			require.NoError(t, err)
			var got []string
			for _, a := range addrs {
				got = append(got, a.String())
			}
			require.Contains(t, got, "169.254.144.1/24")
			lo, err := net.InterfaceByName("lo")
			require.NoError(t, err)
			require.NotZero(t, lo.Flags&net.FlagUp, "lo is up")
			require.Equal(t, "169.254.144.1", env.KernelAddr.String())
			require.Equal(t, "169.254.144.9", env.LabAddr.String())
			require.Equal(t, "169.254.144.0/24", env.Prefix.String())
			require.Equal(t, "tun144", env.Dev.Name())
		})
	})

	t.Run("the host's interfaces are not visible inside", func(t *testing.T) {
		const key = "TCPLAB_SANDBOX_TEST_HOST_IFACES"
		if !Inside() {
			t.Setenv(key, strings.Join(interfaceNames(t), ","))
		}
		Run(t, func(t *testing.T, env *Env) {
			host := strings.Split(os.Getenv(key), ",")
			require.NotEmpty(t, host)
			inside := interfaceNames(t)
			for _, name := range host {
				if name != "lo" {
					require.NotContains(t, inside, name, "a host interface is visible inside")
				}
			}
		})
	})

	t.Run("the namespace and its interfaces are gone afterwards", func(t *testing.T) {
		dir := shared(t)
		before := interfaceNames(t)
		Run(t, func(t *testing.T, env *Env) {
			ns, err := os.Readlink("/proc/self/ns/net")
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "netns"), []byte(ns), 0o600))
		})
		if Inside() {
			return // what follows checks the host after the sandbox ended
		}
		ns, err := os.ReadFile(filepath.Join(dir, "netns"))
		require.NoError(t, err)
		own, err := os.Readlink("/proc/self/ns/net")
		require.NoError(t, err)
		require.NotEqual(t, own, string(ns), "the child ran in our own namespace")
		require.Empty(t, processesIn(string(ns)), "processes still hold the sandbox's namespace %s", ns)
		if d := cmp.Diff(before, interfaceNames(t)); d != "" {
			t.Errorf("the host's interfaces changed (-before +after):\n%s", d)
		}
	})

	t.Run("Command runs a program inside, and everything it started ends with it", func(t *testing.T) {
		if err := Available(); err != nil {
			t.Skip(err)
		}
		// The background sleep would outlive sh anywhere else.
		cmd, err := Command("sh", "-c", "sleep 1000 & readlink /proc/self/ns/net; cat /proc/net/dev")
		require.NoError(t, err)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		lines := strings.Split(string(out), "\n")
		ns := lines[0]
		require.True(t, strings.HasPrefix(ns, "net:["), "%q", out)
		require.Contains(t, string(out), "tun144:")
		require.Contains(t, string(out), "lo:")
		require.NotContains(t, string(out), "eth0:")
		require.Empty(t, processesIn(ns), "the background sleep survived its sandbox")
	})

	t.Run("a program run by Command opens the configured tun144 by name", func(t *testing.T) {
		if err := Available(); err != nil {
			t.Skip(err)
		}
		self, err := os.Executable()
		require.NoError(t, err)
		cmd, err := Command(self, "-test.run=^TestHelperOpensTUN$", "-test.v=true")
		require.NoError(t, err)
		cmd.Env = append(cmd.Env, "TCPLAB_SANDBOX_HELPER=1")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		require.Contains(t, string(out), "--- PASS: TestHelperOpensTUN")
	})
}

// TestHelperOpensTUN is a program run by the test above through Command.
func TestHelperOpensTUN(t *testing.T) {
	if os.Getenv("TCPLAB_SANDBOX_HELPER") == "" {
		t.Skip("run by TestSandbox through Command")
	}
	require.True(t, Inside())
	dev, err := device.OpenTUN("tun144", MTU)
	require.NoError(t, err)
	defer dev.Close()
	tun, err := net.InterfaceByName("tun144")
	require.NoError(t, err)
	addrs, err := tun.Addrs()
	require.NoError(t, err)
	require.Equal(t, "169.254.144.1/24", fmt.Sprint(addrs[0]))
}

// TestHelperOutcome is run by TestOutcomesCrossTheBoundary with a body that
// fails, skips or panics inside the sandbox.
func TestHelperOutcome(t *testing.T) {
	what := os.Getenv("TCPLAB_SANDBOX_OUTCOME")
	if what == "" {
		t.Skip("run by TestOutcomesCrossTheBoundary")
	}
	Run(t, func(t *testing.T, env *Env) {
		switch what {
		case "fail":
			t.Error("deliberate failure inside the sandbox")
		case "fatal":
			t.Fatal("deliberate fatal failure inside the sandbox")
		case "skip":
			t.Skip("deliberate skip inside the sandbox")
		case "panic":
			panic("deliberate panic inside the sandbox")
		case "pass":
			t.Log("deliberate pass inside the sandbox")
		}
	})
}

func TestOutcomesCrossTheBoundary(t *testing.T) {
	if err := Available(); err != nil {
		t.Skip(err)
	}
	self, err := os.Executable()
	require.NoError(t, err)
	for _, tc := range []struct {
		outcome  string
		exitOK   bool
		wantLine string
		env      []string
	}{
		{"pass", true, "sandbox unavailable: disabled by TCPLAB_SANDBOX_DISABLE=1", []string{EnvDisable + "=1"}},
		{"pass", false, "--- FAIL: TestHelperOutcome", []string{EnvDisable + "=1", EnvRequire + "=1"}},
		{"pass", true, "--- PASS: TestHelperOutcome", nil},
		{"fail", false, "--- FAIL: TestHelperOutcome", nil},
		{"fatal", false, "--- FAIL: TestHelperOutcome", nil},
		{"panic", false, "--- FAIL: TestHelperOutcome", nil},
		{"skip", true, "--- SKIP: TestHelperOutcome", nil},
	} {
		name := "a body that does " + tc.outcome + " inside makes the test " + tc.outcome
		switch {
		case slices.Contains(tc.env, EnvRequire+"=1"):
			name = "without a sandbox, a test that requires one fails"
		case len(tc.env) > 0:
			name = "without a sandbox, the test is skipped with the reason"
		}
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(self, "-test.run=^TestHelperOutcome$", "-test.v=true")
			// The case decides whether the sandbox is required, whatever
			// this run's environment says (CI sets TCPLAB_REQUIRE_SANDBOX).
			env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, EnvRequire+"=") })
			cmd.Env = append(env, "TCPLAB_SANDBOX_OUTCOME="+tc.outcome)
			cmd.Env = append(cmd.Env, tc.env...)
			out, err := cmd.CombinedOutput()
			if tc.exitOK {
				require.NoError(t, err, "%s", out)
			} else {
				var exit *exec.ExitError
				require.True(t, errors.As(err, &exit), "want a failing exit, got %v:\n%s", err, out)
			}
			require.Contains(t, string(out), tc.wantLine)
			if len(tc.env) > 0 && tc.exitOK {
				require.Contains(t, string(out), "--- SKIP: TestHelperOutcome")
			}
			if len(tc.env) > 0 {
				require.NotContains(t, string(out), "sandbox| ", "no child ran")
				return
			}
			require.NotRegexp(t, `sandbox\| *(=== RUN|--- (PASS|FAIL|SKIP))`, string(out), "the child's test framework lines are not relayed")
			if tc.outcome == "skip" {
				// The reason is the parent's own skip message, one
				// line, as if the test had skipped on the host.
				require.Regexp(t, `\n\s+\S+\.go:\d+: deliberate skip inside the sandbox\n\s*--- SKIP: TestHelperOutcome`, string(out))
				require.NotContains(t, string(out), "sandbox| ", "the reason is not relayed twice")
				return
			}
			require.Contains(t, string(out), "sandbox| ", "the child's output reaches the parent's log")
			if tc.outcome != "pass" {
				require.Contains(t, string(out), "deliberate", "the reason crosses over")
			}
		})
	}
}

func TestRunPatternSelectsExactlyOneTest(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"TestX", "^TestX$"},
		{"TestX/a_b", "^TestX$/^a_b$"},
		{"TestX/1+1=2_(yes)", `^TestX$/^1\+1=2_\(yes\)$`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, runPattern(tc.name))
		})
	}
}

func TestAvailableSaysWhatIsMissing(t *testing.T) {
	cloneErr := errors.New("fork/exec /x: operation not permitted")
	for _, tc := range []struct {
		name    string
		sysctls map[string]string
		want    []string
	}{
		{"Debian's switch is off",
			map[string]string{"kernel.unprivileged_userns_clone": "0", "user.max_user_namespaces": "1000"},
			[]string{"kernel.unprivileged_userns_clone=0", "not root", "sysctl -w kernel.unprivileged_userns_clone=1"}},
		{"Ubuntu's AppArmor restriction is on",
			map[string]string{"kernel.apparmor_restrict_unprivileged_userns": "1"},
			[]string{"AppArmor", "kernel.apparmor_restrict_unprivileged_userns=0"}},
		{"no user namespaces at all",
			map[string]string{"user.max_user_namespaces": "0"},
			[]string{"user.max_user_namespaces=0", "run as root"}},
		{"no setting to blame",
			map[string]string{"user.max_user_namespaces": "1000"},
			[]string{"operation not permitted", "run as root"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := userNSReason(cloneErr, func(name string) (string, error) {
				if v, ok := tc.sysctls[name]; ok {
					return v, nil
				}
				return "", os.ErrNotExist
			})
			require.NotContains(t, got, "\n", "one line")
			require.True(t, strings.HasPrefix(got, "sandbox unavailable: "), got)
			for _, w := range tc.want {
				require.Contains(t, got, w)
			}
		})
	}
}

func TestLookToolLooksInSbinToo(t *testing.T) {
	bin, sbin := t.TempDir(), t.TempDir()
	for _, f := range []struct{ dir, name string }{{bin, "curl"}, {sbin, "nft"}, {sbin, "curl"}} {
		require.NoError(t, os.WriteFile(filepath.Join(f.dir, f.name), []byte("#!/bin/sh\n"), 0o755))
	}
	require.NoError(t, os.WriteFile(filepath.Join(bin, "notes"), nil, 0o644))

	got, err := lookTool("curl", bin, []string{sbin})
	require.NoError(t, err)
	require.Equal(t, filepath.Join(bin, "curl"), got, "PATH comes first")

	got, err = lookTool("nft", bin, []string{sbin})
	require.NoError(t, err)
	require.Equal(t, filepath.Join(sbin, "nft"), got, "a normal user's PATH lacks /usr/sbin: the one there is used")

	_, err = lookTool("notes", bin, []string{sbin})
	require.Error(t, err, "a file that is not executable is not a program")

	_, err = lookTool("python3", bin, []string{sbin, "/nowhere"})
	require.ErrorIs(t, err, exec.ErrNotFound)
	msg := err.Error()
	require.NotContains(t, msg, "\n", "one line: it is a skip reason")
	for _, want := range []string{"python3 is not installed", "PATH (" + bin + ")", sbin + " and /nowhere", "apt-get install python3"} {
		require.Contains(t, msg, want)
	}
}
