package hang

import (
	"os"
	"testing"
)

func init() {
	if os.Getenv("GOTEST_HANG") != "" {
		for {
		}
	}
}

func TestExitZero(t *testing.T) { os.Exit(0) }

func TestAfter(t *testing.T) {}
