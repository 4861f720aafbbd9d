package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

const runtimeChildEnv = "LEADHOST_TEST_RUNTIME_CHILD"

// TestServeRuntimeSettings runs serve as the binary does (tuneRuntime
// first) and reads the Go runtime's settings from its /metrics: the
// store's suggestions where the environment says nothing, the
// environment's word where it does.
func TestServeRuntimeSettings(t *testing.T) {
	if args := os.Getenv(runtimeChildEnv); args != "" {
		tuneRuntime(os.Getenv)
		os.Exit(run(context.Background(), strings.Split(args, "\t"), os.Stdin, os.Stdout, os.Stderr))
	}
	// Go's own default: the CPUs this process may use.
	cpus := runtime.GOMAXPROCS(0)
	if os.Getenv("GOMAXPROCS") != "" {
		cpus = runtime.NumCPU()
	}
	for _, tc := range []struct {
		name string
		env  []string
		want map[string]float64
	}{
		{"suggested", nil, map[string]float64{
			"go_sched_gomaxprocs_threads": float64(4 * cpus),
			"go_gc_gogc_percent":          400,
			"go_gc_gomemlimit_bytes":      256 << 20,
		}},
		{"from the environment", []string{"GOMAXPROCS=3", "GOGC=150", "GOMEMLIMIT=512MiB"}, map[string]float64{
			"go_sched_gomaxprocs_threads": 3,
			"go_gc_gogc_percent":          150,
			"go_gc_gomemlimit_bytes":      512 << 20,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.Mkdir(filepath.Join(dir, "scripts"), 0o755); err != nil {
				t.Fatal(err)
			}
			args := strings.Join([]string{"serve", "-listen", "127.0.0.1:0",
				"-data", filepath.Join(dir, "data"), "-scripts", filepath.Join(dir, "scripts")}, "\t")
			p := startServeChildEnv(t, "TestServeRuntimeSettings", append(withoutRuntimeEnv(os.Environ()),
				append(tc.env, runtimeChildEnv+"="+args)...))
			defer p.kill()
			got := goMetrics(t, "http://"+p.addr+"/metrics")
			for name, want := range tc.want {
				if got[name] != want {
					t.Errorf("%s = %v, want %v", name, got[name], want)
				}
			}
		})
	}
}

// withoutRuntimeEnv is env without the variables tuneRuntime reads.
func withoutRuntimeEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if name != "GOMAXPROCS" && name != "GOGC" && name != "GOMEMLIMIT" {
			out = append(out, kv)
		}
	}
	return out
}

// goMetrics reads the unlabelled go_* samples of a Prometheus text page.
func goMetrics(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		name, value, ok := strings.Cut(line, " ")
		if !ok || !strings.HasPrefix(name, "go_") || strings.Contains(name, "{") {
			continue
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			out[name] = v
		}
	}
	return out
}
