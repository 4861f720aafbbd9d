package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"leadhost/store"
)

// A backup taken through a running serve while webhooks arrive, restored
// into an empty folder: every lead acknowledged before the backup began
// is there and verify is clean; a second restore into that folder, and a
// file cut short, are refused.
func TestBackupRestoreVerifyUnderLoad(t *testing.T) {
	t.Parallel()
	of := startOfferum(t, func(n int) (int, string) { return 200, fmt.Sprintf(`{"status":"ok","id":%d}`, 900000+n) })
	scripts := exampleScripts(t, of.URL, "getcourse-offerum")
	data := filepath.Join(t.TempDir(), "data")
	h, stop := startTestHost(t, data, scripts)
	defer stop()

	call, err := os.ReadFile("../../scripts/getcourse-offerum/testdata/getcourse-call.txt")
	if err != nil {
		t.Fatal(err)
	}
	hook := "http://" + h.addr.String() + exampleSecrets.Replace(strings.TrimSpace(string(call)))
	var mu sync.Mutex
	var acked []uint64
	var seq atomic.Int64
	webhook := func() {
		n := seq.Add(1)
		resp, err := http.Get(strings.Replace(hook, "order=GC-100500", fmt.Sprintf("order=GC-%d", n), 1))
		if err != nil {
			t.Error(err)
			return
		}
		defer resp.Body.Close()
		var reply struct {
			Lead uint64 `json:"lead"`
		}
		if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&reply) != nil || reply.Lead == 0 {
			t.Errorf("webhook %d: %s", n, resp.Status)
			return
		}
		mu.Lock()
		acked = append(acked, reply.Lead)
		mu.Unlock()
	}
	for range 50 {
		webhook()
	}
	var stopLoad atomic.Bool
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stopLoad.Load() {
				webhook()
			}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	before := append([]uint64(nil), acked...)
	mu.Unlock()

	file := filepath.Join(t.TempDir(), "leads.backup")
	code, out, errOut := leadhost(t, "", "backup", file, "--data", data)
	stopLoad.Store(true)
	wg.Wait()
	if code != exitOK || !strings.Contains(out, "leads.backup: ") {
		t.Fatalf("backup through the serve: exit %d, %s%s", code, out, errOut)
	}
	if code, out, errOut := leadhost(t, "", "verify", "--data", data); code != exitOK {
		t.Errorf("verify through the serve: exit %d, %s%s", code, out, errOut)
	}

	restored := filepath.Join(t.TempDir(), "restored")
	if code, out, errOut := leadhost(t, "", "restore", file, "--data", restored); code != exitOK {
		t.Fatalf("restore: exit %d, %s%s", code, out, errOut)
	}
	if code, out, errOut := leadhost(t, "", "verify", "--data", restored); code != exitOK || !strings.Contains(out, "every index matches") {
		t.Errorf("verify of the restored folder: exit %d, %s%s", code, out, errOut)
	}
	if code, _, errOut := leadhost(t, "", "restore", file, "--data", restored); code != exitError || !strings.Contains(errOut, "empty folder only") {
		t.Errorf("a restore into the filled folder: exit %d, %s; want refused", code, errOut)
	}
	if code, out, _ := leadhost(t, "", "lead", "get", fmt.Sprint(before[0]), "--data", restored, "--scripts", scripts); code != exitOK || !strings.Contains(out, `"getcourse-offerum"`) {
		t.Errorf("lead get %d on the restored folder: exit %d, %s", before[0], code, out)
	}
	st, err := store.Open(store.Options{Dir: restored, GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range before {
		if l, err := st.Get(context.Background(), id); err != nil || l.Offer != "getcourse-offerum" {
			t.Fatalf("lead %d, acknowledged before the backup, after restore: %v %v", id, l, err)
		}
	}
	st.Close()
	t.Logf("%d leads acknowledged before the backup began, %d by its end; all of the first found after restore", len(before), len(acked))

	whole, _ := os.ReadFile(file)
	cut := filepath.Join(t.TempDir(), "cut.backup")
	os.WriteFile(cut, whole[:len(whole)-100], 0o644)
	empty := filepath.Join(t.TempDir(), "empty")
	if code, _, errOut := leadhost(t, "", "restore", cut, "--data", empty); code != exitError || !strings.Contains(errOut, "cut short") {
		t.Errorf("restore of a file cut short: exit %d, %s", code, errOut)
	}
	if names, _ := os.ReadDir(empty); len(names) != 0 {
		t.Errorf("a failed restore left %d entries in the folder", len(names))
	}
	if code, _, errOut := leadhost(t, "", "verify", "--data", filepath.Join(t.TempDir(), "nothing")); code != exitError || !strings.Contains(errOut, "no leadhost store in") {
		t.Errorf("verify of a folder with no store: exit %d, %s", code, errOut)
	}
	missing := filepath.Join(t.TempDir(), "no-such-folder", "x.backup")
	if code, _, errOut := leadhost(t, "", "backup", missing, "--data", restored); code != exitError || !strings.Contains(errOut, "cannot write in") || strings.Contains(errOut, ".part-") {
		t.Errorf("backup into a folder that does not exist: exit %d, %s", code, errOut)
	}
}
