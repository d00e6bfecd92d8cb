package bench

import (
	"context"
	"net"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/link/pipe"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

// gvisorPair returns a connected pair of gonet conns over two netstack
// stacks joined by link/pipe at MTU 1500.
func gvisorPair(tb testing.TB) (client, server net.Conn) {
	tb.Helper()
	a, b := pipe.New("\x02\x00\x00\x00\x00\x01", "\x02\x00\x00\x00\x00\x02", 1500)
	addrA := tcpip.AddrFrom4([4]byte{10, 0, 0, 1})
	addrB := tcpip.AddrFrom4([4]byte{10, 0, 0, 2})
	sa := newGVisorStack(tb, a, addrA)
	sb := newGVisorStack(tb, b, addrB)
	tb.Cleanup(func() { sa.Close(); sb.Close() })

	ln, err := gonet.ListenTCP(sb, tcpip.FullAddress{NIC: 1, Addr: addrB, Port: 80}, ipv4.ProtocolNumber)
	if err != nil {
		tb.Fatalf("gvisor listen: %v", err)
	}
	tb.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	client, err = gonet.DialContextTCP(context.Background(), sa, tcpip.FullAddress{NIC: 1, Addr: addrB, Port: 80}, ipv4.ProtocolNumber)
	if err != nil {
		tb.Fatalf("gvisor dial: %v", err)
	}
	server, ok := <-accepted
	if !ok {
		tb.Fatal("gvisor accept failed")
	}
	tb.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

func newGVisorStack(tb testing.TB, ep stack.LinkEndpoint, addr tcpip.Address) *stack.Stack {
	tb.Helper()
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol},
	})
	if err := s.CreateNIC(1, ep); err != nil {
		tb.Fatalf("gvisor create NIC: %v", err)
	}
	prefix := tcpip.AddressWithPrefix{Address: addr, PrefixLen: 24}
	pa := tcpip.ProtocolAddress{Protocol: ipv4.ProtocolNumber, AddressWithPrefix: prefix}
	if err := s.AddProtocolAddress(1, pa, stack.AddressProperties{}); err != nil {
		tb.Fatalf("gvisor add address: %v", err)
	}
	s.SetRouteTable([]tcpip.Route{{Destination: prefix.Subnet(), NIC: 1}})
	return s
}
