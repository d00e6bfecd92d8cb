package labcheck

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"
)

// lab0 builds a tree whose labs/0-bytestream holds one file, x.go.
func lab0(src string) fstest.MapFS {
	return fstest.MapFS{"labs/0-bytestream/x.go": {Data: []byte(src)}}
}

func TestCheck(t *testing.T) {
	cases := []struct {
		name string
		tree fstest.MapFS
		want []string // each problem's line, in order; none: accepted
	}{
		{
			name: "the standard packages on the list and earlier labs are fine",
			tree: lab0("package b\n\nimport (\n\t\"errors\"\n\t\"fmt\"\n\t\"time\"\n\tbs \"tcplab/labs/0-bytestream\"\n)\n\n" +
				"var _ = errors.New(fmt.Sprintf(\"%v\", time.Second))\nvar _ bs.Writer\nvar _ fmt.Stringer\n\nfunc f() { panic(\"unreachable\") }\n"),
		},
		{
			name: "os is refused with the one line the issue asks for",
			tree: lab0("package b\n\nimport \"os\"\n\nvar _ = os.Stdout\n"),
			want: []string{"labs/0-bytestream imports os: lab code may use only the labs and the standard packages bytes, cmp,"},
		},
		{
			name: "every way to reach the runtime or the system is refused",
			tree: lab0("package b\n\nimport (\n\t\"os/exec\"\n\t\"syscall\"\n\t\"unsafe\"\n\t\"reflect\"\n\t\"runtime\"\n\t\"net\"\n\t\"testing\"\n\t\"log\"\n)\n"),
			want: []string{"imports os/exec", "imports syscall", "imports unsafe", "imports reflect", "imports runtime", "imports net", "imports testing", "imports log"},
		},
		{
			name: "cgo",
			tree: lab0("package b\n\n// #include <stdio.h>\nimport \"C\"\n"),
			want: []string{"labs/0-bytestream/x.go:4 imports C: lab code may not use cgo"},
		},
		{
			name: "a renamed import is still the package it names",
			tree: lab0("package b\n\nimport o \"os\"\n\nvar _ = o.Stdout\n"),
			want: []string{"imports os"},
		},
		{
			name: "a dot import hides which package a name comes from",
			tree: lab0("package b\n\nimport . \"fmt\"\n\nfunc f() { Println(1) }\n"),
			want: []string{"x.go:3 dot-imports fmt"},
		},
		{
			name: "fmt may format, not write",
			tree: lab0("package b\n\nimport (\n\t\"fmt\"\n\tf2 \"fmt\"\n)\n\nfunc f() {\n\tfmt.Println(\"--- PASS: TestX\")\n\t_ = fmt.Fprintf\n\tf2.Print(1)\n\t_ = fmt.Errorf(\"x\")\n}\n"),
			want: []string{"x.go:9 uses fmt.Println", "x.go:10 uses fmt.Fprintf", "x.go:11 uses fmt.Print"},
		},
		{
			name: "the print builtins write to the tests' output",
			tree: lab0("package b\n\nfunc init() {\n\tprintln(\"=== RUN TestX\")\n\tprint(\"PASS\")\n}\n"),
			want: []string{"x.go:4 calls the builtin println", "x.go:5 calls the builtin print"},
		},
		{
			name: "a method or field called print is not the builtin",
			tree: lab0("package b\n\ntype T struct{ print func() }\n\nfunc (t T) println() { t.print() }\n"),
		},
		{
			name: "a package's own print function may be called",
			tree: lab0("package b\n\nfunc print(string) {}\n\nfunc f() { print(\"x\") }\n"),
		},
		{
			name: "a panic's value may not carry text of its own making",
			tree: lab0("package b\n\nimport \"errors\"\n\nfunc f(s string) {\n\tpanic(s)\n\tpanic(errors.New(\"x\"))\n\tpanic(\"a\\n--- PASS: TestX (0.00s)\")\n\tpanic(\"one line is fine\")\n}\n"),
			want: []string{"x.go:6 panics", "x.go:7 panics", "x.go:8 panics"},
		},
		{
			name: "compiler directives that reach past the language",
			tree: lab0("package b\n\n//go:build linux\n\n//go:generate echo hi\n\n//go:linkname now time.now\nfunc now() int\n\n//go:embed x.go\nvar s string\n\n//go:noinline\nfunc g() {}\n"),
			want: []string{"x.go:7 carries //go:linkname", "x.go:10 carries //go:embed", "x.go:13 carries //go:noinline"},
		},
		{
			name: "files the go tool would compile or link that are not Go",
			tree: fstest.MapFS{
				"labs/0-bytestream/x.go":        {Data: []byte("package b\n")},
				"labs/0-bytestream/asm_amd64.s": {Data: []byte("TEXT ·f(SB),0,$0\n")},
				"labs/0-bytestream/x.c":         {Data: []byte("int x;\n")},
				"labs/0-bytestream/y.syso":      {Data: []byte{0}},
				"labs/0-bytestream/README.md":   {Data: []byte("# fine\n")},
			},
			want: []string{"labs/0-bytestream holds asm_amd64.s: lab directories hold Go code only", "labs/0-bytestream holds x.c", "labs/0-bytestream holds y.syso"},
		},
		{
			name: "a package nested in a lab is lab code too",
			tree: fstest.MapFS{"labs/0-bytestream/evil/e.go": {Data: []byte("package evil\n\nimport \"os\"\n")}},
			want: []string{"labs/0-bytestream imports os"},
		},
		{
			name: "test files and testdata are not lab code (the official ones replace them)",
			tree: fstest.MapFS{
				"labs/0-bytestream/x_test.go":     {Data: []byte("package b\n\nimport \"os\"\n")},
				"labs/0-bytestream/testdata/t.go": {Data: []byte("package t\n\nimport \"os\"\n")},
				"labs/0-bytestream/testdata/a.s":  {Data: []byte("")},
				"labs/0-bytestream/bytestream.go": {Data: []byte("package b\n")},
				"internal/elsewhere/framework.go": {Data: []byte("package e\n\nimport \"os\"\n")},
			},
		},
		{
			name: "lab code may not run beside itself",
			tree: lab0("package b\n\nimport t \"time\"\n\nfunc f() {\n\tgo f()\n\tt.AfterFunc(t.Second, f)\n\t_ = t.NewTimer(t.Second)\n}\n"),
			want: []string{"x.go:6 starts a goroutine: lab code may not start goroutines", "x.go:7 uses time.AfterFunc"},
		},
		{
			name: "package-level variables hold values nobody can write through",
			tree: lab0("package b\n\nimport (\n\t\"errors\"\n\t\"fmt\"\n)\n\n" +
				"var (\n" +
				"\tn, m, big = 1 << 10, -2.5, uint64(1) << 32\n" + // 9
				"\tname     = \"x\"\n" +
				"\tok       = true\n" +
				"\tnames    = [...]string{\"a\", \"b\"}\n" +
				"\tmask     [4]byte\n" +
				"\tcount    uint64\n" +
				"\tErrX     = errors.New(\"x\")\n" +
				"\tErrY     error = fmt.Errorf(\"y\")\n" +
				"\t_        fmt.Stringer = nil\n" +
				"\tlist     []int\n" + // 18
				"\ttable    = map[int]int{}\n" +
				"\tp        *int\n" +
				"\tcfg      = struct{ a int }{}\n" +
				"\tany1     any\n" +
				"\tfn       = func() {}\n" +
				"\terr2     error\n" +
				"\terr3     = myErr()\n" +
				"\tnamed    Named\n" +
				"\tslices   = []string{\"a\"}\n" +
				")\n\ntype Named int\n\nfunc myErr() error { return nil }\n"),
			want: []string{"x.go:18 declares the package-level variable list: lab code may not keep state outside its values",
				"x.go:19 declares the package-level variable table", "x.go:20 declares the package-level variable p",
				"x.go:21 declares the package-level variable cfg", "x.go:22 declares the package-level variable any1",
				"x.go:23 declares the package-level variable fn", "x.go:24 declares the package-level variable err2",
				"x.go:25 declares the package-level variable err3", "x.go:26 declares the package-level variable named",
				"x.go:27 declares the package-level variable slices"},
		},
		{
			name: "nothing writes a package-level variable, this package's or another's",
			tree: fstest.MapFS{
				"labs/0-bytestream/a.go": {Data: []byte("package b\n\nvar (\n\tcount int\n\tnames = [2]string{}\n\tname = \"xy\"\n)\n")},
				"labs/0-bytestream/b.go": {Data: []byte("package b\n\nimport \"io\"\n\ntype T struct{ n int; a [2]int }\n\n" +
					"func (t *T) f(i int) string {\n" + // 7
					"\tcount = 1\n" +
					"\tcount++\n" +
					"\tnames[i] = \"a\"\n" + // 10
					"\t_ = &count\n" +
					"\ts := names[:]\n" +
					"\tfor count = range 3 {\n\t}\n" + // 13
					"\tio.EOF = nil\n" + // 15
					"\tt.n, t.a[0] = count, len(names)\n" + // 16: reads are fine
					"\tcopy(t.a[:], []int{1})\n" +
					"\tcount := 2\n" + // 18: a new local
					"\t_ = count\n" +
					"\treturn name[1:] + s[0]\n" + // 20: a string's slice copies nothing writable
					"}\n")},
			},
			want: []string{"b.go:8 writes the package-level variable count", "b.go:9 writes the package-level variable count",
				"b.go:10 writes the package-level variable names", "b.go:11 takes the address of the package-level variable count",
				"b.go:12 slices the package-level variable names", "b.go:13 writes the package-level variable count",
				"b.go:15 writes a variable of io"},
		},
		{
			name: "a file that does not parse is refused, not skipped",
			tree: lab0("package b\n\nimport \"os\nfunc {\n"),
			want: []string{"x.go:3 cannot be checked"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Check(c.tree)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Fatalf("got %d problems, want %d:\n%s", len(got), len(c.want), lines(got))
			}
			for i, p := range got {
				if !strings.Contains(p.String(), c.want[i]) {
					t.Errorf("problem %d = %q, want it to contain %q", i, p.String(), c.want[i])
				}
			}
		})
	}
}

// The reference labs are what the allowlist is made for: they must pass it.
func TestReferenceLabsPass(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	got, err := Check(os.DirFS(root))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) > 0 {
		t.Fatalf("the reference labs break the rules:\n%s", lines(got))
	}
}

func lines(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.String() + "\n")
	}
	return b.String()
}

// FuzzCheckFile: any source is either accepted or refused with problems
// that name the file, by every check of a file and of its package;
// nothing panics.
func FuzzCheckFile(f *testing.F) {
	f.Add("package b\n\nimport \"fmt\"\n\nfunc f() { fmt.Println(1) }\n")
	f.Add("package b\n//go:linkname x y\n")
	f.Add("package b\nfunc f() { panic(\"\\x16\") }\n")
	f.Add("package b\nvar a, b = f()\nfunc g() { a, b = 1, 2; go g(); (*(&b))[0:] = nil }\n")
	f.Fuzz(func(t *testing.T, src string) {
		s, ps := parseSource("labs/0-x", "labs/0-x/x.go", []byte(src))
		if ps == nil {
			ps = append(checkFile("labs/0-x", s), checkState("labs/0-x", []source{s})...)
		}
		for _, p := range ps {
			if p.File != "labs/0-x/x.go" || p.What == "" || p.Why == "" {
				t.Fatalf("malformed problem %+v", p)
			}
		}
	})
}

func TestLabImports(t *testing.T) {
	tree := fstest.MapFS{
		"labs/0-a/a.go":      {Data: []byte("package a\n\nimport _ \"tcplab/labs/9-x/sub\"\n")},
		"labs/1-b/b.go":      {Data: []byte("package b\n\nimport (\n\t\"fmt\"\n\t_ \"tcplab/labs/0-a\"\n)\n\nvar _ = fmt.Sprint\n")},
		"labs/1-b/b_test.go": {Data: []byte("package b\n\nimport _ \"tcplab/labs/2-c\"\n")},
		"labs/9-x/sub/x.go":  {Data: []byte("package sub\n\nimport \"os\"\n")},
		"labs/9-x/README.md": {Data: []byte("hi\n")},
		"labs/notadir.go":    {Data: []byte("package x\n")},
	}
	got, err := LabImports(tree)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"labs/0-a": {"labs/9-x"}, "labs/1-b": {"labs/0-a"}, "labs/9-x": {}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for lab, w := range want {
		if strings.Join(got[lab], ",") != strings.Join(w, ",") {
			t.Errorf("%s imports %v, want %v", lab, got[lab], w)
		}
	}
}
