package postgres

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// maxHeldEntries bounds the journal entries a node keeps in memory while
// its database is away (about 100 MiB at the entries' 1 KiB typical).
const maxHeldEntries = 100_000

// heldEntries are journal entries whose write failed because the
// database did not answer: written again, oldest first, once it does.
// An outage's calls are answered 503 and their entries are what says
// so; a node that is killed while holding them loses them.
type heldEntries struct {
	entries []queuedEntry
	dropped int // past maxHeldEntries, since the last write
}

// keep holds e (its waiter, if any, is told of the failure by the
// caller: it is not told again).
func (h *heldEntries) keep(e queuedEntry, log *slog.Logger) {
	e.written = nil
	if len(h.entries) >= maxHeldEntries {
		h.entries = h.entries[1:]
		if h.dropped++; h.dropped == 1 {
			log.Error("the journal drops its oldest entries: its database has not answered for long", "held", maxHeldEntries)
		}
	}
	h.entries = append(h.entries, e)
}

// take moves up to n held entries into batch.
func (h *heldEntries) take(batch []queuedEntry, n int) []queuedEntry {
	k := min(n, len(h.entries))
	batch = append(batch, h.entries[:k]...)
	h.entries = h.entries[k:]
	if len(h.entries) == 0 {
		h.entries, h.dropped = nil, 0
	}
	return batch
}

func (h *heldEntries) len() int { return len(h.entries) }

// away says err is the database not answering (a connection refused or
// lost, a timeout, the server shutting down, starting up or taking no
// more connections), not the server refusing what was sent nor an entry
// pgx cannot send: what failed for it is tried again, what failed for
// the others is not (an entry that can never be written must not hold
// the journal back).
func away(err error) bool {
	var (
		ce *pgconn.ConnectError
		ne net.Error
		pe *pgconn.PgError
	)
	if errors.As(err, &pe) {
		switch pe.Code {
		case "57P01", "57P02", "57P03", "53300":
			return true
		}
		return strings.HasPrefix(pe.Code, "08")
	}
	return errors.As(err, &ce) || errors.As(err, &ne) || pgconn.Timeout(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNREFUSED)
}
