//lab:solution-only

// Command mkstarter makes the student starter tree from this reference
// solution (see internal/starter): every `//lab:solution begin` …
// `//lab:solution end` region becomes a `// TODO` stub that compiles.
//
//	go run ./cmd/mkstarter -out ../tcplab-starter            # every lab
//	go run ./cmd/mkstarter -through 1 -out /tmp/starter       # labs 0 and 1 only
//	go run ./cmd/mkstarter -through 2 -branch starter         # commit it to a branch
//
// With -through N, labs after N are left out entirely, and so is every
// package that imports them (the stack, webget, the interop tests): a course
// releases labs one at a time by regenerating with a larger N. -branch
// commits the tree to a branch of the repository with git plumbing (its own
// index, no checkout), so the working tree and index are never touched; the
// branch's previous tip, if any, is the new commit's parent.
//
// mkstarter and internal/starter are themselves left out of the starter.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"tcplab/internal/starter"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "mkstarter: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("mkstarter", flag.ContinueOnError)
	root := fs.String("repo", ".", "the reference tree (module root)")
	out := fs.String("out", "", "write the starter tree to `DIR` (must not exist or be empty)")
	through := fs.Int("through", 4, "the last lab to release (`N`); later labs are left out")
	branch := fs.String("branch", "", "commit the starter tree to branch `NAME` of the repository")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" && *branch == "" {
		return fmt.Errorf("say where the starter goes: -out DIR and/or -branch NAME")
	}
	if *branch != "" {
		if err := checkBranch(*root, *branch); err != nil {
			return err
		}
	}
	dir := *out
	if dir == "" {
		tmp, err := os.MkdirTemp("", "tcplab-starter-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	rep, err := starter.Generate(starter.Options{Root: *root, Out: dir, Through: *through})
	if err != nil {
		return err
	}
	fmt.Printf("wrote %d files to %s: %d solution regions stubbed in %d files, %d files left out\n",
		rep.Files, dir, rep.Regions, len(rep.Stripped), len(rep.Dropped))
	if *branch != "" {
		commit, err := commitTree(*root, dir, *branch, *through)
		if err != nil {
			return err
		}
		fmt.Printf("committed it to branch %s as %s\n", *branch, commit)
	}
	return nil
}

// commitTree commits dir's files to refs/heads/branch of the repository at
// root through a private index, so neither the working tree nor the index
// changes.
func commitTree(root, dir, branch string, through int) (string, error) {
	git := func(env []string, args ...string) (string, error) {
		cmd := exec.Command("git", args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), env...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		o, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
		}
		return strings.TrimSpace(string(o)), nil
	}
	ref := "refs/heads/" + branch
	index, err := os.CreateTemp("", "mkstarter-index-")
	if err != nil {
		return "", err
	}
	index.Close()
	os.Remove(index.Name()) // git wants to create it
	defer os.Remove(index.Name())
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	env := []string{"GIT_INDEX_FILE=" + index.Name()}
	if _, err := git(env, "--work-tree="+absDir, "add", "-A", "."); err != nil {
		return "", err
	}
	tree, err := git(env, "write-tree")
	if err != nil {
		return "", err
	}
	head, err := git(nil, "rev-parse", "--short", "HEAD")
	if err != nil {
		return "", err
	}
	args := []string{"commit-tree", tree, "-m", fmt.Sprintf("starter: labs 0-%d, generated from %s by cmd/mkstarter", through, head)}
	parent, _ := git(nil, "rev-parse", "--verify", "-q", ref)
	if parent != "" {
		args = append(args, "-p", parent)
	}
	commit, err := git(nil, args...)
	if err != nil {
		return "", err
	}
	upd := []string{"update-ref", ref, commit}
	if parent != "" {
		upd = append(upd, parent)
	}
	if _, err := git(nil, upd...); err != nil {
		return "", err
	}
	return commit, nil
}

// checkBranch refuses a bad branch name, and a branch checked out in a
// worktree: moving it would leave that worktree's files behind its HEAD.
func checkBranch(root, branch string) error {
	ref := "refs/heads/" + branch
	cmd := exec.Command("git", "check-ref-format", ref)
	cmd.Dir = root
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("bad branch name %q", branch)
	}
	cmd = exec.Command("git", "worktree", "list", "--porcelain")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("git worktree list: %w", err)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if l == "branch "+ref {
			return fmt.Errorf("branch %s is checked out in a worktree; pick another name", branch)
		}
	}
	return nil
}
