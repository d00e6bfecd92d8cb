// Command webget fetches a URL over the lab TCP stack, through the TUN
// device tun144, and prints the body like curl does:
//
//	webget [flags] URL
//
// By default the TCP underneath is the lab's (a student's Connection, run by
// internal/stack on tun144); --stack kernel uses the kernel's TCP instead,
// as lab 0's webget did. HTTP itself is Go's net/http (Content-Length,
// chunked bodies, Connection: close, redirects), and https:// is crypto/tls
// over the lab's net.Conn.
//
// Like curl, an HTTP error status (404, 500) still prints its body and
// exits 0; --fail makes it exit 22 without printing the body. Every other
// failure (a bad URL, a host that does not answer, a refused connection, no
// right to open the TUN device) prints one line on stderr and exits 1.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"tcplab/internal/device"
	"tcplab/internal/interop"
	"tcplab/internal/stack"
)

// exitHTTPError is curl's exit status for --fail on an HTTP error.
const exitHTTPError = 22

func main() {
	code, err := run(os.Args[1:], os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "webget: %v\n", err)
	}
	os.Exit(code)
}

type options struct {
	stack      string
	dev        string
	addr       string
	kernelAddr string
	mtu        int
	include    bool
	output     string
	follow     bool
	fail       bool
	pcap       string
	trace      bool
	traceLines bool
	traceSVG   string
	insecure   bool
	cacert     string
	timeout    time.Duration
	loss       float64
}

func parseFlags(args []string, stderr io.Writer) (*options, string, error) {
	fs := flag.NewFlagSet("webget", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	fs.StringVar(&o.stack, "stack", "lab", "whose TCP carries the request: lab (tcplab on the TUN device) or kernel")
	fs.StringVar(&o.dev, "dev", device.DefaultName, "TUN device (used if it exists, created if we have the right)")
	fs.StringVar(&o.addr, "addr", device.LabAddr.String(), "the lab stack's IPv4 address on the device")
	fs.StringVar(&o.kernelAddr, "kernel-addr", device.KernelAddr.String(), "the kernel's side of a device webget creates, address/prefix")
	fs.IntVar(&o.mtu, "mtu", 1500, "the device's MTU")
	fs.BoolVar(&o.include, "i", false, "print the status line and headers before the body")
	fs.StringVar(&o.output, "o", "", "write the body to this file instead of stdout")
	fs.BoolVar(&o.follow, "L", false, "follow redirects")
	fs.BoolVar(&o.fail, "fail", false, "exit 22 on an HTTP error status (400 and up), printing no body")
	fs.StringVar(&o.pcap, "pcap", "", "record every datagram both ways in this pcap file (lab stack only)")
	fs.BoolVar(&o.trace, "trace", false, "draw every TCP segment on stderr as a ladder diagram, live (lab stack only)")
	fs.BoolVar(&o.traceLines, "trace-lines", false, "print every TCP segment on stderr, one line each (lab stack only)")
	fs.StringVar(&o.traceSVG, "trace-svg", "", "write the ladder diagram of the whole exchange to `FILE` as SVG (lab stack only)")
	fs.BoolVar(&o.insecure, "insecure", false, "https: do not verify the server's certificate")
	fs.StringVar(&o.cacert, "cacert", "", "https: trust the CA certificates in this PEM file")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "give up on the whole fetch after this long")
	fs.Float64Var(&o.loss, "loss", 0, "drop this fraction of datagrams each way (lab stack only, for experiments)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: webget [flags] URL\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, "", err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return nil, "", errors.New("want exactly one URL")
	}
	return o, fs.Arg(0), nil
}

func run(args []string, stdout, stderr io.Writer) (int, error) {
	o, raw, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0, nil
	}
	if err != nil {
		return 2, err
	}
	u, err := checkURL(raw)
	if err != nil {
		return 1, err
	}
	tlsConf, err := tlsConfig(o)
	if err != nil {
		return 1, err
	}
	transport := &http.Transport{
		TLSClientConfig:   tlsConf,
		DisableKeepAlives: true, // one request (or one per redirect), then FIN
		ForceAttemptHTTP2: false,
	}
	var lab *interop.Net
	switch o.stack {
	case "kernel":
		transport.DialContext = (&net.Dialer{}).DialContext
	case "lab":
		if lab, err = openLab(o, stderr); err != nil {
			return 1, err
		}
		transport.DialContext = lab.DialContext
	default:
		return 2, fmt.Errorf("--stack %q: want lab or kernel", o.stack)
	}
	code, err := fetch(o, u, transport, stdout)
	transport.CloseIdleConnections()
	if lab != nil {
		// Let our FIN (or our ACK of the server's) reach the server
		// before the stack goes away with the process.
		if cerr := lab.Close(2 * time.Second); cerr != nil && err == nil {
			err, code = cerr, 1
		}
	}
	return code, err
}

func checkURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("bad URL %q: %w", raw, errors.Unwrap(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("bad URL %q: the scheme must be http:// or https://", raw)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("bad URL %q: no host", raw)
	}
	return u, nil
}

func tlsConfig(o *options) (*tls.Config, error) {
	conf := &tls.Config{InsecureSkipVerify: o.insecure} //nolint:gosec // only when asked for
	if o.cacert != "" {
		pem, err := os.ReadFile(o.cacert)
		if err != nil {
			return nil, fmt.Errorf("--cacert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--cacert %s: no PEM certificates in it", o.cacert)
		}
		conf.RootCAs = pool
	}
	return conf, nil
}

func openLab(o *options, stderr io.Writer) (*interop.Net, error) {
	addr, err := netip.ParseAddr(o.addr)
	if err != nil || !addr.Is4() {
		return nil, fmt.Errorf("--addr %q: want an IPv4 address", o.addr)
	}
	kernel, err := netip.ParsePrefix(o.kernelAddr)
	if err != nil || !kernel.Addr().Is4() {
		return nil, fmt.Errorf("--kernel-addr %q: want an IPv4 address/prefix like 169.254.144.1/24", o.kernelAddr)
	}
	opts := interop.Options{
		Dev: o.dev, LabAddr: addr, KernelAddr: kernel, MTU: o.mtu,
		PcapFile: o.pcap, Loss: o.loss, Seed: uint64(time.Now().UnixNano()),
		Stack: stack.Config{},
	}
	opts.Stack.Connection.InitialRTO = 200 * time.Millisecond
	if o.trace {
		opts.Ladder = stderr
	}
	if o.traceLines {
		opts.Trace = stderr
	}
	opts.LadderSVG = o.traceSVG
	return interop.Open(opts)
}

func fetch(o *options, u *url.URL, transport *http.Transport, stdout io.Writer) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	client := &http.Client{Transport: transport}
	if !o.follow {
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 1, fmt.Errorf("bad URL %q: %w", u, err)
	}
	req.Header.Set("User-Agent", "tcplab-webget/1")
	resp, err := client.Do(req)
	if err != nil {
		return 1, explain(u, o.timeout, err)
	}
	defer resp.Body.Close()
	if o.fail && resp.StatusCode >= 400 {
		return exitHTTPError, fmt.Errorf("%s: the server answered %s", u, resp.Status)
	}
	out := stdout
	if o.output != "" {
		f, err := os.Create(o.output)
		if err != nil {
			return 1, err
		}
		defer f.Close()
		out = f
	}
	if o.include {
		// Headers go where the body goes, as with curl -i.
		fmt.Fprintf(out, "%s %s\r\n", resp.Proto, resp.Status)
		// net/http takes Transfer-Encoding out of the headers; curl shows it.
		if len(resp.TransferEncoding) > 0 {
			fmt.Fprintf(out, "Transfer-Encoding: %s\r\n", strings.Join(resp.TransferEncoding, ", "))
		}
		if err := resp.Header.Write(out); err != nil {
			return 1, err
		}
		fmt.Fprint(out, "\r\n")
	}
	if _, err := io.Copy(out, resp.Body); err != nil {
		return 1, fmt.Errorf("%s: reading the body: %w", u, explain(u, o.timeout, err))
	}
	if f, ok := out.(*os.File); ok && o.output != "" {
		if err := f.Close(); err != nil {
			return 1, err
		}
	}
	return 0, nil
}

// explain turns what net/http returns into one line that says what went
// wrong in the words a user looks for.
func explain(u *url.URL, timeout time.Duration, err error) error {
	host := u.Host
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, stack.ErrTimedOut):
		return fmt.Errorf("%s: no answer within %v (host unreachable or not responding)", host, timeout)
	case errors.Is(err, stack.ErrConnectionRefused), isErrno(err, "connection refused"):
		return fmt.Errorf("%s: connection refused (nothing listens on that port)", host)
	case errors.Is(err, stack.ErrConnectionReset):
		return fmt.Errorf("%s: connection reset by the server", host)
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return fmt.Errorf("%s: cannot resolve the host name: %v", host, dnsErr.Err)
	}
	// url.Error says Get "URL": ...; the URL is known, keep the rest.
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", host, ue.Err)
	}
	return err
}

func isErrno(err error, text string) bool {
	return err != nil && strings.Contains(err.Error(), text)
}
