package store

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Benchmarks of the store. Run them with
//
//	go test -run '^$' -bench . -benchtime 2s ./store/
//
// The 1M-lead benchmarks build a database once per run (about a minute);
// set LEADHOST_BENCH_1M to a directory to keep it between runs.

func openBench(b *testing.B, durable bool) *Badger {
	b.Helper()
	s, err := Open(Options{Dir: b.TempDir(), NoSync: !durable, GCInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func durability(durable bool) string {
	if durable {
		return "fsync"
	}
	return "nosync"
}

func benchLead(i int) NewLead {
	return NewLead{Offer: "bench", Ext: "E" + strconv.Itoa(i), Status: StatusProcessing, Fields: map[string]string{
		"name": "Ivan Petrov", "phone": "79990001122", "ip": "10.1.2.3", "country": "RU",
		"ua": "Mozilla/5.0 (X11; Linux x86_64)", "subid": "s-" + strconv.Itoa(i),
	}}
}

func reportRate(b *testing.B, n int, unit string) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), unit)
}

func BenchmarkAdd(b *testing.B) {
	for _, durable := range []bool{true, false} {
		b.Run(durability(durable)+"/serial", func(b *testing.B) {
			s := openBench(b, durable)
			ctx := context.Background()
			for i := 0; b.Loop(); i++ {
				if _, _, err := s.Add(ctx, benchLead(i)); err != nil {
					b.Fatal(err)
				}
			}
			reportRate(b, b.N, "adds/s")
		})
		b.Run(durability(durable)+"/parallel32", func(b *testing.B) {
			s := openBench(b, durable)
			ctx := context.Background()
			parallel32(b, func(i int) error {
				_, _, err := s.Add(ctx, benchLead(i))
				return err
			})
			reportRate(b, b.N, "adds/s")
		})
	}
}

// BenchmarkAddWebhook is Add as a webhook calls it (the lead of
// leadhost bench hook's script: an idempotency key, a phone, a name and
// an e-mail), 32 writers, no fsync: the store's CPU per webhook, where
// BenchmarkAdd's lead (an ext, a phone) is an import's.
//
//	go test -run '^$' -bench AddWebhook -benchtime 50000x -benchmem ./store/
func BenchmarkAddWebhook(b *testing.B) {
	s := openBench(b, false)
	ctx := context.Background()
	parallel32(b, func(i int) error {
		nl := NewLead{Offer: "bench", Key: "r1765090000t1-" + strconv.Itoa(i), Fields: map[string]string{
			"phone": fmt.Sprintf("7999%07d", i%10000000), "name": "Ivan", "email": "ivan@example.com",
		}}
		_, _, err := s.Add(ctx, nl)
		return err
	})
	reportRate(b, b.N, "adds/s")
}

// BenchmarkBadgerUpdateBaseline is what one fsync'd Badger transaction per
// call gives, the ceiling the group commit lifts.
func BenchmarkBadgerUpdateBaseline(b *testing.B) {
	for _, par := range []bool{false, true} {
		b.Run(map[bool]string{false: "fsync/serial", true: "fsync/parallel32"}[par], func(b *testing.B) {
			db, err := badger.Open(badger.DefaultOptions(b.TempDir()).WithSyncWrites(true).WithLogger(nil))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			var n atomic.Int64
			put := func() error {
				return db.Update(func(txn *badger.Txn) error {
					return txn.Set(leadKey(uint64(n.Add(1))), make([]byte, 200))
				})
			}
			if !par {
				for b.Loop() {
					if err := put(); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				parallel32(b, func(int) error { return put() })
			}
			reportRate(b, b.N, "commits/s")
		})
	}
}

func BenchmarkEdit(b *testing.B) {
	const leads = 10_000
	for _, durable := range []bool{true, false} {
		setup := func(b *testing.B) (*Badger, []uint64) {
			s := openBench(b, durable)
			ids := make([]uint64, leads)
			for i := range ids {
				ids[i] = mustAdd(b, s, benchLead(i)).ID
			}
			return s, ids
		}
		b.Run(durability(durable)+"/serial", func(b *testing.B) {
			s, ids := setup(b)
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				c := strconv.Itoa(i)
				if _, err := s.Edit(ctx, ids[i%leads], Patch{Comment: &c}); err != nil {
					b.Fatal(err)
				}
			}
			reportRate(b, b.N, "edits/s")
		})
		b.Run(durability(durable)+"/parallel32", func(b *testing.B) {
			s, ids := setup(b)
			ctx := context.Background()
			parallel32(b, func(i int) error {
				c := strconv.Itoa(i)
				_, err := s.Edit(ctx, ids[i%leads], Patch{Comment: &c})
				return err
			})
			reportRate(b, b.N, "edits/s")
		})
	}
}

// BenchmarkBatch1000 is one status-check response's worth of edits: 1,000
// processing leads each move between statuses 2 and 3 with a new comment,
// checked as the handler makes them
// and committed as one batch. Reported per batch and as edits/s.
func BenchmarkBatch1000(b *testing.B) {
	for _, durable := range []bool{true, false} {
		b.Run(durability(durable), func(b *testing.B) { benchBatch1000(b, openBench(b, durable), benchLead) })
	}
}

// BenchmarkBatch1000Large is BenchmarkBatch1000 with leads of ~2.5 KB of
// fields (largeLead): rewriting 1,000 of them outgrows one Badger
// transaction, the case batch.go's recovery record is for.
func BenchmarkBatch1000Large(b *testing.B) {
	benchBatch1000(b, openBench(b, true), largeLead)
}

// benchBatch1000 commits batches editing the same 1,000 leads, made by
// lead, again and again.
func benchBatch1000(b *testing.B, s *Badger, lead func(int) NewLead) {
	ids := make([]uint64, 1000)
	for i := range ids {
		ids[i] = mustAdd(b, s, lead(i)).ID
	}
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		st := []Status{StatusCallback, StatusProcessing}[i%2]
		c := "call " + strconv.Itoa(i)
		batch := s.NewBatch()
		for _, id := range ids {
			if err := batch.Edit(id, Patch{Status: &st, Comment: &c}); err != nil {
				b.Fatal(err)
			}
		}
		if res, err := batch.Commit(ctx); err != nil || res.Edits != len(ids) {
			b.Fatalf("commit: %+v %v", res, err)
		}
	}
	reportRate(b, b.N*len(ids), "edits/s")
}

// largeLead is benchLead with ten 250-byte fields more: ~2.5 KB, a lead
// carrying a shop's order lines.
func largeLead(i int) NewLead {
	nl := benchLead(i)
	for f := 0; f < 10; f++ {
		nl.Fields["line"+strconv.Itoa(f)] = strings.Repeat(strconv.Itoa(f), 250)
	}
	return nl
}

// BenchmarkBatch1000Concurrent runs four offers' check runs at once, as the
// scheduler does: each goroutine commits 1,000-edit batches of its own
// leads. Reported as total edits/s.
func BenchmarkBatch1000Concurrent(b *testing.B) {
	s := openBench(b, true)
	const runs = 4
	ids := make([][]uint64, runs)
	for r := range ids {
		for i := 0; i < 1000; i++ {
			nl := benchLead(r*1000 + i)
			nl.Offer = "bench-" + strconv.Itoa(r)
			ids[r] = append(ids[r], mustAdd(b, s, nl).ID)
		}
	}
	ctx := context.Background()
	var next atomic.Int64
	b.ResetTimer()
	var wg sync.WaitGroup
	for r := 0; r < runs; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; int(next.Add(1)) <= b.N; i++ {
				st := []Status{StatusCallback, StatusProcessing}[i%2]
				c := "call " + strconv.Itoa(i)
				batch := s.NewBatch()
				for _, id := range ids[r] {
					if err := batch.Edit(id, Patch{Status: &st, Comment: &c}); err != nil {
						b.Error(err)
						return
					}
				}
				if _, err := batch.Commit(ctx); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	reportRate(b, b.N*1000, "edits/s")
}

// The 1M-lead database: 10 offers, statuses spread as in a live network.
const million = 1_000_000

var (
	millionOnce sync.Once
	millionDir  string
	millionErr  error
)

func millionLeads(b *testing.B) string {
	millionOnce.Do(func() {
		millionDir = os.Getenv("LEADHOST_BENCH_1M")
		if millionDir == "" {
			millionDir = filepath.Join(os.TempDir(), fmt.Sprintf("leadhost-bench-1m-%d", os.Getpid()))
			// Removed by TestMain's exit hook below.
			benchDirs = append(benchDirs, millionDir)
		}
		if _, err := os.Stat(filepath.Join(millionDir, "BUILT")); err == nil {
			return
		}
		millionErr = buildMillion(millionDir)
	})
	if millionErr != nil {
		b.Fatal(millionErr)
	}
	return millionDir
}

func buildMillion(dir string) error {
	s, err := Open(Options{Dir: dir, NoSync: true, GCInterval: -1})
	if err != nil {
		return err
	}
	ctx := context.Background()
	statuses := []Status{StatusProcessing, StatusCallback, StatusPacking, StatusCancel, StatusPaid, StatusTransit, StatusHold, StatusNew}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= million {
					return
				}
				nl := benchLead(i)
				nl.Offer = "offer-" + strconv.Itoa(i%10)
				nl.Status = statuses[(i/10)%len(statuses)]
				nl.Created = t0.Add(-time.Duration(i) * time.Minute / 4)
				if _, _, err := s.Add(ctx, nl); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	if err := s.Close(); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "BUILT"), nil, 0o644)
}

var benchDirs []string

// TestMain runs the tests, benchmarks and child processes under the soft
// memory limit and the GC target the leadhost binary sets, so that memory
// figures are the binary's.
func TestMain(m *testing.M) {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(SuggestedMemoryLimit)
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(SuggestedGCPercent)
	}
	code := m.Run()
	for _, d := range benchDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

// BenchmarkPage1M reads a page of 50 processing leads of one offer by the
// offer+status index among 1M leads.
func BenchmarkPage1M(b *testing.B) {
	dir := millionLeads(b)
	s, err := Open(Options{Dir: dir, GCInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	cursor := ""
	b.ResetTimer()
	for b.Loop() {
		page, err := s.List(ctx, Query{Offer: "offer-3", Statuses: InProcessing, Cursor: cursor, Limit: 50})
		if err != nil || len(page.Leads) == 0 {
			b.Fatalf("page: %d leads, %v", len(page.Leads), err)
		}
		cursor = page.Next // walk the index rather than re-read one warm page
	}
}

const reopenEnv = "LEADHOST_BENCH_REOPEN_DIR"

// BenchmarkReopen1M opens the 1M-lead database in a fresh process, reads a
// page and walks one offer's processing leads, and reports the open time
// and the process's peak RSS. The first reopen after the build inherits
// Badger's compaction backlog, which costs memory; later ones find it
// settled. Both are reported.
func BenchmarkReopen1M(b *testing.B) {
	dir := millionLeads(b)
	var openMS, pageMS, firstRSS, lastRSS float64
	for i := 0; b.Loop(); i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestReopenChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), reopenEnv+"="+dir)
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("child: %v\n%s", err, out)
		}
		sc := bufio.NewScanner(strings.NewReader(string(out)))
		for sc.Scan() {
			var a, p, r float64
			if n, _ := fmt.Sscanf(sc.Text(), "reopen open_ms=%g page_ms=%g rss_mb=%g", &a, &p, &r); n == 3 {
				openMS, pageMS, lastRSS = a, p, r
				if i == 0 {
					firstRSS = r
				}
			}
			if strings.HasPrefix(sc.Text(), "memory") {
				b.Log(sc.Text())
			}
		}
	}
	b.ReportMetric(openMS, "open-ms")
	b.ReportMetric(pageMS, "first-page-ms")
	b.ReportMetric(firstRSS, "peak-RSS-MB-after-build")
	b.ReportMetric(lastRSS, "peak-RSS-MB-settled")
}

func TestReopenChild(t *testing.T) {
	dir := os.Getenv(reopenEnv)
	if dir == "" {
		t.Skip("child of BenchmarkReopen1M")
	}
	start := time.Now()
	s, err := Open(Options{Dir: dir, GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	opened := time.Since(start)
	ctx := context.Background()
	start = time.Now()
	page, err := s.List(ctx, Query{Offer: "offer-7", Statuses: InProcessing, Limit: 50})
	if err != nil || len(page.Leads) != 50 {
		t.Fatalf("page: %d, %v", len(page.Leads), err)
	}
	paged := time.Since(start)
	// Touch more of the data, as a serving process would: a full walk of
	// one offer's processing leads and the dates mode's day scan.
	for q := (Query{Offer: "offer-7", Statuses: InProcessing, Limit: 1000}); ; {
		p, err := s.List(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if q.Cursor = p.Next; q.Cursor == "" {
			break
		}
	}
	if _, err := s.CreatedDays(ctx, "offer-7", t0.Add(-24*time.Hour*365), t0.Add(time.Hour), time.UTC, NonTerminal); err != nil {
		t.Fatal(err)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	anon, file := procStatusMB("RssAnon:"), procStatusMB("RssFile:")
	s.Close()
	fmt.Printf("reopen open_ms=%.1f page_ms=%.2f rss_mb=%.1f\n",
		float64(opened.Microseconds())/1000, float64(paged.Microseconds())/1000, procStatusMB("VmHWM:"))
	fmt.Printf("memory before close: anon %.0f MB, file-backed %.0f MB; Go heap in use %.0f MB, Go sys %.0f MB\n",
		anon, file, float64(ms.HeapInuse)/(1<<20), float64(ms.Sys)/(1<<20))
}

// procStatusMB reads a figure in kB from /proc/self/status (VmHWM is the
// peak resident set) and returns it in MB.
func procStatusMB(field string) float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return kb / 1024
		}
	}
	return -1
}

// parallel32 calls op from 32 writers (16 × GOMAXPROCS, 2 here) b.N times
// in all, each call with its own number from 1 up, and fails b on an error.
func parallel32(b *testing.B, op func(i int) error) {
	var n atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(int(n.Add(1))); err != nil {
				b.Fatal(err)
			}
		}
	})
}
