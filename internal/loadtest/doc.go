// Package loadtest is the stack's load and fault suite: the lab stack on
// tun144, inside a sandbox, under the workloads that broke it before
// (concurrent clients, client fan-out, a SYN flood, a peer killed
// mid-transfer, loss both ways, a receiver that stops reading), each beside
// the kernel's TCP serving the same workload in the same run.
//
// The tests are small enough for CI and assert only what timing cannot
// decide (no failed request, no corrupted byte, bounded state); the
// benchmarks run the full workloads and report each figure next to the
// kernel's. README.md says how to run them. The package holds only tests.
package loadtest
