package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"leadhost/store"
)

// An import fills the database with a Badger store's records as they
// are — ids, revisions, history, keys, goals, outbox items, journal
// entries — for `leadhost migrate`. Each page of the source is one
// transaction: a COPY per table it touches and the part's progress (the
// source's key read last) in table migration_progress. A migrate killed
// at any point leaves whole pages and the cursor that matches them, so
// the next run goes on after it: nothing copied twice, nothing skipped.
// The table is the schema's (migrations/004_migration_progress.sql), so
// that the schema has one owner; an older leadhost migrate made it
// itself, which that migration allows for.

// importLock is the advisory lock an import holds for its whole run: two
// migrates into one database would copy the same pages.
const importLock = migrationLock + 2

// ErrNotOurs means the database holds records an import did not put
// there: it fills an empty database only.
var ErrNotOurs = errors.New("the database holds records leadhost migrate did not put there")

// ImportProgress is how far an import has copied one part.
type ImportProgress struct {
	Cursor []byte // the source's key copied last (nil: none)
	Rows   int64  // records copied
	Done   bool
}

// Import is one run of an import into the database (BeginImport).
type Import struct {
	s      *Store
	lock   *pgxpool.Conn
	source string
	// Progress is each part's progress as the run found it, kept up to
	// date by Write.
	Progress map[store.ExportPart]ImportProgress
}

// BeginImport starts (or resumes) an import from source, which names the
// store read ("badger:/abs/dir"). A database that holds leads, goals,
// keys or outbox items an import did not put there is refused
// (ErrNotOurs), as is one an import from another source filled.
func (s *Store) BeginImport(ctx context.Context, source string) (*Import, error) {
	if err := s.alive(ctx); err != nil {
		return nil, err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, dbError(err)
	}
	var locked bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, int64(importLock)).Scan(&locked); err != nil {
		conn.Release()
		return nil, dbError(err)
	}
	if !locked {
		conn.Release()
		return nil, errors.New("another leadhost migrate is copying into this database")
	}
	im := &Import{s: s, lock: conn, source: source, Progress: map[store.ExportPart]ImportProgress{}}
	if err := im.begin(ctx); err != nil {
		im.Close()
		return nil, err
	}
	return im, nil
}

func (im *Import) begin(ctx context.Context) error {
	return im.s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT part, source, cursor, rows, done FROM migration_progress`)
		if err != nil {
			return err
		}
		other := ""
		for rows.Next() {
			var (
				part, source string
				p            ImportProgress
			)
			if err := rows.Scan(&part, &source, &p.Cursor, &p.Rows, &p.Done); err != nil {
				rows.Close()
				return err
			}
			if source != im.source {
				other = source
			}
			im.Progress[store.ExportPart(part)] = p
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if other != "" {
			return &refusal{fmt.Errorf("%w: a migrate from %s filled it, not from %s", ErrNotOurs, other, im.source)}
		}
		if len(im.Progress) == 0 {
			var leads int64
			var any bool
			err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM leads), EXISTS (SELECT 1 FROM goals) OR EXISTS (SELECT 1 FROM idempotency_keys)
				OR EXISTS (SELECT 1 FROM feed_items)`).Scan(&leads, &any)
			if err != nil {
				return err
			}
			if leads > 0 || any {
				return &refusal{fmt.Errorf("%w (%d leads): migrate fills an empty database", ErrNotOurs, leads)}
			}
		}
		for _, part := range store.ExportParts {
			if _, ok := im.Progress[part]; ok {
				continue
			}
			if _, err := tx.Exec(ctx, `INSERT INTO migration_progress (part, source) VALUES ($1, $2)`, string(part), im.source); err != nil {
				return err
			}
			im.Progress[part] = ImportProgress{}
		}
		return nil
	})
}

// Close ends the run (its lock); what Write committed stays.
func (im *Import) Close() {
	if im.lock != nil {
		im.lock.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, int64(importLock))
		im.lock.Release()
		im.lock = nil
	}
}

// Write copies one page of part and records its cursor, in one
// transaction; a page with no cursor ends the part.
func (im *Import) Write(ctx context.Context, part store.ExportPart, page store.ExportPage) error {
	p := im.Progress[part]
	err := im.s.inTx(ctx, func(tx pgx.Tx) error {
		for _, c := range pageCopies(part, &page) {
			if len(c.rows) == 0 {
				continue
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{c.table}, c.columns, pgx.CopyFromRows(c.rows)); err != nil {
				return fmt.Errorf("copy into %s: %w", c.table, err)
			}
		}
		cursor := page.Cursor
		if cursor == nil {
			cursor = p.Cursor
		}
		_, err := tx.Exec(ctx, `UPDATE migration_progress SET cursor = $2, rows = rows + $3, done = $4 WHERE part = $1`,
			string(part), cursor, int64(page.Len()), page.Cursor == nil)
		return err
	})
	if err != nil {
		return fmt.Errorf("import %s: %w", part, err)
	}
	if page.Cursor != nil {
		p.Cursor = page.Cursor
	}
	p.Rows += int64(page.Len())
	p.Done = page.Cursor == nil
	im.Progress[part] = p
	return nil
}

// Finish sets the sequences past every id copied: the next lead and goal
// the database makes take new ids.
func (im *Import) Finish(ctx context.Context) error {
	return im.s.inTx(ctx, func(tx pgx.Tx) error {
		for _, q := range []string{
			`SELECT setval('lead_ids', greatest(m, (SELECT last_value FROM lead_ids))) FROM (SELECT max(id) AS m FROM leads) x WHERE m IS NOT NULL`,
			`SELECT setval('goal_ids', greatest(m, (SELECT last_value FROM goal_ids))) FROM (SELECT max(id) AS m FROM goals) x WHERE m IS NOT NULL`,
		} {
			if _, err := tx.Exec(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
}

// tableCopy is one COPY of a page: its rows for table's columns.
type tableCopy struct {
	table   string
	columns []string
	rows    [][]any
}

var (
	importLeadColumns = append(columnsOf(leadCasts), "added_by", "added_at")
	historyColumns    = []string{"lead_id", "rev", "at", "by", "changes"}
	itemColumnsAll    = []string{"feed", "lead_id", "rev", "held", "offer", "from_status", "to_status", "reason", "approved", "at", "by",
		"attempts", "not_before", "in_flight", "last_error"}
)

func columnsOf(casts []struct{ column, cast string }) []string {
	out := make([]string, len(casts))
	for i, c := range casts {
		out[i] = c.column
	}
	return out
}

// pageCopies are the COPYs that write a page. Text PostgreSQL cannot keep
// (not UTF-8, a NUL byte) is copied with U+FFFD in its place: the
// verify after the copy names each lead that differs for it.
func pageCopies(part store.ExportPart, page *store.ExportPage) []tableCopy {
	switch part {
	case store.ExportGoals:
		c := tableCopy{table: "goals", columns: []string{"offer", "code", "id"}}
		for _, g := range page.Goals {
			c.rows = append(c.rows, []any{text(g.Offer), text(g.Code), int64(g.ID)})
		}
		return []tableCopy{c}
	case store.ExportLeads:
		leads := tableCopy{table: "leads", columns: importLeadColumns}
		hist := tableCopy{table: "history", columns: historyColumns}
		for _, e := range page.Leads {
			leads.rows = append(leads.rows, leadRow(e))
			for _, c := range e.History {
				fields := make([]store.FieldChange, len(c.Fields))
				for i, f := range c.Fields {
					fields[i] = store.FieldChange{Field: text(f.Field), Old: text(f.Old), New: text(f.New)}
				}
				b, _ := json.Marshal(fields)
				hist.rows = append(hist.rows, []any{int64(e.Lead.ID), int32(c.Rev), c.At.Truncate(time.Microsecond), text(c.By), string(b)})
			}
		}
		return []tableCopy{leads, hist}
	case store.ExportKeys:
		c := tableCopy{table: "idempotency_keys", columns: []string{"offer", "key", "lead_id"}}
		for _, k := range page.Keys {
			c.rows = append(c.rows, []any{text(k.Offer), text(k.Key), int64(k.LeadID)})
		}
		return []tableCopy{c}
	case store.ExportOutbox:
		c := tableCopy{table: "feed_items", columns: itemColumnsAll}
		for _, it := range page.Items {
			c.rows = append(c.rows, []any{text(it.Feed), int64(it.LeadID), int32(it.Rev), it.Held, text(it.Offer), int16(it.From), int16(it.To),
				int32(it.Reason), it.Approved, it.At.Truncate(time.Microsecond), text(it.By), int32(it.Attempts),
				null(it.NotBefore.Truncate(time.Microsecond)), it.InFlight, text(it.LastError)})
		}
		return []tableCopy{c}
	case store.ExportJournal:
		c := tableCopy{table: "journal", columns: journalColumns}
		for _, e := range page.Journal {
			var logs, detail any
			if len(e.Logs) > 0 {
				lines := make([]string, len(e.Logs))
				for i, l := range e.Logs {
					lines[i] = text(l)
				}
				b, _ := json.Marshal(lines)
				logs = string(b)
			}
			if len(e.Detail) > 0 {
				detail = text(string(e.Detail))
			}
			c.rows = append(c.rows, []any{int64(e.ID), e.At.Truncate(time.Microsecond), text(e.Offer), text(string(e.Kind)), text(string(e.Status)),
				int64(e.Duration), int64(e.Version), text(e.Summary), bytesOrNil(e.Request), bytesOrNil(e.Response), logs, detail, e.Expires, text(e.Node)})
		}
		return []tableCopy{c}
	}
	return nil
}

// leadRow is a lead's row of importLeadColumns.
func leadRow(e store.ExportedLead) []any {
	n := *e.Lead
	n.Offer, n.Ext, n.Comment, n.Track = text(n.Offer), text(n.Ext), text(n.Comment), text(n.Track)
	if len(n.Fields) > 0 {
		f := make(map[string]string, len(n.Fields))
		for k, v := range n.Fields {
			f[text(k)] = text(v)
		}
		n.Fields = f
	}
	for _, t := range []*time.Time{&n.HoldUntil, &n.Created, &n.Updated, &n.AcceptedAt} {
		*t = t.Truncate(time.Microsecond)
	}
	row := leadArgs(&n)
	// Money as numeric values, not text: COPY is binary, and pgx takes
	// text for a numeric column only after failing to encode it.
	row[8], row[13], row[14], row[15] = numeric(n.Base), numeric(n.Cash.WM), numeric(n.Cash.Pay), numeric(n.Cash.Ref)
	return append(row, text(e.AddedBy), e.AddedAt.Truncate(time.Microsecond))
}

// numeric is m as PostgreSQL's numeric, with its scale.
func numeric(m store.Money) pgtype.Numeric {
	units, scale := m.Units()
	return pgtype.Numeric{Int: big.NewInt(units), Exp: int32(-scale), Valid: true}
}

// ImportCounts counts the database's records as store.ExportCounts
// counts a Badger store's (the journal's unexpired entries).
func (s *Store) ImportCounts(ctx context.Context) (store.ExportCounts, error) {
	var c store.ExportCounts
	if err := s.alive(ctx); err != nil {
		return c, err
	}
	err := s.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM leads), (SELECT count(*) FROM history),
		(SELECT count(*) FROM idempotency_keys), (SELECT count(*) FROM goals),
		(SELECT count(*) FROM feed_items WHERE NOT held), (SELECT count(*) FROM feed_items WHERE held),
		(SELECT count(*) FROM journal WHERE expires > $1)`, s.now()).
		Scan(&c.Leads, &c.History, &c.Keys, &c.Goals, &c.Pending, &c.Held, &c.Journal)
	return c, dbError(err)
}

// LeadsAfter returns up to limit leads whose id is past after, by id
// (without their history): a verify pages through every lead so.
func (s *Store) LeadsAfter(ctx context.Context, after uint64, limit int) ([]*store.Lead, error) {
	if err := s.alive(ctx); err != nil {
		return nil, err
	}
	leads, err := scanLeads(s.pool.Query(ctx, `SELECT `+leadColumns+` FROM leads WHERE id > $1 ORDER BY id LIMIT $2`, int64(after), limit))
	return leads, dbError(err)
}
