package main

import (
	"context"
	"fmt"
	"io"

	"leadhost/store"
	"leadhost/store/postgres"
)

// maxDifferences bounds the differences a verify prints; it counts the
// rest.
const maxDifferences = 100

// verifyStores compares what a migrate copied: the records of each part
// counted on both sides, then every lead's revision and digest
// (store.LeadDigest: every field, money and time), and the database's
// own checks (history entries 2..rev of each lead, keys and outbox items
// pointing at leads). It prints "verified: … — identical", or each
// difference; same is false when there is one.
func verifyStores(ctx context.Context, src *store.Badger, dst *postgres.Store, out io.Writer) (same bool, err error) {
	d := &differences{out: out}
	a, err := src.ExportCounts(ctx)
	if err != nil {
		return false, err
	}
	b, err := dst.ImportCounts(ctx)
	if err != nil {
		return false, err
	}
	for _, c := range []struct {
		what string
		a, b int64
	}{{"leads", a.Leads, b.Leads}, {"history entries", a.History, b.History}, {"idempotency keys", a.Keys, b.Keys},
		{"goals", a.Goals, b.Goals}, {"outbox items", a.Pending, b.Pending}, {"held outbox items", a.Held, b.Held},
		{"journal entries", a.Journal, b.Journal}} {
		if c.a != c.b {
			d.add("%s: %d in Badger, %d in PostgreSQL", c.what, c.a, c.b)
		}
	}
	if err := compareLeads(ctx, src, dst, d); err != nil {
		return false, err
	}
	probs, err := dst.Verify(ctx)
	if err != nil {
		return false, err
	}
	for _, p := range probs {
		d.add("PostgreSQL: %s", p)
	}
	if d.n > 0 {
		if d.n > maxDifferences {
			fmt.Fprintf(out, "… and %d more\n", d.n-maxDifferences)
		}
		fmt.Fprintf(out, "verify: %d differences\n", d.n)
		return false, nil
	}
	fmt.Fprintf(out, "verified: %d leads, %d history entries, %d idempotency keys, %d goals, %d outbox items (%d held), %d journal entries — identical\n",
		a.Leads, a.History, a.Keys, a.Goals, a.Pending+a.Held, a.Held, a.Journal)
	return true, nil
}

// differences prints the first maxDifferences and counts them all.
type differences struct {
	out io.Writer
	n   int
}

func (d *differences) add(format string, args ...any) {
	d.n++
	if d.n <= maxDifferences {
		fmt.Fprintf(d.out, format+"\n", args...)
	}
}

// verifyPage is the leads a verify reads at once from each side.
const verifyPage = 5000

// compareLeads walks both stores' leads by id side by side, each side
// read by its own goroutine.
func compareLeads(ctx context.Context, src *store.Badger, dst *postgres.Store, d *differences) error {
	ctx, cancel := context.WithCancel(ctx)
	from := leadPages(ctx, func(cursor []byte) ([]*store.Lead, []byte, error) {
		page, err := src.Export(ctx, store.ExportLeadRecords, cursor, verifyPage)
		leads := make([]*store.Lead, len(page.Leads))
		for i, e := range page.Leads {
			leads[i] = e.Lead
		}
		return leads, page.Cursor, err
	})
	var last uint64
	to := leadPages(ctx, func([]byte) ([]*store.Lead, []byte, error) {
		leads, err := dst.LeadsAfter(ctx, last, verifyPage)
		if len(leads) > 0 {
			last = leads[len(leads)-1].ID
		}
		var more []byte
		if len(leads) == verifyPage {
			more = []byte{1}
		}
		return leads, more, err
	})
	// Both readers have ended when this returns: the stores they read
	// are closed after.
	defer func() {
		cancel()
		for range from {
		}
		for range to {
		}
	}()
	a, b := &leadCursor{pages: from}, &leadCursor{pages: to}
	for {
		x, err := a.peek()
		if err != nil {
			return err
		}
		y, err := b.peek()
		if err != nil {
			return err
		}
		switch {
		case x == nil && y == nil:
			return nil
		case y == nil || (x != nil && x.ID < y.ID):
			d.add("lead %d: in Badger, not in PostgreSQL", x.ID)
			a.next()
		case x == nil || y.ID < x.ID:
			d.add("lead %d: in PostgreSQL, not in Badger", y.ID)
			b.next()
		default:
			if x.Rev != y.Rev {
				d.add("lead %d: revision %d in Badger, %d in PostgreSQL", x.ID, x.Rev, y.Rev)
			} else if store.LeadDigest(x) != store.LeadDigest(y) {
				d.add("lead %d: revision %d on both sides, but its fields differ", x.ID, x.Rev)
			}
			a.next()
			b.next()
		}
	}
}

// leadPage is a page of leads by id, or why there is none.
type leadPage struct {
	leads []*store.Lead
	err   error
}

// leadPages reads pages with read (given the cursor it returned last)
// until one returns no cursor, one page ahead of the reader.
func leadPages(ctx context.Context, read func(cursor []byte) ([]*store.Lead, []byte, error)) <-chan leadPage {
	ch := make(chan leadPage, 1)
	go func() {
		defer close(ch)
		var cursor []byte
		for {
			leads, next, err := read(cursor)
			select {
			case ch <- leadPage{leads, err}:
			case <-ctx.Done():
				return
			}
			if err != nil || next == nil {
				return
			}
			cursor = next
		}
	}()
	return ch
}

// leadCursor steps through the leads of a page channel.
type leadCursor struct {
	pages <-chan leadPage
	buf   []*store.Lead
	ended bool
}

// peek is the current lead (nil: no more).
func (c *leadCursor) peek() (*store.Lead, error) {
	for len(c.buf) == 0 && !c.ended {
		p, ok := <-c.pages
		if !ok {
			c.ended = true
			break
		}
		if p.err != nil {
			return nil, p.err
		}
		c.buf = p.leads
	}
	if len(c.buf) == 0 {
		return nil, nil
	}
	return c.buf[0], nil
}

func (c *leadCursor) next() { c.buf = c.buf[1:] }
