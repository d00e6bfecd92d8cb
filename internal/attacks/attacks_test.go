package attacks

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"tcplab/internal/labcheck"
)

// Each attack is what it says: one meant to be refused is refused by the
// allowlist, one meant to be contained passes it (and so really runs when
// `grader attacks` grades it). Planted here into a copy of the reference's
// lab 0; `go run ./grader attacks` grades them in a starter tree.
func TestCatalogueMeetsTheAllowlist(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	ref := filepath.Join(filepath.Dir(file), "..", "..")
	names := map[string]bool{}
	for _, a := range Catalogue {
		t.Run(a.Name, func(t *testing.T) {
			if names[a.Name] {
				t.Fatalf("two attacks named %s", a.Name)
			}
			names[a.Name] = true
			if a.Why == "" || (a.Want != Refused && a.Want != Contained) {
				t.Fatalf("an attack says what it tries and what must come of it: %+v", a)
			}
			if len(a.Edits) > 0 {
				t.Skip("edits the starter's stubs: graded by go run ./grader attacks")
			}
			tree := t.TempDir()
			src, err := os.ReadFile(filepath.Join(ref, "labs/0-bytestream/bytestream.go"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(tree, "labs/0-bytestream"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(tree, "labs/0-bytestream/bytestream.go"), src, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := a.Plant(tree); err != nil {
				t.Fatal(err)
			}
			ps, err := labcheck.Check(os.DirFS(tree))
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case a.Want == Refused && len(ps) == 0:
				t.Errorf("the allowlist lets %s through", a.Name)
			case a.Want == Contained && len(ps) > 0:
				t.Errorf("meant to be allowed code, but refused: %v", ps[0])
			}
		})
	}
}
