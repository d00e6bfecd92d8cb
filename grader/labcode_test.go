//lab:solution-only

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
	r := refusals{
		why: map[string]string{"labs/1-reassembler": "labs/1-reassembler imports os: …"},
		imports: map[string][]string{
			"labs/0-bytestream": {}, "labs/1-reassembler": {"labs/0-bytestream"},
			"labs/2-receiver": {"labs/1-reassembler"}, "labs/3-sender": {"labs/2-receiver"},
			"labs/4-connection": {"labs/9-helper"}, "labs/9-helper": {"labs/3-sender"},
		},
	}
	for _, c := range []struct {
		pkg, want string
	}{
		{"labs/0-bytestream", ""},
		{"labs/1-reassembler", "labs/1-reassembler imports os: …"},
		{"labs/2-receiver", "labs/1-reassembler imports os: … (labs/2-receiver links it)"},
		{"labs/4-connection", "labs/1-reassembler imports os: … (labs/4-connection links it)"},
		{"internal/interop", "labs/1-reassembler imports os: … (internal/interop links it)"},
	} {
		require.Equal(t, c.want, r.reason(suite{pkg: c.pkg}), c.pkg)
	}
	// A lab of the student's own making, under labs/, that an early lab
	// imports: the early lab links it.
	r = refusals{
		why:     map[string]string{"labs/9-helper": "labs/9-helper imports os: …"},
		imports: map[string][]string{"labs/0-bytestream": {"labs/9-helper"}, "labs/9-helper": {}},
	}
	require.Equal(t, "labs/9-helper imports os: … (labs/0-bytestream links it)", r.reason(suite{pkg: "labs/0-bytestream"}))
	require.Equal(t, "", refusals{}.reason(suite{pkg: "labs/0-bytestream"}))
}
