package store

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// openDurable opens a store on disk in dir, on the real clock, closed
// when the test ends (if the test has not closed it).
func openDurable(t *testing.T, dir string) *Badger {
	t.Helper()
	s, err := Open(Options{Dir: dir, NoSync: true, GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestBackupUnderLoadRestores takes a backup while leads are being added,
// restores it into an empty folder and finds every lead acknowledged
// before the backup began, with its history, keys, journal and id
// sequence, and the indexes clean.
func TestBackupUnderLoadRestores(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openDurable(t, t.TempDir())
	for i := range 40 {
		s.Record(JournalEntry{At: t0.Add(time.Duration(i) * time.Second), Offer: "acme", Kind: KindHook, Status: JournalOK, Summary: fmt.Sprint(i)})
	}
	var mu sync.Mutex
	var acked []uint64
	add := func(i int) {
		l, _, err := s.Add(ctx, NewLead{Offer: "acme", Key: fmt.Sprint("k", i), Status: StatusProcessing, Fields: map[string]string{"phone": fmt.Sprint(79000000000 + i)}})
		if err != nil {
			t.Error(err)
			return
		}
		mu.Lock()
		acked = append(acked, l.ID)
		mu.Unlock()
	}
	for i := range 500 {
		add(i)
	}
	if _, err := s.Edit(ctx, acked[7], Patch{Accept: true, By: "test"}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		// The journal is written behind Record.
		if e, _, _ := s.JournalList(ctx, JournalQuery{Limit: 100, Offer: "acme"}); len(e) == 40 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the journal shows %d of 40 entries", len(e))
		}
	}

	// Writers keep going while the backup runs.
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				add(10000 + w*100000 + i)
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	mu.Lock()
	before := append([]uint64(nil), acked...)
	mu.Unlock()
	var file bytes.Buffer
	var progress int64
	if err := s.Backup(ctx, &file, func(n int64) { progress = n }); err != nil {
		t.Fatal(err)
	}
	stop.Store(true)
	wg.Wait()
	if progress != int64(file.Len()) {
		t.Errorf("progress said %d bytes, the backup is %d", progress, file.Len())
	}

	dir := filepath.Join(t.TempDir(), "restored")
	if err := Restore(ctx, dir, bytes.NewReader(file.Bytes())); err != nil {
		t.Fatal(err)
	}
	r := openDurable(t, dir)
	for _, id := range before {
		want, _ := s.Get(ctx, id)
		got, err := r.Get(ctx, id)
		if err != nil {
			t.Fatalf("lead %d acknowledged before the backup: %v", id, err)
		}
		if got.Status != want.Status || got.Fields["phone"] != want.Fields["phone"] {
			t.Errorf("lead %d restored as %+v, was %+v", id, got, want)
		}
	}
	if h, _ := r.History(ctx, acked[7]); len(h) != 2 {
		t.Errorf("history of the approved lead restored with %d changes, want 2", len(h))
	}
	if l, created, err := r.Add(ctx, NewLead{Offer: "acme", Key: "k3"}); err != nil || created || l.ID != before[3] {
		t.Errorf("a key given before the backup: lead %v created=%v err=%v, want lead %d found again", l, created, err, before[3])
	}
	if l, _, err := r.Add(ctx, NewLead{Offer: "acme"}); err != nil || l.ID <= before[len(before)-1] {
		t.Errorf("a new lead after restore got %v (%v); ids must go on past %d", l, err, before[len(before)-1])
	}
	entries, _, err := r.JournalList(ctx, JournalQuery{Limit: 100, Offer: "acme", Kind: KindHook})
	if err != nil || len(entries) != 40 {
		t.Errorf("journal restored with %d hook entries (%v), want 40", len(entries), err)
	}
	mustVerify(t, r)
}

// TestRestoreRefuses: a folder that holds anything, a file that is not a
// backup, one cut short or damaged are refused, and the folder is left as
// it was.
func TestRestoreRefuses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openDurable(t, t.TempDir())
	for i := range 200 {
		if _, _, err := s.Add(ctx, NewLead{Offer: "acme", Fields: map[string]string{"n": fmt.Sprint(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	var file bytes.Buffer
	if err := s.Backup(ctx, &file, nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	good := file.Bytes()
	flipped := append([]byte(nil), good...)
	flipped[len(flipped)/2] ^= 0x40

	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "MANIFEST"), []byte("x"), 0o644)
	for _, tc := range []struct {
		name string
		dir  string
		file []byte
		want error
	}{
		{"non-empty folder", full, good, ErrNotEmpty},
		{"not a backup", "", []byte("hello\n"), ErrInvalid},
		{"cut short", "", good[:len(good)*2/3], ErrInvalid},
		{"end mark missing", "", good[:len(good)-9], ErrInvalid},
		{"a byte flipped", "", flipped, ErrInvalid},
		{"bytes after the end mark", "", append(append([]byte(nil), good...), good...), ErrInvalid},
	} {
		dir := tc.dir
		if dir == "" {
			dir = t.TempDir()
		}
		err := Restore(ctx, dir, bytes.NewReader(tc.file))
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		names, _ := readDirNames(dir)
		if tc.dir == "" && len(names) != 0 {
			t.Errorf("%s: the folder was left holding %v", tc.name, names)
		}
		if tc.dir == full && len(names) != 1 {
			t.Errorf("%s: the folder's contents changed: %v", tc.name, names)
		}
	}
}

// A forged backup whose frames check out but whose record claims 1 EiB
// is refused before anything allocates it.
func TestRestoreRefusesAHugeRecord(t *testing.T) {
	t.Parallel()
	var file bytes.Buffer
	fw := &frameWriter{w: bufio.NewWriter(&file), ctx: context.Background(), part: partLeads}
	file.WriteString(backupHeader)
	var rec [16]byte
	binary.LittleEndian.PutUint64(rec[:], 1<<60)
	fw.frame(rec[:])
	fw.frame(nil)
	fw.w.Flush()
	dir := t.TempDir()
	if err := Restore(context.Background(), dir, &file); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "claims") {
		t.Errorf("restore of a forged record: %v", err)
	}
}

// FuzzRestore: whatever the file holds, restore answers (an error, or a
// store that opens) and never panics.
func FuzzRestore(f *testing.F) {
	s, err := Open(Options{Dir: f.TempDir(), NoSync: true, GCInterval: -1})
	if err != nil {
		f.Fatal(err)
	}
	for i := range 3 {
		s.Add(context.Background(), NewLead{Offer: "acme", Fields: map[string]string{"n": fmt.Sprint(i)}})
	}
	var good bytes.Buffer
	if err := s.Backup(context.Background(), &good, nil); err != nil {
		f.Fatal(err)
	}
	s.Close()
	f.Add(good.Bytes())
	f.Add([]byte(backupHeader))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := Restore(context.Background(), dir, bytes.NewReader(b)); err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Logf("not ErrInvalid: %v", err)
			}
			return
		}
		r, err := Open(Options{Dir: dir, NoSync: true, GCInterval: -1})
		if err != nil {
			t.Fatalf("restored, yet does not open: %v", err)
		}
		r.Close()
	})
}

// A restore cut short (kill -9) leaves its mark, and the folder is not
// opened as a store until it is emptied and restored again; a backup of
// a closed store is refused.
func TestRestoreCutShortIsNotOpened(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openDurable(t, t.TempDir())
	var file bytes.Buffer
	if err := s.Backup(ctx, &file, nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := s.Backup(ctx, &bytes.Buffer{}, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("backup of a closed store: %v", err)
	}
	dir := t.TempDir()
	if err := Restore(ctx, dir, &file); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, restoringMark), nil, 0o644) // as a killed restore leaves it
	if r, err := Open(Options{Dir: dir, GCInterval: -1}); err == nil || !strings.Contains(err.Error(), "did not finish") {
		if r != nil {
			r.Close()
		}
		t.Errorf("open of a folder a restore did not finish: %v", err)
	}
}
