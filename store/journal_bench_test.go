package store

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"
)

// BenchmarkJournalWrite is the cost of a journal entry as webhooks write
// them: one at a time, each waited for (RecordWritten), and queued in
// bulk (Record, then one RecordWritten that waits for them all). Run it
// alternately on two versions to compare what an index costs:
//
//	go test -run '^$' -bench JournalWrite -benchtime 20000x -count 3 ./store/
func BenchmarkJournalWrite(b *testing.B) {
	entry := func(i int) JournalEntry {
		e := JournalEntry{Offer: "shop", Kind: KindHook, Status: JournalOK, Duration: Duration(time.Millisecond),
			Summary:  "POST /hook/shop → 200",
			Request:  fmt.Sprintf("POST /hook/shop HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\r\n{\"order\":\"A%d\",\"phone\":\"7999%07d\"}", i, i),
			Response: `{"lead":1,"created":true}`}
		if i%50 == 0 {
			e.Status, e.Summary = JournalError, "POST /hook/shop → 500"
		}
		return e
	}
	b.Run("RecordWritten", func(b *testing.B) {
		s := openBench(b, false)
		i := 0
		for b.Loop() {
			if err := s.RecordWritten(entry(i)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("Record", func(b *testing.B) {
		s := openBench(b, false)
		b.ResetTimer()
		for i := range b.N {
			s.Record(entry(i))
		}
		if err := s.RecordWritten(entry(b.N)); err != nil { // timed: the queue written too
			b.Fatal(err)
		}
	})
}

// BenchmarkJournalStatusBackfill is the background indexing by status of
// a journal written before that index: LEADHOST_BENCH_JOURNAL_N entries
// (default 100,000), a fifth of them not "ok".
//
//	LEADHOST_BENCH_JOURNAL_N=1000000 go test -run '^$' -bench StatusBackfill -benchtime 1x ./store/
func BenchmarkJournalStatusBackfill(b *testing.B) {
	n := 100_000
	if v := os.Getenv("LEADHOST_BENCH_JOURNAL_N"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		b.StopTimer()
		gate := make(chan struct{})
		s, err := Open(Options{Dir: b.TempDir(), NoSync: true, GCInterval: -1, backfillGate: gate})
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < n; i += 10_000 {
			writeUnindexed(b, s, i, min(i+10_000, n), time.Hour)
		}
		b.StartTimer()
		indexed, err := s.backfillStatusIndex()
		b.StopTimer()
		if err != nil || indexed != n {
			b.Fatalf("%d of %d indexed: %v", indexed, n, err)
		}
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/entry")
}

// BenchmarkJournalWriteBatch is the journal writer's Badger write of a
// batch of n webhook entries of one offer (journalLoop takes what was
// spooled meanwhile: a few at light load, dozens at 64 in flight), per
// entry:
//
//	go test -run '^$' -bench JournalWriteBatch -benchtime 100000x -benchmem ./store/
func BenchmarkJournalWriteBatch(b *testing.B) {
	for _, n := range []int{1, 16, 64} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			s := openBench(b, false)
			body := []byte(`{"id":"1","at":"2026-12-07T06:00:00Z","offer":"shop","kind":"hook","status":"ok","duration":"1ms","summary":"GET /hook/shop → 200","request":"GET /hook/shop?token=bench&order=r1765090000t1-1&phone=79990000001&name=Ivan&email=ivan%40example.com&cost=4990 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n","response":"{\"ok\":true,\"lead\":1,\"created\":true}"}`)
			batch := make([]spooled, n)
			id := uint64(time.Now().UnixNano())
			b.ResetTimer()
			for i := 0; i < b.N; i += n {
				for j := range batch {
					id++
					batch[j] = spooled{id: id, n: len(body), offer: "shop", kind: KindHook, status: JournalOK}
				}
				if err := s.writeJournal(batch, func(int) []byte { return body }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
