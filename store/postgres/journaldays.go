package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The journal is partitioned by day (migrations/001): a day is the range
// of entry ids (nanoseconds) from its midnight UTC to the next. The store
// creates the partitions of yesterday to the day after tomorrow ahead of
// the entries, and drops a past day's partition as a whole once every
// entry in it has expired — no row-by-row delete of a day's millions of
// entries. Entries with a shorter life than their neighbours (an offer's
// journal_days) are deleted row by row. An entry dated outside the days
// made lands in journal_default, and is deleted by row when it expires.

const (
	journalDayPrefix = "journal_"
	journalDefault   = "journal_default"
	// journalDayGrace keeps a day's partition for late entries (a check
	// run is journaled at its start) that long after the day ends.
	journalDayGrace = 24 * time.Hour
)

// journalDaysLock is the advisory lock under which partitions are made
// and dropped: two nodes never race to make the same day.
const journalDaysLock = migrationLock + 1

func journalDay(name string) (time.Time, bool) {
	if !strings.HasPrefix(name, journalDayPrefix) {
		return time.Time{}, false
	}
	day, err := time.Parse("20060102", strings.TrimPrefix(name, journalDayPrefix))
	return day, err == nil
}

// journalDays lists the journal's day partitions by name.
func journalDays(ctx context.Context, q querier) (map[string]time.Time, error) {
	rows, err := q.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'journal'::regclass`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		if day, ok := journalDay(name); ok {
			out[name] = day
		}
	}
	return out, rows.Err()
}

// makeJournalDays creates the partitions of yesterday to the day after
// tomorrow that are missing. A day whose entries are in journal_default
// already (dated ahead of the days made) cannot be made: its entries
// stay there.
func (s *Store) makeJournalDays(ctx context.Context, now time.Time) error {
	today := now.UTC().Truncate(24 * time.Hour)
	have, err := journalDays(ctx, s.pool)
	if err != nil {
		return err
	}
	for d := -1; d <= 2; d++ {
		day := today.AddDate(0, 0, d)
		name := journalDayPrefix + day.Format("20060102")
		if _, ok := have[name]; ok {
			continue
		}
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(journalDaysLock)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s PARTITION OF journal FOR VALUES FROM (%d) TO (%d)`,
				name, day.UnixNano(), day.AddDate(0, 0, 1).UnixNano()))
			return err
		})
		if err != nil {
			s.log.Warn("making a day of the journal", "day", day.Format(time.DateOnly), "err", dbError(err))
		}
	}
	return nil
}

// sweepJournal drops the past days whose entries have all expired, then
// deletes the expired entries left, and makes the coming days.
func (s *Store) sweepJournal(ctx context.Context) error {
	now := s.now()
	days, err := journalDays(ctx, s.pool)
	if err != nil {
		return err
	}
	for name, day := range days {
		if day.AddDate(0, 0, 1).Add(journalDayGrace).After(now) {
			continue
		}
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(journalDaysLock)); err != nil {
				return err
			}
			var live bool
			if err := tx.QueryRow(ctx, fmt.Sprintf(`SELECT EXISTS (SELECT 1 FROM %s WHERE expires > $1)`, name), now).Scan(&live); err != nil {
				return err
			}
			if live {
				return nil
			}
			_, err := tx.Exec(ctx, `DROP TABLE `+name)
			return err
		})
		if err != nil {
			return fmt.Errorf("journal day %s: %w", day.Format(time.DateOnly), dbError(err))
		}
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM journal WHERE expires <= $1`, now); err != nil {
		return dbError(err)
	}
	return s.makeJournalDays(ctx, now)
}
