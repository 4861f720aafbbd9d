package store

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	crashDirEnv    = "LEADHOST_CRASH_CHILD_DIR"
	crashNoSyncEnv = "LEADHOST_CRASH_CHILD_NOSYNC"
)

// TestCrashSafety runs a child process that adds and edits leads and prints
// each change once the store acknowledged it, SIGKILLs the child while it
// is busy, reopens the data and finds every acknowledged change. It runs
// with fsync (the default), with NoSync, whose promise is that a crash
// of the process, unlike one of the machine, loses nothing, and with
// write-ahead log segments of 64 KiB, so that the kill may come amid a
// segment's rotation, a checkpoint or a recycling (wal.go).
func TestCrashSafety(t *testing.T) {
	if dir := os.Getenv(crashDirEnv); dir != "" {
		crashChild(dir, os.Getenv(crashNoSyncEnv))
		return
	}
	for _, mode := range []struct{ name, env string }{{"fsync", "0"}, {"nosync", "1"}, {"small log segments", "2"}} {
		t.Run(mode.name, func(t *testing.T) {
			crashParent(t, mode.env)
		})
	}
}

func crashParent(t *testing.T, mode string) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashSafety$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashNoSyncEnv+"="+mode)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	type ack struct {
		rev     uint32
		comment string
	}
	adds := map[uint64]string{} // id → ext
	edits := map[uint64]ack{}   // id → last acknowledged edit
	lines := bufio.NewScanner(out)
	killed := false
	deadline := time.Now().Add(20 * time.Second)
	for lines.Scan() {
		f := strings.Fields(lines.Text())
		if len(f) < 3 {
			continue
		}
		id, _ := strconv.ParseUint(f[1], 10, 64)
		switch f[0] {
		case "add":
			adds[id] = f[2]
		case "edit":
			rev, _ := strconv.ParseUint(f[2], 10, 32)
			if rev > uint64(edits[id].rev) {
				edits[id] = ack{uint32(rev), f[3]}
			}
		}
		if !killed && (len(edits) >= 300 && len(adds) >= 1500 || time.Now().After(deadline)) {
			// Kill while writers are mid-flight; lines already in the
			// pipe were acknowledged before the kill and still count.
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	cmd.Wait()
	if !killed || len(adds) < 100 {
		t.Fatalf("child acknowledged only %d adds before it ended", len(adds))
	}

	s, err := Open(Options{Dir: dir, GCInterval: -1})
	if err != nil {
		t.Fatalf("reopen after SIGKILL: %v", err)
	}
	defer s.Close()
	ctx := context.Background()
	for id, ext := range adds {
		l, err := s.Get(ctx, id)
		if err != nil || l.Ext != ext {
			t.Fatalf("acknowledged add of lead %d (ext %s) lost: %v", id, ext, err)
		}
	}
	for id, a := range edits {
		l, err := s.Get(ctx, id)
		if err != nil || l.Rev < a.rev {
			t.Fatalf("acknowledged edit rev %d of lead %d lost: %+v, %v", a.rev, id, l, err)
		}
		hist, _ := s.History(ctx, id)
		if len(hist) < int(a.rev) || commentOf(hist[a.rev-1]) != a.comment {
			t.Fatalf("history of lead %d lacks acknowledged edit %d (%s)", id, a.rev, a.comment)
		}
	}
	journaled := map[string]bool{}
	for q := (JournalQuery{Offer: "crash", Limit: 1000}); ; {
		page, next, err := s.JournalList(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			journaled[e.Summary] = true
		}
		if next == "" {
			break
		}
		q.Cursor = next
	}
	for id, ext := range adds {
		if !journaled[ext] {
			t.Fatalf("the journal entry of acknowledged lead %d (ext %s) is lost (%d entries found)", id, ext, len(journaled))
		}
	}
	mustVerify(t, s)
	t.Logf("%d adds (each with its journal entry) and %d edited leads acknowledged before SIGKILL, all found", len(adds), len(edits))
}

// crashChild writes until it is killed. Each line is printed only after the
// store returned, i.e. after the change is durable. Mode "1" is NoSync,
// "2" small log segments.
func crashChild(dir string, mode string) {
	opts := Options{Dir: dir, GCInterval: -1, NoSync: mode == "1"}
	if mode == "2" {
		opts.walSegment = 64 << 10
	}
	s, err := Open(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	say := func(format string, a ...any) {
		mu.Lock()
		fmt.Fprintf(os.Stdout, format+"\n", a...)
		mu.Unlock()
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				ext := fmt.Sprintf("w%d-%d", w, i)
				l, _, err := s.Add(ctx, NewLead{Offer: "crash", Ext: ext, Fields: map[string]string{"phone": "7999"}})
				if err != nil {
					fmt.Fprintln(os.Stderr, "child add:", err)
					os.Exit(2)
				}
				if err := s.RecordWritten(JournalEntry{Offer: "crash", Kind: KindHook, Status: JournalOK, Summary: ext}); err != nil {
					fmt.Fprintln(os.Stderr, "child journal:", err)
					os.Exit(2)
				}
				say("add %d %s", l.ID, ext) // acknowledged: the lead and its call's journal entry
				if i%4 == 0 {
					comment := fmt.Sprintf("c%d", i)
					e, err := s.Edit(ctx, l.ID, Patch{Comment: &comment, Status: ptr(StatusProcessing)})
					if err != nil {
						fmt.Fprintln(os.Stderr, "child edit:", err)
						os.Exit(2)
					}
					say("edit %d %d %s", e.ID, e.Rev, comment)
				}
			}
		}()
	}
	wg.Wait()
}

func commentOf(c Change) string {
	for _, f := range c.Fields {
		if f.Field == "comment" {
			return f.New
		}
	}
	return ""
}
