package flood

import (
	"fmt"
	"strings"
	"testing"
)

// TestFlood prints far more than any report needs: 32 MiB in lines, then
// one line longer than the runner reads whole.
func TestFlood(t *testing.T) {
	line := strings.Repeat("x", 1023)
	for range 32 << 10 {
		fmt.Println(line)
	}
	fmt.Println(strings.Repeat("y", 20<<20))
}

func TestLater(t *testing.T) {}
