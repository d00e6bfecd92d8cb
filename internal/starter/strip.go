//lab:solution-only

// Package starter makes the student starter tree from the reference
// solution: it replaces every region between the lines
// `//lab:solution begin` and `//lab:solution end` with a `// TODO` stub that
// still compiles, drops files marked `//lab:solution-only`, and leaves out
// the labs a course has not released yet (and the packages built on them).
//
// It is instructors' tooling (cmd/mkstarter uses it) and is itself left out
// of the starter.
package starter

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"strings"
)

// The markers, each alone on its line. Text after "begin" is a hint for
// the student and replaces the default TODO text.
const (
	beginMarker  = "//lab:solution begin"
	endMarker    = "//lab:solution end"
	onlyMarker   = "//lab:solution-only"
	defaultTODO  = "TODO: your code here."
	structTODO   = "TODO: add the fields your solution needs."
	literalTODO  = "TODO: set the fields you added, if they need it."
	topLevelTODO = "TODO: add helper types and functions here, if you need them."
)

// region is one solution region: 0-based line numbers of its two markers.
type region struct {
	begin, end int
	hint       string
}

// File is what Strip made of one Go file.
type File struct {
	Src     []byte // the starter version; nil if the file is dropped
	Dropped bool   // the file is solution-only
	Regions int    // how many regions were replaced
}

// Strip returns the starter version of one Go source file. Types resolves
// the zero values of named result types; it may be nil, and then unknown
// named types get `*new(T)`.
func Strip(filename string, src []byte, types *Types) (File, error) {
	lines := strings.Split(string(src), "\n")
	regions, only, err := findRegions(filename, lines)
	if err != nil {
		return File{}, err
	}
	if only {
		return File{Dropped: true}, nil
	}
	if len(regions) == 0 {
		return File{Src: src}, nil
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filename, src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return File{}, err
	}
	tf := fset.File(f.Pos())
	pos := func(line int) token.Pos { return tf.LineStart(line + 1) }
	lineEnd := func(line int) token.Pos {
		if line+1 < tf.LineCount() {
			return tf.LineStart(line+2) - 1
		}
		return token.Pos(tf.Base() + tf.Size())
	}

	imports := importNames(f, types)
	local := newPkgInfo()
	local.addFile(f)
	pkgPath := ""
	if types != nil {
		pkgPath = types.pathOf(filename)
	}
	out := make([]string, 0, len(lines))
	next := 0
	hinted := false // one top-level hint per file is enough
	for _, r := range regions {
		out = append(out, lines[next:r.begin]...)
		start, end := pos(r.begin), lineEnd(r.end)
		indent := lines[r.begin][:len(lines[r.begin])-len(strings.TrimLeft(lines[r.begin], " \t"))]
		stub, err := stubFor(f, start, end, r, regions, pos, lineEnd, imports, types, pkgPath, local)
		if err != nil {
			return File{}, fmt.Errorf("%s:%d: %w", filename, r.begin+1, err)
		}
		if len(stub) == 1 && stub[0] == "// "+topLevelTODO {
			if hinted {
				stub = nil
			}
			hinted = true
		}
		for _, s := range stub {
			out = append(out, indent+s)
		}
		next = r.end + 1
	}
	out = append(out, lines[next:]...)
	res, err := format.Source([]byte(strings.Join(out, "\n")))
	if err != nil {
		return File{}, fmt.Errorf("%s: the stubbed file does not parse: %w", filename, err)
	}
	res, err = removeUnusedImports(filename, res, types)
	if err != nil {
		return File{}, err
	}
	return File{Src: res, Regions: len(regions)}, nil
}

// solutionOnly reports whether the Go file src is marked solution-only,
// so the starter drops it (and what it imports does not count).
func solutionOnly(filename string, src []byte) bool {
	_, only, _ := findRegions(filename, strings.Split(string(src), "\n"))
	return only
}

// findRegions pairs the markers and reports whether the file is
// solution-only.
func findRegions(filename string, lines []string) ([]region, bool, error) {
	var rs []region
	open := -1
	hint := ""
	for i, l := range lines {
		t := strings.TrimSpace(l)
		switch {
		case t == onlyMarker:
			return nil, true, nil
		case t == beginMarker || strings.HasPrefix(t, beginMarker+" "):
			if open >= 0 {
				return nil, false, fmt.Errorf("%s:%d: %s inside the region opened on line %d", filename, i+1, beginMarker, open+1)
			}
			open, hint = i, strings.TrimSpace(strings.TrimPrefix(t, beginMarker))
		case t == endMarker:
			if open < 0 {
				return nil, false, fmt.Errorf("%s:%d: %s without a begin", filename, i+1, endMarker)
			}
			rs = append(rs, region{begin: open, end: i, hint: hint})
			open = -1
		}
	}
	if open >= 0 {
		return nil, false, fmt.Errorf("%s:%d: %s never ends", filename, open+1, beginMarker)
	}
	return rs, false, nil
}

// stubFor returns the lines that replace a region, without indentation.
func stubFor(f *ast.File, start, end token.Pos, r region, all []region,
	pos, lineEnd func(int) token.Pos, imports map[string]string, types *Types, pkgPath string, local *pkgInfo) ([]string, error) {
	todo := func(def string) string {
		if r.hint != "" {
			return "// TODO: " + r.hint
		}
		return "// " + def
	}
	// Which function, if any, holds the region?
	var fnType *ast.FuncType
	var body *ast.BlockStmt
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncDecl:
			if n.Body != nil && n.Body.Lbrace < start && end < n.Body.Rbrace {
				fnType, body = n.Type, n.Body
			}
		case *ast.FuncLit:
			if n.Body.Lbrace < start && end < n.Body.Rbrace {
				fnType, body = n.Type, n.Body // nested, so innermost wins
			}
		}
		return n != nil
	})
	if body == nil {
		// Outside any function: struct fields, or declarations.
		inStruct := false
		ast.Inspect(f, func(n ast.Node) bool {
			if st, ok := n.(*ast.StructType); ok && st.Fields.Opening < start && end < st.Fields.Closing {
				inStruct = true
			}
			return !inStruct
		})
		if inStruct {
			return []string{todo(structTODO)}, nil
		}
		return []string{todo(topLevelTODO)}, nil
	}

	// Innermost node holding the region within the function.
	var inner ast.Node = body
	ast.Inspect(body, func(n ast.Node) bool {
		if n == nil {
			return false
		}
		if n.Pos() < start && end < n.End() {
			switch n.(type) {
			case *ast.BlockStmt, *ast.CompositeLit, *ast.CaseClause, *ast.CommClause:
				inner = n
			}
			return true
		}
		return false
	})
	if _, ok := inner.(*ast.CompositeLit); ok {
		return []string{todo(literalTODO)}, nil
	}
	stub := []string{todo(defaultTODO)}
	stub = append(stub, keepUsed(body, start, end, all, pos, lineEnd)...)
	tail := inner == ast.Node(body)
	for _, s := range body.List {
		if s.Pos() > end {
			tail = false
		}
	}
	if tail && fnType.Results != nil && len(fnType.Results.List) > 0 {
		named := len(fnType.Results.List[0].Names) > 0
		if named {
			return append(stub, "return"), nil
		}
		var zeros []string
		for _, field := range fnType.Results.List {
			z := zeroValue(field.Type, imports, types, pkgPath, local)
			for range max(1, len(field.Names)) {
				zeros = append(zeros, z)
			}
		}
		stub = append(stub, "return "+strings.Join(zeros, ", "))
	}
	return stub, nil
}

// keepUsed returns `_ = x` for each local variable declared outside every
// region that only the region [start, end] used: without the region it
// would be declared and not used, which Go refuses to compile. Names are
// matched by spelling (go/ast's objects are deprecated and go/types would
// need the whole module); shadowing a local inside a region can fool it,
// and then the starter test's build says so.
func keepUsed(body *ast.BlockStmt, start, end token.Pos, all []region, pos, lineEnd func(int) token.Pos) []string {
	inAny := func(p token.Pos) bool {
		for _, r := range all {
			if pos(r.begin) <= p && p <= lineEnd(r.end) {
				return true
			}
		}
		return false
	}
	declared := map[string]token.Pos{}
	declare := func(id *ast.Ident) {
		if id.Name != "_" && id.Pos() < start && !inAny(id.Pos()) {
			declared[id.Name] = id.Pos()
		}
	}
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return false // its locals are its own
		case *ast.AssignStmt:
			if n.Tok == token.DEFINE {
				for _, l := range n.Lhs {
					if id, ok := l.(*ast.Ident); ok {
						declare(id)
					}
				}
			}
		case *ast.ValueSpec:
			for _, id := range n.Names {
				declare(id)
			}
		}
		return true
	})
	usedInside := map[string]bool{}
	usedOutside := map[string]bool{}
	var order []string
	var visit func(n ast.Node) bool
	visit = func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.SelectorExpr:
			ast.Inspect(n.X, visit) // n.Sel is a field or method, not a local
			return false
		case *ast.Ident:
			at, ok := declared[n.Name]
			if !ok || n.Pos() == at {
				return true
			}
			switch {
			case start <= n.Pos() && n.Pos() <= end:
				if !usedInside[n.Name] {
					order = append(order, n.Name)
				}
				usedInside[n.Name] = true
			case !inAny(n.Pos()):
				usedOutside[n.Name] = true
			}
		}
		return true
	}
	ast.Inspect(body, visit)
	var out []string
	for _, name := range order {
		if !usedOutside[name] {
			out = append(out, "_ = "+name)
		}
	}
	return out
}

// importNames maps each import's name in the file to its path.
func importNames(f *ast.File, types *Types) map[string]string {
	m := map[string]string{}
	for _, s := range f.Imports {
		p := strings.Trim(s.Path.Value, `"`)
		name := ""
		if s.Name != nil {
			name = s.Name.Name
		} else {
			name = types.packageName(p)
		}
		m[name] = p
	}
	return m
}

// removeUnusedImports deletes the imports the stubbed file no longer uses
// (Go refuses unused imports). It edits lines, not the AST, so comments
// stay where they were.
func removeUnusedImports(filename string, src []byte, types *Types) ([]byte, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filename, src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok {
				used[id.Name] = true
			}
		}
		return true
	})
	lines := strings.Split(string(src), "\n")
	drop := map[int]bool{}
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.IMPORT {
			continue
		}
		kept := 0
		for _, spec := range gd.Specs {
			s := spec.(*ast.ImportSpec)
			p := strings.Trim(s.Path.Value, `"`)
			name := types.packageName(p)
			if s.Name != nil {
				name = s.Name.Name
			}
			if name == "_" || name == "." || used[name] {
				kept++
				continue
			}
			for l := fset.Position(s.Pos()).Line; l <= fset.Position(s.End()).Line; l++ {
				drop[l-1] = true
			}
		}
		if kept == 0 {
			for l := fset.Position(gd.Pos()).Line; l <= fset.Position(gd.End()).Line; l++ {
				drop[l-1] = true
			}
		}
	}
	if len(drop) == 0 {
		return src, nil
	}
	var b bytes.Buffer
	for i, l := range lines {
		if !drop[i] {
			b.WriteString(l)
			if i < len(lines)-1 {
				b.WriteByte('\n')
			}
		}
	}
	out, err := format.Source(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("%s: after removing unused imports: %w", filename, err)
	}
	return out, nil
}
