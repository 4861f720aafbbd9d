package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/dgraph-io/badger/v4"
)

// Groups too big for one transaction land whole through the write-ahead
// log.
//
// SPEC §1: the edits of one run land together. A group (commit.go) is one
// record of the write-ahead log (wal.go), on disk before any of it goes to
// Badger. One that fits one Badger transaction is then written with it.
// An op never spans two groups, so a group outgrows one transaction only
// through one big op: a check answer's batch of 1,000 leads of 2.5 KB, say
// (Badger takes 15% of a memtable per transaction, 4.8 MB; the committer
// keeps to 40% of that, ~1.9 MB, as its size estimate is rough). Such a
// group is cut, between steps (one lead's change each), into parts of one
// transaction's size, written in order. A crash before the last part is
// written loses nothing: Open replays the group's record whole.
//
// Replaying a group is harmless and overwrites nothing newer. The writes
// are final values the committer computed (the lead record, index entries
// set or deleted, history entries keyed by their rev), so writing them
// twice gives what writing them once gave; no revision moves and no
// history entry doubles. And every group logged after it is replayed
// after it.
//
// Readers (Get, List, a backup) may see the first parts without the rest
// for the milliseconds the parts take to land; each lead is consistent
// with its indexes at every point (parts are cut between steps). Writers
// never see part of it.
//
// A part that fails to be written (a full disk) leaves the rest to write:
// the committer tries at once and before each later write (which fails
// until it can), and Open replays the record otherwise. An in-memory
// store has no log: what it keeps of the rest is all there is.
//
// Stores written by leadhost before the log kept such a batch in Badger
// as a recovery record; Open finishes one it finds (finishRecord).
//
// Key layout of that record (kind 'r', see keys.go):
//
//	r 0     → uvarint count of parts recorded (all but the first)
//	r 1 n   → recorded part n: writes, each flag (0 set, 1 delete) | uvarint len | key [| uvarint len | value]
var redoHeadKey = []byte{kindRedo, 0}

func redoPartKey(n int) []byte {
	return binary.BigEndian.AppendUint32([]byte{kindRedo, 1}, uint32(n))
}

// partsLeft are the parts of a group not yet written to Badger.
type partsLeft struct {
	parts [][]write
	done  int // parts of the group written before these
}

// landWhole writes parts, one transaction's worth each, in order. What it
// could not write it returns, to be written before anything else.
func (s *Badger) landWhole(parts [][]write) (*partsLeft, error) {
	return s.writeParts(&partsLeft{parts: parts})
}

// writeParts writes each part left as one transaction, in order, and
// returns what is still left after a failure.
func (s *Badger) writeParts(p *partsLeft) (*partsLeft, error) {
	total := p.done + len(p.parts)
	for len(p.parts) > 0 {
		var err error
		if s.failPart != nil {
			err = s.failPart(p.done)
		}
		if err == nil {
			err = s.applyTxn(p.parts[0])
		}
		if err != nil {
			return p, fmt.Errorf("store: write a batch (it lands whole once the store can write again, or on the next open): part %d of %d: %w", p.done+1, total, err)
		}
		p.parts, p.done = p.parts[1:], p.done+1
	}
	return nil, nil
}

// applyTxn writes writes in one Badger transaction.
func (s *Badger) applyTxn(writes []write) error {
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	buf := txnEntries.Get().(*[]badger.Entry)
	defer putTxnEntries(buf)
	if cap(*buf) < len(writes) {
		*buf = make([]badger.Entry, len(writes))
	}
	*buf = (*buf)[:len(writes)]
	if err := setAll(txn, writes, *buf); err != nil {
		return err
	}
	return txn.Commit()
}

// txnEntries are the Entry slices applyTxn hands Badger: one a
// transaction, kept for the next, where txn.Set allocates an Entry per
// key. Badger holds them until Commit returns (its memtable and logs
// copy keys and values); a slice is kept at most maxTxnEntries long.
var txnEntries = sync.Pool{New: func() any { return new([]badger.Entry) }}

const maxTxnEntries = 4096

func putTxnEntries(buf *[]badger.Entry) {
	if cap(*buf) > maxTxnEntries {
		return
	}
	clear(*buf) // no key or value held until the next transaction
	txnEntries.Put(buf)
}

// applyReplayed writes a record of the log again, in as many
// transactions as it takes: nothing else writes while Open replays.
func (s *Badger) applyReplayed(payload []byte) error {
	writes, err := decodePart(payload)
	if err != nil {
		return err
	}
	txn := s.db.NewTransaction(true)
	defer func() { txn.Discard() }()
	for i := 0; i < len(writes); {
		wr := writes[i]
		if wr.del {
			err = txn.Delete(wr.key)
		} else {
			err = txn.Set(wr.key, wr.val)
		}
		if errors.Is(err, badger.ErrTxnTooBig) {
			if err := txn.Commit(); err != nil {
				return err
			}
			txn = s.db.NewTransaction(true)
			continue // the same write, in the next transaction
		}
		if err != nil {
			return err
		}
		i++
	}
	return txn.Commit()
}

// setAll puts writes into txn, entries (one per write) holding the
// sets: the committer's one transaction and each part of a group too big
// for one.
func setAll(txn *badger.Txn, writes []write, entries []badger.Entry) error {
	for i, wr := range writes {
		var err error
		if wr.del {
			err = txn.Delete(wr.key)
		} else {
			entries[i] = badger.Entry{Key: wr.key, Value: wr.val}
			err = txn.SetEntry(&entries[i])
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// finishRecord applies a recovery record that a leadhost before the
// write-ahead log left on disk, if there is one, and returns how many
// writes it held. Open calls it before anything else writes.
func (s *Badger) finishRecord() (int, error) {
	var parts [][]write
	err := s.db.View(func(txn *badger.Txn) error {
		head, ok, err := getValue(txn, redoHeadKey)
		if err != nil || !ok {
			return err
		}
		count, k := binary.Uvarint(head)
		if k <= 0 || count == 0 || count > 1<<20 {
			return fmt.Errorf("recovery record head %x: %w", head, errCorrupt)
		}
		for n := 0; n < int(count); n++ {
			v, ok, err := getValue(txn, redoPartKey(n))
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("recovery record: part %d of %d missing: %w", n+1, count, errCorrupt)
			}
			p, err := decodePart(v)
			if err != nil {
				return fmt.Errorf("recovery record: part %d of %d: %w", n+1, count, err)
			}
			parts = append(parts, p)
		}
		return nil
	})
	if err != nil || parts == nil {
		return 0, err
	}
	if _, err := s.writeParts(&partsLeft{parts: parts, done: 1}); err != nil {
		return 0, err
	}
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	err = txn.Delete(redoHeadKey)
	for i := 0; i < len(parts) && err == nil; i++ {
		err = txn.Delete(redoPartKey(i))
	}
	if err == nil {
		err = txn.Commit()
	}
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	return n, nil
}

func encodePart(writes []write) []byte {
	var b []byte
	for _, wr := range writes {
		b = appendWrite(b, wr)
	}
	return b
}

// appendWrite encodes wr after b: flag (0 set, 1 delete) | uvarint len |
// key [| uvarint len | value].
func appendWrite(b []byte, wr write) []byte {
	if wr.del {
		b = append(b, 1)
		b = binary.AppendUvarint(b, uint64(len(wr.key)))
		return append(b, wr.key...)
	}
	b = append(b, 0)
	b = binary.AppendUvarint(b, uint64(len(wr.key)))
	b = append(b, wr.key...)
	b = binary.AppendUvarint(b, uint64(len(wr.val)))
	return append(b, wr.val...)
}

func decodePart(b []byte) ([]write, error) {
	var writes []write
	next := func() ([]byte, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return nil, false
		}
		v := b[k : k+int(n)]
		b = b[k+int(n):]
		return v, true
	}
	for len(b) > 0 {
		flag := b[0]
		b = b[1:]
		key, ok := next()
		if !ok || len(key) == 0 || flag > 1 {
			return nil, errCorrupt
		}
		wr := write{key: key, del: flag == 1}
		if !wr.del {
			if wr.val, ok = next(); !ok {
				return nil, errCorrupt
			}
		}
		writes = append(writes, wr)
	}
	return writes, nil
}
