package main

import (
	"context"
	"fmt"
	"io"
	"leadhost/store"
	"net/http"
	"os"
	"path/filepath"
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
		fmt.Printf("cpus %d\n", startCPUs) // Go's default here, for the parent
		tuneRuntime(os.Getenv)
		os.Exit(run(context.Background(), strings.Split(args, "\t"), os.Stdin, os.Stdout, os.Stderr))
	}
	for _, tc := range []struct {
		name string
		env  []string
		// want's values; procsPerCPU, when set, is a multiple of the
		// child's CPUs
		want        map[string]float64
		procsPerCPU int
	}{
		{"suggested", nil, map[string]float64{
			"go_gc_gogc_percent":     store.SuggestedGCPercent,
			"go_gc_gomemlimit_bytes": store.SuggestedMemoryLimit,
		}, store.SuggestedProcsPerCPU},
		{"from the environment", []string{"GOMAXPROCS=3", "GOGC=150", "GOMEMLIMIT=512MiB"}, map[string]float64{
			"go_sched_gomaxprocs_threads": 3,
			"go_gc_gogc_percent":          150,
			"go_gc_gomemlimit_bytes":      512 << 20,
		}, 0},
		// Go ignores a GOMAXPROCS that is not a count of processors.
		{"not a count", []string{"GOMAXPROCS=many"}, map[string]float64{}, store.SuggestedProcsPerCPU},
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
			if tc.procsPerCPU > 0 {
				var cpus int
				if len(p.before) == 0 {
					t.Fatal("the child did not say its CPUs")
				}
				if _, err := fmt.Sscanf(p.before[0], "cpus %d", &cpus); err != nil {
					t.Fatalf("the child said %q: %v", p.before[0], err)
				}
				tc.want["go_sched_gomaxprocs_threads"] = float64(tc.procsPerCPU * cpus)
			}
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
