package main

import "time"

// suite is one row of the stage table: a package's tests, or one of its
// benchmarks as a speed check. A stage runs every suite of its own stage and
// of the stages before it, in table order, as the course did: check3 checks
// labs 0 to 3.
type suite struct {
	stage int    // first stage that runs it (0 = check0)
	name  string // what the student reads: "byte stream"
	pkg   string // package path relative to the module root
	bench string // benchmark pattern: set, the suite is a speed check
	tests string // test pattern (go test -run) when the suite is only some of pkg's tests
	// timeout, when set, is how long one of the suite's checks may run
	// (else the grader's -timeout): a transfer against Linux at 10% loss
	// waits out the kernel's own retransmission timeouts, which back off
	// from 200 ms.
	timeout time.Duration
	points  float64 // Gradescope points, split evenly over the suite's checks
}

// suites is the stage table. Adding a check is one line.
//
// The checks against Linux run in the sandbox (a user and network namespace
// with tun144); where it cannot be made they are skipped with the reason.
// webget over the kernel's own TCP is lab 0's warm-up, as in the course;
// the rest needs the whole stack, so it joins check4.
var suites = []suite{
	{stage: 0, name: "byte stream", pkg: "labs/0-bytestream", points: 18},
	{stage: 0, name: "webget over Linux's TCP", pkg: "internal/interop", tests: "^TestWebget$/kernel", points: 2, timeout: 2 * time.Minute},
	{stage: 0, name: "byte stream speed", pkg: "labs/0-bytestream", bench: "^BenchmarkByteStream$", points: 2},
	{stage: 1, name: "reassembler", pkg: "labs/1-reassembler", points: 18},
	{stage: 1, name: "reassembler speed", pkg: "labs/1-reassembler", bench: "^BenchmarkReassembler$", points: 2},
	{stage: 2, name: "receiver", pkg: "labs/2-receiver", points: 20},
	{stage: 3, name: "sender", pkg: "labs/3-sender", points: 20},
	{stage: 4, name: "connection", pkg: "labs/4-connection", points: 18},
	{stage: 4, name: "connection speed", pkg: "labs/4-connection", bench: "^BenchmarkConnectionPair$", points: 2},
	{stage: 4, name: "your TCP against Linux's", pkg: "internal/interop", tests: "^Test(TransfersWithLinux|ListenerWithNothingToSay|SlowReader|LossOnTheKernelSide|StrayIPv6|GarbageFlood|CurlFetches|TcpcatChats)", points: 10, timeout: 5 * time.Minute},
	{stage: 4, name: "webget over your TCP", pkg: "internal/interop", tests: "^TestWebget", points: 4, timeout: 2 * time.Minute},
}

// stageNames maps a stage's command-line name to its number.
var stageNames = map[string]int{
	"check0": 0, "check1": 1, "check2": 2, "check3": 3, "check4": 4,
	"all": 4,
}

// speedFloor is the course's floor for every speed check, in Gbit/s.
const speedFloor = 0.1

// stageSuites lists the suites stage n runs, in table order.
func stageSuites(n int) []suite {
	var out []suite
	for _, s := range suites {
		if s.stage <= n {
			out = append(out, s)
		}
	}
	return out
}
