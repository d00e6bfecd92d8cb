//lab:solution-only

// Instructors' tests: the catalogue's edits are written against the
// reference's text, which a student's code need not share, so the starter
// leaves these out.

package mutants

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// root is the repository root, two levels up from this package.
const root = "../.."

// TestCatalogueIsWellFormed: every mutant names a lab, says why, has a
// unique kebab-case name and edits a file of its own lab.
func TestCatalogueIsWellFormed(t *testing.T) {
	kebab := regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	seen := map[string]bool{}
	perLab := map[int]int{}
	for _, m := range Catalogue {
		require.Regexp(t, kebab, m.Name)
		require.False(t, seen[m.Name], "duplicate mutant name %s", m.Name)
		seen[m.Name] = true
		require.NotEmpty(t, m.Why, m.Name)
		require.NotEmpty(t, m.Edits, m.Name)
		require.True(t, strings.HasPrefix(m.File, LabDir(m.Lab)+"/"), "%s edits %s, outside lab %d", m.Name, m.File, m.Lab)
		perLab[m.Lab]++
	}
	require.GreaterOrEqual(t, len(Catalogue), 30)
	for lab := range 5 {
		require.GreaterOrEqual(t, perLab[lab], 5, "lab %d has too few mutants", lab)
	}
}

// TestEveryMutantAppliesAndCompiles: each mutant applies to the reference
// exactly as written and the mutated lab still builds, so a mutant that
// "is caught" is caught by a check, not by the compiler.
func TestEveryMutantAppliesAndCompiles(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every mutant; skipped in -short")
	}
	for _, m := range Catalogue {
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			tree := copyLabs(t)
			require.NoError(t, m.Apply(tree))
			cmd := exec.Command("go", "build", "./"+LabDir(m.Lab))
			cmd.Dir = tree
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "mutant does not compile:\n%s", out)
		})
	}
}

// TestApplyRejectsMissingText: an edit whose text is not in the file is an
// error in the catalogue, reported as such.
func TestApplyRejectsMissingText(t *testing.T) {
	tree := copyLabs(t)
	m := one("nowhere", 0, "no such text", bytestreamGo, "this text is not in the file", "x")
	err := m.Apply(tree)
	require.ErrorContains(t, err, "occurs 0 times")
}

// copyLabs copies go.mod, go.sum, labs/, the test harness and the ladder
// diagrams of the repository into a temporary directory.
func copyLabs(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), b, 0o644))
	}
	for _, d := range []string{"labs", "internal/harness", "internal/ladder"} {
		require.NoError(t, os.CopyFS(filepath.Join(dir, d), os.DirFS(filepath.Join(root, d))))
	}
	return dir
}
