package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"leadhost/store/postgres/pgtest"
)

// startServe runs `leadhost serve` with args until the test ends and
// gives its address and its first line; a serve that refuses to start
// gives its exit code and what it said instead.
func startServe(t *testing.T, args ...string) (addr, line string, code int, stderr string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, w := io.Pipe()
	var errOut strings.Builder
	done := make(chan struct{})
	go func() {
		code = runServe(ctx, args, w, &errOut)
		w.Close()
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		<-done
		return "", "", code, errOut.String()
	}
	go io.Copy(io.Discard, stdout)
	addr, _, _ = strings.Cut(strings.TrimPrefix(line, "leadhost listening on "), " ")
	return addr, line, 0, ""
}

// Serves on one database are nodes: the first takes the host's name,
// the second (another port on the same host) the name with its port; a
// third given the first's name is refused while the first is alive; GET
// /api/nodes on either lists both.
func TestServesOnOneDatabaseAreNodes(t *testing.T) {
	url := pgtest.URL(t)
	scripts := exampleScripts(t, "http://127.0.0.1:1", "getcourse-offerum")
	host, _ := os.Hostname()
	serve := func(data string, extra ...string) (string, string, int, string) {
		args := append([]string{"--listen", "127.0.0.1:0", "--data", filepath.Join(t.TempDir(), data), "--scripts", scripts, "--store", url}, extra...)
		return startServe(t, args...)
	}
	first, line, _, _ := serve("d1")
	if !strings.Contains(line, "node "+host+")") {
		t.Errorf("first serve says %q: want node %s", line, host)
	}
	_, port, _ := strings.Cut(strings.TrimPrefix(first, "127.0.0.1"), ":")
	second, line, _, _ := serve("d2")
	_, port2, _ := strings.Cut(strings.TrimPrefix(second, "127.0.0.1"), ":")
	if !strings.Contains(line, "node "+host+":"+port2+")") {
		t.Errorf("second serve says %q: want node %s:%s (%s is taken by the first, on port %s)", line, host, port2, host, port)
	}
	if _, _, code, stderr := serve("d3", "--node", host); code != exitError || !strings.Contains(stderr, `node "`+host+`" is alive at`) {
		t.Errorf("a third serve named as the first: exit %d, %q", code, stderr)
	}
	code, body := httpCall(t, "GET", "http://"+second+"/api/nodes", "")
	var nodes struct {
		Items []struct {
			Name, State, Listen string
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &nodes); code != 200 || err != nil || len(nodes.Items) != 2 {
		t.Fatalf("GET /api/nodes: %d %s", code, body)
	}
	for _, n := range nodes.Items {
		if n.State != "alive" || !strings.HasPrefix(n.Listen, "127.0.0.1:") {
			t.Errorf("node %+v: want alive, listening on 127.0.0.1", n)
		}
	}
}
