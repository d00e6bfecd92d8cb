package loadtest

import (
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"testing"
	"time"

	"tcplab/internal/sandbox"
)

// The benchmarks run each workload at full size, once per iteration (run
// them with -benchtime=1x), and report the lab's figure beside the
// kernel's from the same run. TCPLAB_LOAD_REQUESTS and TCPLAB_LOAD_CLIENTS
// override the number of requests and of concurrent clients of
// BenchmarkServer, whose 1 MiB case takes minutes.

func BenchmarkServer(b *testing.B) {
	cases := []struct {
		name                    string
		size, requests, clients int
	}{
		{"1KiB-c50", 1 << 10, 10_000, 50},
		{"1MiB-c200", 1 << 20, 2_000, 200},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			if !sandbox.Inside() {
				sandbox.Bench(b)
				return
			}
			requests := envInt("TCPLAB_LOAD_REQUESTS", tc.requests)
			clients := envInt("TCPLAB_LOAD_CLIENTS", tc.clients)
			env := benchEnv(b)
			for range b.N {
				var labRSS, kernelRSS uint64
				lab, kernel := serverRunMeasured(b, env, tc.size, requests, clients, &labRSS, &kernelRSS)
				b.Logf("%d requests of %d bytes, %d at once", requests, tc.size, clients)
				b.Logf("lab:    %v, peak RSS %d MiB", lab, labRSS>>20)
				b.Logf("kernel: %v, peak RSS %d MiB", kernel, kernelRSS>>20)
				b.ReportMetric(float64(lab.requests)/lab.elapsed.Seconds(), "lab-req/s")
				b.ReportMetric(float64(kernel.requests)/kernel.elapsed.Seconds(), "kernel-req/s")
				b.ReportMetric(float64(lab.failures), "lab-failed")
				b.ReportMetric(float64(kernel.failures), "kernel-failed")
				b.ReportMetric(float64(labRSS>>20), "lab-peak-RSS-MiB")
				b.ReportMetric(float64(kernelRSS>>20), "kernel-peak-RSS-MiB")
			}
		})
	}
}

func BenchmarkSYNFlood(b *testing.B) {
	if !sandbox.Inside() {
		sandbox.Bench(b)
		return
	}
	env := benchEnv(b)
	for range b.N {
		heapBefore := heapInUse()
		lab, kernel, st := synFloodRun(b, env, 10_000, 20*time.Second)
		heapAfter := heapInUse()
		b.Logf("lab:    %v; %d cookies sent, %d accepted; heap %d → %d MiB", lab, st.CookiesSent, st.CookiesAccepted, heapBefore>>20, heapAfter>>20)
		b.Logf("kernel: %v", kernel)
		b.ReportMetric(100*float64(lab.within1s)/float64(max(lab.tried, 1)), "lab-%≤1s")
		b.ReportMetric(100*float64(kernel.within1s)/float64(max(kernel.tried, 1)), "kernel-%≤1s")
		b.ReportMetric(float64(heapAfter>>20)-float64(heapBefore>>20), "lab-heap-growth-MiB")
	}
}

func BenchmarkClientFanOut(b *testing.B) {
	if !sandbox.Inside() {
		sandbox.Bench(b)
		return
	}
	env := benchEnv(b)
	for range b.N {
		lab, kernel := fanOutRun(b, env, 64<<10, 5_000, 200)
		b.Logf("lab clients:    %v", lab)
		b.Logf("kernel clients: %v", kernel)
		b.ReportMetric(float64(lab.requests)/lab.elapsed.Seconds(), "lab-req/s")
		b.ReportMetric(float64(kernel.requests)/kernel.elapsed.Seconds(), "kernel-req/s")
		b.ReportMetric(float64(lab.failures), "lab-failed")
		b.ReportMetric(float64(kernel.failures), "kernel-failed")
	}
}

// envInt is the positive number in the environment variable name, or def.
// (Environment, not flags: the benchmark runs again inside its sandbox,
// which passes the environment on.)
func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// heapInUse is the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// freshPeak starts a new peak-RSS measurement with as little left over
// from the last as the runtime allows.
func freshPeak() {
	runtime.GC()
	debug.FreeOSMemory()
	resetPeakRSS()
}

// benchEnv opens tun144 inside the benchmark's sandbox.
func benchEnv(b *testing.B) *sandbox.Env {
	b.Helper()
	env, err := sandbox.BenchEnv()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { env.Dev.Close() })
	return env
}
