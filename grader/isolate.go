package main

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path"
	"strconv"
	"syscall"
)

// Under -official the grader tests a private copy of the tree: the official
// tests and harness written over the tree's own (official.go), lab code
// checked against the allowlist (labcode.go), and nothing else of the tree
// that could change what the go tool builds. A student's go.mod could
// replace testify with a copy whose assertions never fail, a vendor/
// directory could do the same, a go.work could swap in any module, and
// GOFLAGS (-overlay) could swap in any file: so the copy takes go.mod and
// go.sum from the official copy, leaves out vendor/ and go.work, and the
// go command runs with a fixed GOFLAGS and no workspace.

// moduleFiles are the module's own files, kept in the official copy as
// module/NAME.txt: a go.mod inside the grader's testdata would make that
// directory a module of its own, which embed leaves out.
var moduleFiles = []string{"go.mod", "go.sum"}

const officialModuleDir = "module"

// leftOutOfCopy reports whether rel, a slash path from the tree's root, is
// left out of the graded copy.
func leftOutOfCopy(rel string) bool {
	switch rel {
	case "vendor", "go.work", "go.work.sum":
		return true
	}
	return false
}

// addModuleFiles adds go.mod and go.sum to official, read from fsys at
// dir/NAME (dir/NAME.txt when txt is set).
func addModuleFiles(official map[string][]byte, fsys fs.FS, dir string, txt bool) error {
	for _, name := range moduleFiles {
		p := name
		if txt {
			p += ".txt"
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, p))
		if err != nil {
			return err
		}
		official[name] = b
	}
	return nil
}

// isolateGoEnv makes the go commands the grader starts build only what the
// copy holds, whatever the environment says.
func isolateGoEnv() {
	os.Setenv("GOWORK", "off")
	os.Setenv("GOFLAGS", "-mod=readonly -buildvcs=false")
	os.Unsetenv("GOENV") // the default go env file cannot set GOFLAGS over the variable
}

// lookUpRunAs resolves -run-as to the credential the tests run with.
func (g *grading) lookUpRunAs() error {
	if g.cfg.runAs == "" {
		return nil
	}
	u, err := user.Lookup(g.cfg.runAs)
	if err != nil {
		return fmt.Errorf("%w: -run-as: %v", errUsage, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil || uid == 0 {
		return fmt.Errorf("%w: -run-as %s: want an unprivileged user, not uid %s", errUsage, g.cfg.runAs, u.Uid)
	}
	g.credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
	return nil
}

// shareCopy lets the user of -run-as read the private copy, not write it.
func (g *grading) shareCopy(dir string) error {
	if g.credential == nil {
		return nil
	}
	return os.Chmod(dir, 0o755)
}
