// Package mutants is a catalogue of real student bugs, each written as a
// small edit to the reference solution, and the code that applies them.
//
// A course's checks are only as good as the bugs they catch. The grader's
// `mutants` command applies each mutant to a copy of the reference, runs the
// checks of the lab that introduces the bug, and reports whether they caught
// it. Every mutant must be caught by its own lab's checks: a bug that
// surfaces two labs later is a bug the course did not teach.
package mutants

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
)

// Mutant is one known student bug.
type Mutant struct {
	Name  string // short, kebab-case
	Lab   int    // the lab that introduces the bug; its checks must catch it
	Why   string // one line: what the student got wrong
	File  string // relative to the repository root
	Edits []Edit // applied in order; each Old must occur exactly once
}

// Edit replaces one exact piece of text.
type Edit struct{ Old, New string }

// Apply applies m to the tree rooted at root, in place.
func (m Mutant) Apply(root string) error {
	path := filepath.Join(root, m.File)
	src, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("mutant %s: %w", m.Name, err)
	}
	for i, e := range m.Edits {
		if n := bytes.Count(src, []byte(e.Old)); n != 1 {
			return fmt.Errorf("mutant %s: edit %d: the text to replace occurs %d times in %s, want once", m.Name, i+1, n, m.File)
		}
		src = bytes.Replace(src, []byte(e.Old), []byte(e.New), 1)
	}
	if err := os.WriteFile(path, src, 0o644); err != nil {
		return fmt.Errorf("mutant %s: %w", m.Name, err)
	}
	return nil
}

// LabDir returns the directory of lab n, relative to the repository root.
func LabDir(n int) string {
	return [...]string{"labs/0-bytestream", "labs/1-reassembler", "labs/2-receiver", "labs/3-sender", "labs/4-connection"}[n]
}

// one makes a mutant with a single edit.
func one(name string, lab int, why, file, old, new string) Mutant {
	return Mutant{Name: name, Lab: lab, Why: why, File: file, Edits: []Edit{{old, new}}}
}
