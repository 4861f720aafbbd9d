package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"leadhost/store"
)

// The breakdown of `leadhost bench hook` (issue 16): where a durable
// round's time goes, what one sync costs on this disk next to it, and the
// latency window by window, to show stalls that a p99 over the run hides.

// printRound prints the committer's stages over a phase (the difference
// of two store.CommitStats), per op and per group.
func printRound(w io.Writer, name string, st store.CommitStats) {
	if st.Ops == 0 || st.Groups == 0 {
		fmt.Fprintf(w, "%s: no durable writes\n", name)
		return
	}
	perOp := func(d time.Duration) string { return us(d / time.Duration(st.Ops)) }
	perGroup := func(d time.Duration) string { return us(d / time.Duration(st.Groups)) }
	fmt.Fprintf(w, "%s: %d writes in %d groups, %.1f a group, %.1f KiB a group in the write-ahead log\n", name, st.Ops, st.Groups,
		float64(st.Ops)/float64(st.Groups), float64(st.LogBytes)/1024/float64(st.Groups))
	fmt.Fprintf(w, "  per write, as its caller waited: %s µs queued for the committer + %s µs until its group was sent + %s µs while its group was written + %s µs from the write's end to the caller running = %s µs\n",
		perOp(st.Queued), perOp(st.Waited), perOp(st.InBadger), perOp(st.Wake), perOp(st.Round))
	fmt.Fprintf(w, "  per group: %s µs of the committer's CPU, %s µs open (waiting for the group in flight), %s µs written: %s µs in the write-ahead log (append and, with fsync, one fdatasync) + %s µs in Badger (no sync); landed %s µs after\n",
		us(st.Build/time.Duration(st.Groups)), perGroup(st.Held), perGroup(st.Write), perGroup(st.Log), perGroup(st.Write-st.Log), perGroup(st.Landing))
	if st.Bulk > 0 {
		fmt.Fprintf(w, "  bulk writes (check answers): %d, %s µs each in the bulk lane while small writes went first\n", st.Bulk, us(st.BulkWaited/time.Duration(st.Bulk)))
	}
	fmt.Fprintf(w, "  groups' writes by time:")
	for i, n := range st.Writes {
		if i < len(store.WriteBuckets) {
			fmt.Fprintf(w, " ≤%s %d,", store.WriteBuckets[i], n)
		} else {
			fmt.Fprintf(w, " longer %d\n", n)
		}
	}
}

func us(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Microsecond), 'f', 0, 64)
}

// window is the calls due in one slice of a load.
type window struct {
	from          time.Duration
	n             int
	p50, p99, max time.Duration
}

// timeline cuts calls by when they were due into windows of d.
func timeline(calls []call, d time.Duration) []window {
	if len(calls) == 0 {
		return nil
	}
	sorted := append([]call(nil), calls...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].at < sorted[j].at })
	var out []window
	for start := 0; start < len(sorted); {
		from := sorted[start].at / d * d
		end := start
		for end < len(sorted) && sorted[end].at < from+d {
			end++
		}
		p50, p99 := percentiles(sorted[start:end])
		mx := time.Duration(0)
		for _, c := range sorted[start:end] {
			mx = max(mx, c.took)
		}
		out = append(out, window{from: from, n: end - start, p50: p50, p99: p99, max: mx})
		start = end
	}
	return out
}

// printTimeline prints one line a window, with a bar for its p99 (a
// mark a millisecond, capped), and the windows whose p99 passed limit.
func printTimeline(w io.Writer, ws []window, limit time.Duration) {
	fmt.Fprintf(w, "%8s %6s %9s %9s %9s\n", "from", "calls", "p50", "p99", "max")
	slow := 0
	for _, x := range ws {
		bar := strings.Repeat("#", min(int(x.p99/time.Millisecond), 60))
		fmt.Fprintf(w, "%7.1fs %6d %9s %9s %9s %s\n", x.from.Seconds(), x.n, x.p50.Round(10*time.Microsecond),
			x.p99.Round(10*time.Microsecond), x.max.Round(10*time.Microsecond), bar)
		if x.p99 > limit {
			slow++
		}
	}
	fmt.Fprintf(w, "%d of %d windows with p99 over %s\n", slow, len(ws), limit)
}

// writeTimelineCSV writes the windows to path, for a plot.
func writeTimelineCSV(path string, ws []window) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	cw := csv.NewWriter(f)
	cw.Write([]string{"from_s", "calls", "p50_us", "p99_us", "max_us"})
	for _, x := range ws {
		cw.Write([]string{strconv.FormatFloat(x.from.Seconds(), 'f', 1, 64), strconv.Itoa(x.n), us(x.p50), us(x.p99), us(x.max)})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncFigures are one kind of sync's p50 and p99 over some tries.
type syncFigures struct {
	name     string
	p50, p99 time.Duration
	err      error
}

// printSyncs prints what one sync costs on the disk under dir, measured
// now (syncReference), next to which the round's figures read.
func printSyncs(w io.Writer, dir string) {
	for _, f := range syncReference(dir, 200) {
		if f.err != nil {
			fmt.Fprintf(w, "  %s: not measured: %v\n", f.name, f.err)
			continue
		}
		fmt.Fprintf(w, "  %-44s p50 %6s µs, p99 %6s µs\n", f.name, us(f.p50), us(f.p99))
	}
}

// spread is the p50 and p99 of ds.
func spread(ds []time.Duration) (p50, p99 time.Duration) {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2], ds[len(ds)*99/100]
}
