package store

import (
	"time"
)

// writeLead records a lead's move from old (nil for a new lead) to n: the
// record, every index the move touches, one history entry per change (a
// new lead has none stored: history.go), and an event (plus its feed
// entries) per status change. changes[i] has Rev old.Rev+i+1; n.Rev is the
// last of them.
func (s *Badger) writeLead(w *stepWriter, old, n *Lead, changes []Change, events []Event) {
	s.commit.noteWrite(n.ID)
	w.set(leadKey(n.ID), encodeLead(make([]byte, 0, 256), n))
	for i := range changes {
		w.set(historyKey(n.ID, changes[i].Rev), encodeChange(nil, &changes[i]))
	}
	if old == nil || old.Status.bucket() != n.Status.bucket() {
		if old != nil {
			w.del(statusKey(old))
		}
		w.set(statusKey(n), nil)
	}
	if old == nil || old.Ext != n.Ext {
		if old != nil && old.Ext != "" {
			releaseExt(w, old.Offer, old.Ext, n.ID)
		}
		if n.Ext != "" {
			w.set(extKey(n.Offer, n.Ext), idValue(n.ID))
		}
	}
	writeContacts(w, old, n)
	if old == nil || !old.HoldUntil.Equal(n.HoldUntil) {
		if old != nil && !old.HoldUntil.IsZero() {
			w.del(holdKey(old.HoldUntil, old.ID))
		}
		if !n.HoldUntil.IsZero() {
			w.set(holdKey(n.HoldUntil, n.ID), nil)
		}
	}
	for i := range events {
		w.emit(events[i])
		for _, feed := range s.opts.Feeds {
			if s.opts.FeedFilter == nil || s.opts.FeedFilter(feed, events[i]) {
				w.set(feedKey(feed, n.ID, events[i].Rev), encodeEvent(&events[i]))
			}
		}
	}
}

// releaseExt removes an ext's index entry while it still names lead id:
// in a batch that passes exts around, another of its leads may have
// taken this one already (badgerBatch.extTakable).
func releaseExt(w *stepWriter, offer, ext string, id uint64) {
	if v, ok, err := w.get(extKey(offer, ext)); err == nil && ok {
		if holder, _ := readID(v); holder != id {
			return
		}
	}
	w.del(extKey(offer, ext))
}

// statusEvent returns the event of a change from a to b, if it is one.
func statusEvent(a Status, b *Lead, approved bool, at time.Time, by string) (Event, bool) {
	if a == b.Status && !approved {
		return Event{}, false
	}
	return Event{LeadID: b.ID, Offer: b.Offer, Rev: b.Rev, From: a, To: b.Status,
		Reason: b.Reason, Approved: approved, At: at, By: by}, true
}

// readLead reads a lead inside a step.
func readLead(w *stepWriter, id uint64) (*Lead, error) {
	v, ok, err := w.get(leadKey(id))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, nil
	}
	return decodeLead(v)
}

func (s *Badger) envFor(w *stepWriter, offer string, now time.Time) *editEnv {
	return &editEnv{
		now:     now,
		policy:  s.policy(offer),
		reasons: s.reasons,
		goalCode: func(offer string, goal uint32) (string, bool, error) {
			v, ok, err := w.get(goalIDKey(offer, goal))
			return string(v), ok, err
		},
		goalID: func(offer, code string) (uint32, bool, error) {
			v, ok, err := w.get(goalKey(offer, code))
			if err != nil || !ok {
				return 0, ok, err
			}
			id, err := goalIDFrom(code, v)
			return id, err == nil, err
		},
	}
}
