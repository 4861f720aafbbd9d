package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"leadhost/host"
	"leadhost/store"
	"leadhost/store/postgres"
	"leadhost/store/postgres/pgtest"
)

// migrateFeeds are the outboxes serve keeps.
var migrateFeeds = []string{"send", "postback"}

// makeMigrateSource fills a Badger store in dir with n leads of every
// shape a migrate must carry: idempotency keys, partner ids, goals,
// money with its scale, fields, edits (history), holds, approvals, and
// outbox items pending, in flight, deferred and held, and a journal.
// With one writer lead i has id i; more add faster, ids in any order.
// Writes are not synced: the store is made, not crashed.
func makeMigrateSource(t testing.TB, dir string, n, writers int) {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(store.Options{Dir: dir, Feeds: migrateFeeds, GCInterval: -1, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	upsell, err := s.DefineGoal(ctx, "shop", "upsell")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DefineGoal(ctx, "crm", "vip"); err != nil {
		t.Fatal(err)
	}
	base, _ := store.ParseMoney("12.10")
	wm, _ := store.ParseMoney("3.500")
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w + 1; i <= n; i += writers {
				errs <- addMigrateLead(ctx, s, i, upsell, base, wm)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Outbox items in every state: one in flight, one deferred, one
	// held for a person, the rest pending.
	send, _ := s.Feed("send")
	items, err := send.Pending(ctx, 3)
	if err != nil || len(items) < 3 {
		t.Fatalf("send outbox: %v, %d items", err, len(items))
	}
	if _, err := send.Begin(ctx, items[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := send.Retry(ctx, items[1], time.Now().Add(time.Hour), "partner said 503"); err != nil {
		t.Fatal(err)
	}
	if err := send.Hold(ctx, items[2], "sent, no answer"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		err := s.RecordWritten(store.JournalEntry{Offer: "shop", Kind: store.KindHook, Status: store.JournalOK,
			Summary: fmt.Sprintf("webhook %d", i), Request: "GET /hook/shop?order=" + fmt.Sprint(i), Logs: []string{"hello"}})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func addMigrateLead(ctx context.Context, s *store.Badger, i int, goal uint32, base, wm store.Money) error {
	offer := "crm"
	if i%2 == 0 {
		offer = "shop"
	}
	nl := store.NewLead{Offer: offer, Base: base, Counts: 1 + i%3, Comment: fmt.Sprintf("lead %d", i),
		Fields: map[string]string{"name": fmt.Sprintf("Name %d", i), "phone": fmt.Sprintf("+7900%07d", i)}, By: "hook:" + offer}
	if i%2 == 0 {
		nl.Key = fmt.Sprintf("order-%d", i)
	}
	if i%3 == 0 {
		nl.Ext = fmt.Sprintf("ext-%d", i)
	}
	if i%5 == 0 && offer == "shop" {
		nl.Goal = goal
	}
	if i%6 == 0 {
		nl.Cash = store.Cash{WM: wm}
	}
	l, _, err := s.Add(ctx, nl)
	if err != nil {
		return err
	}
	processing, note := store.StatusProcessing, "called"
	switch {
	case i%4 == 0:
		_, err = s.Edit(ctx, l.ID, store.Patch{Status: &processing, Comment: &note, By: "script:" + offer + "/check.lua"})
	case i%7 == 0:
		_, err = s.Edit(ctx, l.ID, store.Patch{Accept: true, By: "api"})
	case i%11 == 0:
		_, err = s.Edit(ctx, l.ID, store.Patch{Hold: &store.Hold{Days: 3}, By: "api"})
	}
	return err
}

// migrateRun runs `leadhost migrate` with args and returns its exit
// code, stdout and stderr.
func migrateRun(ctx context.Context, args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(ctx, append([]string{"migrate"}, args...), nil, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// `leadhost migrate` copies every lead with its id, revision, fields,
// money and history, the keys, goals, outboxes and journal as they are;
// PostgreSQL's next ids go on past the copied ones; and the verify at
// the end says so.
func TestMigrateCopiesEveryRecord(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.URL(t)
	dir := filepath.Join(t.TempDir(), "data")
	makeMigrateSource(t, dir, 300, 1)

	code, stdout, stderr := migrateRun(ctx, "--from", "badger:"+dir, "--to", url, "--page", "64")
	if code != exitOK {
		t.Fatalf("migrate: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "copied 300 leads") || !strings.Contains(stdout, "verified: 300 leads") || !strings.Contains(stdout, "— identical") {
		t.Errorf("migrate says:\n%s", stdout)
	}

	src, err := store.Open(store.Options{Dir: dir, Feeds: migrateFeeds, GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := postgres.Open(ctx, url, store.Options{Feeds: migrateFeeds})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()

	for id := uint64(1); id <= 300; id++ {
		want, err := src.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		got, err := dst.Get(ctx, id)
		if err != nil {
			t.Fatalf("lead %d: %v", id, err)
		}
		if !sameLead(want, got) {
			t.Errorf("lead %d:\nBadger     %+v\nPostgreSQL %+v", id, want, got)
		}
		wh, _ := src.History(ctx, id)
		gh, err := dst.History(ctx, id)
		if err != nil || !sameJSON(wh, gh) {
			t.Errorf("lead %d history (%v):\nBadger     %s\nPostgreSQL %s", id, err, asJSON(wh), asJSON(gh))
		}
	}
	// The outboxes as they were: in flight, deferred, held, pending.
	for _, name := range migrateFeeds {
		sf, _ := src.Feed(name)
		df, _ := dst.Feed(name)
		for _, list := range []func(store.Feed) ([]store.FeedItem, error){
			func(f store.Feed) ([]store.FeedItem, error) { return f.Pending(ctx, 1000) },
			func(f store.Feed) ([]store.FeedItem, error) { return f.Held(ctx, 1000) },
		} {
			want, _ := list(sf)
			got, err := list(df)
			if err != nil || (name == "send" && len(want) == 0) || !sameJSON(want, got) {
				t.Errorf("outbox %s (%v):\nBadger     %s\nPostgreSQL %s", name, err, asJSON(want), asJSON(got))
			}
		}
	}
	want, _, _ := src.JournalList(ctx, store.JournalQuery{Limit: 100})
	got, _, err := dst.JournalList(ctx, store.JournalQuery{Limit: 100})
	if err != nil || len(want) != 10 || !sameJSON(want, got) {
		t.Errorf("journal (%v):\nBadger     %s\nPostgreSQL %s", err, asJSON(want), asJSON(got))
	}
	// A repeated webhook finds its lead by the key; an ext its lead.
	l, created, err := dst.Add(ctx, store.NewLead{Offer: "shop", Key: "order-42", Fields: map[string]string{"name": "again"}})
	if err != nil || created || l.ID != 42 {
		t.Errorf("key order-42 again: lead %v, created %v, %v; want lead 42, not created", l, created, err)
	}
	if l, err := dst.ByExt(ctx, "crm", "ext-9"); err != nil || l.ID != 9 {
		t.Errorf("ext-9: %v, %v", l, err)
	}
	// Goals keep their ids; new leads and goals take new ones.
	for _, g := range []struct{ offer, code string }{{"shop", "upsell"}, {"crm", "vip"}} {
		want, _ := src.GoalByCode(ctx, g.offer, g.code)
		if got, err := dst.GoalByCode(ctx, g.offer, g.code); err != nil || got != want {
			t.Errorf("goal %s/%s: %d, %v; want %d", g.offer, g.code, got, err, want)
		}
	}
	if id, err := dst.DefineGoal(ctx, "shop", "new"); err != nil || id <= 2 {
		t.Errorf("a new goal: id %d, %v; want past the copied ones", id, err)
	}
	if l, _, err := dst.Add(ctx, store.NewLead{Offer: "shop"}); err != nil || l.ID <= 300 {
		t.Errorf("a new lead: %v, %v; want an id past 300", l, err)
	}
}

// sameLead says whether two leads hold the same, times to the
// microsecond PostgreSQL keeps.
func sameLead(a, b *store.Lead) bool {
	return store.LeadDigest(a) == store.LeadDigest(b) && a.ID == b.ID
}

// sameJSON compares what the API would show of a and b, times to the
// microsecond.
func sameJSON(a, b any) bool { return asJSON(a) == asJSON(b) }

func asJSON(v any) string {
	b, _ := json.Marshal(v)
	var x any
	json.Unmarshal(b, &x)
	return fmt.Sprint(microseconds(x))
}

// microseconds cuts RFC 3339 times in a decoded JSON value to
// microseconds.
func microseconds(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			v[k] = microseconds(x)
		}
	case []any:
		for i, x := range v {
			v[i] = microseconds(x)
		}
	case string:
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return t.Truncate(time.Microsecond).Format(time.RFC3339Nano)
		}
	}
	return v
}

// migrate refuses a destination it did not fill and a source a serve
// holds.
func TestMigrateRefuses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	makeMigrateSource(t, dir, 5, 1)

	t.Run("a database with leads of its own", func(t *testing.T) {
		url := pgtest.URL(t)
		dst, err := postgres.Open(ctx, url, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := dst.Add(ctx, store.NewLead{Offer: "shop"}); err != nil {
			t.Fatal(err)
		}
		dst.Close()
		code, _, stderr := migrateRun(ctx, "--from", "badger:"+dir, "--to", url)
		if code != exitError || !strings.Contains(stderr, "did not put there") || !strings.Contains(stderr, "1 leads") {
			t.Errorf("exit %d, stderr %q; want a refusal naming the lead it holds", code, stderr)
		}
	})
	t.Run("a source a serve holds", func(t *testing.T) {
		url := pgtest.URL(t)
		held, err := store.Open(store.Options{Dir: dir, GCInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer held.Close()
		code, _, stderr := migrateRun(ctx, "--from", "badger:"+dir, "--to", url)
		if code != exitError || !strings.Contains(stderr, "stop serve first") {
			t.Errorf("exit %d, stderr %q; want: stop serve first", code, stderr)
		}
	})
	t.Run("a database another source filled", func(t *testing.T) {
		url := pgtest.URL(t)
		other := filepath.Join(t.TempDir(), "other")
		makeMigrateSource(t, other, 3, 1)
		if code, _, stderr := migrateRun(ctx, "--from", "badger:"+other, "--to", url); code != exitOK {
			t.Fatalf("first migrate: %s", stderr)
		}
		code, _, stderr := migrateRun(ctx, "--from", "badger:"+dir, "--to", url)
		if code != exitError || !strings.Contains(stderr, "a migrate from badger:"+other) {
			t.Errorf("exit %d, stderr %q; want a refusal naming the other source", code, stderr)
		}
	})
}

// cancelOnProgress cancels a migrate when it reports its first tenth.
type cancelOnProgress struct {
	cancel context.CancelFunc
	buf    bytes.Buffer
}

func (w *cancelOnProgress) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("leads (")) {
		w.cancel()
	}
	return w.buf.Write(p)
}

// migrateChildEnv, set, makes the test binary run `leadhost migrate`
// with the arguments it holds (tab-separated): the process a test kills.
const migrateChildEnv = "LEADHOST_MIGRATE_CHILD_ARGS"

// A migrate stopped halfway — cancelled, or killed with SIGKILL — and run
// again ends with the database an uninterrupted one makes: nothing
// copied twice, nothing missing.
func TestMigrateResumesWhereItStopped(t *testing.T) {
	if args := os.Getenv(migrateChildEnv); args != "" {
		tuneRuntime(os.Getenv) // as the binary runs
		os.Exit(run(context.Background(), strings.Split(args, "\t"), nil, os.Stdout, os.Stderr))
	}
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	makeMigrateSource(t, dir, 1000, 4)
	whole := pgtest.URL(t)
	if code, _, stderr := migrateRun(context.Background(), "--from", "badger:"+dir, "--to", whole, "--page", "50"); code != exitOK {
		t.Fatalf("uninterrupted migrate: %s", stderr)
	}
	want := dumpDatabase(t, whole)
	tests := []struct {
		name string
		stop func(t *testing.T, args []string)
	}{
		{"cancelled", func(t *testing.T, args []string) {
			ctx, cancel := context.WithCancel(context.Background())
			w := &cancelOnProgress{cancel: cancel}
			if code := run(ctx, args, nil, &bytes.Buffer{}, w); code != exitError || !strings.Contains(w.buf.String(), "run the same command again") {
				t.Fatalf("stopped migrate: exit %d, stderr %q", code, w.buf.String())
			}
		}},
		{"killed", func(t *testing.T, args []string) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestMigrateResumesWhereItStopped$")
			cmd.Env = append(os.Environ(), migrateChildEnv+"="+strings.Join(args, "\t"))
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			line, err := bufio.NewReader(stderr).ReadString('\n')
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			if !strings.Contains(line, "leads (") {
				t.Fatalf("the migrate said %q (%v), not its progress", line, err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url := pgtest.URL(t)
			args := []string{"migrate", "--from", "badger:" + dir, "--to", url, "--page", "50"}
			tc.stop(t, args)
			if n := countRows(t, url, "leads"); n == 0 || n >= 1000 {
				t.Fatalf("the stopped migrate copied %d leads: want it stopped midway", n)
			} else {
				t.Logf("stopped with %d of 1000 leads copied", n)
			}
			code, stdout, stderr := migrateRun(context.Background(), args[1:]...)
			if code != exitOK || !strings.Contains(stderr, "going on from an earlier run") || !strings.Contains(stdout, "— identical") {
				t.Fatalf("second migrate: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
			}
			got := dumpDatabase(t, url)
			for table := range want {
				if want[table] != got[table] {
					t.Errorf("table %s differs between the uninterrupted and the resumed migrate:\n%.2000s\n---\n%.2000s", table, want[table], got[table])
				}
			}
		})
	}
}

func countRows(t *testing.T, url, table string) int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// dumpDatabase is each table's rows, and the sequences, as text.
func dumpDatabase(t *testing.T, url string) map[string]string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	out := map[string]string{}
	for table, order := range map[string]string{
		"leads": "id", "history": "lead_id, rev", "goals": "id", "idempotency_keys": "offer, key",
		"feed_items": "feed, lead_id, rev", "journal": "id", "migration_progress": "part",
		"lead_ids": "", "goal_ids": "",
	} {
		// journal.landed is when a row reached the database, by its clock:
		// not what was copied.
		q := fmt.Sprintf("SELECT (to_jsonb(t) - 'landed')::text FROM %s t ORDER BY %s", table, order)
		if order == "" { // a sequence
			q = fmt.Sprintf("SELECT last_value::text || ' ' || is_called::text FROM %s", table)
		}
		rows, err := conn.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			b.WriteString(s + "\n")
		}
		rows.Close()
		out[table] = b.String()
	}
	return out
}

// --verify-only finds what differs between the two stores, names it and
// exits 1.
func TestMigrateVerifyFindsDifferences(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.URL(t)
	dir := filepath.Join(t.TempDir(), "data")
	makeMigrateSource(t, dir, 50, 1)
	if code, _, stderr := migrateRun(ctx, "--from", "badger:"+dir, "--to", url); code != exitOK {
		t.Fatalf("migrate: %s", stderr)
	}
	if code, stdout, _ := migrateRun(ctx, "--from", "badger:"+dir, "--to", url, "--verify-only"); code != exitOK || !strings.Contains(stdout, "verified: 50 leads") {
		t.Fatalf("verify of a clean copy: exit %d, %s", code, stdout)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`UPDATE leads SET fields = '{"name": "Someone else"}' WHERE id = 5`,
		`UPDATE leads SET rev = rev + 1 WHERE id = 8`,
		`DELETE FROM history WHERE lead_id = 12`,
		`DELETE FROM feed_items WHERE lead_id = 13`,
		`DELETE FROM leads WHERE id = 13`,
		`DELETE FROM journal WHERE id = (SELECT min(id) FROM journal)`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close(ctx)
	code, stdout, _ := migrateRun(ctx, "--from", "badger:"+dir, "--to", url, "--verify-only")
	for _, want := range []string{
		"leads: 50 in Badger, 49 in PostgreSQL",
		"journal entries: 10 in Badger, 9 in PostgreSQL",
		"lead 5: revision 1 on both sides, but its fields differ",
		"lead 8: revision 2 in Badger, 3 in PostgreSQL",
		"lead 13: in Badger, not in PostgreSQL",
		"PostgreSQL: lead 12: history has 0 of its entries 2..rev",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("verify does not say %q:\n%s", want, stdout)
		}
	}
	if code != exitError {
		t.Errorf("exit %d: want 1", code)
	}
}

// The progress goes to a log one line per tenth copied.
func TestMigrateProgressLinesPerTenth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		total, before int64
		steps         []int64
		want          []string
	}{
		{"from the start", 1000, 0, []int64{50, 50, 250, 650}, []string{"100 / 1000 leads (10%)", "350 / 1000 leads (35%)", "1000 / 1000 leads (100%)"}},
		{"going on", 1000, 500, []int64{100, 400}, []string{"600 / 1000 leads (60%)", "1000 / 1000 leads (100%)"}},
		{"nothing to copy", 0, 0, []int64{0}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			p := newMigrateProgress(&out, tc.total, tc.before)
			for _, n := range tc.steps {
				p.add(n)
			}
			p.end()
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if out.Len() == 0 {
				lines = nil
			}
			var got []string
			for _, l := range lines {
				got = append(got, strings.TrimPrefix(strings.Split(l, ",")[0], "migrate: "))
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("lines %q, want %q", got, tc.want)
			}
		})
	}
}

var (
	makeStoreDir   = flag.String("make-migrate-store", "", "TestMakeMigrateStore: fill this (new) folder with a Badger store to migrate")
	makeStoreLeads = flag.Int("make-migrate-leads", 1_000_000, "TestMakeMigrateStore: leads to make")
)

// TestMakeMigrateStore makes the store the README's migrate figures come
// from; it runs only when asked:
//
//	go test ./cmd/leadhost -run TestMakeMigrateStore -make-migrate-store /tmp/m1 -make-migrate-leads 1000000
func TestMakeMigrateStore(t *testing.T) {
	if *makeStoreDir == "" {
		t.Skip("makes a store only with -make-migrate-store DIR")
	}
	start := time.Now()
	makeMigrateSource(t, *makeStoreDir, *makeStoreLeads, 8)
	t.Logf("%d leads in %s in %s", *makeStoreLeads, *makeStoreDir, time.Since(start).Round(time.Millisecond))
}

// --from backup:FILE migrates what `leadhost backup` wrote, restored
// into a temporary folder beside the file and removed after.
func TestMigrateFromABackup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.URL(t)
	dir := filepath.Join(t.TempDir(), "data")
	makeMigrateSource(t, dir, 30, 1)
	src, err := store.Open(store.Options{Dir: dir, GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	err = src.Backup(ctx, &buf, nil)
	src.Close()
	if err != nil {
		t.Fatal(err)
	}
	folder := t.TempDir()
	file := filepath.Join(folder, "leads.backup")
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := migrateRun(ctx, "--from", "backup:"+file, "--to", url)
	if code != exitOK || !strings.Contains(stdout, "verified: 30 leads") || !strings.Contains(stdout, "— identical") {
		t.Fatalf("migrate --from backup: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if left, _ := filepath.Glob(filepath.Join(folder, ".leadhost-migrate-*")); len(left) > 0 {
		t.Errorf("the restored copy is left behind: %v", left)
	}
	// The same file again: nothing to copy, the same verify.
	code, stdout, _ = migrateRun(ctx, "--from", "backup:"+file, "--to", url)
	if code != exitOK || !strings.Contains(stdout, "copied 0 leads (and 30 before") || !strings.Contains(stdout, "— identical") {
		t.Errorf("a second migrate of the same backup: exit %d\n%s", code, stdout)
	}
}

// Without --to, migrate fills the database LEADHOST_DATABASE_URL names,
// as serve would use it.
func TestMigrateTakesTheURLFromTheEnvironment(t *testing.T) {
	url := pgtest.URL(t)
	dir := filepath.Join(t.TempDir(), "data")
	makeMigrateSource(t, dir, 10, 1)
	t.Setenv(host.DatabaseURLEnv, url)
	code, stdout, stderr := migrateRun(context.Background(), "--from", "badger:"+dir)
	if code != exitOK || !strings.Contains(stdout, "verified: 10 leads") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if n := countRows(t, url, "leads"); n != 10 {
		t.Errorf("the database holds %d leads, want 10", n)
	}
}
