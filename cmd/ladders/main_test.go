package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"tcplab/internal/ladder/lecture"
)

func TestRunWritesDiagramsAndTheHandoutSection(t *testing.T) {
	dir := t.TempDir()
	readme := filepath.Join(dir, "README.md")
	require.NoError(t, os.WriteFile(readme, []byte("# Lab 4\n\nbefore\n<!-- ladders:begin -->\nstale\n<!-- ladders:end -->\nafter\n"), 0o644))
	require.NoError(t, run(filepath.Join(dir, "diagrams"), readme))
	got, err := os.ReadFile(readme)
	require.NoError(t, err)
	s := string(got)
	require.NotContains(t, s, "stale")
	require.True(t, strings.HasPrefix(s, "# Lab 4\n\nbefore\n"))
	require.True(t, strings.HasSuffix(s, "<!-- ladders:end -->\nafter\n"))
	for _, sc := range lecture.Scenarios {
		require.Contains(t, s, sc.Title)
		require.FileExists(t, filepath.Join(dir, "diagrams", sc.Name+".svg"))
		require.FileExists(t, filepath.Join(dir, "diagrams", sc.Name+".txt"))
	}
	// Running again changes nothing: the section is replaced, not appended.
	require.NoError(t, run(filepath.Join(dir, "diagrams"), readme))
	again, err := os.ReadFile(readme)
	require.NoError(t, err)
	require.Equal(t, s, string(again))
}

func TestRunRefusesAHandoutWithoutMarkers(t *testing.T) {
	dir := t.TempDir()
	readme := filepath.Join(dir, "README.md")
	require.NoError(t, os.WriteFile(readme, []byte("# no markers\n"), 0o644))
	require.ErrorContains(t, run(filepath.Join(dir, "d"), readme), "no")
}
