package interop

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"tcplab/internal/sandbox"
)

// ran is what a program run produced.
type ran struct {
	stdout, stderr []byte
	code           int
}

// runProgram runs path to its end, at most 90 s.
func runProgram(t *testing.T, stdin []byte, path string, args ...string) ran {
	t.Helper()
	return startProgram(t, stdin, path, args...).wait(t, 90*time.Second)
}

// requireOneLineError checks how a program fails: a non-zero exit and one
// line on stderr that says what went wrong, no panic, no stack trace.
func requireOneLineError(t *testing.T, r ran, wantExit int, says string) {
	t.Helper()
	require.Equal(t, wantExit, r.code, "exit status")
	msg := strings.TrimRight(string(r.stderr), "\n")
	require.NotContains(t, msg, "\n", "one line on stderr")
	require.NotContains(t, msg, "goroutine ", "no stack trace")
	require.NotContains(t, msg, "panic", "no panic")
	require.Contains(t, msg, says)
}

// kernelHTTP serves h on the kernel's side of tun144 and returns the base
// URL.
func kernelHTTP(t *testing.T, env *sandbox.Env, h http.Handler) string {
	t.Helper()
	l := kernelListen(t, env)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "http://" + l.Addr().String()
}

var servingRE = regexp.MustCompile(`port (\d+)`)

// pythonServer runs python3 -m http.server on the kernel's side of tun144,
// serving dir, and returns its base URL once it listens.
func pythonServer(t *testing.T, env *sandbox.Env, dir string) string {
	t.Helper()
	py, err := sandbox.LookTool("python3")
	if err != nil {
		t.Skipf("cannot start a real web server: %v", err)
	}
	cmd := exec.Command(py, "-u", "-m", "http.server", "--bind", env.KernelAddr.String(), "--directory", dir, "0")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	// It says "Serving HTTP on 169.254.144.1 port 41235 (...)" once it
	// listens, within a second or two; if it exits first, its stdout ends
	// and so does the wait, and one that says nothing is killed.
	const within = 30 * time.Second
	silent := time.AfterFunc(within, func() { cmd.Process.Kill() })
	defer silent.Stop()
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if m := servingRE.FindStringSubmatch(lines.Text()); m != nil {
			go func() {
				for lines.Scan() {
				}
			}()
			return fmt.Sprintf("http://%s:%s", env.KernelAddr, m[1])
		}
	}
	t.Fatalf("python3 -m http.server exited, or said nothing for %v, before it said it was serving: %v", within, lines.Err())
	return ""
}

func TestWebget(t *testing.T) {
	big := payload(1<<20, 1)
	bigSum := sha256.Sum256(big)
	cases := []struct {
		name string
		run  func(t *testing.T, env *sandbox.Env, webget string)
	}{
		{"fetches 1 MiB from python's http.server, bytes intact", func(t *testing.T, env *sandbox.Env, webget string) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "big.bin"), big, 0o600))
			base := pythonServer(t, env, dir)
			r := runProgram(t, nil, webget, base+"/big.bin")
			require.Equal(t, 0, r.code)
			require.Equal(t, fmt.Sprintf("%x", bigSum), fmt.Sprintf("%x", sha256.Sum256(r.stdout)))
		}},
		{"writes the body to a file with -o and a pcap with --pcap", func(t *testing.T, env *sandbox.Env, webget string) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "big.bin"), big, 0o600))
			base := pythonServer(t, env, dir)
			out, pc := filepath.Join(t.TempDir(), "out"), filepath.Join(t.TempDir(), "x.pcap")
			r := runProgram(t, nil, webget, "-o", out, "--pcap", pc, base+"/big.bin")
			require.Equal(t, 0, r.code)
			require.Empty(t, r.stdout)
			got, err := os.ReadFile(out)
			require.NoError(t, err)
			require.Equal(t, bigSum, sha256.Sum256(got))
			st, err := os.Stat(pc)
			require.NoError(t, err)
			require.Greater(t, st.Size(), int64(len(big)), "the pcap holds every datagram, payloads and all")
		}},
		{"a chunked response arrives whole", func(t *testing.T, env *sandbox.Env, webget string) {
			base := kernelHTTP(t, env, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for i := range 50 {
					fmt.Fprintf(w, "chunk %d of 50\n", i)
					w.(http.Flusher).Flush() // no Content-Length: chunked
				}
			}))
			r := runProgram(t, nil, webget, "-i", base+"/chunks")
			require.Equal(t, 0, r.code)
			head, body, ok := bytes.Cut(r.stdout, []byte("\r\n\r\n"))
			require.True(t, ok, "headers, then the body")
			require.Contains(t, string(head), "Transfer-Encoding: chunked")
			var want strings.Builder
			for i := range 50 {
				fmt.Fprintf(&want, "chunk %d of 50\n", i)
			}
			if d := cmp.Diff(want.String(), string(body)); d != "" {
				t.Errorf("body (-want +got):\n%s", d)
			}
		}},
		{"a redirect is followed with -L and shown without", func(t *testing.T, env *sandbox.Env, webget string) {
			mux := http.NewServeMux()
			mux.Handle("/old", http.RedirectHandler("/new", http.StatusFound))
			mux.HandleFunc("/new", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "moved here\n") })
			base := kernelHTTP(t, env, mux)
			r := runProgram(t, nil, webget, "-L", base+"/old")
			require.Equal(t, 0, r.code)
			require.Equal(t, "moved here\n", string(r.stdout))
			r = runProgram(t, nil, webget, "-i", base+"/old")
			require.Equal(t, 0, r.code, "like curl: a redirect not followed is still a success")
			require.Contains(t, string(r.stdout), "302 Found")
			require.Contains(t, string(r.stdout), "Location: /new")
		}},
		{"a 404 prints its body and exits 0, or 22 with --fail", func(t *testing.T, env *sandbox.Env, webget string) {
			base := kernelHTTP(t, env, http.NotFoundHandler())
			r := runProgram(t, nil, webget, base+"/nothing")
			require.Equal(t, 0, r.code, "like curl without --fail")
			require.Equal(t, "404 page not found\n", string(r.stdout))
			r = runProgram(t, nil, webget, "--fail", base+"/nothing")
			requireOneLineError(t, r, 22, "404 Not Found")
			require.Empty(t, r.stdout)
		}},
		{"https works over the lab stack with a test CA", func(t *testing.T, env *sandbox.Env, webget string) {
			cert, caFile := testCert(t, env)
			l := kernelListen(t, env)
			srv := &http.Server{
				Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(big) }),
				TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}},
				ReadHeaderTimeout: 30 * time.Second,
			}
			go srv.ServeTLS(l, "", "")
			t.Cleanup(func() { srv.Close() })
			url := "https://" + l.Addr().String() + "/"
			r := runProgram(t, nil, webget, "--cacert", caFile, url)
			require.Equal(t, 0, r.code)
			require.Equal(t, bigSum, sha256.Sum256(r.stdout))
			r = runProgram(t, nil, webget, url)
			requireOneLineError(t, r, 1, "certificate")
			r = runProgram(t, nil, webget, "--insecure", url)
			require.Equal(t, 0, r.code)
			require.Equal(t, bigSum, sha256.Sum256(r.stdout))
		}},
		{"--stack kernel fetches over the kernel's TCP", func(t *testing.T, env *sandbox.Env, webget string) {
			base := kernelHTTP(t, env, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(big) }))
			// Over the loopback, as lab 0's webget did: the lab device is
			// not involved at all.
			r := runProgram(t, nil, webget, "--stack", "kernel", base+"/")
			require.Equal(t, 0, r.code)
			require.Equal(t, bigSum, sha256.Sum256(r.stdout))
		}},
		{"--trace draws the exchange as a ladder, --trace-svg saves it", func(t *testing.T, env *sandbox.Env, webget string) {
			base := kernelHTTP(t, env, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hi\n") }))
			svg := filepath.Join(t.TempDir(), "trace.svg")
			r := runProgram(t, nil, webget, "--trace", "--trace-svg", svg, base+"/")
			require.Equal(t, 0, r.code)
			require.Equal(t, "hi\n", string(r.stdout))
			trace := string(r.stderr)
			require.Regexp(t, `(?m)^ +tcplab +linux$`, trace, "the peers' names head the ladder")
			require.Regexp(t, `│ SYN seq=\d+ win=\d+ +│`, trace, "our SYN, labelled like the lecture")
			require.Regexp(t, `│ +SYN seq=\d+ ack=\d+ win=\d+ │`, trace, "Linux's SYN-ACK, on its side")
			require.Contains(t, trace, "─▶│")
			require.Contains(t, trace, "│◀─")
			require.Contains(t, trace, " FIN ")
			b, err := os.ReadFile(svg)
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(string(b), "<svg "), "an SVG document")
			require.Contains(t, string(b), "SYN seq=")
		}},
		{"--trace-lines prints every segment", func(t *testing.T, env *sandbox.Env, webget string) {
			base := kernelHTTP(t, env, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hi\n") }))
			r := runProgram(t, nil, webget, "--trace-lines", base+"/")
			require.Equal(t, 0, r.code)
			require.Equal(t, "hi\n", string(r.stdout))
			trace := string(r.stderr)
			require.Regexp(t, `(?m)^ *[0-9.]+ → SYN seq=\d+ ack=0 win=\d+ len=0 mss=1460 wscale=\d+$`, trace)
			require.Regexp(t, `(?m)^ *[0-9.]+ ← SYN ACK seq=\d+ ack=\d+ win=\d+ len=0 mss=1460 wscale=\d+$`, trace)
			require.Regexp(t, `(?m)← ACK FIN |→ ACK FIN `, trace)
		}},
		{"a bad URL is one line and exit 1", func(t *testing.T, env *sandbox.Env, webget string) {
			requireOneLineError(t, runProgram(t, nil, webget, "ftp://example.com/"), 1, "bad URL")
			requireOneLineError(t, runProgram(t, nil, webget, "http://"), 1, "bad URL")
			requireOneLineError(t, runProgram(t, nil, webget, "http://[::1"), 1, "bad URL")
		}},
		{"a refused connection is one line and exit 1", func(t *testing.T, env *sandbox.Env, webget string) {
			l := kernelListen(t, env)
			addr := l.Addr().String()
			l.Close() // nobody listens there now: Linux answers RST
			requireOneLineError(t, runProgram(t, nil, webget, "http://"+addr+"/"), 1, "connection refused")
		}},
		{"a host that never answers is one line and exit 1", func(t *testing.T, env *sandbox.Env, webget string) {
			// 169.254.144.7 is on the device's subnet but nobody has it:
			// our SYNs go unanswered.
			requireOneLineError(t, runProgram(t, nil, webget, "--timeout", "2s", "http://169.254.144.7/"), 1, "no answer within 2s")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			webget := program(t, "webget")
			sandbox.Run(t, func(t *testing.T, env *sandbox.Env) {
				handOverTUN(t, env)
				tc.run(t, env, webget)
			})
		})
	}
}

func TestWebgetWithoutPermissionToOpenTUN(t *testing.T) {
	webget := program(t, "webget")
	// A new user namespace but the host's network namespace: we are nobody
	// there, so creating a TUN device is refused (and nothing is touched).
	cmd := exec.Command(webget, "--dev", "tun144x", "http://169.254.144.1/")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		if err != nil {
			t.Skipf("cannot make a user namespace here (%v)", err)
		}
		t.Fatal("webget succeeded without the right to open a TUN device")
	}
	requireOneLineError(t, ran{stderr: errb.Bytes(), code: ee.ExitCode()}, 1, "permission denied")
	require.Contains(t, errb.String(), "run as root or inside the sandbox")
}

// testCert makes a CA and a certificate for the kernel's address signed by
// it; it returns the server certificate and a PEM file with the CA.
func testCert(t *testing.T, env *sandbox.Env) (tls.Certificate, string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	require.NoError(t, err)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tcplab test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(crand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: env.KernelAddr.String()},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IPAddresses: []net.IP{env.KernelAddr.AsSlice()},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(crand.Reader, tmpl, ca, &key.PublicKey, caKey)
	require.NoError(t, err)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600))
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, caFile
}
