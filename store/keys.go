package store

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Key layout. One byte names the kind of key; offers are followed by a 0
// byte (offer names may not contain one) so that one offer's prefix never
// matches another's.
//
//	l id                     → lead record
//	h id rev                 → history entry
//	s offer 0 bucket created id → (empty)     offer+status index: by status bucket
//	                                          (Status.bucket), then creation time
//	x offer 0 ext            → id             offer+ext index (unique)
//	o holdUntil id           → (empty)        held leads by expiry
//	k offer 0 key            → id             idempotency keys of Add
//	g offer 0 code           → goal id        goals by code
//	G offer 0 goal id        → code           goals by id
//	f feed 0 id rev          → event          durable change feeds
//	F feed 0 id rev          → item           feed items held for a person
//	m name                   → sequence state
//	r 0 / r 1 n              → a big batch's recovery record, by a leadhost before the write-ahead log (redo.go)
//	c contact 0 id           → (empty)        leads by phone and e-mail (contact.go)
//	u session hash           → until          console sessions signed out (signout.go)
const (
	kindLead    = 'l'
	kindHistory = 'h'
	kindStatus  = 's'
	kindExt     = 'x'
	kindHold    = 'o'
	kindIdem    = 'k'
	kindGoal    = 'g'
	kindGoalID  = 'G'
	kindFeed    = 'f'
	kindHeld    = 'F' // F feed 0 id rev → feed item held for a person
	kindRedo    = 'r'
	kindSignOut = 'u'
)

var (
	seqLeadKey = []byte("m/seq/lead")
	seqGoalKey = []byte("m/seq/goal")
)

// maxNameLen bounds offer names, ext ids, keys and goal codes: they are
// parts of index keys.
const maxNameLen = 256

// checkName validates an offer name (the folder name of its scripts).
func checkName(what, name string) error {
	if name == "" {
		return fmt.Errorf("%s is empty: %w", what, ErrInvalid)
	}
	if len(name) > maxNameLen {
		return fmt.Errorf("%s %.32q…: longer than %d bytes: %w", what, name, maxNameLen, ErrInvalid)
	}
	if strings.IndexByte(name, 0) >= 0 || !utf8.ValidString(name) {
		return fmt.Errorf("%s %q: not valid UTF-8 text: %w", what, name, ErrInvalid)
	}
	return nil
}

func appendU64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

// timeKey orders times, including those before 1970, as unsigned bytes.
func timeKey(t time.Time) uint64 { return uint64(t.UnixNano()) ^ (1 << 63) }

func keyFromTime(k uint64) time.Time { return time.Unix(0, int64(k^(1<<63))).UTC() }

// keyOf is a key's first byte in a slice with room for n more: a key in
// one allocation (appending to []byte{kind} reallocates at once).
func keyOf(kind byte, n int) []byte { return append(make([]byte, 0, 1+n), kind) }

func leadKey(id uint64) []byte { return appendU64(keyOf(kindLead, 8), id) }

func historyPrefix(id uint64) []byte { return appendU64(keyOf(kindHistory, 12), id) }

func historyKey(id uint64, rev uint32) []byte {
	return binary.BigEndian.AppendUint32(historyPrefix(id), rev)
}

func offerPrefix(kind byte, offer string) []byte {
	b := make([]byte, 0, len(offer)+2+17)
	b = append(b, kind)
	b = append(b, offer...)
	return append(b, 0)
}

func statusPrefix(offer string, b bucket) []byte {
	return append(offerPrefix(kindStatus, offer), byte(b))
}

// statusKey files a lead under its offer, status bucket and creation time:
// the check modes page through a bucket oldest first, and the dates mode
// reads a bucket's creation-time range.
func statusKey(l *Lead) []byte {
	return appendU64(appendU64(statusPrefix(l.Offer, l.Status.bucket()), timeKey(l.Created)), l.ID)
}

func extKey(offer, ext string) []byte { return append(offerPrefix(kindExt, offer), ext...) }

func holdKey(until time.Time, id uint64) []byte {
	return appendU64(appendU64(keyOf(kindHold, 16), timeKey(until)), id)
}

func idemKey(offer, key string) []byte { return append(offerPrefix(kindIdem, offer), key...) }

func goalKey(offer, code string) []byte { return append(offerPrefix(kindGoal, offer), code...) }

func goalIDKey(offer string, id uint32) []byte {
	return binary.BigEndian.AppendUint32(offerPrefix(kindGoalID, offer), id)
}

func feedPrefix(feed string) []byte { return offerPrefix(kindFeed, feed) }

func feedKey(feed string, id uint64, rev uint32) []byte {
	return binary.BigEndian.AppendUint32(appendU64(feedPrefix(feed), id), rev)
}

func heldKey(feed string, id uint64, rev uint32) []byte {
	return binary.BigEndian.AppendUint32(appendU64(offerPrefix(kindHeld, feed), id), rev)
}

func idValue(id uint64) []byte { return appendU64(nil, id) }

func readID(v []byte) (uint64, error) {
	if len(v) != 8 {
		return 0, fmt.Errorf("index value of %d bytes: %w", len(v), errCorrupt)
	}
	return binary.BigEndian.Uint64(v), nil
}

// tailU64 reads the big-endian uint64 that ends a key.
func tailU64(key []byte) uint64 { return binary.BigEndian.Uint64(key[len(key)-8:]) }
