package store

import (
	"encoding/binary"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// Groups too big for one transaction land whole through a recovery record.
//
// SPEC §1: the edits of one run land together. A group (commit.go) that
// fits one Badger transaction does, with the transaction. An op never
// spans two groups, so a group outgrows one transaction only through one
// big op: a check answer's batch of 1,000 leads of 2.5 KB, say (Badger
// takes 15% of a memtable per transaction, 4.8 MB; the committer keeps to
// 40% of that, ~1.9 MB, as its size estimate is rough). Such a group
// lands as a redo log:
//
//  1. Its writes are cut, between steps (one lead's change each), into
//     parts of one transaction's size.
//  2. The first part lands in one fsync'd transaction with the record:
//     every other part, one key each, and a head holding their count.
//     Values this large go to Badger's value log and count only as a
//     pointer toward the transaction's limit, so a record of any
//     realistic size fits beside the part. Record and first part are on
//     disk together or not at all; there is no half-written record to
//     discard.
//  3. Each other part lands as its own transaction, in order; the last
//     one also deletes the record.
//  4. If a crash cuts 3 short, Open finds the record and applies its
//     parts again before the committer starts (finishRecord); a crash
//     during that is finished by the next Open.
//
// The cost over one transaction: the parts after the first are written
// twice (once to the value log) and each lands with its own fsync.
//
// Applying a part again is harmless and overwrites nothing newer. The
// writes are final values the committer computed (the lead record, index
// entries set or deleted, history entries keyed by their rev), so writing
// them twice gives what writing them once gave; no revision moves and no
// history entry doubles. And nothing written after the group can be on
// disk while its record is: the committer computes every later op on top
// of the whole group (its overlay), sends nothing until the group has
// landed, and the record is deleted in the group's last transaction.
//
// Readers (Get, List, a backup) may see the first parts without the rest
// for the milliseconds the parts take to land; each lead is consistent
// with its indexes at every point (parts are cut between steps). Writers
// never see part of it. A backup that caught the record carries it, and
// the restored store's Open finishes it.
//
// A part that fails to land (a full disk) leaves the record: the committer
// tries to finish it at once and before each later write (which fails
// until it can), and Open finishes it otherwise. An in-memory store has no
// crash to survive and writes the parts without a record.
//
// Key layout (kind 'r', see keys.go):
//
//	r 0     → uvarint count of parts recorded (all but the first)
//	r 1 n   → recorded part n: writes, each flag (0 set, 1 delete) | uvarint len | key [| uvarint len | value]
var redoHeadKey = []byte{kindRedo, 0}

func redoPartKey(n int) []byte {
	return binary.BigEndian.AppendUint32([]byte{kindRedo, 1}, uint32(n))
}

// landWhole lands parts (two or more), one transaction's worth each, all
// or nothing. unfinished says the record is on disk but not every part
// landed.
func (s *Badger) landWhole(parts [][]write) (unfinished bool, err error) {
	rest := parts[1:]
	if s.opts.InMemory {
		rest = parts // no record
	} else if err := s.landFirst(parts[0], rest); err != nil {
		return false, fmt.Errorf("store: write a batch (nothing of it written): part 1 of %d: %w", len(parts), err)
	}
	if err := s.applyParts(rest, len(parts)-len(rest)); err != nil {
		return !s.opts.InMemory, fmt.Errorf("store: write a batch (its recovery record is kept: it lands whole once the store can write again, or on the next open): %w", err)
	}
	return false, nil
}

// landFirst writes the first part and the record of the rest in one
// transaction.
func (s *Badger) landFirst(first []write, rest [][]write) error {
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	err := setAll(txn, first)
	if err == nil && len(rest) > 0 {
		err = txn.Set(redoHeadKey, binary.AppendUvarint(nil, uint64(len(rest))))
	}
	for n := 0; n < len(rest) && err == nil; n++ {
		err = txn.Set(redoPartKey(n), encodePart(rest[n]))
	}
	if err == nil && s.failPart != nil {
		err = s.failPart(0)
	}
	if err != nil {
		return err
	}
	return txn.Commit()
}

// applyParts writes each recorded part as one transaction; the last one
// deletes the record. done is how many parts of the batch landed before
// (for errors and tests).
func (s *Badger) applyParts(parts [][]write, done int) error {
	for n, p := range parts {
		txn := s.db.NewTransaction(true)
		err := setAll(txn, p)
		if err == nil && s.failPart != nil {
			err = s.failPart(done + n)
		}
		if n == len(parts)-1 && !s.opts.InMemory && err == nil {
			err = txn.Delete(redoHeadKey)
			for i := 0; i < len(parts) && err == nil; i++ {
				err = txn.Delete(redoPartKey(i))
			}
		}
		if err == nil {
			err = txn.Commit()
		}
		txn.Discard()
		if err != nil {
			return fmt.Errorf("part %d of %d: %w", done+n+1, done+len(parts), err)
		}
	}
	return nil
}

// setAll puts writes into txn: the committer's one transaction and each
// part of a group too big for one.
func setAll(txn *badger.Txn, writes []write) error {
	for _, wr := range writes {
		var err error
		if wr.del {
			err = txn.Delete(wr.key)
		} else {
			err = txn.Set(wr.key, wr.val)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// finishRecord applies a recovery record left on disk, if there is one,
// and returns how many writes it held. Nothing else may write meanwhile:
// Open calls it before the committer starts, the committer between
// groups. It writes even when the disk guard has made the store
// read-only (disk.go): finishing what was acknowledged comes first, it is
// one batch at most, and the reserve is there for it.
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
	if err := s.applyParts(parts, 1); err != nil {
		return 0, err
	}
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	return n, nil
}

func encodePart(writes []write) []byte {
	size := 0
	for _, wr := range writes {
		size += 1 + 2*binary.MaxVarintLen32 + len(wr.key) + len(wr.val)
	}
	b := make([]byte, 0, size)
	for _, wr := range writes {
		if wr.del {
			b = append(b, 1)
			b = binary.AppendUvarint(b, uint64(len(wr.key)))
			b = append(b, wr.key...)
			continue
		}
		b = append(b, 0)
		b = binary.AppendUvarint(b, uint64(len(wr.key)))
		b = append(b, wr.key...)
		b = binary.AppendUvarint(b, uint64(len(wr.val)))
		b = append(b, wr.val...)
	}
	return b
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
