// Command tcpcat is netcat over the lab TCP stack, through the TUN device
// tun144: what arrives on stdin goes to the connection, what arrives on the
// connection goes to stdout.
//
//	tcpcat [flags] HOST PORT    connect to HOST:PORT
//	tcpcat [flags] -l PORT      wait for one connection on PORT
//
// At the end of stdin it closes its half of the connection (a FIN: the peer
// reads EOF but may go on sending), and it exits once the peer has closed
// its half too and both FINs are acknowledged. So a student can chat with
// Linux's own nc through their own TCP:
//
//	nc -l 169.254.144.1 7000        # one terminal (the kernel's side)
//	tcpcat 169.254.144.1 7000       # another (the lab stack)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"time"

	"tcplab/internal/device"
	"tcplab/internal/interop"
	"tcplab/internal/stack"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(os.Stderr, "tcpcat: %v\n", err)
		}
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tcpcat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.Bool("l", false, "listen for one connection on PORT instead of connecting")
	dev := fs.String("dev", device.DefaultName, "TUN device (used if it exists, created if we have the right)")
	addr := fs.String("addr", device.LabAddr.String(), "the lab stack's IPv4 address on the device")
	kernelAddr := fs.String("kernel-addr", device.KernelAddr.String(), "the kernel's side of a device tcpcat creates, address/prefix")
	mtu := fs.Int("mtu", 1500, "the device's MTU")
	pcapFile := fs.String("pcap", "", "record every datagram both ways in this pcap file")
	trace := fs.Bool("trace", false, "draw every TCP segment on stderr as a ladder diagram, live")
	traceLines := fs.Bool("trace-lines", false, "print every TCP segment on stderr, one line each")
	traceSVG := fs.String("trace-svg", "", "write the ladder diagram of the whole exchange to `FILE` as SVG")
	timeout := fs.Duration("timeout", 30*time.Second, "give up connecting after this long")
	window := fs.Uint64("window", 0, "the send and receive buffers; the receive buffer bounds the window we advertise (0: the stack's defaults)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: tcpcat [flags] HOST PORT\n       tcpcat [flags] -l PORT\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	var target string
	var port uint16
	switch {
	case *listen && fs.NArg() == 1:
		p, err := strconv.ParseUint(fs.Arg(0), 10, 16)
		if err != nil || p == 0 {
			return fmt.Errorf("bad port %q", fs.Arg(0))
		}
		port = uint16(p)
	case !*listen && fs.NArg() == 2:
		target = net.JoinHostPort(fs.Arg(0), fs.Arg(1))
	default:
		fs.Usage()
		return errors.New("want HOST PORT, or -l PORT")
	}
	lab, err := netip.ParseAddr(*addr)
	if err != nil || !lab.Is4() {
		return fmt.Errorf("--addr %q: want an IPv4 address", *addr)
	}
	kernel, err := netip.ParsePrefix(*kernelAddr)
	if err != nil || !kernel.Addr().Is4() {
		return fmt.Errorf("--kernel-addr %q: want an IPv4 address/prefix", *kernelAddr)
	}
	opts := interop.Options{Dev: *dev, LabAddr: lab, KernelAddr: kernel, MTU: *mtu, PcapFile: *pcapFile}
	opts.Stack.Connection.InitialRTO = 200 * time.Millisecond
	opts.Stack.Connection.Capacity = *window
	opts.Stack.ReceiveBuffer = *window
	if *trace {
		opts.Ladder = stderr
	}
	if *traceLines {
		opts.Trace = stderr
	}
	opts.LadderSVG = *traceSVG
	n, err := interop.Open(opts)
	if err != nil {
		return err
	}
	conn, err := connect(n.Stack, target, port, *timeout)
	if err == nil {
		err = relay(conn, stdin, stdout)
	}
	if cerr := n.Close(5 * time.Second); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

func connect(s *stack.Stack, target string, port uint16, timeout time.Duration) (net.Conn, error) {
	if target == "" {
		l, err := s.Listen(port)
		if err != nil {
			return nil, err
		}
		defer l.Close()
		return l.Accept()
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := s.Dial(ctx, target)
	if errors.Is(err, context.DeadlineExceeded) {
		return nil, fmt.Errorf("connect to %s: no answer within %v", target, timeout)
	}
	return c, err
}

// closeWriter is the half-close net.TCPConn and the lab conn both offer.
type closeWriter interface{ CloseWrite() error }

// relay copies both ways until both directions are done: stdin's end
// becomes our FIN, the peer's FIN ends stdout.
func relay(conn net.Conn, stdin io.Reader, stdout io.Writer) error {
	sent := make(chan error, 1)
	go func() {
		_, err := io.Copy(conn, stdin)
		if err == nil {
			err = conn.(closeWriter).CloseWrite()
		}
		sent <- err
	}()
	_, rerr := io.Copy(stdout, conn)
	if rerr != nil {
		// The peer is gone (reset): stdin has nowhere to go.
		conn.Close()
		return fmt.Errorf("receive: %w", rerr)
	}
	// The peer finished; what we still have to say goes on until stdin ends.
	serr := <-sent
	cerr := conn.Close()
	if serr != nil {
		return fmt.Errorf("send: %w", serr)
	}
	return cerr
}
