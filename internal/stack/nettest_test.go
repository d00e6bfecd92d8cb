package stack_test

import (
	"context"
	"net"
	"testing"
	"time"

	"golang.org/x/net/nettest"

	"tcplab/internal/stack"
	"tcplab/internal/stack/stacktest"
)

// Go's own conformance suite for net.Conn, over two stacks joined in
// memory: one end from Listen+Accept, the other from Dial.
func TestNetConnConformance(t *testing.T) {
	nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
		client, server := stacktest.Pair(t, stack.Config{})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c1, c2, err = stacktest.Connect(ctx, client, server, 7)
		if err != nil {
			return nil, nil, nil, err
		}
		stop = func() {
			c1.Close()
			c2.Close()
			client.Close()
			server.Close()
		}
		return c1, c2, stop, nil
	})
}
