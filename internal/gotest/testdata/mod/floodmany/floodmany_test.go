// Package floodmany's tests each print more than the runner keeps of one
// test, and together far more than it keeps of a run: as every failing
// check does when lab code returns a megabyte of data that the check
// prints.
package floodmany

import (
	"fmt"
	"strings"
	"testing"
)

func TestFlood(t *testing.T) {
	line := strings.Repeat("x", 1023)
	for i := range 24 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			for range 1536 {
				fmt.Println(line)
			}
		})
	}
}

func TestLater(t *testing.T) {}
