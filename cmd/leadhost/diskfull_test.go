package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"leadhost/host/hosttest"
	"leadhost/store"
)

// smallDisk mounts a tmpfs of mib MiB for the test: a disk that really
// fills. It needs root (or CAP_SYS_ADMIN); without, the test is skipped.
func smallDisk(t *testing.T, mib int) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%dm", mib), "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Skipf("a full disk needs a small file system to fill, and mounting a tmpfs was not allowed here (%v: %s); run as root", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// A disk filled by webhooks does not kill serve: it turns read-only
// (webhooks 503 with Retry-After, /healthz 503 saying why) before Badger
// runs out of room, and takes calls again by itself once space is freed.
// Every lead acknowledged is there after it, and the store verifies.
func TestFullDiskMakesServeReadOnlyNotDead(t *testing.T) {
	const reserveMiB = 32
	disk := smallDisk(t, 160)
	data := filepath.Join(disk, "data")
	scripts := filepath.Join(t.TempDir(), "scripts")
	if err := os.CopyFS(scripts, os.DirFS("testdata/diskfull")); err != nil {
		t.Fatal(err)
	}
	h, stop := startConfiguredTestHost(t, hostConfig{listen: "127.0.0.1:0", data: data, scripts: scripts,
		log: slog.New(slog.DiscardHandler), minFreeMB: reserveMiB})
	base := "http://" + h.addr.String()

	// Leave the leads 24 MiB above the reserve.
	var st syscall.Statfs_t
	if err := syscall.Statfs(disk, &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	filler := filepath.Join(disk, "filler")
	if err := os.WriteFile(filler, make([]byte, free-(reserveMiB+24)<<20), 0o644); err != nil {
		t.Fatal(err)
	}

	blob := strings.Repeat("x", 20<<10)
	post := func(key string) (int, string) {
		resp, err := http.Post(base+"/hook/fill?token=fill-token&key="+key, "text/plain", strings.NewReader(blob))
		if err != nil {
			t.Fatalf("serve is gone: %v", err)
		}
		defer resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}
	acked := 0
	for ; ; acked++ {
		status, retry := post(fmt.Sprint("k", acked))
		if status == 503 {
			if retry == "" {
				t.Error("503 without Retry-After")
			}
			break
		}
		if status != 200 {
			t.Fatalf("call %d: %d", acked, status)
		}
		if acked > 20000 {
			t.Fatal("the disk never filled")
		}
	}
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Errorf("/healthz on a full disk: %d; want 503", resp.StatusCode)
	}
	for i := range 50 { // knocking on goes on being refused, serve alive
		if status, _ := post(fmt.Sprint("again", i)); status != 503 {
			t.Fatalf("a call on the full disk: %d", status)
		}
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	hosttest.Eventually(t, "serve takes calls again once space is freed", func() bool {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	if status, _ := post("after"); status != 200 {
		t.Fatalf("a call after space was freed: %d", status)
	}
	stop()

	s, err := store.Open(store.Options{Dir: data, GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n := leadsOf(t, s, "fill"); n != acked+1 {
		t.Errorf("%d leads after reopening; %d were acknowledged", n, acked+1)
	}
	if problems, err := s.Verify(context.Background()); err != nil || len(problems) > 0 {
		t.Errorf("verify: %v %v", problems, err)
	}
	t.Logf("%d leads of 20 KiB acknowledged before the disk was full; read-only, then writable again once freed", acked)
}
