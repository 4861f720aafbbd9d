package api

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/valyala/fasthttp"

	"leadhost/store"
)

// streamed is what a route's handler returns when it has set a body
// stream itself: admin writes no JSON after it.
type streamed struct{}

// backupSource is a store that writes its own backups (Badger's);
// PostgreSQL is backed up with its own tools.
type backupSource interface {
	InMemory() bool
	Backup(ctx context.Context, w io.Writer, written func(int64)) error
}

// backup is GET /api/backup: a consistent copy of the live store
// (store.Badger.Backup), streamed as it is read. The status is sent before the
// copy is taken, so a failure half way cannot change it: the file's end
// mark is what says it is whole, and restore refuses a file without it.
func (s *Server) backup(c *fasthttp.RequestCtx, _ []string) (int, any, error) {
	st, ok := s.App.Store.(backupSource)
	if !ok {
		return 0, nil, &APIError{HTTPStatus: fasthttp.StatusConflict, Err: errors.New("this serve's store is not kept by leadhost itself: back it up with its database's own tools (pg_dump for PostgreSQL)")}
	}
	if st.InMemory() {
		return 0, nil, &APIError{HTTPStatus: fasthttp.StatusConflict, Err: errors.New("this serve keeps its store in memory: there is nothing on disk to back up")}
	}
	conn := c.Conn()
	name := fmt.Sprintf("leadhost-%s.backup", time.Now().UTC().Format("20060102-150405"))
	c.SetContentType("application/octet-stream")
	c.Response.Header.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	c.SetBodyStreamWriter(func(w *bufio.Writer) {
		// The server's write timeout covers a whole answer; a backup may
		// take minutes, so it bounds each pause between frames instead —
		// generously, since Badger may read long runs of expired journal
		// entries between two frames.
		progress := func(int64) { conn.SetWriteDeadline(time.Now().Add(backupPause)) }
		if err := st.Backup(context.Background(), w, progress); err != nil {
			s.log().Error("backup over the admin API failed", "err", err)
			// Cut the connection: ending the chunked answer normally
			// would let the client take a partial copy for a whole one.
			conn.Close()
		}
	})
	return fasthttp.StatusOK, streamed{}, nil
}

// backupPause bounds the wait between two frames of a streamed backup.
const backupPause = 2 * time.Minute

// VerifyReport is the answer of GET /api/verify.
type VerifyReport struct {
	OK       bool            `json:"ok"`
	Problems []store.Problem `json:"problems"`
}

// verify is GET /api/verify: every index checked against its record and
// back (store.Verify).
func (s *Server) verify(c *fasthttp.RequestCtx, _ []string) (int, any, error) {
	probs, err := s.App.Store.Verify(c)
	if err != nil {
		return 0, nil, err
	}
	if probs == nil {
		probs = []store.Problem{}
	}
	return fasthttp.StatusOK, VerifyReport{OK: len(probs) == 0, Problems: probs}, nil
}
