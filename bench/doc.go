// Package bench puts tcplab's stack side by side with gVisor's netstack, the
// Go user-space TCP that production systems run, and with the kernel's own
// TCP. It is a separate module so that students never download gVisor: run
// it from this folder.
//
// BenchmarkPair: two stacks of a kind joined in memory at MTU 1500, net.Conn
// on each end, 64 KiB writes:
//
//	go test -run '^$' -bench Pair -benchtime 200x
//
// BenchmarkTUNDownload: a 100 MiB download from a kernel server through
// tun144 into tcplab (plain device, and the offload device), gVisor (plain
// fdbased, and fed super-packets from the TUN's offloads) and, for scale,
// the kernel over loopback, every peer in the same run, each in a sandbox,
// with a table of the ratios at the end:
//
//	go test -run '^$' -bench TUNDownload -benchtime 2x -args -rounds 3
package bench
