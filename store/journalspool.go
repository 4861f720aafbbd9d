package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"sync"
	"time"
)

// The journal's spool is where an entry waits for the journal's Badger:
// a ring of records in a file mapped into memory (<Dir>/journal.spool).
// An inbound call's entry must survive a kill -9 once the call is
// answered; it used to be waited for until the journal's own Badger had
// it (a channel, the writer's batch, Badger's write goroutine and back:
// 27–116 µs and ~120 allocations on every webhook's path). Copied into
// the mapped ring it is in the kernel's page cache, which outlives the
// process, at the cost of a copy: the writer (journal.go) moves it to
// Badger behind the call, and Open moves what a killed process left.
// Like the journal's Badger, the spool is not synced: a crash of the
// machine may lose the last entries.
//
// The file is a page of header — a magic and the tail, the position of
// the first record not yet in Badger — then the ring. Positions grow
// without end; a record at position p is at p mod the ring's size, cut
// in two where the ring ends. A record is
//
//	length uint32, little-endian, of the payload
//	crc    uint32, CRC-32C of the position (8 bytes) and the payload
//	pos    uint64, its position
//	payload the entry's JSON, as the journal's Badger keeps it
//
// Open reads the records from the tail on until one is not whole: its
// position is not where it lies (what an earlier lap left), or its CRC
// does not match (a copy a kill cut short, whose call was not answered).
//
// The entries' ids are taken under the ring's lock, so the ring holds
// them in the order of their ids, and "every entry before this one is in
// Badger" is a position: readers of the journal wait for the tail to
// pass the head they saw (settled), and so find every entry kept before
// they asked.

const (
	spoolMeta   = 4096 // the header page
	spoolRecord = 16   // a record's length, crc and position
	// spoolDisk and spoolMemory are the ring's size on disk and for an
	// in-memory store. A ring holds thousands of webhook entries; when it
	// is full, recorders wait for the writer (the journal keeps up or
	// slows its writers, it does not drop). An entry over half of it is
	// kept as its line (see record).
	spoolDisk   = 8 << 20
	spoolMemory = 4 << 20
)

// maxIDHead is the longest head appendJournalID writes.
const maxIDHead = len(`{"id":"18446744073709551615"`)

var spoolMagic = []byte("leadhost journal spool 1\n")

// spool is the ring. Recorders add to it under mu; the writer takes what
// is pending and moves the tail once Badger has it.
type spool struct {
	mu      sync.Mutex
	moved   sync.Cond // the tail moved: room freed, entries written
	ring    []byte
	meta    []byte // the header page
	head    uint64 // where the next record goes
	tail    uint64 // the first record not yet in Badger
	pending []spooled
	lastID  uint64 // the last entry id taken
	scratch [spoolRecord + maxIDHead]byte
	wake    chan struct{} // the writer has pending entries
	unmap   func() error
}

// spooled is an entry in the ring, as the writer needs it.
type spooled struct {
	pos    uint64 // its record's
	n      int    // its JSON's length
	id     uint64
	offer  string
	kind   JournalKind
	status JournalStatus
}

// memorySpool is an in-memory store's spool, of size bytes.
func memorySpool(size int) *spool {
	sp, _ := newSpool(make([]byte, size), make([]byte, spoolMeta), nil)
	return sp
}

func newSpool(ring, meta []byte, unmap func() error) (*spool, error) {
	sp := &spool{ring: ring, meta: meta, wake: make(chan struct{}, 1), unmap: unmap}
	sp.moved.L = &sp.mu
	if string(meta[:len(spoolMagic)]) != string(spoolMagic) {
		clear(meta)
		copy(meta, spoolMagic)
	}
	sp.tail = binary.LittleEndian.Uint64(meta[len(spoolMagic):])
	sp.head = sp.tail
	return sp, nil
}

// end is the position after a record of n payload bytes at pos.
func (sp *spooled) end() uint64 { return sp.pos + spoolRecord + uint64(sp.n) }

// fits says whether a record of n payload bytes may go into the ring.
func (sp *spool) fits(n int) bool { return spoolRecord+n <= len(sp.ring)/2 }

// add puts an entry's JSON, made of the head appendJournalID writes for
// the id it takes and body, into the ring, once there is room, and
// returns the id. e's offer, kind and status go with it for the writer's
// index keys.
func (sp *spool) add(e *JournalEntry, body []byte) uint64 {
	most := spoolRecord + maxIDHead + len(body)
	sp.mu.Lock()
	for sp.head+uint64(most)-sp.tail > uint64(len(sp.ring)) {
		sp.moved.Wait()
	}
	id := sp.takeID(e.At)
	// The scratch is the spool's: crc32 would move one of this call's
	// own to the heap.
	rec, head := sp.scratch[:spoolRecord], appendJournalID(sp.scratch[spoolRecord:spoolRecord], id)
	n := len(head) + len(body)
	binary.LittleEndian.PutUint32(rec[0:], uint32(n))
	binary.LittleEndian.PutUint64(rec[8:], sp.head)
	crc := crc32.Update(0, castagnoli, rec[8:])
	crc = crc32.Update(crc, castagnoli, head)
	crc = crc32.Update(crc, castagnoli, body)
	binary.LittleEndian.PutUint32(rec[4:], crc)
	sp.put(sp.head, rec)
	sp.put(sp.head+spoolRecord, head)
	sp.put(sp.head+spoolRecord+uint64(len(head)), body)
	sp.pending = append(sp.pending, spooled{pos: sp.head, n: n, id: id, offer: e.Offer, kind: e.Kind, status: e.Status})
	sp.head += spoolRecord + uint64(n)
	sp.mu.Unlock()
	select {
	case sp.wake <- struct{}{}:
	default:
	}
	return id
}

// nextID is an id for an entry at that is not spooled (dropped for disk
// space), in the order of those that are.
func (sp *spool) nextID(at time.Time) uint64 {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return sp.takeID(at)
}

// takeID is the entry's time in nanoseconds, made unique. Called with mu
// held.
func (sp *spool) takeID(at time.Time) uint64 {
	id := uint64(at.UnixNano())
	if id <= sp.lastID {
		id = sp.lastID + 1
	}
	sp.lastID = id
	return id
}

// put copies b into the ring at pos, cut in two where the ring ends.
func (sp *spool) put(pos uint64, b []byte) {
	n := copy(sp.ring[pos%uint64(len(sp.ring)):], b)
	copy(sp.ring, b[n:])
}

// read copies the ring's bytes at pos into b.
func (sp *spool) read(pos uint64, b []byte) {
	n := copy(b, sp.ring[pos%uint64(len(sp.ring)):])
	copy(b[n:], sp.ring)
}

// value is a spooled entry's JSON: in the ring itself, unless the ring's
// end cuts it in two. The writer alone reads it, before the tail passes
// it.
func (sp *spool) value(e spooled) []byte {
	from := (e.pos + spoolRecord) % uint64(len(sp.ring))
	if from+uint64(e.n) <= uint64(len(sp.ring)) {
		return sp.ring[from : from+uint64(e.n)]
	}
	v := make([]byte, e.n)
	sp.read(e.pos+spoolRecord, v)
	return v
}

// take swaps the pending entries for buf (emptied) and returns them.
func (sp *spool) take(buf []spooled) []spooled {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	out := sp.pending
	sp.pending = buf[:0]
	return out
}

// advance moves the tail to pos, in memory and in the header, and wakes
// whoever waits for room or for entries to be written.
func (sp *spool) advance(pos uint64) {
	sp.mu.Lock()
	sp.tail = pos
	binary.LittleEndian.PutUint64(sp.meta[len(spoolMagic):], pos)
	sp.moved.Broadcast()
	sp.mu.Unlock()
}

// settled returns once every entry added before it was called is in
// Badger (or dropped for disk space, or failed and logged).
func (sp *spool) settled() {
	sp.mu.Lock()
	for head := sp.head; sp.tail < head; {
		sp.moved.Wait()
	}
	sp.mu.Unlock()
}

// left are the entries a killed process left in the ring, from the tail
// on, decoded, with their JSON; the head moves past them.
func (sp *spool) left() ([]JournalEntry, [][]byte, error) {
	var (
		entries []JournalEntry
		values  [][]byte
		rec     [spoolRecord]byte
	)
	for pos := sp.tail; ; {
		sp.read(pos, rec[:])
		n := binary.LittleEndian.Uint32(rec[0:])
		if binary.LittleEndian.Uint64(rec[8:]) != pos || n == 0 || !sp.fits(int(n)) {
			break
		}
		v := make([]byte, n)
		sp.read(pos+spoolRecord, v)
		if crc32.Update(crc32.Update(0, castagnoli, rec[8:]), castagnoli, v) != binary.LittleEndian.Uint32(rec[4:]) {
			break
		}
		var e JournalEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return nil, nil, fmt.Errorf("journal spool: the entry at %d: %w", pos, errCorrupt)
		}
		entries, values = append(entries, e), append(values, v)
		pos += spoolRecord + uint64(n)
		sp.head = pos
	}
	return entries, values, nil
}

func (sp *spool) close() error {
	if sp.unmap == nil {
		return nil
	}
	return sp.unmap()
}
