package app

import (
	"fmt"
	"net/netip"
	"sync"
	"time"

	"leadhost/store"
)

// Refused calls (no such offer, a wrong token or method) need no token,
// so anyone can make them as fast as the network allows. Each is kept as a
// short line, and only the first refusedPerMinute of each source in a
// minute one by one; the others are counted and said in one entry per
// source when the minute is over. Ten thousand refused calls from one
// address in a minute are ten lines and a count, not ten thousand lines.
const (
	refusedPerMinute = 10
	// refusedLinesPerMinute bounds the lines of all sources together in
	// a minute (~150 KB): many sources cannot fill the disk either.
	refusedLinesPerMinute = 600
	// maxRefusalSources bounds the sources counted in a minute; beyond
	// them, the calls of new sources are counted together.
	maxRefusalSources = 10000
	otherSources      = "other sources"
)

// refusals decides which refused calls are journaled one by one.
type refusals struct {
	mu     sync.Mutex
	minute time.Time // the minute the counts are for
	counts map[refusalKey]*refusalCount
	kept   int // lines kept in the minute, of all sources
}

// refusalCount is what a source did in the minute: calls refused, and
// how many of them were journaled one by one.
type refusalCount struct{ seen, kept int }

type refusalKey struct {
	kind   store.JournalKind
	source string
}

// admit counts a refused call of kind from source at now and says whether
// it is journaled by itself; when now is in a later minute than the
// counts, it also gives the entries saying what the past minute left out.
func (r *refusals) admit(kind store.JournalKind, source string, now time.Time) (keep bool, summaries []store.JournalEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	minute := now.Truncate(time.Minute)
	if !minute.Equal(r.minute) {
		summaries = r.endMinute()
		r.minute = minute
	}
	if r.counts == nil {
		r.counts = map[refusalKey]*refusalCount{}
	}
	k := refusalKey{kind, SourceOf(source)}
	if _, ok := r.counts[k]; !ok && len(r.counts) >= maxRefusalSources {
		k.source = otherSources
	}
	n := r.counts[k]
	if n == nil {
		n = &refusalCount{}
		r.counts[k] = n
	}
	n.seen++
	if n.kept >= refusedPerMinute || r.kept >= refusedLinesPerMinute {
		return false, summaries
	}
	n.kept++
	r.kept++
	return true, summaries
}

// SourceOf is who a caller is counted as, for what is bounded per
// caller (refused calls, wrong sign-in tokens): its address, or its /64
// for IPv6, which one machine usually has whole.
func SourceOf(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil || !ip.Is6() || ip.Is4In6() {
		return addr
	}
	p, _ := ip.Prefix(64)
	return p.String()
}

// flush gives the entries of the minute counted so far, if it is over at
// now (a source that went quiet is still said).
func (r *refusals) flush(now time.Time) []store.JournalEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Truncate(time.Minute).Equal(r.minute) {
		return nil
	}
	return r.endMinute()
}

// endMinute makes the entries of the minute counted and starts anew.
func (r *refusals) endMinute() []store.JournalEntry {
	var out []store.JournalEntry
	var left, sources int
	for k, n := range r.counts {
		more := n.seen - n.kept
		if more == 0 {
			continue
		}
		if len(out) >= refusedLinesPerMinute {
			left, sources = left+more, sources+1
			continue
		}
		out = append(out, store.JournalEntry{At: r.minute.Add(time.Minute), Kind: k.kind, Status: store.JournalRefused,
			Summary: fmt.Sprintf("%d more refused calls from %s in the minute from %s UTC, not journaled one by one (at most the first %d are)",
				more, k.source, r.minute.UTC().Format("2006-01-02 15:04"), refusedPerMinute)})
	}
	if left > 0 {
		out = append(out, store.JournalEntry{At: r.minute.Add(time.Minute), Kind: store.KindHook, Status: store.JournalRefused,
			Summary: fmt.Sprintf("%d more refused calls from %d more sources in the minute from %s UTC, not journaled",
				left, sources, r.minute.UTC().Format("2006-01-02 15:04"))})
	}
	clear(r.counts)
	r.kept = 0
	return out
}
