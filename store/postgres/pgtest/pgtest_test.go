package pgtest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// Each test gets its own empty database on the one server.
func TestURLGivesEachTestAnEmptyDatabase(t *testing.T) {
	ctx := context.Background()
	var names []string
	for range 2 {
		conn, err := pgx.Connect(ctx, URL(t))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var name string
		var tables int
		if err := conn.QueryRow(ctx, `SELECT current_database(), (SELECT count(*) FROM pg_tables WHERE schemaname = 'public')`).Scan(&name, &tables); err != nil {
			t.Fatal(err)
		}
		if tables != 0 {
			t.Errorf("database %s holds %d tables, want none", name, tables)
		}
		if _, err := conn.Exec(ctx, `CREATE TABLE mine (x int)`); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	if names[0] == names[1] {
		t.Errorf("two calls gave the same database %s", names[0])
	}
}

// recordingTB notes a skip or a failure instead of ending the test.
type recordingTB struct {
	testing.TB
	skipped, failed string
}

func (r *recordingTB) Helper()                        {}
func (r *recordingTB) Skipf(format string, a ...any)  { r.skipped = fmt.Sprintf(format, a...) }
func (r *recordingTB) Fatalf(format string, a ...any) { r.failed = fmt.Sprintf(format, a...) }

// Without PostgreSQL a test skips and says how to get it; under CI it
// fails instead: CI never skips the PostgreSQL store's tests.
func TestWithoutPostgreSQLSkipsButCIFails(t *testing.T) {
	t.Setenv("CI", "")
	r := &recordingTB{TB: t}
	skipOrFail(r, ErrNotInstalled)
	if !strings.Contains(r.skipped, "apt install postgresql") || r.failed != "" {
		t.Errorf("without CI: skipped %q, failed %q; want a skip that says how to install it", r.skipped, r.failed)
	}
	t.Setenv("CI", "1")
	r = &recordingTB{TB: t}
	skipOrFail(r, ErrNotInstalled)
	if r.skipped != "" || !strings.Contains(r.failed, "PostgreSQL is not installed") {
		t.Errorf("under CI: skipped %q, failed %q; want a failure", r.skipped, r.failed)
	}
}
