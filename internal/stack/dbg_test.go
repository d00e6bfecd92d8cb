package stack_test

import (
	"testing"

	"tcplab/internal/stack"
	"tcplab/internal/stack/stacktest"
)

func BenchmarkDbg(b *testing.B) {
	cs, ss := stacktest.Pair(b, stack.Config{})
	c, s, err := stacktest.Connect(b.Context(), cs, ss, 80)
	if err != nil {
		b.Fatal(err)
	}
	stacktest.Bulk(b, c, s, 64<<10)
	b.Logf("client %+v", cs.Stats())
	b.Logf("server %+v", ss.Stats())
}
