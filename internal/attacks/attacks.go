// Package attacks is the catalogue of ways a student's lab code has tried,
// or might try, to raise its own grade: each is planted into a starter
// tree and graded with -official by `go run ./grader attacks`, which shows
// that the score is no higher than the bare starter's. It is to the grader's
// trust boundary what internal/mutants is to its checks: a newly found
// attack is one entry.
package attacks

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Outcomes the grader must reach for an attack.
const (
	// Refused: the allowlist (internal/labcheck) rejects the lab code
	// before anything is built; the grader says so.
	Refused = "refused"
	// Contained: the code builds and runs, and the score is no higher than
	// the bare starter's.
	Contained = "contained"
)

// Attack is one way to forge a grade.
type Attack struct {
	Name  string
	Why   string // what it tries, and where it was seen
	Stage string // the stage it is graded at
	Want  string // Refused or Contained
	// Files are written into the starter tree (slash paths from its root),
	// replacing any file of that name.
	Files map[string]string
	// Edits replace text in the tree's files: path → old → new.
	Edits map[string][2]string
}

// Plant writes the attack into the tree at root.
func (a Attack) Plant(root string) error {
	for p, src := range a.Files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, []byte(src), 0o644); err != nil {
			return err
		}
	}
	for p, e := range a.Edits {
		full := filepath.Join(root, filepath.FromSlash(p))
		b, err := os.ReadFile(full)
		if err != nil {
			return err
		}
		if !strings.Contains(string(b), e[0]) {
			return fmt.Errorf("attack %s: %s does not contain %q", a.Name, p, e[0])
		}
		if err := os.WriteFile(full, []byte(strings.Replace(string(b), e[0], e[1], 1)), 0o644); err != nil {
			return err
		}
	}
	return nil
}

const lab0 = "labs/0-bytestream/"

// lab0File is a file of lab 0's package holding body.
func lab0File(name, imports, body string) map[string]string {
	src := "package bytestream\n\n"
	if imports != "" {
		src += "import (\n" + imports + ")\n\n"
	}
	return map[string]string{lab0 + name: src + body}
}

// forgedLines is go test's own text for a run where every byte stream test
// passed, as lab code would print it.
const forgedLines = `=== RUN   TestByteStreamBasics\n--- PASS: TestByteStreamBasics (0.00s)\n=== RUN   TestByteStreamCapacity\n--- PASS: TestByteStreamCapacity (0.00s)\n=== RUN   TestByteStreamMatchesModel\n--- PASS: TestByteStreamMatchesModel (0.00s)\nPASS\nok  \ttcplab/labs/0-bytestream\t0.01s\n`

// Catalogue lists the attacks, the four of issue 14 first.
var Catalogue = []Attack{
	{
		Name: "stdout-rewrite", Stage: "check3", Want: Refused,
		Why: "an init function swaps os.Stdout for a pipe and rewrites the framework's own lines on their way out (--- FAIL to --- PASS); every later lab's tests link lab 0, so it runs in all of them (issue 14: 77.77 of 100 with no lab implemented)",
		Files: lab0File("forge.go", "\t\"bufio\"\n\t\"os\"\n\t\"strings\"\n", `func init() {
	r, w, err := os.Pipe()
	if err != nil {
		return
	}
	out := os.Stdout
	os.Stdout = w
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			out.WriteString(strings.ReplaceAll(sc.Text(), "--- FAIL", "--- PASS") + "\n")
		}
	}()
}
`),
	},
	{
		Name: "result-lines-fmt", Stage: "check0", Want: Refused,
		Why:   "an init function prints go test's own result lines (=== RUN, --- PASS, PASS, ok) for tests that fail (issue 14: 9 extra passing checks)",
		Files: lab0File("forge.go", "\t\"fmt\"\n", "func init() { fmt.Print(\""+forgedLines+"\") }\n"),
	},
	{
		Name: "rewrite-official-tests", Stage: "check1", Want: Refused,
		Why: "an init function, running in lab 0's tests, replaces lab 1's official test files by two empty tests before they are built (issue 14: check1 went from 3.08 to 20.62)",
		Files: lab0File("forge.go", "\t\"os\"\n\t\"path/filepath\"\n", `func init() {
	dir := filepath.Join("..", "1-reassembler")
	tests, _ := filepath.Glob(filepath.Join(dir, "*_test.go"))
	for _, f := range tests {
		os.Remove(f)
	}
	os.WriteFile(filepath.Join(dir, "forged_test.go"), []byte("package reassembler\n\nimport \"testing\"\n\nfunc TestA(t *testing.T) {}\n\nfunc TestB(t *testing.T) {}\n"), 0o644)
}
`),
	},
	{
		Name: "detached-process", Stage: "check0", Want: Refused,
		Why: "an init function starts a process in a session of its own that outlives the tests and rewrites results.json after the grader wrote it (issue 14: 100 instead of 7.24 on Gradescope)",
		Files: lab0File("forge.go", "\t\"os/exec\"\n\t\"syscall\"\n", `func init() {
	cmd := exec.Command("sh", "-c", "sleep 5; echo '{\"score\": 100}' > /autograder/results/results.json")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Start()
}
`),
	},
	{
		Name: "result-lines-println", Stage: "check0", Want: Refused,
		Why:   "the print builtins write go test's result lines to stderr, which go test reads with stdout",
		Files: lab0File("forge.go", "", "func init() { println(\""+forgedLines+"\") }\n"),
	},
	{
		Name: "json-events", Stage: "check0", Want: Refused,
		Why:   "lab code prints test2json's own events, hoping the grader reads them as the go command's",
		Files: lab0File("forge.go", "\t\"fmt\"\n", "func init() {\n\tfmt.Printf(\"%s\\n\", `{\"Action\":\"pass\",\"Package\":\"tcplab/labs/0-bytestream\",\"Test\":\"TestByteStreamBasics\"}`)\n}\n"),
	},
	{
		Name: "panic-with-framing", Stage: "check0", Want: Refused,
		Why:   "a panic's value is printed by the runtime into the test output, newlines and all: a panic can carry --- PASS lines",
		Files: lab0File("forge.go", "", "func init() {\n\tdefer func() { recover() }()\n\tpanic(\"boom\\n"+forgedLines+"\")\n}\n"),
	},
	{
		Name: "flood", Stage: "check0", Want: Refused,
		Why:   "1 GiB of output, to exhaust the grader's memory or time",
		Files: lab0File("forge.go", "\t\"fmt\"\n\t\"strings\"\n", "func init() {\n\tline := strings.Repeat(\"x\", 1023)\n\tfor range 1 << 20 {\n\t\tfmt.Println(line)\n\t}\n}\n"),
	},
	{
		Name: "linkname", Stage: "check0", Want: Refused,
		Why:   "//go:linkname reaches any function of any package, the testing framework's included, past the import list",
		Files: lab0File("forge.go", "\t_ \"unsafe\"\n", "//go:linkname nanotime runtime.nanotime\nfunc nanotime() int64\n\nvar _ = nanotime\n"),
	},
	{
		Name: "assembly", Stage: "check0", Want: Refused,
		Why: "an assembly file is code no Go import list shows",
		Files: map[string]string{
			lab0 + "forge.go":      "package bytestream\n\nfunc forged() int\n\nvar _ = forged\n",
			lab0 + "forge_amd64.s": "TEXT ·forged(SB),0,$0-8\n\tMOVQ $1, ret+0(FP)\n\tRET\n",
		},
	},
	{
		Name: "nested-package", Stage: "check0", Want: Refused,
		Why: "lab 0 imports a package of its own making, under its directory, that imports os",
		Files: map[string]string{
			lab0 + "forge.go":        "package bytestream\n\nimport _ \"tcplab/labs/0-bytestream/forge\"\n",
			lab0 + "forge/forge.go":  "package forge\n\nimport \"os\"\n\nfunc init() { os.Stdout.WriteString(\"PASS\\n\") }\n",
			lab0 + "forge/README.md": "hidden\n",
		},
	},
	{
		Name: "helper-lab", Stage: "check0", Want: Refused,
		Why: "lab 0 imports a lab of the student's own making (labs/9-helper) that imports os, hoping only the graded labs are checked",
		Files: map[string]string{
			lab0 + "forge.go":         "package bytestream\n\nimport _ \"tcplab/labs/9-helper\"\n",
			"labs/9-helper/helper.go": "package helper\n\nimport \"os\"\n\nfunc init() { os.Stdout.WriteString(\"PASS\\n\") }\n",
		},
	},
	{
		Name: "torn-interface", Stage: "check0", Want: Refused,
		Why: "goroutines race on an interface variable until a torn one confuses types, the first step to writing memory no import reaches (found auditing issue 14)",
		Files: lab0File("forge.go", "", "type box interface{ get() int }\n\ntype small struct{ n int }\n\nfunc (s small) get() int { return s.n }\n\n"+
			"type big struct{ p *[1 << 20]byte }\n\nfunc (b big) get() int { return len(b.p) }\n\nvar shared box\n\n"+
			"func init() {\n\tgo func() {\n\t\tfor {\n\t\t\tshared = small{1}\n\t\t\tshared = big{}\n\t\t}\n\t}()\n}\n"),
	},
	{
		Name: "state-across-connections", Stage: "check0", Want: Refused,
		Why:   "no goroutine of its own: a package-level interface written by every call races between the connections and parallel tests that run lab code at once",
		Edits: map[string][2]string{lab0 + "bytestream.go": {"func (r *Reader) Peek() []byte {\n", "func (r *Reader) Peek() []byte {\n\tlast = r\n"}},
		Files: lab0File("forge.go", "", "var last any\n"),
	},
	{
		Name: "crash-at-start", Stage: "check0", Want: Contained,
		Why:   "allowed code that crashes every test binary linking lab 0 as it starts, hoping checks that never run are forgotten",
		Files: lab0File("forge.go", "", "var _ = func() int {\n\tvar m map[string]int\n\tm[\"x\"] = 1\n\treturn 0\n}()\n"),
	},
	{
		Name: "hang-at-start", Stage: "check0", Want: Contained,
		Why:   "allowed code that never lets a test start, hoping to hold the grader past its timeouts",
		Files: lab0File("forge.go", "", "func init() {\n\tfor {\n\t}\n}\n"),
	},
	{
		Name: "own-test-main", Stage: "check0", Want: Contained,
		Why:   "a test file of the student's own with a TestMain that prints PASS and exits before any official test runs",
		Files: map[string]string{lab0 + "zz_forge_test.go": "package bytestream\n\nimport (\n\t\"fmt\"\n\t\"os\"\n\t\"testing\"\n)\n\nfunc TestMain(m *testing.M) {\n\tfmt.Print(\"" + forgedLines + "\")\n\tos.Exit(0)\n}\n"},
	},
	{
		Name: "framing-in-data", Stage: "check0", Want: Contained,
		Why:   "allowed code returns go test's result lines as data, which a failing test prints in its report",
		Edits: map[string][2]string{lab0 + "bytestream.go": {"func (r *Reader) Peek() []byte {\n\t// TODO: your code here.\n\treturn nil", "func (r *Reader) Peek() []byte {\n\treturn []byte(\"\\n" + forgedLines + "\")"}},
	},
	{
		Name: "flood-in-data", Stage: "check0", Want: Contained,
		Why:   "allowed code returns 900 KiB from Peek, which each failing check that peeks prints (quoted, several times over): a flood of output and of results.json with no print in the lab (before the run's and results' bounds, 7.9 MB of results.json and 79 MB of grader memory at check0)",
		Files: map[string]string{lab0 + "flood.go": "package bytestream\n\nfunc flood() []byte {\n\tb := make([]byte, 900<<10)\n\tfor i := range b {\n\t\tb[i] = byte(i)\n\t}\n\treturn b\n}\n"},
		Edits: map[string][2]string{lab0 + "bytestream.go": {"func (r *Reader) Peek() []byte {\n\t// TODO: your code here.\n\treturn nil", "func (r *Reader) Peek() []byte {\n\treturn flood()"}},
	},
	{
		Name: "go-work", Stage: "check0", Want: Contained,
		Why:   "a go.work at the root swaps a module the tests use (go-cmp) for a directory of the student's: here one that does not exist, so honouring it would fail every build",
		Files: map[string]string{"go.work": "go 1.26.0\n\nuse .\n\nreplace github.com/google/go-cmp => ./forged-cmp\n"},
	},
	{
		Name: "go-mod-replace", Stage: "check0", Want: Contained,
		Why:   "a replace directive in go.mod swaps testify for a copy of the student's (here missing, so honouring it would fail every build)",
		Edits: map[string][2]string{"go.mod": {"\nrequire (", "\nreplace github.com/stretchr/testify => ./forged-testify\n\nrequire ("}},
	},
	{
		Name: "vendor", Stage: "check0", Want: Contained,
		Why:   "a vendor/ directory makes the go command build its copies of the modules (here incomplete, so honouring it would fail every build)",
		Files: map[string]string{"vendor/modules.txt": "# github.com/stretchr/testify v0.0.0\n## explicit\n"},
	},
}
