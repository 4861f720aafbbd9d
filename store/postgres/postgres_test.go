package postgres

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"leadhost/store"
	"leadhost/store/postgres/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// openAt opens a store on url, closed when t ends.
func openAt(t *testing.T, url string, opts store.Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// A lead added, edited and read back is the lead the model made, with
// its whole history, through a second store on the same database (a
// second process).
func TestLeadRoundTrip(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	at := time.Date(2026, 11, 20, 10, 30, 0, 123456789, time.UTC)
	opts := store.Options{Now: func() time.Time { return at }, Feeds: []string{"send"}}
	a := openAt(t, url, opts)
	price, _ := store.ParseMoney("12.10")
	l, created, err := a.Add(ctx, store.NewLead{Offer: "acme", Ext: "P-1", Key: "k1", Base: price, Curr: 643,
		Fields: map[string]string{"name": "Иван"}, By: "hook:acme"})
	if err != nil || !created {
		t.Fatalf("add: %v %v", created, err)
	}
	if l.Created.Nanosecond()%1000 != 0 {
		t.Errorf("created %v: PostgreSQL keeps microseconds, the lead Add returns must too", l.Created)
	}
	if _, err := a.Edit(ctx, l.ID, store.Patch{Hold: &store.Hold{Days: 3}, Comment: ptr("ok"), By: "api"}); err != nil {
		t.Fatal(err)
	}
	b := openAt(t, url, opts)
	got, err := b.Get(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.StatusHold || got.Comment != "ok" || got.Base.String() != "12.10" || got.Fields["name"] != "Иван" ||
		got.Ext != "P-1" || got.Rev != 2 || !got.HoldUntil.Equal(l.Created.Add(72*time.Hour)) {
		t.Errorf("read back: %+v", got)
	}
	hist, err := b.History(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 2 || hist[0].By != "hook:acme" || hist[1].By != "api" || hist[0].Rev != 1 || hist[1].Rev != 2 {
		t.Errorf("history: %+v", hist)
	}
	if byExt, err := b.ByExt(ctx, "acme", "P-1"); err != nil || byExt.ID != l.ID {
		t.Errorf("by ext: %v, %v", byExt, err)
	}
	f, _ := b.Feed("send")
	items, err := f.Pending(ctx, 10)
	if err != nil || len(items) != 2 {
		t.Errorf("feed holds %d items (%v), want the creation and the hold", len(items), err)
	}
	if probs, err := b.Verify(ctx); err != nil || len(probs) > 0 {
		t.Errorf("verify: %v %v", probs, err)
	}
}

// Edits of one lead from two processes at once all land: none is lost
// to the other's write.
func TestConcurrentEditsLoseNothing(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	nodes := []*Store{openAt(t, url, store.Options{}), openAt(t, url, store.Options{})}
	l, _, err := nodes[0].Add(ctx, store.NewLead{Offer: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	const each = 25
	var wg sync.WaitGroup
	for n, s := range nodes {
		for i := range each {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := strings.Repeat("x", n*each+i+1)
				if _, err := s.Edit(ctx, l.ID, store.Patch{Comment: &c}); err != nil {
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
	got, err := nodes[1].Get(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Rev != 1+2*each {
		t.Errorf("rev %d after %d edits, want %d: edits were lost", got.Rev, 2*each, 1+2*each)
	}
	hist, _ := nodes[0].History(ctx, l.ID)
	if len(hist) != 1+2*each {
		t.Errorf("history holds %d entries, want %d", len(hist), 1+2*each)
	}
}

// Batches from two processes editing the same leads at once all land:
// a batch writes a lead as it computed it only while the lead is still
// at the revision the batch read, and applies its patches again to the
// lead as another batch left it otherwise. None is lost, and each lead's
// history is whole.
func TestConcurrentBatchesLoseNothing(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	nodes := []*Store{openAt(t, url, store.Options{Feeds: []string{"send"}}), openAt(t, url, store.Options{Feeds: []string{"send"}})}
	var ids []uint64
	for range 20 {
		l, _, err := nodes[0].Add(ctx, store.NewLead{Offer: "acme", Status: store.StatusProcessing})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, l.ID)
	}
	const writers, rounds = 2, 10 // per node
	var wg sync.WaitGroup
	for n, s := range nodes {
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := range rounds {
					page, err := s.List(ctx, store.Query{Offer: "acme", Limit: len(ids)})
					if err != nil {
						t.Error(err)
						return
					}
					b := s.NewBatch()
					b.Seed(page.Leads) // read before the others' commits: often stale by Commit
					to := store.StatusCallback
					if r%2 == 1 {
						to = store.StatusHold
					}
					for _, id := range ids {
						c := fmt.Sprintf("node %d writer %d round %d", n, w, r)
						if err := b.Edit(id, store.Patch{Comment: &c, Status: &to}); err != nil {
							t.Error(err)
							return
						}
					}
					if _, err := b.Commit(ctx); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	// Every batch changed every lead's comment, unlike any other's.
	want := uint32(1 + len(nodes)*writers*rounds)
	for _, id := range ids {
		got, err := nodes[1].Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Rev != want {
			t.Errorf("lead %d: rev %d after %d batches' edits, want %d: edits were lost", id, got.Rev, want-1, want)
		}
	}
	if probs, err := nodes[0].Verify(ctx); err != nil || len(probs) > 0 {
		t.Errorf("verify: %v %v", probs, err)
	}
}

// A database migrated by a newer leadhost is refused, saying so; one at
// the binary's version opens.
func TestOpenRefusesANewerSchema(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	s := openAt(t, url, store.Options{})
	if _, err := s.pool.Exec(ctx, `INSERT INTO schema_version (version, name) VALUES ($1, 'from the future')`, SchemaVersion()+1); err != nil {
		t.Fatal(err)
	}
	_, err := Open(ctx, url, store.Options{})
	if err == nil || !strings.Contains(err.Error(), "newer than this leadhost's") {
		t.Errorf("open of a newer schema: %v", err)
	}
}

// Two processes opening a new database at once migrate it once.
func TestConcurrentOpensMigrateOnce(t *testing.T) {
	url := pgtest.URL(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(context.Background(), url, store.Options{})
			if err != nil {
				t.Error(err)
				return
			}
			s.Close()
		}()
	}
	wg.Wait()
	s := openAt(t, url, store.Options{})
	var n int
	if err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM schema_version`).Scan(&n); err != nil || n != SchemaVersion() {
		t.Errorf("schema_version holds %d rows (%v), want %d", n, err, SchemaVersion())
	}
}

// What a person reads when the URL is wrong or the server is not there.
func TestOpenErrorsSayWhatIsWrong(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, url, want string
		invalid         bool
	}{
		{"not a URL", "postgres://u:secret@host:notaport/db", "cannot parse", true},
		{"no server", "postgres://leadhost:secret@/leads?host=" + dir + "&connect_timeout=2",
			`postgres: cannot reach database "leads" on ` + dir + `: connect: no such file or directory`, false},
		{"no such database", strings.Replace(pgtest.URL(t), "@/t", ":secret@/missing", 1),
			`database "missing`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Open(context.Background(), c.url, store.Options{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to say %q", err, c.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q shows the password", err)
			}
			if errors.Is(err, store.ErrInvalid) != c.invalid {
				t.Errorf("error %v: invalid input %v, want %v", err, !c.invalid, c.invalid)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// Text PostgreSQL cannot keep (a NUL byte, bytes that are not UTF-8) is
// refused as invalid input, saying why, and nothing is written.
func TestTextPostgreSQLCannotKeepIsInvalid(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, pgtest.URL(t), store.Options{})
	l, _, err := s.Add(ctx, store.NewLead{Offer: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"a\x00b", "\xff\xfe"} {
		if _, _, err := s.Add(ctx, store.NewLead{Offer: "acme", Comment: bad}); !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), "UTF-8 without NUL") {
			t.Errorf("add with comment %q: %v, want invalid input", bad, err)
		}
		if _, err := s.Edit(ctx, l.ID, store.Patch{Comment: &bad}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("edit to comment %q: %v, want invalid input", bad, err)
		}
	}
	if n, _ := s.CountLeads(ctx); n["acme"][store.StatusNew] != 1 {
		t.Errorf("leads after the refusals: %v, want the one", n)
	}
	if got, _ := s.Get(ctx, l.ID); got.Rev != 1 {
		t.Errorf("lead rev %d after refused edits, want 1", got.Rev)
	}
}

// migration_progress, once made by leadhost migrate itself, is a
// migration of the schema: a new database has it, and a database whose
// table an older migrate made (schema version 3) migrates with its
// progress kept.
func TestMigrationProgressIsInTheSchema(t *testing.T) {
	// oldProgressTable is the table as the import made it before.
	const oldProgressTable = `CREATE TABLE IF NOT EXISTS migration_progress (
	part   text    PRIMARY KEY,
	source text    NOT NULL,
	cursor bytea,
	rows   bigint  NOT NULL DEFAULT 0,
	done   boolean NOT NULL DEFAULT false)`
	cases := []struct {
		name     string
		before   func(t *testing.T, conn *pgx.Conn) // the database as an older leadhost left it
		wantRows int
	}{
		{"a new database", func(*testing.T, *pgx.Conn) {}, 0},
		{"a version 3 database an older migrate filled", func(t *testing.T, conn *pgx.Conn) {
			ctx := context.Background()
			steps, err := migrations()
			if err != nil {
				t.Fatal(err)
			}
			stmts := []string{`CREATE TABLE schema_version (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`}
			for _, m := range steps[:3] {
				stmts = append(stmts, m.sql, fmt.Sprintf(`INSERT INTO schema_version (version, name) VALUES (%d, '%s')`, m.version, m.name))
			}
			stmts = append(stmts, oldProgressTable, `INSERT INTO migration_progress (part, source, rows, done) VALUES ('leads', 'badger:/srv/data', 5000, true)`)
			for _, q := range stmts {
				if _, err := conn.Exec(ctx, q); err != nil {
					t.Fatalf("%.60s: %v", q, err)
				}
			}
		}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			url := pgtest.URL(t)
			conn, err := pgx.Connect(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			c.before(t, conn)
			s := openAt(t, url, store.Options{})
			var version, rows int
			if err := s.pool.QueryRow(ctx, `SELECT max(version) FROM schema_version`).Scan(&version); err != nil || version != SchemaVersion() || version < 4 {
				t.Errorf("schema version %d (%v), want %d, at least 4", version, err, SchemaVersion())
			}
			if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM migration_progress`).Scan(&rows); err != nil || rows != c.wantRows {
				t.Errorf("migration_progress: %d rows (%v), want %d", rows, err, c.wantRows)
			}
		})
	}
}

// Rows that point at no lead (history has no foreign key since migration
// 5: the statement that changes a lead writes its history) are found by
// Verify, each named.
func TestVerifyFindsRowsWithoutTheirLead(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, pgtest.URL(t), store.Options{})
	if _, _, err := s.Add(ctx, store.NewLead{Offer: "acme"}); err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		`INSERT INTO history (lead_id, rev, at, by, changes) VALUES (424242, 2, now(), 'test', '[]')`,
		`INSERT INTO feed_items (feed, lead_id, rev, offer, from_status, to_status, at, by) VALUES ('send', 434343, 1, 'acme', 1, 1, now(), 'test')`,
	} {
		if _, err := s.pool.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	probs, err := s.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(probs)
	for _, want := range []string{"history of lead 424242", "feed item of lead 434343"} {
		if !strings.Contains(got, want) {
			t.Errorf("Verify: %s; want a problem naming %s", got, want)
		}
	}
}
