package main

import (
	"fmt"
	"io"
	"os"
	"time"
)

// migrateProgress tells a person how a migrate's copy of the leads goes:
// leads copied of the total, the rate and the time left. On a terminal
// it is one line redrawn in place (at most five times a second); in a
// log (anything else) a line each time another tenth is copied, so a
// long run leaves ten lines, not thousands.
type migrateProgress struct {
	out      io.Writer
	terminal bool
	total    int64
	before   int64 // copied by an earlier run: not in the rate
	done     int64
	start    time.Time
	drawn    time.Time
	tenth    int64 // the last tenth reported (log)
	now      func() time.Time
}

func newMigrateProgress(w io.Writer, total, before int64) *migrateProgress {
	p := &migrateProgress{out: w, total: total, before: before, done: before, now: time.Now}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.terminal = true
		}
	}
	p.start = p.now()
	if total > 0 {
		p.tenth = before * 10 / total
	}
	return p
}

// add counts n more leads copied.
func (p *migrateProgress) add(n int64) {
	p.done += n
	switch {
	case p.terminal:
		if now := p.now(); now.Sub(p.drawn) >= 200*time.Millisecond {
			p.drawn = now
			fmt.Fprintf(p.out, "\r%s\x1b[K", p.line())
		}
	case p.total > 0:
		if tenth := p.done * 10 / p.total; tenth > p.tenth {
			p.tenth = tenth
			fmt.Fprintln(p.out, p.line())
		}
	}
}

// end finishes the terminal's line.
func (p *migrateProgress) end() {
	if p.terminal && !p.drawn.IsZero() {
		fmt.Fprintf(p.out, "\r%s\x1b[K\n", p.line())
	}
}

// line is "migrate: 120000 / 1000000 leads (12%), 25000 leads/s, 35s left".
func (p *migrateProgress) line() string {
	pct := int64(100)
	if p.total > 0 {
		pct = p.done * 100 / p.total
	}
	took := p.now().Sub(p.start)
	rate := float64(p.done-p.before) / took.Seconds()
	left := "-"
	if rate > 0 && p.done <= p.total {
		left = time.Duration(float64(p.total-p.done) / rate * float64(time.Second)).Round(time.Second).String()
	}
	return fmt.Sprintf("migrate: %d / %d leads (%d%%), %.0f leads/s, %s left", p.done, p.total, pct, rate, left)
}
