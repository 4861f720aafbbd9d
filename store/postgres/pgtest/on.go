package pgtest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// On returns the URL of a new, empty database for t on the server at
// server (a URL naming one of its databases, postgres://…/postgres),
// dropped when t ends; with server "" it is URL(t). Benchmarks use it to
// measure on a server as shipped (fsync on), which the test server is
// not.
func On(t testing.TB, server string) string {
	t.Helper()
	if server == "" {
		return URL(t)
	}
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(server)
	if err != nil {
		t.Fatalf("server %s: %v", server, err)
	}
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatalf("server %s: %v", server, err)
	}
	name := fmt.Sprintf("leadhost_test_%d_%d", os.Getpid(), time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		conn.Close(ctx)
		t.Fatalf("server %s: %v", server, err)
	}
	t.Cleanup(func() {
		conn.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)")
		conn.Close(ctx)
	})
	url := strings.Replace(server, "/"+cfg.Database, "/"+name, 1)
	if !strings.Contains(url, name) {
		t.Fatalf("server %s: name one of its databases (postgres://…/postgres)", server)
	}
	return url
}
