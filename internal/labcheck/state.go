package labcheck

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"path"
	"strconv"
)

// Shared state. Go is memory-safe only without data races: two goroutines
// that write an interface or a slice header at once can tear it, and a
// torn header reaches memory that no import reaches. The stack runs many
// connections at once, each on its own loop, and the tests run in
// parallel, so lab code runs on several goroutines at a time; but each
// lab object is driven by one goroutine only. Lab code can race with
// itself only through what those goroutines share, so the check closes
// every way to share:
//
//   - no go statements and no time.AfterFunc (which runs its function on a
//     goroutine of its own);
//   - a package-level variable holds a value no one can write through: a
//     number, bool or string, an array of them, or an error made by
//     errors.New or fmt.Errorf;
//   - nothing writes a package-level variable after its declaration, of
//     this package or any other (io.EOF = ... would race too): no
//     assignment to it or into it, no ++ or --, no &, no slice of it.
//
// Like the rest of the check it needs no type information, so it errs on
// the side of refusing: a local variable that shadows a package-level
// one, and is written, is refused too (rename it).

var (
	whyGoroutine = "lab code may not start goroutines: each lab object is driven by one caller at a time, and code running beside itself can tear memory"
	whyState     = "lab code may not keep state outside its values: the stack runs many connections at once, so a package-level variable must be a number, bool, string, an array of them, or an error from errors.New, and nothing may write it"
)

// basicTypes are the predeclared types whose values hold no pointer to
// anything a program can write.
var basicTypes = map[string]bool{
	"bool": true, "string": true, "byte": true, "rune": true,
	"int": true, "int8": true, "int16": true, "int32": true, "int64": true,
	"uint": true, "uint8": true, "uint16": true, "uint32": true, "uint64": true, "uintptr": true,
	"float32": true, "float64": true, "complex64": true, "complex128": true,
}

// source is one parsed Go file of a lab package, parsed once for every
// check.
type source struct {
	name string
	fset *token.FileSet
	file *ast.File
	// imports maps each local import name to its path.
	imports map[string]string
}

// parseSource parses one Go file of a lab package, or says in one problem
// why it cannot be checked: a file that does not parse is refused, not
// skipped.
func parseSource(lab, name string, src []byte) (source, []Problem) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		line, msg := 0, err.Error()
		var el scanner.ErrorList
		if errors.As(err, &el) && len(el) > 0 {
			line, msg = el[0].Pos.Line, el[0].Msg
		}
		return source{}, []Problem{{Lab: lab, File: name, Line: line, What: "cannot be checked (" + oneLine(msg) + ")", Why: whyParse}}
	}
	s := source{name: name, fset: fset, file: f, imports: map[string]string{}}
	for _, im := range f.Imports {
		p, err := strconv.Unquote(im.Path.Value)
		if err != nil {
			continue // checkFile refuses it
		}
		local := path.Base(p)
		if im.Name != nil {
			local = im.Name.Name
		}
		s.imports[local] = p
	}
	return s, nil
}

// globalKind is what a package-level variable was declared to hold.
type globalKind int

const (
	scalar globalKind = iota // a number, bool or string: slicing a string copies nothing writable
	array                    // an array: a slice of it writes into it
)

// checkState checks the Go files of one package (one directory) for ways
// to share state between goroutines.
func checkState(lab string, files []source) []Problem {
	var out []Problem
	add := func(s source, pos token.Pos, what, why string) {
		out = append(out, Problem{Lab: lab, File: s.name, Line: s.fset.Position(pos).Line, What: what, Why: why})
	}

	// The package's own variables, from every file.
	globals := map[string]globalKind{}
	for _, s := range files {
		for _, d := range s.file.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if n.Name == "_" {
						continue // never read or written again
					}
					var value ast.Expr
					if i < len(vs.Values) {
						value = vs.Values[i]
					} else if len(vs.Values) == 1 {
						value = vs.Values[0] // var a, b = f()
					}
					kind, ok := valueKind(s, vs.Type, value)
					if !ok {
						add(s, n.Pos(), "declares the package-level variable "+n.Name, whyState)
						continue
					}
					globals[n.Name] = kind
				}
			}
		}
	}

	for _, s := range files {
		// written reports a write through e, whose root is a package-level
		// variable of this package or a package's name.
		written := func(e ast.Expr, how string) {
			id := root(e)
			if id == nil {
				return
			}
			if _, ok := globals[id.Name]; ok {
				add(s, e.Pos(), how+" the package-level variable "+id.Name, whyState)
			} else if p, ok := s.imports[id.Name]; ok {
				add(s, e.Pos(), how+" a variable of "+p, whyState)
			}
		}
		ast.Inspect(s.file, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.GoStmt:
				add(s, n.Pos(), "starts a goroutine", whyGoroutine)
			case *ast.SelectorExpr:
				if id, ok := n.X.(*ast.Ident); ok && s.imports[id.Name] == "time" && n.Sel.Name == "AfterFunc" {
					add(s, n.Pos(), "uses time.AfterFunc", whyGoroutine)
				}
			case *ast.AssignStmt:
				if n.Tok == token.DEFINE {
					break // := declares locals (or reuses them)
				}
				for _, l := range n.Lhs {
					written(l, "writes")
				}
			case *ast.IncDecStmt:
				written(n.X, "writes")
			case *ast.RangeStmt:
				if n.Tok == token.ASSIGN {
					if n.Key != nil {
						written(n.Key, "writes")
					}
					if n.Value != nil {
						written(n.Value, "writes")
					}
				}
			case *ast.UnaryExpr:
				if n.Op == token.AND {
					written(n.X, "takes the address of")
				}
			case *ast.SliceExpr:
				id := root(n.X)
				if id == nil {
					break
				}
				if k, ok := globals[id.Name]; ok && k == array {
					add(s, n.Pos(), "slices the package-level variable "+id.Name, whyState)
				}
			}
			return true
		})
	}
	return out
}

// root is the variable an expression that can be written names at its
// base: x in x, x.f, x[i], (x), *x; nil if there is none (a call's
// result, a literal).
func root(e ast.Expr) *ast.Ident {
	for {
		switch x := e.(type) {
		case *ast.Ident:
			if x.Name == "_" {
				return nil
			}
			return x
		case *ast.ParenExpr:
			e = x.X
		case *ast.SelectorExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.IndexListExpr:
			e = x.X
		case *ast.StarExpr:
			e = x.X
		default:
			return nil
		}
	}
}

// valueKind says whether a package-level variable declared with type t
// (nil: none written) and initial value v (nil: none) holds a value no one
// can write through, and if so which kind.
func valueKind(s source, t, v ast.Expr) (globalKind, bool) {
	if t != nil {
		if isIdent(t, "error") {
			return scalar, v != nil && madeError(s, v)
		}
		return typeKind(t)
	}
	switch {
	case v == nil:
		return 0, false
	case madeError(s, v):
		return scalar, true
	case constant(v):
		return scalar, true
	}
	if cl, ok := v.(*ast.CompositeLit); ok && cl.Type != nil {
		if k, ok := typeKind(cl.Type); ok && k == array {
			return array, true
		}
	}
	return 0, false
}

// typeKind says whether t is a predeclared number, bool or string type,
// or an array of such values, and which.
func typeKind(t ast.Expr) (globalKind, bool) {
	switch t := t.(type) {
	case *ast.Ident:
		return scalar, basicTypes[t.Name]
	case *ast.ParenExpr:
		return typeKind(t.X)
	case *ast.ArrayType:
		if t.Len == nil {
			return 0, false // a slice: its copies write into one array
		}
		_, ok := typeKind(t.Elt)
		return array, ok
	}
	return 0, false
}

// constant reports whether v is built of literals alone, converted to
// predeclared types at most (1 << 10, "x", -1.5, true, uint64(1) << 32).
// A named constant could be of a named type whose methods write through
// a pointer receiver, so it is not.
func constant(v ast.Expr) bool {
	switch v := v.(type) {
	case *ast.BasicLit:
		return true
	case *ast.Ident:
		return v.Name == "true" || v.Name == "false"
	case *ast.ParenExpr:
		return constant(v.X)
	case *ast.UnaryExpr:
		return v.Op != token.AND && v.Op != token.ARROW && constant(v.X)
	case *ast.BinaryExpr:
		return constant(v.X) && constant(v.Y)
	case *ast.CallExpr:
		// A conversion to a predeclared type: uint64(1) << 32.
		id, ok := v.Fun.(*ast.Ident)
		return ok && basicTypes[id.Name] && len(v.Args) == 1 && constant(v.Args[0])
	}
	return false
}

// madeError reports whether v is a call of errors.New or fmt.Errorf,
// whose errors hold nothing a program can change.
func madeError(s source, v ast.Expr) bool {
	call, ok := v.(*ast.CallExpr)
	if !ok {
		return false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	id, ok := sel.X.(*ast.Ident)
	if !ok {
		return false
	}
	switch s.imports[id.Name] + "." + sel.Sel.Name {
	case "errors.New", "fmt.Errorf":
		return true
	}
	return false
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}
