//lab:solution-only

package starter

import (
	"bytes"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Options say which tree to make.
type Options struct {
	Root    string // the reference tree (module root)
	Out     string // where to write the starter; must not exist, or be empty
	Through int    // the last lab released: labs after it are left out
}

// Report says what Generate did.
type Report struct {
	Files    int      // files written
	Regions  int      // solution regions replaced by stubs
	Dropped  []string // files left out: solution-only, unreleased labs, or built on them
	Stripped []string // files with stubs
}

var labDir = regexp.MustCompile(`^labs/(\d+)-[^/]+`)

// officialPrefix is where the grader keeps its copy of the official tests;
// a package left out of the starter is left out of that copy too.
const officialPrefix = "grader/testdata/official/"

// Generate writes the starter tree: a copy of the reference's files (those
// git tracks, if it is a git repository) with every solution region
// stubbed, solution-only files dropped, and labs after o.Through left out
// along with every package that imports them.
func Generate(o Options) (Report, error) {
	var rep Report
	files, err := listFiles(o.Root)
	if err != nil {
		return rep, err
	}
	module, err := modulePath(o.Root)
	if err != nil {
		return rep, err
	}
	if ents, err := os.ReadDir(o.Out); err == nil && len(ents) > 0 {
		return rep, fmt.Errorf("%s is not empty", o.Out)
	}

	// Which package directories are left out: later labs, then whatever
	// imports them, then directories whose every Go file is solution-only.
	dropped := map[string]bool{}
	for _, f := range files {
		if m := labDir.FindStringSubmatch(f); m != nil {
			if n, _ := strconv.Atoi(m[1]); n > o.Through {
				dropped[m[0]] = true
			}
		}
	}
	imports := map[string][]string{} // dir → module-local dirs it imports
	goFiles := map[string][]string{}
	for _, f := range files {
		if !strings.HasSuffix(f, ".go") || inTestdata(f) {
			continue
		}
		dir := path.Dir(f)
		goFiles[dir] = append(goFiles[dir], f)
		src, err := os.ReadFile(filepath.Join(o.Root, f))
		if err != nil {
			return rep, err
		}
		if solutionOnly(f, src) {
			// Dropped from the starter: what it imports does not
			// keep its package from a release (the grader's tests of
			// the reference import the labs).
			continue
		}
		pf, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ImportsOnly)
		if err != nil {
			return rep, err
		}
		for _, s := range pf.Imports {
			p, _ := strconv.Unquote(s.Path.Value)
			if rel, ok := strings.CutPrefix(p, module+"/"); ok {
				imports[dir] = append(imports[dir], rel)
			}
		}
	}
	for changed := true; changed; {
		changed = false
		for dir, deps := range imports {
			if dropped[dir] {
				continue
			}
			for _, d := range deps {
				if isDropped(dropped, d) {
					dropped[dir], changed = true, true
					break
				}
			}
		}
	}

	types := NewTypes(o.Root, module)
	kept := map[string]int{} // dir → Go files kept
	type out struct {
		path string
		src  []byte
	}
	var outs []out
	for _, f := range files {
		if fileDropped(dropped, f) {
			rep.Dropped = append(rep.Dropped, f)
			continue
		}
		src, err := os.ReadFile(filepath.Join(o.Root, f))
		if err != nil {
			return rep, err
		}
		if strings.HasSuffix(f, ".go") && !inTestdata(f) {
			sf, err := Strip(filepath.Join(o.Root, f), src, types)
			if err != nil {
				return rep, err
			}
			if sf.Dropped {
				rep.Dropped = append(rep.Dropped, f)
				continue
			}
			kept[path.Dir(f)]++
			if sf.Regions > 0 {
				rep.Regions += sf.Regions
				rep.Stripped = append(rep.Stripped, f)
			}
			src = sf.Src
		}
		if textOnlyMarker(f, src) {
			// The reference's own notes (gremlins' equivalent mutants, say)
			// describe its solution; a starter has nothing they apply to.
			rep.Dropped = append(rep.Dropped, f)
			continue
		}
		if strings.HasSuffix(f, ".md") && !inTestdata(f) {
			if src, err = StripMarkdown(f, src); err != nil {
				return rep, err
			}
		}
		outs = append(outs, out{f, src})
	}
	for _, w := range outs {
		// A package whose Go files were all solution-only leaves no
		// orphaned testdata behind.
		if d, ok := testdataOwner(w.path); ok && len(goFiles[d]) > 0 && kept[d] == 0 {
			rep.Dropped = append(rep.Dropped, w.path)
			continue
		}
		full := filepath.Join(o.Out, filepath.FromSlash(w.path))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return rep, err
		}
		mode := os.FileMode(0o644)
		if st, err := os.Stat(filepath.Join(o.Root, w.path)); err == nil && st.Mode()&0o111 != 0 {
			mode = 0o755
		}
		if err := os.WriteFile(full, w.src, mode); err != nil {
			return rep, err
		}
		rep.Files++
	}
	slices.Sort(rep.Dropped)
	return rep, nil
}

func inTestdata(f string) bool {
	return strings.HasPrefix(f, "testdata/") || strings.Contains(f, "/testdata/")
}

// testdataOwner is the package directory whose testdata holds f.
func testdataOwner(f string) (string, bool) {
	i := strings.Index(f, "/testdata/")
	if i < 0 {
		return "", false
	}
	return f[:i], true
}

func isDropped(dropped map[string]bool, dir string) bool {
	if dropped[dir] {
		return true
	}
	if m := labDir.FindString(dir); m != "" && dropped[m] {
		return true
	}
	return false
}

// fileDropped: every file of a left-out lab, the files and testdata of a
// left-out package, and their copies among the grader's official tests.
func fileDropped(dropped map[string]bool, f string) bool {
	f = strings.TrimPrefix(f, officialPrefix)
	if m := labDir.FindString(f); m != "" && dropped[m] {
		return true
	}
	dir := path.Dir(f)
	if owner, ok := testdataOwner(f); ok {
		dir = owner
	}
	return dropped[dir]
}

// listFiles lists the tree's files as slash paths: what git tracks, or
// every file outside .git if the tree is not a repository.
func listFiles(root string) ([]string, error) {
	cmd := exec.Command("git", "ls-files", "-z", "--cached")
	cmd.Dir = root
	if outp, err := cmd.Output(); err == nil {
		var files []string
		for _, f := range bytes.Split(outp, []byte{0}) {
			if len(f) == 0 {
				continue
			}
			// Deleted in the working tree but not yet in the index.
			if _, err := os.Lstat(filepath.Join(root, string(f))); err == nil {
				files = append(files, string(f))
			}
		}
		return files, nil
	}
	var files []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(root, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	return files, err
}

func modulePath(root string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", fmt.Errorf("reading the module: %w", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if m, ok := strings.CutPrefix(strings.TrimSpace(l), "module "); ok {
			return strings.TrimSpace(m), nil
		}
	}
	return "", fmt.Errorf("%s/go.mod names no module", root)
}

// textOnlyMarker reports whether f is a text file (not Go, not Markdown)
// whose first line marks it solution-only: "# lab:solution-only".
func textOnlyMarker(f string, src []byte) bool {
	if strings.HasSuffix(f, ".go") || strings.HasSuffix(f, ".md") || inTestdata(f) {
		return false
	}
	first, _, _ := strings.Cut(string(src), "\n")
	return strings.HasPrefix(strings.TrimSpace(first), "# lab:solution-only")
}
