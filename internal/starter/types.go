//lab:solution-only

package starter

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
)

// Types finds the declarations of named types, in the module and in the
// standard library, so a stub can return a readable zero value (`0`,
// `Message{}`, `nil`) for a named result type.
type Types struct {
	root, module string

	mu   sync.Mutex
	pkgs map[string]*pkgInfo // import path → declarations

	rootOnce  sync.Once
	gorootDir string
}

type pkgInfo struct {
	name  string
	types map[string]ast.Expr // type name → its definition (the type expression)
	alias map[string]bool
}

// NewTypes resolves types for the module rooted at root, whose module path
// is module ("tcplab").
func NewTypes(root, module string) *Types {
	return &Types{root: root, module: module, pkgs: map[string]*pkgInfo{}}
}

// pathOf is the import path of the package a file (relative to the root)
// belongs to.
func (t *Types) pathOf(filename string) string {
	if t == nil {
		return ""
	}
	dir := filepath.ToSlash(filepath.Dir(filename))
	if rel, err := filepath.Rel(t.root, filepath.Dir(filename)); err == nil && !strings.HasPrefix(rel, "..") {
		dir = filepath.ToSlash(rel)
	}
	if dir == "." {
		return t.module
	}
	return t.module + "/" + dir
}

// dirOf is where an import path's source is: in the module, or in GOROOT.
func (t *Types) dirOf(importPath string) string {
	if t == nil {
		return ""
	}
	if importPath == t.module {
		return t.root
	}
	if rel, ok := strings.CutPrefix(importPath, t.module+"/"); ok {
		return filepath.Join(t.root, filepath.FromSlash(rel))
	}
	return filepath.Join(t.goroot(), "src", filepath.FromSlash(importPath))
}

// goroot is where the standard library's source is, as the go command
// says.
func (t *Types) goroot() string {
	t.rootOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOROOT").Output()
		if err == nil {
			t.gorootDir = strings.TrimSpace(string(out))
		}
	})
	return t.gorootDir
}

func (t *Types) load(importPath string) *pkgInfo {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if p, ok := t.pkgs[importPath]; ok {
		return p
	}
	var info *pkgInfo
	dir := t.dirOf(importPath)
	ents, err := os.ReadDir(dir)
	if err == nil {
		info = newPkgInfo()
		fset := token.NewFileSet()
		for _, e := range ents {
			n := e.Name()
			if !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.SkipObjectResolution)
			if err != nil {
				continue
			}
			if f.Name.Name == "main" || strings.HasSuffix(f.Name.Name, "_test") {
				continue
			}
			info.name = f.Name.Name
			info.addFile(f)
		}
	}
	t.pkgs[importPath] = info
	return info
}

func newPkgInfo() *pkgInfo {
	return &pkgInfo{types: map[string]ast.Expr{}, alias: map[string]bool{}}
}

// addFile records the file's type declarations.
func (info *pkgInfo) addFile(f *ast.File) {
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.TYPE {
			continue
		}
		for _, s := range gd.Specs {
			ts := s.(*ast.TypeSpec)
			if ts.TypeParams != nil {
				continue // generic: the fallback handles it
			}
			info.types[ts.Name.Name] = ts.Type
			info.alias[ts.Name.Name] = ts.Assign.IsValid()
		}
	}
}

// packageName is the name a package is imported under by default.
func (t *Types) packageName(importPath string) string {
	if p := t.load(importPath); p != nil && p.name != "" {
		return p.name
	}
	base := path.Base(importPath)
	if strings.HasPrefix(base, "v") && len(base) > 1 && strings.Trim(base[1:], "0123456789") == "" {
		base = path.Base(path.Dir(importPath)) // math/rand/v2 is rand
	}
	base = strings.TrimPrefix(base, "go-")
	if i := strings.IndexAny(base, ".-"); i > 0 {
		base = base[:i]
	}
	return base
}

var basicZero = map[string]string{
	"bool": "false", "string": `""`, "error": "nil", "any": "nil",
	"int": "0", "int8": "0", "int16": "0", "int32": "0", "int64": "0",
	"uint": "0", "uint8": "0", "uint16": "0", "uint32": "0", "uint64": "0", "uintptr": "0",
	"float32": "0", "float64": "0", "complex64": "0", "complex128": "0",
	"byte": "0", "rune": "0",
}

// zeroValue is Go source for the zero value of typ, a type expression in a
// file of package pkgPath whose imports are imports (name → path).
func zeroValue(typ ast.Expr, imports map[string]string, t *Types, pkgPath string, local *pkgInfo) string {
	src := exprString(typ)
	switch e := typ.(type) {
	case *ast.StarExpr, *ast.MapType, *ast.ChanType, *ast.FuncType, *ast.InterfaceType:
		return "nil"
	case *ast.ArrayType:
		if e.Len == nil {
			return "nil"
		}
		return src + "{}"
	case *ast.StructType:
		return src + "{}"
	case *ast.ParenExpr:
		return zeroValue(e.X, imports, t, pkgPath, local)
	case *ast.Ident:
		if z, ok := basicZero[e.Name]; ok {
			return z
		}
		// The file's own declarations first: they are there even
		// without a module to look in.
		if z := namedZero(src, local, e.Name, 0); z != "" {
			return z
		}
		if z := namedZero(src, t.load(pkgPath), e.Name, 0); z != "" {
			return z
		}
	case *ast.SelectorExpr:
		if x, ok := e.X.(*ast.Ident); ok {
			if z := namedZero(src, t.load(imports[x.Name]), e.Sel.Name, 0); z != "" {
				return z
			}
		}
	}
	return "*new(" + src + ")"
}

// namedZero is the zero value of the named type name declared in p,
// written as src in the stub, or "" if its declaration is not found.
func namedZero(src string, p *pkgInfo, name string, depth int) string {
	if p == nil || depth > 10 {
		return ""
	}
	def, ok := p.types[name]
	if !ok {
		return ""
	}
	switch d := def.(type) {
	case *ast.StructType, *ast.ArrayType:
		if a, ok := d.(*ast.ArrayType); ok && a.Len == nil {
			return "nil"
		}
		if p.alias[name] {
			return ""
		}
		return src + "{}"
	case *ast.StarExpr, *ast.MapType, *ast.ChanType, *ast.FuncType, *ast.InterfaceType:
		return "nil"
	case *ast.Ident:
		if z, ok := basicZero[d.Name]; ok {
			if z == "nil" {
				return "nil"
			}
			return z // untyped constants convert to the named type
		}
		return namedZero(src, p, d.Name, depth+1)
	case *ast.ParenExpr:
		return ""
	}
	return ""
}
