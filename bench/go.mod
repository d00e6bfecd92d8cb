module tcplab/bench

go 1.26.0

require (
	github.com/vishvananda/netlink v1.3.1
	golang.org/x/sys v0.49.0
	gvisor.dev/gvisor v0.0.0-20250503011706-39ed1f5ac29c
	tcplab v0.0.0-00010101000000-000000000000
)

require (
	github.com/google/btree v1.1.2 // indirect
	github.com/songgao/water v0.0.0-20200317203138-2b4b6d7c09d8 // indirect
	github.com/vishvananda/netns v0.0.5 // indirect
	golang.org/x/time v0.7.0 // indirect
)

replace tcplab => ../
