package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The schema is leadhost's own: versioned migrations in the binary,
// migrations/NNN_what.sql, applied in order by Open. Each runs in one
// transaction with its version recorded in schema_version, under an
// advisory lock, so that nodes starting together migrate once. A database
// whose version is newer than the binary's is refused: an older leadhost
// would write rows the newer schema does not expect.

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLock is the key of the advisory lock migrations hold (any
// fixed number: "leadhost" in ASCII).
const migrationLock = 0x6c656164686f7374

// migration is one step of the schema.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations are the binary's steps, in order; their versions are 1..n.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, name := range names {
		base := path.Base(name)
		num, _, _ := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if err != nil {
			return nil, fmt.Errorf("migration %s: no version number", base)
		}
		b, err := migrationFiles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: base, sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: want version %d", m.name, i+1)
		}
	}
	return out, nil
}

// SchemaVersion is the version of the schema this binary writes.
func SchemaVersion() int {
	ms, _ := migrations()
	return len(ms)
}

// migrate brings the database's schema to the binary's version.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	steps, err := migrations()
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		// Held until the transaction ends: a second node waits here,
		// then finds the schema current.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
			return fmt.Errorf("schema: lock for migration: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
			version    integer     PRIMARY KEY,
			name       text        NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return fmt.Errorf("schema: %w", err)
		}
		var have int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&have); err != nil {
			return fmt.Errorf("schema: read its version: %w", err)
		}
		if have > len(steps) {
			return fmt.Errorf("the database's schema is version %d, newer than this leadhost's (%d): run a leadhost at least as new as the one that migrated it", have, len(steps))
		}
		for _, m := range steps[have:] {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("schema: migration %s: %w", m.name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_version (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
				return fmt.Errorf("schema: migration %s: %w", m.name, err)
			}
		}
		return nil
	})
}
