package crash

import "testing"

func TestGroup(t *testing.T) {
	t.Run("first passes", func(t *testing.T) {})
	t.Run("nil map panics", func(t *testing.T) {
		var m map[int]int
		m[1] = 1
	})
	t.Run("after the panic", func(t *testing.T) {})
	t.Run("loops forever", func(t *testing.T) {
		for {
		}
	})
	t.Run("fails", func(t *testing.T) { t.Fatal("\nsteps so far:\n  1. push\n✗ 2. expect x") })
}

func TestLater(t *testing.T) {}

func TestSkipped(t *testing.T) { t.Skip("needs the sandbox") }
