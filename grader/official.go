package main

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// The official tests: a copy of every graded package's test files and
// testdata, and of the test harness, taken from the reference tree by
// `go run ./grader sync-official`. With -official the grader tests a
// temporary copy of the student's tree with these written over it, so
// editing a test (or the harness) changes nothing; without it, the grader
// still says which test files differ from them. testdata keeps the go tool
// from building the copies as packages.
//
//go:embed all:testdata/official
var embedded embed.FS

const officialRoot = "testdata/official"

// harnessDir is graded code too: a student who weakens the step runner
// weakens every test.
const harnessDir = "internal/harness"

// officialDirs lists the package directories the official copy covers.
func officialDirs() []string {
	dirs := []string{harnessDir}
	for _, s := range suites {
		if !slices.Contains(dirs, s.pkg) {
			dirs = append(dirs, s.pkg)
		}
	}
	return dirs
}

// officialFile reports whether rel, a slash path under package dir, is one
// of the files the official copy holds: the package's test files and
// testdata, or every Go file of the harness.
func officialFile(dir, rel string) bool {
	if dir == harnessDir {
		return strings.HasSuffix(rel, ".go") && !strings.Contains(rel, "/")
	}
	if strings.HasPrefix(rel, "testdata/") {
		return true
	}
	return strings.HasSuffix(rel, "_test.go") && !strings.Contains(rel, "/")
}

// selectFiles returns the official-kind files of every official directory
// in fsys, keyed by slash path from the module root.
func selectFiles(fsys fs.FS) (map[string][]byte, error) {
	files := map[string][]byte{}
	for _, dir := range officialDirs() {
		err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if p == dir && errorsIsNotExist(err) {
					return fs.SkipDir
				}
				return err
			}
			if d.IsDir() {
				// Nested packages are their own directories, except testdata.
				if p != dir && !strings.HasPrefix(p, dir+"/testdata") {
					return fs.SkipDir
				}
				return nil
			}
			if !officialFile(dir, strings.TrimPrefix(p, dir+"/")) {
				return nil
			}
			b, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			files[p] = b
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("official tests: %w", err)
		}
	}
	return files, nil
}

func errorsIsNotExist(err error) bool {
	return os.IsNotExist(err) || strings.Contains(err.Error(), "file does not exist")
}

// officialFiles returns the official tests the grader grades with: the
// embedded copy, or the reference tree named by -official-dir.
func (g *grading) officialFiles() (map[string][]byte, error) {
	if g.cfg.officialDir != "" {
		fsys := os.DirFS(g.cfg.officialDir)
		files, err := selectFiles(fsys)
		if err != nil {
			return nil, err
		}
		return files, addModuleFiles(files, fsys, ".", false)
	}
	sub, err := fs.Sub(embedded, officialRoot)
	if err != nil {
		return nil, err
	}
	files, err := selectFiles(sub)
	if err != nil {
		return nil, err
	}
	if err := addModuleFiles(files, sub, officialModuleDir, true); err != nil {
		return nil, fmt.Errorf("official module files: %w (run go run ./grader sync-official)", err)
	}
	return files, nil
}

// compareOfficial lists, as warnings, the tree's test files in the packages
// the stage grades that differ from the official ones.
func compareOfficial(root string, official map[string][]byte, todo []suite) []string {
	mine, err := selectFiles(os.DirFS(root))
	if err != nil {
		return []string{err.Error()}
	}
	graded := map[string]bool{harnessDir: true}
	for _, s := range todo {
		graded[s.pkg] = true
	}
	in := func(p string) bool {
		for d := range graded {
			if strings.HasPrefix(p, d+"/") {
				return true
			}
		}
		return false
	}
	var warn []string
	for p, want := range official {
		if !in(p) {
			continue
		}
		got, ok := mine[p]
		switch {
		case !ok:
			warn = append(warn, p+" is missing")
		case !bytes.Equal(got, want):
			warn = append(warn, p+" differs from the official tests")
		}
	}
	for p := range mine {
		if _, ok := official[p]; !ok && in(p) && len(official) > 0 {
			warn = append(warn, p+" is not one of the official tests")
		}
	}
	slices.Sort(warn)
	return warn
}

// overlayOfficial copies the tree at root to dst and puts the official
// files in place of the tree's own in every official directory.
func overlayOfficial(root, dst string, official map[string][]byte) error {
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if leftOutOfCopy(filepath.ToSlash(rel)) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return fs.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		slash := filepath.ToSlash(rel)
		for _, dir := range officialDirs() {
			if r, ok := strings.CutPrefix(slash, dir+"/"); ok && officialFile(dir, r) && hasOfficial(official, dir) {
				return nil // replaced below
			}
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		return fmt.Errorf("copying the tree to grade: %w", err)
	}
	for p, b := range official {
		full := filepath.Join(dst, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, b, 0o644); err != nil {
			return fmt.Errorf("writing the official tests: %w", err)
		}
	}
	return nil
}

func hasOfficial(official map[string][]byte, dir string) bool {
	for p := range official {
		if strings.HasPrefix(p, dir+"/") {
			return true
		}
	}
	return false
}

// syncOfficial refreshes the embedded copy from the tree the grader runs
// in: instructors run it after changing any lab's tests.
func syncOfficial(c config) int {
	root, err := findRoot(c.dir)
	if err != nil {
		fmt.Fprintf(c.stderr, "grader: %v\n", err)
		return 2
	}
	files, err := selectFiles(os.DirFS(root))
	if err != nil {
		fmt.Fprintf(c.stderr, "grader: %v\n", err)
		return 2
	}
	dst := filepath.Join(root, "grader", filepath.FromSlash(officialRoot))
	if err := os.RemoveAll(dst); err != nil {
		fmt.Fprintf(c.stderr, "grader: %v\n", err)
		return 2
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		fmt.Fprintf(c.stderr, "grader: %v\n", err)
		return 2
	}
	if err := os.WriteFile(filepath.Join(dst, "README"), []byte(officialReadme), 0o644); err != nil {
		fmt.Fprintf(c.stderr, "grader: %v\n", err)
		return 2
	}
	keys := make([]string, 0, len(files))
	for p := range files {
		keys = append(keys, p)
	}
	slices.Sort(keys)
	for _, p := range keys {
		full := filepath.Join(dst, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			fmt.Fprintf(c.stderr, "grader: %v\n", err)
			return 2
		}
		if err := os.WriteFile(full, files[p], 0o644); err != nil {
			fmt.Fprintf(c.stderr, "grader: %v\n", err)
			return 2
		}
		fmt.Fprintf(c.stdout, "%s\n", path.Join("grader", officialRoot, p))
	}
	for _, name := range moduleFiles {
		b, err := os.ReadFile(filepath.Join(root, name))
		if err == nil {
			full := filepath.Join(dst, officialModuleDir, name+".txt")
			if err = os.MkdirAll(filepath.Dir(full), 0o755); err == nil {
				err = os.WriteFile(full, b, 0o644)
			}
		}
		if err != nil {
			fmt.Fprintf(c.stderr, "grader: %v\n", err)
			return 2
		}
		fmt.Fprintf(c.stdout, "%s\n", path.Join("grader", officialRoot, officialModuleDir, name+".txt"))
	}
	if err := writeManifest(root, files, c.stderr); err != nil {
		fmt.Fprintf(c.stderr, "grader: %v\n", err)
		return 2
	}
	fmt.Fprintf(c.stdout, "%s\n", manifestPath)
	return 0
}

const officialReadme = `The official tests the grader builds in (see grader/official.go).
Generated by "go run ./grader sync-official" from the reference tree: do not
edit by hand. TestOfficialCopyIsCurrent fails when they fall behind.
`
