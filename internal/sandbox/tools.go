package sandbox

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// sbinDirs hold system tools that a normal user's PATH often leaves out:
// Debian installs nft and ip in /usr/sbin, and a user's shell never looks
// there, though the tools run fine for them inside a sandbox.
var sbinDirs = []string{"/usr/sbin", "/sbin"}

// packages names the Debian package of the tools tests use, for the hint.
var packages = map[string]string{
	"nft":     "nftables",
	"ip":      "iproute2",
	"python3": "python3",
	"curl":    "curl",
}

// LookTool finds the program name as exec.LookPath does, then in /usr/sbin
// and /sbin, and returns the path to run. If it is nowhere, the error is
// one line saying where it looked and what to install, fit to be a test's
// skip reason.
func LookTool(name string) (string, error) {
	return lookTool(name, os.Getenv("PATH"), sbinDirs)
}

func lookTool(name, path string, extra []string) (string, error) {
	if strings.Contains(name, "/") {
		return exec.LookPath(name)
	}
	dirs := filepath.SplitList(path)
	for _, d := range append(dirs, extra...) {
		if d == "" {
			continue
		}
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	pkg := packages[name]
	if pkg == "" {
		pkg = name
	}
	return "", fmt.Errorf("%s is not installed: looked in PATH (%s) and in %s: install it (sudo apt-get install %s): %w",
		name, path, strings.Join(extra, " and "), pkg, exec.ErrNotFound)
}
