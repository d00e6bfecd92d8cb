package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Lab code outside the allowlist is refused before anything is built, with
// one line, and every suite that links it fails: here lab 0, which every
// later lab and the checks against Linux link.
func TestRefusedLabCodeFailsWhatLinksIt(t *testing.T) {
	root, err := findRoot("")
	require.NoError(t, err)
	tree := t.TempDir()
	require.NoError(t, overlayOfficial(root, tree, nil))
	require.NoError(t, os.WriteFile(filepath.Join(tree, "labs/0-bytestream/forge.go"),
		[]byte("package bytestream\n\nimport \"os\"\n\nfunc init() { os.Stdout.WriteString(\"PASS\\n\") }\n"), 0o644))

	var stdout, stderr bytes.Buffer
	code := run([]string{"-dir", tree, "-official", "check1"}, &stdout, &stderr)
	out := stripColor(stdout.String())
	require.Equal(t, 1, code, "stdout:\n%s\nstderr:\n%s", out, stderr.String())
	want := "refused: labs/0-bytestream imports os: lab code may use only the labs and the standard packages"
	require.Equal(t, 1, strings.Count(out, want), out)
	require.Contains(t, out, "(internal/interop links it)")
	require.Contains(t, out, "(labs/1-reassembler links it)")
	official := 0
	for _, s := range stageSuites(1) {
		official += len(theManifest.checks(s))
	}
	require.Contains(t, out, fmt.Sprintf("check1: 0/%d passed", official), "every official check of the stage fails")
}

func TestRefusalReason(t *testing.T) {
	r := refusals{"labs/1-reassembler": "labs/1-reassembler imports os: …"}
	for _, c := range []struct {
		pkg, want string
	}{
		{"labs/0-bytestream", ""},
		{"labs/1-reassembler", "labs/1-reassembler imports os: …"},
		{"labs/2-receiver", "labs/1-reassembler imports os: … (labs/2-receiver links it)"},
		{"internal/interop", "labs/1-reassembler imports os: … (internal/interop links it)"},
	} {
		require.Equal(t, c.want, r.reason(suite{pkg: c.pkg}), c.pkg)
	}
}
