package store

import (
	"sync/atomic"
	"time"
)

// CommitStats is where the committer's time went since the store opened,
// summed over every op (a caller's write) and every group (one Badger
// transaction): what a durable round is made of. `leadhost bench hook`
// prints the difference over a phase. Always on: it costs a few clock
// reads per op and per group, against a round of hundreds of µs.
type CommitStats struct {
	// Ops and Groups count the writes and the transactions they were
	// gathered into.
	Ops, Groups int64
	// Queued sums, over ops, the time from a caller handing its write to
	// the committer until the committer took it into a group.
	Queued time.Duration
	// Build sums, over ops, the committer's time computing them (reading
	// what they change, encoding what they write).
	Build time.Duration
	// Held sums, over groups, the time from a group's first op until it
	// was sent to Badger: the open group waits for the flight before it
	// to land.
	Held time.Duration
	// Write sums, over groups, the time from a group sent until it was
	// in Badger: its record appended to the write-ahead log and, with
	// fsync on, one fdatasync (Log), then Badger's write, not synced.
	Write time.Duration
	// Log sums, over groups, the write-ahead log's part of Write.
	Log time.Duration
	// LogBytes sums the groups' records in the write-ahead log.
	LogBytes int64
	// Landing sums, over groups, the time from a group written until the
	// committer landed it (woke its callers): the start of Wake, spent
	// while the committer was busy building the next group.
	Landing time.Duration
	// Wake sums, over ops, the time from Badger's callback until the
	// caller runs again (the committer landing the group, the scheduler).
	Wake time.Duration
	// Round sums, over ops, the time a caller waited, all of the above.
	Round time.Duration
	// Waited and InBadger split each op's round as its caller saw it: from
	// taken into a group until that group went to Badger, and Badger's
	// write of that group. Queued + Waited + InBadger + Wake = Round for
	// an op in one group; a stall weighs here by the ops it held up,
	// where the per-group sums count it once.
	Waited, InBadger time.Duration
	// Bulk counts the bulk ops (a check answer's batch) among Ops, and
	// BulkWaited sums their time in the bulk lane, while small writes
	// went first (commit.go). Queued includes it.
	Bulk       int64
	BulkWaited time.Duration
	// Writes counts Badger's writes of a group by how long they took:
	// up to WriteBuckets[i] in Writes[i], longer in the last.
	Writes [len(WriteBuckets) + 1]int64
}

// WriteBuckets are the upper bounds of CommitStats.Writes.
var WriteBuckets = [...]time.Duration{500 * time.Microsecond, time.Millisecond, 2 * time.Millisecond,
	5 * time.Millisecond, 10 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond}

// Sub is what happened between earlier and s.
func (s CommitStats) Sub(earlier CommitStats) CommitStats {
	d := CommitStats{Ops: s.Ops - earlier.Ops, Groups: s.Groups - earlier.Groups,
		Queued: s.Queued - earlier.Queued, Build: s.Build - earlier.Build, Held: s.Held - earlier.Held,
		Write: s.Write - earlier.Write, Log: s.Log - earlier.Log, LogBytes: s.LogBytes - earlier.LogBytes, Landing: s.Landing - earlier.Landing, Wake: s.Wake - earlier.Wake, Round: s.Round - earlier.Round,
		Waited: s.Waited - earlier.Waited, InBadger: s.InBadger - earlier.InBadger,
		Bulk: s.Bulk - earlier.Bulk, BulkWaited: s.BulkWaited - earlier.BulkWaited}
	for i := range s.Writes {
		d.Writes[i] = s.Writes[i] - earlier.Writes[i]
	}
	return d
}

// commitStats is the committer's running CommitStats.
type commitStats struct {
	ops, groups                             atomic.Int64
	queued, build, held, write, wake, round atomic.Int64 // ns
	log                                     atomic.Int64 // ns
	logBytes, landing                       atomic.Int64
	waited, inBadger                        atomic.Int64 // ns
	bulk, bulkWaited                        atomic.Int64 // count, ns
	writes                                  [len(WriteBuckets) + 1]atomic.Int64
}

// noteWrite counts one Badger write of a group that took d.
func (c *commitStats) noteWrite(d time.Duration) {
	c.write.Add(int64(d))
	i := 0
	for i < len(WriteBuckets) && d > WriteBuckets[i] {
		i++
	}
	c.writes[i].Add(1)
}

func (c *commitStats) snapshot() CommitStats {
	s := CommitStats{Ops: c.ops.Load(), Groups: c.groups.Load(),
		Queued: time.Duration(c.queued.Load()), Build: time.Duration(c.build.Load()), Held: time.Duration(c.held.Load()),
		Write: time.Duration(c.write.Load()), Log: time.Duration(c.log.Load()), LogBytes: c.logBytes.Load(), Landing: time.Duration(c.landing.Load()), Wake: time.Duration(c.wake.Load()), Round: time.Duration(c.round.Load()),
		Waited: time.Duration(c.waited.Load()), InBadger: time.Duration(c.inBadger.Load()),
		Bulk: c.bulk.Load(), BulkWaited: time.Duration(c.bulkWaited.Load())}
	for i := range c.writes {
		s.Writes[i] = c.writes[i].Load()
	}
	return s
}

// CommitStats is the committer's time so far (see CommitStats).
func (s *Badger) CommitStats() CommitStats { return s.commit.stats.snapshot() }
