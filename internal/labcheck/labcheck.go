// Package labcheck decides, before anything is built, whether lab code stays
// inside what lab code may use.
//
// The grader runs a student's lab code inside the official tests' own
// processes, and a process can rewrite whatever it reports: a lab that can
// reach os.Stdout, print, start programs or write files can forge its grade
// however the output is parsed. So the grader limits what lab code can
// reach before it runs. Every Go file under labs/ (tests aside: the official
// ones replace them) is parsed, and a lab fails at once, with one line
// saying why, when any file:
//
//   - imports a package outside Allowed and the labs themselves (no os,
//     os/exec, syscall, unsafe, reflect, runtime, net, testing, log; no cgo);
//   - carries a compiler directive other than //go:build and //go:generate
//     (//go:linkname reaches any function, //go:embed any file);
//   - prints: the print and println builtins, or any fmt function that
//     writes (only fmt's Sprint*, Errorf and Append* are allowed);
//   - panics with anything but a one-line string literal (the runtime writes
//     a panic's value, newlines and all, into the test's output);
//   - sits beside a file the go tool would compile or link that is not Go
//     (assembly, C, .syso objects);
//   - could race with itself (state.go): starts a goroutine, or keeps or
//     writes state in package-level variables.
//
// The check is syntactic and errs on the side of refusing: it needs no
// type information, so it runs on code that does not build.
package labcheck

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Allowed lists the standard packages lab code may import: pure
// computation, nothing that reaches files, processes, the network or the
// runtime's internals. The reference labs use three of them.
var Allowed = []string{
	"bytes", "cmp", "container/heap", "container/list", "container/ring",
	"crypto/rand", "encoding/binary", "errors", "fmt", "io", "iter", "maps",
	"math", "math/bits", "math/rand", "math/rand/v2", "slices", "sort",
	"strconv", "strings", "sync", "sync/atomic", "time", "unicode",
	"unicode/utf8",
}

// LabsPrefix is the import path prefix of the labs: a lab may import any
// package under labs/, since every one of them is checked too.
const LabsPrefix = "tcplab/labs/"

// fmtAllowed are the fmt names that format into a value and write nowhere.
var fmtAllowed = []string{
	"Sprintf", "Sprint", "Sprintln", "Errorf", "Append", "Appendf", "Appendln",
	"Stringer", "GoStringer", "Formatter", "State",
}

// directivesAllowed are the //go: directives that change nothing the
// compiler builds.
var directivesAllowed = []string{"build", "generate"}

// notGo are the extensions of the non-Go files the go tool compiles or
// links into a package.
var notGo = []string{
	".s", ".S", ".sx", ".c", ".cc", ".cpp", ".cxx", ".h", ".hh", ".hpp", ".hxx",
	".m", ".f", ".F", ".for", ".f90", ".swig", ".swigcxx", ".syso",
}

// Problem is one reason a lab's code is refused.
type Problem struct {
	Lab  string // "labs/0-bytestream"
	File string // slash path from the tree's root
	Line int
	What string // "imports os"
	Why  string // "lab code may use only ..."
}

// String is the one line a student reads:
// "labs/0-bytestream imports os: lab code may use only ...".
func (p Problem) String() string {
	where := p.Lab
	if p.Line > 0 {
		where = fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s %s: %s", where, p.What, p.Why)
}

var (
	whyImport    = "lab code may use only the labs and the standard packages " + strings.Join(Allowed, ", ")
	whyDirective = "lab code may carry no compiler directives but //go:build and //go:generate"
	whyPrint     = "lab code may not print: the grader reads the tests' output (fmt.Sprintf and fmt.Errorf are fine)"
	whyPanic     = "lab code may panic only with a one-line string literal: the runtime prints a panic's value into the tests' output"
	whyNotGo     = "lab directories hold Go code only: the go tool would compile or link this file"
	whyCgo       = "lab code may not use cgo"
	whyDotImport = "lab code may not dot-import (import . \"pkg\"): name the package where you use it"
	whyParse     = "the file does not parse"
)

// Check checks the code of every lab under labs/ in fsys, a module's root,
// and returns what it refuses, grouped by lab in the order of the labs'
// names. A tree without labs/ has nothing to check.
func Check(fsys fs.FS) ([]Problem, error) {
	labs, err := fs.ReadDir(fsys, "labs")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []Problem
	for _, l := range labs {
		if !l.IsDir() {
			continue
		}
		ps, err := CheckLab(fsys, "labs/"+l.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
	}
	return out, nil
}

// CheckLab checks one lab directory and everything under it but testdata
// (which the go tool never builds).
func CheckLab(fsys fs.FS, lab string) ([]Problem, error) {
	var out []Problem
	pkgs := map[string][]source{} // each directory's Go files, for checkState
	var dirs []string
	err := fs.WalkDir(fsys, lab, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "testdata" {
				return fs.SkipDir
			}
			return nil
		}
		name := d.Name()
		if slices.Contains(notGo, path.Ext(name)) {
			out = append(out, Problem{Lab: lab, File: p, What: "holds " + strings.TrimPrefix(p, lab+"/"), Why: whyNotGo})
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		src, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		s, bad := parseSource(lab, p, src)
		if bad != nil {
			out = append(out, bad...)
			return nil
		}
		out = append(out, checkFile(lab, s)...)
		dir := path.Dir(p)
		if pkgs[dir] == nil {
			dirs = append(dirs, dir)
		}
		pkgs[dir] = append(pkgs[dir], s)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, dir := range dirs {
		out = append(out, checkState(lab, pkgs[dir])...)
	}
	return out, nil
}

// checkFile checks one parsed Go source file.
func checkFile(lab string, s source) []Problem {
	f, fset, name := s.file, s.fset, s.name
	var out []Problem
	add := func(pos token.Pos, what, why string) {
		out = append(out, Problem{Lab: lab, File: name, Line: fset.Position(pos).Line, What: what, Why: why})
	}

	// Imports: which local names stand for fmt.
	fmtNames := map[string]bool{}
	for _, im := range f.Imports {
		p, err := strconv.Unquote(im.Path.Value)
		if err != nil {
			add(im.Pos(), "has a malformed import", whyImport)
			continue
		}
		local := path.Base(p)
		if im.Name != nil {
			local = im.Name.Name
		}
		switch {
		case p == "C":
			add(im.Pos(), "imports C", whyCgo)
			continue
		case local == ".":
			add(im.Pos(), "dot-imports "+p, whyDotImport)
			continue
		case strings.HasPrefix(p, LabsPrefix):
		case slices.Contains(Allowed, p):
		default:
			// The line a student reads names the lab, as the
			// issue's example does: "labs/0-bytestream imports os".
			out = append(out, Problem{Lab: lab, File: name, What: "imports " + p, Why: whyImport})
			continue
		}
		if p == "fmt" && local != "_" {
			fmtNames[local] = true
		}
	}

	// Directives live in comments, anywhere in the file.
	for _, cg := range f.Comments {
		for _, c := range cg.List {
			d, ok := strings.CutPrefix(c.Text, "//go:")
			if !ok {
				continue
			}
			word, _, _ := strings.Cut(d, " ")
			if !slices.Contains(directivesAllowed, word) {
				add(c.Pos(), "carries //go:"+word, whyDirective)
			}
		}
	}

	// A package that declares its own print or println may call it.
	own := map[string]bool{}
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil {
			own[fd.Name.Name] = true
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.SelectorExpr:
			if id, ok := n.X.(*ast.Ident); ok && fmtNames[id.Name] && !slices.Contains(fmtAllowed, n.Sel.Name) {
				add(n.Pos(), "uses fmt."+n.Sel.Name, whyPrint)
			}
		case *ast.CallExpr:
			// Builtins cannot be used as values: calls are their only uses.
			id, ok := n.Fun.(*ast.Ident)
			if !ok || own[id.Name] {
				break
			}
			switch {
			case id.Name == "print" || id.Name == "println":
				add(n.Pos(), "calls the builtin "+id.Name, whyPrint)
			case id.Name == "panic" && !oneLineLiteral(n.Args):
				add(n.Pos(), "panics with a value the runtime would print", whyPanic)
			}
		}
		return true
	})
	return out
}

// oneLineLiteral reports whether args is one string literal holding no
// control characters.
func oneLineLiteral(args []ast.Expr) bool {
	if len(args) != 1 {
		return false
	}
	lit, ok := args[0].(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return false
	}
	s, err := strconv.Unquote(lit.Value)
	if err != nil {
		return false
	}
	for _, r := range s {
		if r < ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

func oneLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// LabImports maps each lab under labs/ in fsys ("labs/1-reassembler") to
// the labs its non-test Go files import (each named by its directory under
// labs/, whatever package inside it is imported). The grader follows it to
// know which suites link a refused lab: a lab may import any other.
func LabImports(fsys fs.FS) (map[string][]string, error) {
	labs, err := fs.ReadDir(fsys, "labs")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, l := range labs {
		if !l.IsDir() {
			continue
		}
		lab := "labs/" + l.Name()
		out[lab] = []string{}
		err := fs.WalkDir(fsys, lab, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if d.Name() == "testdata" {
					return fs.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return nil
			}
			src, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			f, err := parser.ParseFile(token.NewFileSet(), p, src, parser.ImportsOnly)
			if err != nil {
				return nil // Check refuses it
			}
			for _, im := range f.Imports {
				ip, err := strconv.Unquote(im.Path.Value)
				if err != nil {
					continue
				}
				rest, ok := strings.CutPrefix(ip, LabsPrefix)
				if !ok {
					continue
				}
				dir, _, _ := strings.Cut(rest, "/")
				if other := "labs/" + dir; other != lab && !slices.Contains(out[lab], other) {
					out[lab] = append(out[lab], other)
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
