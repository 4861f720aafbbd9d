package postgres

import (
	"context"
	"errors"
	"sync"
	"time"

	"leadhost/store"
)

// Concurrent Adds share statements: a few adder goroutines each take the
// Adds queued and write them as one statement (groupStatement), one
// transaction and one commit, as Badger's committer shares one fsync. A
// webhook then costs PostgreSQL a share of a statement's and a commit's
// work rather than a whole one each. A group the server refuses (an ext
// another lead has, text it cannot keep) is written again one Add at a
// time (addOne), so that each caller gets its own answer.

// maxAddGroup bounds the Adds of one statement.
const maxAddGroup = 64

// addReq is one Add waiting for its group.
type addReq struct {
	lead  *store.Lead // built, without its id
	key   string
	by    string
	feeds []string // the feeds that want its creation
	done  chan addResult
}

type addResult struct {
	id  uint64 // 0: the key was claimed before
	err error
}

// adders are the goroutines that write groups of Adds.
type adders struct {
	s       *Store
	mu      sync.RWMutex // Add holds it to queue; stop takes it to close the queue
	stopped bool
	queue   chan *addReq
	wg      sync.WaitGroup
}

// start runs n adders.
func (a *adders) start(s *Store, n int) {
	a.s = s
	a.queue = make(chan *addReq, maxAddGroup*n)
	for range n {
		a.wg.Add(1)
		go a.loop()
	}
}

// do queues r and waits until its group is written (or failed).
func (a *adders) do(r *addReq) (uint64, error) {
	r.done = make(chan addResult, 1)
	a.mu.RLock()
	if a.stopped {
		a.mu.RUnlock()
		return 0, store.ErrClosed
	}
	a.queue <- r
	a.mu.RUnlock()
	res := <-r.done
	return res.id, res.err
}

// stop writes what is queued, then ends the adders.
func (a *adders) stop() {
	a.mu.Lock()
	a.stopped = true
	close(a.queue)
	a.mu.Unlock()
	a.wg.Wait()
}

func (a *adders) loop() {
	defer a.wg.Done()
	group := make([]*addReq, 0, maxAddGroup)
	for r := range a.queue {
		group = append(group[:0], r)
	fill:
		for len(group) < maxAddGroup {
			select {
			case r, ok := <-a.queue:
				if !ok {
					break fill
				}
				group = append(group, r)
			default:
				break fill
			}
		}
		a.s.addGroup(group)
	}
}

// addGroup writes a group and answers each of its callers.
func (s *Store) addGroup(group []*addReq) {
	// The callers' contexts are not the write's: once queued, an Add
	// is written, as with Badger.
	ctx := context.Background()
	if len(group) > 1 {
		ids, err := s.groupAdd(ctx, group)
		if err == nil {
			for i, r := range group {
				r.done <- addResult{id: ids[i]}
			}
			return
		}
	}
	for _, r := range group {
		id, err := s.addOne(ctx, r)
		r.done <- addResult{id: id, err: err}
	}
}

// groupAdd runs a group's statement: each Add's lead id, 0 for one whose
// key was claimed before (in an earlier statement or earlier in this
// one).
func (s *Store) groupAdd(ctx context.Context, group []*addReq) ([]uint64, error) {
	var (
		rows               leadRows
		ord, feedOrd       []int32
		keys               []*string
		addedBy, feedNames []string
		addedAt            []time.Time
	)
	for i, r := range group {
		rows.add(r.lead)
		ord = append(ord, int32(i))
		keys = append(keys, nullText(r.key))
		addedBy = append(addedBy, r.by)
		addedAt = append(addedAt, r.lead.Updated)
		for _, f := range r.feeds {
			feedOrd, feedNames = append(feedOrd, int32(i)), append(feedNames, f)
		}
	}
	args := append([]any{ord, keys, addedBy, addedAt, feedOrd, feedNames}, rows.args()[1:]...)
	ids := make([]uint64, len(group))
	for try := 1; ; try++ {
		err := s.scanGroup(ctx, args, ids)
		if err == nil || try == maxTries || !conflict(err) {
			return ids, err
		}
	}
}

func (s *Store) scanGroup(ctx context.Context, args []any, ids []uint64) error {
	res, err := s.pool.Query(ctx, groupStatement, args...)
	if err != nil {
		return err
	}
	defer res.Close()
	for res.Next() {
		var (
			i  int32
			id *int64
		)
		if err := res.Scan(&i, &id); err != nil {
			return err
		}
		if int(i) >= len(ids) {
			return errors.New("add group: an answer for no Add")
		}
		ids[i] = 0
		if id != nil {
			ids[i] = uint64(*id)
		}
	}
	return res.Err()
}

// groupStatement writes a group of Adds: the first Add of each key claims
// it (keys in order, so that two groups never wait on each other in a
// circle), each Add that claimed its key or has none gets an id, its lead
// and its creation's feed items are inserted. It answers each Add's
// ordinal and id (NULL: its key was claimed before). $1..$6 are the
// Adds' ordinals, keys, authors and times, and the feed items' Adds and
// feeds; $7.. the leads' columns but the id, as leadRows.args.
const groupStatement = `WITH input AS (
	SELECT * FROM unnest($1::integer[], $2::text[], $3::text[], $4::timestamptz[],
		$7::text[], $8::text[], $9::smallint[], $10::smallint[], $11::integer[], $12::timestamptz[], $13::text[],
		$14::text[]::numeric[], $15::integer[], $16::integer[], $17::bigint[], $18::text[], $19::text[]::numeric[],
		$20::text[]::numeric[], $21::text[]::numeric[], $22::integer[], $23::text[]::jsonb[], $24::timestamptz[],
		$25::timestamptz[], $26::timestamptz[], $27::integer[])
	AS u(ord, key, added_by, added_at, offer, ext, status, bucket, reason, hold_until, comment, base, counts, curr,
		goal, track, cash_wm, cash_pay, cash_ref, cash_cc, fields, created, updated, accepted_at, rev)
), first AS MATERIALIZED (
	SELECT DISTINCT ON (offer, key) ord, offer, key FROM input WHERE key IS NOT NULL ORDER BY offer, key, ord
), k AS (
	INSERT INTO idempotency_keys (offer, key, lead_id)
	SELECT offer, key, nextval('lead_ids') FROM first ORDER BY offer, key
	ON CONFLICT DO NOTHING RETURNING offer, key, lead_id
), ids AS MATERIALIZED (
	SELECT i.ord, CASE WHEN i.key IS NULL THEN nextval('lead_ids') ELSE k.lead_id END AS id
	FROM input i LEFT JOIN first f ON f.ord = i.ord LEFT JOIN k ON k.offer = f.offer AND k.key = f.key
), l AS (
	INSERT INTO leads (id, offer, ext, status, bucket, reason, hold_until, comment, base, counts, curr, goal, track,
		cash_wm, cash_pay, cash_ref, cash_cc, fields, created, updated, accepted_at, rev, added_by, added_at)
	SELECT ids.id, i.offer, i.ext, i.status, i.bucket, i.reason, i.hold_until, i.comment, i.base, i.counts, i.curr,
		i.goal, i.track, i.cash_wm, i.cash_pay, i.cash_ref, i.cash_cc, i.fields, i.created, i.updated, i.accepted_at,
		i.rev, i.added_by, i.added_at
	FROM input i JOIN ids ON ids.ord = i.ord WHERE ids.id IS NOT NULL
), f AS (
	INSERT INTO feed_items (feed, lead_id, rev, offer, from_status, to_status, reason, approved, at, by)
	SELECT fi.feed, ids.id, i.rev, i.offer, 0, i.status, i.reason, false, i.updated, i.added_by
	FROM unnest($5::integer[], $6::text[]) AS fi(ord, feed) JOIN ids ON ids.ord = fi.ord JOIN input i ON i.ord = fi.ord
	WHERE ids.id IS NOT NULL
)
SELECT ord, id FROM ids`
