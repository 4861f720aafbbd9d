package main

import (
	"bufio"
	"io"
	"leadhost/host/hosttest"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serveChild is a leadhost serve run in a child process — this test
// binary re-entering the test named at start, which serves when it finds
// its environment variable — for the tests that SIGKILL a real serve.
type serveChild struct {
	cmd    *exec.Cmd
	addr   string               // what it printed after "listening on "
	before []string             // the lines it printed before that
	stderr *hosttest.SyncBuffer // what it wrote to stderr
	done   chan struct{}        // closed once the process has ended
}

// startServeChild starts the child of test with env (NAME=value) added
// and waits for its address; it fails t with what the child said if the
// child ends first.
func startServeChild(t testing.TB, test, env string) *serveChild {
	t.Helper()
	return startServeChildEnv(t, test, append(os.Environ(), env))
}

// startServeChildEnv is startServeChild with the child's whole
// environment.
func startServeChildEnv(t testing.TB, test string, env []string) *serveChild {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	cmd.Env = env
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &serveChild{cmd: cmd, stderr: &hosttest.SyncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	lines := bufio.NewScanner(out)
	for p.addr == "" && lines.Scan() {
		if _, rest, ok := strings.Cut(lines.Text(), "listening on "); ok {
			p.addr, _, _ = strings.Cut(rest, " ")
		} else {
			p.before = append(p.before, lines.Text())
		}
	}
	if p.addr == "" {
		p.kill()
		t.Fatalf("serve did not start: %s", p.stderr.String())
	}
	go io.Copy(io.Discard, out)
	return p
}

// kill stops the child with SIGKILL and waits until it is gone.
func (p *serveChild) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop asks the child to stop (SIGTERM) and kills it if it has not
// within wait.
func (p *serveChild) stop(wait time.Duration) {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(wait):
		p.kill()
	}
}
