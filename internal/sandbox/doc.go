// Package sandbox runs code inside a fresh network namespace that holds
// only a loopback interface and a TUN device, tun144, whose kernel side is
// 169.254.144.1/24 and whose lab side is 169.254.144.9. It is where the
// whole data flow meets real Linux: the kernel's TCP (Go net, curl, a web
// server) on one side of tun144, and on the other device → wire → stack →
// connection, the lab stack reading and writing the datagrams.
//
// Nothing done inside touches the host's networking, and everything is torn
// down when the sandbox ends: the code runs in a child process (this binary,
// re-executed) placed in new user, network and PID namespaces, and the
// namespaces, tun144 and every process started inside die with that child,
// even if it crashes. A user namespace maps our user to root inside, so no
// sudo is needed where the kernel lets unprivileged users create user
// namespaces; as real root without them (some containers) the sandbox falls
// back to network and PID namespaces alone. Available says why it cannot
// run here, in one line.
//
// Tests use Run: the test's body runs in the child, with tun144 open and
// configured. Programs (the grader, a script) use Command: it returns an
// exec.Cmd that runs any program inside a fresh sandbox, where tun144
// already exists and is configured, persistent and free, so the program
// opens it by name (device.OpenTUN) as webget does on a real machine. To run
// Go code of your own inside, Command your own binary with an argument that
// tells it so, and check Inside.
//
// Where the sandbox cannot run, Run skips the test with Available's reason;
// CI sets TCPLAB_REQUIRE_SANDBOX=1 to make that a failure instead.
// TCPLAB_SANDBOX_DISABLE=1 makes the sandbox unavailable on purpose.
//
// The child is recognised by an environment variable, checked in this
// package's init function, so every binary that imports sandbox can be
// re-executed into one.
package sandbox
