package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"leadhost/host/hosttest"
	"leadhost/store/postgres/pgtest"
)

// The PostgreSQL tests of this package (serve --store postgres://…)
// share one test server, stopped when the tests end.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// `leadhost serve --store postgres://…` keeps leads in PostgreSQL: a
// webhook's lead is a row there, the admin API reads it back with its
// history, and Offerum gets it once.
func TestServeOnPostgreSQL(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	of := startOfferum(t, func(n int) (int, string) { return 200, fmt.Sprintf(`{"status":"ok","id":%d}`, 777000+n) })
	scripts := exampleScripts(t, of.URL, "getcourse-offerum")
	data := filepath.Join(t.TempDir(), "data")

	ctx, cancel := context.WithCancel(context.Background())
	stdout, w := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- runServe(ctx, []string{"--listen", "127.0.0.1:0", "--data", data, "--scripts", scripts, "--store", url}, w, io.Discard)
		w.Close()
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("serve said nothing: %v", err)
	}
	go io.Copy(io.Discard, stdout)
	// "leadhost listening on 127.0.0.1:PORT (store postgres://…, data …, …)"
	addr, _, _ := strings.Cut(strings.TrimPrefix(line, "leadhost listening on "), " ")
	if !strings.Contains(line, "store postgres://") {
		t.Errorf("serve says %q: want it to name the PostgreSQL store", line)
	}

	call, err := os.ReadFile("../../scripts/getcourse-offerum/testdata/getcourse-call.txt")
	if err != nil {
		t.Fatal(err)
	}
	code, body := httpCall(t, "GET", "http://"+addr+exampleSecrets.Replace(strings.TrimSpace(string(call))), "")
	var reply struct {
		Lead    uint64 `json:"lead"`
		Created bool   `json:"created"`
	}
	if err := json.Unmarshal(body, &reply); code != 200 || err != nil || !reply.Created {
		t.Fatalf("webhook answered %d %s", code, body)
	}

	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var offer, phone string
	if err := conn.QueryRow(context.Background(), `SELECT offer, fields->>'phone' FROM leads WHERE id = $1`, int64(reply.Lead)).Scan(&offer, &phone); err != nil {
		t.Fatalf("lead %d is not in PostgreSQL: %v", reply.Lead, err)
	}
	if offer != "getcourse-offerum" || phone != "79990001122" {
		t.Errorf("row of lead %d: offer %q phone %q", reply.Lead, offer, phone)
	}

	hosttest.Eventually(t, "the lead sent and read back through the admin API", func() bool {
		code, body := httpCall(t, "GET", fmt.Sprintf("http://%s/api/leads/%d", addr, reply.Lead), "")
		return code == 200 && strings.Contains(string(body), `"ext":"777001"`) && strings.Contains(string(body), `"status":2`)
	})
	code, body = httpCall(t, "GET", fmt.Sprintf("http://%s/api/leads/%d/history", addr, reply.Lead), "")
	if code != 200 || !strings.Contains(string(body), `"rev":2`) || !strings.Contains(string(body), `"field":"ext"`) {
		t.Errorf("history through the admin API: %d %s", code, body)
	}
	// The CLI, pointed at the same database, reads it too: PostgreSQL
	// is shared by any number of processes.
	code, out, errOut := leadhost(t, "", "lead", "get", fmt.Sprint(reply.Lead), "--store", url, "--scripts", scripts, "--data", data)
	if code != exitOK || !strings.Contains(out, "777001") {
		t.Errorf("lead get --store postgres://…: %d\n%s%s", code, out, errOut)
	}
	if n := len(of.Requests()); n != 1 {
		t.Errorf("offerum got %d calls, want 1", n)
	}
	if _, err := os.Stat(filepath.Join(data, "MANIFEST")); err == nil {
		t.Errorf("a Badger database was made in %s beside PostgreSQL", data)
	}
}

// journal, verify, backup and restore find a PostgreSQL store as lead
// and check do (--store, or leadhost.toml): journal and verify read it
// beside any serve; backup and restore say to use PostgreSQL's tools.
func TestStoreCommandsOnPostgreSQL(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	scripts := "../../host/testdata/scripts"
	fixture, err := os.ReadFile("../../testdata/leads/ivan.json")
	if err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := leadhost(t, string(fixture), "lead", "add", "--store", url, "--scripts", scripts); code != exitOK {
		t.Fatalf("lead add --store postgres://…: exit %d, %s", code, errOut)
	}
	dir := t.TempDir()
	settings := filepath.Join(dir, "leadhost.toml")
	if err := os.WriteFile(settings, []byte(fmt.Sprintf("store = %q\n", url)), 0o600); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(dir, "leads.backup")
	data := filepath.Join(dir, "data") // no Badger store: none is to be made there
	cases := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"journal", []string{"journal", "--store", url, "--data", data}, exitOK, "lead ", ""},
		{"journal, leadhost.toml's store", []string{"journal", "--config", settings, "--data", data}, exitOK, "lead ", ""},
		{"verify", []string{"verify", "--store", url, "--data", data}, exitOK, ": every index matches its record", ""},
		{"backup", []string{"backup", backup, "--store", url, "--data", data}, exitError, "", "pg_dump"},
		{"backup, leadhost.toml's store", []string{"backup", backup, "--config", settings}, exitError, "", "pg_dump"},
		{"restore", []string{"restore", backup, "--store", url, "--data", data}, exitError, "", "pg_restore"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := leadhost(t, "", c.args...)
			if code != c.code || !strings.Contains(out, c.stdout) || !strings.Contains(errOut, c.stderr) {
				t.Errorf("leadhost %s: exit %d\nstdout: %s\nstderr: %s\nwant exit %d, stdout with %q, stderr with %q",
					strings.Join(c.args, " "), code, out, errOut, c.code, c.stdout, c.stderr)
			}
		})
	}
	for _, p := range []string{data, backup} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s made beside PostgreSQL", p)
		}
	}

	// A problem in the database is one verify finds.
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), `ALTER TABLE feed_items DISABLE TRIGGER ALL;
		INSERT INTO feed_items (feed, lead_id, rev, offer, from_status, to_status, reason, approved, at, by, attempts, in_flight, last_error, held)
		VALUES ('send', 999999, 1, 'acme', 0, 1, 0, false, now(), 'api', 0, false, '', false)`); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := leadhost(t, "", "verify", "--store", url)
	if code != exitError || !strings.Contains(out, "999999") {
		t.Errorf("verify of a database with an item of no lead: exit %d\n%s%s", code, out, errOut)
	}
}
