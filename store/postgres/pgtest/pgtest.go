// Package pgtest gives tests a real PostgreSQL: one server per test
// binary, started on first use from the installed PostgreSQL (Debian's
// postgresql package) in a temporary folder, listening only on a unix
// socket there, and a fresh database per test. No mock: the store's
// PostgreSQL backend is held to the same server it meets in production.
//
// A package that uses it runs its tests through Main, which stops the
// server when they end:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
// Without PostgreSQL installed, URL skips the test and says why; with the
// environment variable CI set it fails instead (.ci/run installs it).
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNotInstalled: no PostgreSQL binaries were found on this machine.
var ErrNotInstalled = errors.New("PostgreSQL is not installed (no initdb on PATH or under /usr/lib/postgresql/*/bin; apt install postgresql)")

// Server is one PostgreSQL started for tests.
type Server struct {
	dir  string // the temporary folder: data in dir/data, the socket in dir
	bin  string // PostgreSQL's programs
	cred *syscall.Credential
	cmd  *exec.Cmd
	done chan struct{} // closed when the server process ended
	next atomic.Int64  // databases made so far
}

// shared is the test binary's server, started by the first URL call.
// Package-level because a test binary has exactly one and TestMain (Main)
// must find it to stop it.
var shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Main runs the tests and stops the server they started, if any; its
// result is the exit code for os.Exit.
func Main(m *testing.M) int {
	code := m.Run()
	if shared.srv != nil {
		if err := shared.srv.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
		}
	}
	return code
}

// URL returns the URL of a new, empty database for t on the test binary's
// server, dropped when t ends. Without PostgreSQL it skips t, or fails it
// when CI is set.
func URL(t testing.TB) string {
	t.Helper()
	shared.once.Do(func() { shared.srv, shared.err = Start() })
	if shared.err != nil {
		skipOrFail(t, shared.err)
	}
	url, drop, err := shared.srv.NewDatabase(context.Background())
	if err != nil {
		t.Fatalf("test PostgreSQL: %v", err)
	}
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Errorf("test PostgreSQL: %v", err)
		}
	})
	return url
}

// skipOrFail ends t for a server that did not start: a skip that says
// why when PostgreSQL is not installed, unless CI is set.
func skipOrFail(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, ErrNotInstalled) && os.Getenv("CI") == "" {
		t.Skipf("%v: the PostgreSQL store's tests do not run here", err)
		return
	}
	t.Fatalf("test PostgreSQL: %v", err)
}

// Own starts a server for t alone (one it may crash), stopped when t
// ends; it skips or fails as URL does without PostgreSQL.
func Own(t testing.TB) *Server {
	t.Helper()
	s, err := Start()
	if err != nil {
		skipOrFail(t, err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("test PostgreSQL: %v", err)
		}
	})
	return s
}

// BinDir finds the folder of PostgreSQL's programs: where initdb is on
// PATH, else the newest /usr/lib/postgresql/<version>/bin (Debian keeps
// them off PATH).
func BinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", ErrNotInstalled
}

// version is the major version in /usr/lib/postgresql/<version>/bin.
func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// Start initialises a cluster in a new temporary folder and starts a
// server on a unix socket there. As root, both run as the postgres user:
// initdb refuses root.
func Start() (*Server, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "leadhost-pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, bin: bin}
	cred, err := s.owner()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", s.dataDir(), "-U", "postgres",
		"--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions")
	s.cred = cred
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb in %s: %v: %s", dir, err, lastLines(out))
	}
	if err := s.start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// start runs the server on the cluster in s.dir and waits until it takes
// connections. Unix socket only: nothing listens on the network. fsync
// off: tests make thousands of commits on a shared 2-core machine, and a
// crash of the machine is not what they test (a server that crashes
// still keeps every commit: it is in the page cache).
func (s *Server) start() error {
	logFile, err := os.OpenFile(filepath.Join(s.dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	s.done = make(chan struct{})
	s.cmd = exec.Command(filepath.Join(s.bin, "postgres"), "-D", s.dataDir(), "-k", s.dir,
		"-c", "listen_addresses=", "-c", "fsync=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200", "-c", "shared_buffers=32MB")
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	// The server dies with the test binary, even one killed: SIGQUIT is
	// PostgreSQL's immediate shutdown.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Pdeathsig: syscall.SIGQUIT}
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	done := s.done
	go func() { s.cmd.Wait(); close(done) }()
	if err := s.waitReady(30 * time.Second); err != nil {
		s.Stop()
		return err
	}
	return nil
}

// Crash stops the server as a crash would: an immediate shutdown, no
// checkpoint, its sessions cut; the next start recovers from the WAL.
func (s *Server) Crash() {
	s.cmd.Process.Signal(syscall.SIGQUIT)
	<-s.done
}

// Restart starts the server again on its data, after Crash.
func (s *Server) Restart() error { return s.start() }

func (s *Server) dataDir() string { return filepath.Join(s.dir, "data") }

// owner is who runs the server: nil (this process's user), or, as root,
// the postgres user, given the temporary folder.
func (s *Server) owner() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, and there is no postgres user to run PostgreSQL as (initdb refuses root): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(s.dir, uid, gid); err != nil {
		return nil, err
	}
	// MkdirTemp's folder is 0700 and its parent may be too: the
	// postgres user must reach it.
	if err := os.Chmod(s.dir, 0o755); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// waitReady waits until the server takes connections.
func (s *Server) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, s.url("postgres"))
		cancel()
		if err == nil {
			return conn.Close(context.Background())
		}
		select {
		case <-s.done:
			return fmt.Errorf("postgres exited at start: %s", s.log())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres not ready after %v: %v: %s", limit, err, s.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *Server) log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
	return lastLines(b)
}

// url is the URL of database db on the server's socket.
func (s *Server) url(db string) string {
	return "postgres://postgres@/" + db + "?host=" + s.dir + "&sslmode=disable"
}

// NewDatabase creates an empty database and returns its URL and a
// function that drops it.
func (s *Server) NewDatabase(ctx context.Context) (url string, drop func() error, err error) {
	name := fmt.Sprintf("t%d", s.next.Add(1))
	if err := s.admin(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	drop = func() error {
		// FORCE: a test that failed may have left connections open.
		if err := s.admin(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		return nil
	}
	return s.url(name), drop, nil
}

func (s *Server) admin(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, s.url("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// Stop shuts the server down (fast: sessions are cut) and removes its
// folder.
func (s *Server) Stop() error {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			s.cmd.Process.Kill()
			<-s.done
		}
	}
	return os.RemoveAll(s.dir)
}

// lastLines keeps the end of a program's output for an error message.
func lastLines(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	return strings.Join(lines, "\n")
}
