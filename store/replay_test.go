package store

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// copyDir copies the regular files of src (not its sub-folders) into dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		if err := copySparse(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
}

// copySparse copies a file, leaving holes where it reads zeros: Badger's
// logs are mapped files of hundreds of MB, mostly holes.
func copySparse(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer out.Close()
	buf := make([]byte, 1<<20)
	var off int64
	for {
		n, err := io.ReadFull(in, buf)
		if n > 0 && !bytes.Equal(buf[:n], make([]byte, n)) {
			if _, err := out.WriteAt(buf[:n], off); err != nil {
				return err
			}
		}
		off += int64(n)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return out.Truncate(off)
		}
		if err != nil {
			return err
		}
	}
}

// A machine crash takes back every Badger write since the last
// checkpoint (Badger runs without syncs behind the write-ahead log) and
// tears the record being written. Open replays the log: every lead
// whose group was synced is there, with its fields, the torn group is
// not there at all, Verify is clean, and a new lead gets a new id (the
// sequence's lease was synced before its ids were used).
func TestReplayAfterMachineCrash(t *testing.T) {
	for _, tc := range []struct {
		name string
		tear func(t *testing.T, seg string)
		keep int // of the 30 leads added
	}{
		{"garbage after the last record", func(t *testing.T, seg string) {
			f, _ := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
			defer f.Close()
			f.Write([]byte("\x40\x00\x00\x00half a record that was never synced"))
		}, 30},
		{"last record cut short", func(t *testing.T, seg string) {
			fi, _ := os.Stat(seg)
			os.Truncate(seg, fi.Size()-700)
		}, 29},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			ctx := context.Background()
			// The disk as a checkpoint left it: an opened store, its
			// leases synced.
			s, err := Open(Options{Dir: dir, GCInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			crashed := t.TempDir()
			copyDir(t, dir, crashed)
			var leads []*Lead
			for i := 0; i < 30; i++ {
				leads = append(leads, mustAdd(t, s, largeLead(i)))
			}
			// What the log holds on disk once each Add returned.
			copyDir(t, filepath.Join(dir, "wal"), filepath.Join(crashed, "wal"))
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			segs, _ := filepath.Glob(filepath.Join(crashed, "wal", "*.seg"))
			if len(segs) != 1 {
				t.Fatalf("segments %v, want one", segs)
			}
			tc.tear(t, segs[0])

			s, err = Open(Options{Dir: crashed, GCInterval: -1})
			if err != nil {
				t.Fatalf("open after the crash: %v", err)
			}
			defer s.Close()
			for i, want := range leads {
				got, err := s.Get(ctx, want.ID)
				if i >= tc.keep {
					if err == nil {
						t.Errorf("lead %d of the torn group is there: %+v", want.ID, got)
					}
					continue
				}
				if err != nil {
					t.Fatalf("lead %d (add %d of 30): %v", want.ID, i+1, err)
				}
				if got.Ext != want.Ext || !reflect.DeepEqual(got.Fields, want.Fields) || got.Rev != want.Rev {
					t.Fatalf("lead %d after replay: ext %q rev %d, %d fields; want ext %q rev %d, %d fields",
						want.ID, got.Ext, got.Rev, len(got.Fields), want.Ext, want.Rev, len(want.Fields))
				}
			}
			mustVerify(t, s)
			fresh := mustAdd(t, s, NewLead{Offer: "o1"})
			for _, l := range leads {
				if l.ID == fresh.ID {
					t.Fatalf("a new lead got id %d again", fresh.ID)
				}
			}
		})
	}
}
