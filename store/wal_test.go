package store

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// walFill appends n records ("rec 0", "rec 1", …, padded to size bytes)
// to a log started in dir, and returns them.
func walFill(t *testing.T, w *wal, from, n, size int) [][]byte {
	t.Helper()
	var recs [][]byte
	for i := from; i < from+n; i++ {
		r := []byte(fmt.Sprintf("rec %d ", i))
		r = append(r, bytes.Repeat([]byte{'x'}, max(0, size-len(r)))...)
		if err := w.append(r); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		recs = append(recs, r)
	}
	return recs
}

func walReplayed(t *testing.T, dir string, seg int64) [][]byte {
	t.Helper()
	w, err := openWAL(dir, seg, true)
	if err != nil {
		t.Fatal(err)
	}
	var got [][]byte
	if _, err := w.replay(func(p []byte) error { got = append(got, bytes.Clone(p)); return nil }); err != nil {
		t.Fatalf("replay: %v", err)
	}
	return got
}

// lastSegment is the path of the newest segment in dir.
func lastSegment(t *testing.T, dir string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(m) == 0 {
		t.Fatal("no segment")
	}
	return m[len(m)-1]
}

// A crash leaves the log's last record torn, or garbage after it, or a
// bit flipped in it: opening it gives back every record written whole
// before it, in order, and nothing of the damaged one.
func TestWALTornTailGivesEveryWholeRecord(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string, size int64)
		keep   int // of the 20 records written
	}{
		{"cut mid-record", func(t *testing.T, path string, size int64) {
			os.Truncate(path, size-300)
		}, 19},
		{"cut in the header", func(t *testing.T, path string, size int64) {
			os.Truncate(path, size-1000-walHeader+3)
		}, 19},
		{"garbage tail", func(t *testing.T, path string, size int64) {
			f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			f.Write(bytes.Repeat([]byte{0xa5, 0x17, 0, 0}, 1000))
			f.Close()
		}, 20},
		{"last record's bytes half written", func(t *testing.T, path string, size int64) {
			f, _ := os.OpenFile(path, os.O_WRONLY, 0)
			f.WriteAt(make([]byte, 512), size-512)
			f.Close()
		}, 19},
		{"a bit flipped in the last record", func(t *testing.T, path string, size int64) {
			f, _ := os.OpenFile(path, os.O_RDWR, 0)
			b := make([]byte, 1)
			f.ReadAt(b, size-10)
			f.WriteAt([]byte{b[0] ^ 4}, size-10)
			f.Close()
		}, 19},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			w, _ := openWAL(dir, 0, true)
			if err := w.start(); err != nil {
				t.Fatal(err)
			}
			want := walFill(t, w, 0, 20, 1000)
			w.close(false)
			path := lastSegment(t, dir)
			fi, _ := os.Stat(path)
			tc.damage(t, path, fi.Size())
			got := walReplayed(t, dir, 0)
			if len(got) != tc.keep {
				t.Fatalf("replayed %d records, want %d", len(got), tc.keep)
			}
			for i := range got {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("record %d: %.10q, want %.10q", i, got[i], want[i])
				}
			}
		})
	}
}

// Segments are recycled: a spare keeps its old records, which must never
// be taken for the new segment's. Records too big for a segment get one
// of their own.
func TestWALRecycledSegmentsReplayOnlyNewRecords(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const seg = 16 << 10
	w, _ := openWAL(dir, seg, true)
	if err := w.start(); err != nil {
		t.Fatal(err)
	}
	old := walFill(t, w, 0, 40, 1000) // 16 a segment: two segments and half a third
	if err := w.prepareSpare(); err != nil {
		t.Fatal(err)
	}
	if err := w.recycle(w.sealedUpTo()); err != nil {
		t.Fatal(err)
	}
	want := old[32:] // the third is not sealed: it stays
	// The third, fresh, gives way to a spare at once: 12 go into a
	// recycled one, whose old records after them must not replay.
	want = append(want, walFill(t, w, 100, 12, 1000)...)
	big := walFill(t, w, 200, 1, 3*seg) // one segment of its own
	want = append(want, big...)
	want = append(want, walFill(t, w, 300, 2, 100)...) // into the zeros of the prepared one
	if spares, _ := filepath.Glob(filepath.Join(dir, "*.spare")); len(spares) != 0 {
		t.Fatalf("spares not taken: %v", spares)
	}
	w.close(false)

	w, _ = openWAL(dir, seg, true)
	var got [][]byte
	if _, err := w.replay(func(p []byte) error { got = append(got, bytes.Clone(p)); return nil }); err != nil {
		t.Fatal(err)
	}
	// The first 32 were recycled: what replays is what came after.
	if len(got) != len(want) {
		t.Fatalf("replayed %d records, want %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("record %d: %.10q, want %.10q", i, got[i], want[i])
		}
	}
}

// A clean close recycles every segment: the next open replays nothing.
func TestWALCleanCloseLeavesNothingToReplay(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w, _ := openWAL(dir, 16<<10, true)
	if err := w.start(); err != nil {
		t.Fatal(err)
	}
	walFill(t, w, 0, 10, 1000)
	if err := w.close(true); err != nil {
		t.Fatal(err)
	}
	if got := walReplayed(t, dir, 16<<10); len(got) != 0 {
		t.Fatalf("replayed %d records after a clean close", len(got))
	}
}
