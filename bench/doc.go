// Package bench puts tcplab's stack side by side with gVisor's netstack, the
// Go user-space TCP that production systems run, on the same shape of
// transfer: two stacks joined in memory at MTU 1500, net.Conn on each end,
// 64 KiB writes.
//
// It is a separate module so that students never download gVisor: run it
// from this folder with
//
//	go test -run '^$' -bench . -benchtime 200x
package bench
