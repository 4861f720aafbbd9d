package store

import (
	"fmt"
	"slices"
	"strings"

	"github.com/dgraph-io/badger/v4"
)

// Contacts: a person who calls about their order gives a phone or an
// e-mail, not a lead id. Leads are indexed by the contacts in their
// fields "phone" and "email", so that Query.Contact finds them in any
// offer without reading every lead.
//
//	c contact 0 id → (empty)

const kindContact = 'c'

// contactIndexed marks a store whose contact index is whole: stores made
// before the index existed get it built once on open (indexContacts).
var contactIndexed = []byte("m/index/contact")

// phoneDigits is how many trailing digits of a phone are compared: the
// national number, so +7 (999) 000-11-22, 8 999 000 11 22 and 9990001122
// are one phone.
const phoneDigits = 10

// minPhoneDigits is the shortest run of digits taken for a phone.
const minPhoneDigits = 7

// ContactKey is the contact index's form of what a person typed: an
// e-mail (it has an @) in lower case, or a phone as its last ten digits.
// Anything else is ErrInvalid, worded for the person.
func ContactKey(text string) (string, error) {
	text = strings.TrimSpace(text)
	if strings.Contains(text, "@") {
		if k := emailKey(text); k != "" {
			return k, nil
		}
		return "", fmt.Errorf("contact %q: not an e-mail address: %w", text, ErrInvalid)
	}
	if k := phoneKey(text); k != "" {
		return k, nil
	}
	return "", fmt.Errorf("contact %q: want a phone (at least %d digits) or an e-mail address: %w", text, minPhoneDigits, ErrInvalid)
}

func emailKey(text string) string {
	if e, ok := emailText(text); ok {
		return "e" + e
	}
	return ""
}

// emailText is text as the contact index keeps an e-mail, after its "e",
// and whether it is one.
func emailText(text string) (string, bool) {
	text = strings.ToLower(strings.TrimSpace(text))
	at := strings.LastIndexByte(text, '@')
	if at <= 0 || at == len(text)-1 || strings.ContainsAny(text, " \t\x00") || len(text) > maxNameLen {
		return "", false
	}
	return text, true
}

func phoneKey(text string) string {
	var buf [1 + maxPhoneDigits]byte // no allocation but the key
	return string(appendPhoneKey(buf[:0], text))
}

// maxPhoneDigits is the most digits a phone may have.
const maxPhoneDigits = 20

// appendPhoneKey appends the phone key of text ("p" and its last ten
// digits) to b, or nothing when text is no phone.
func appendPhoneKey(b []byte, text string) []byte {
	var buf [1 + maxPhoneDigits]byte
	digits := buf[:1]
	for i := 0; i < len(text); i++ {
		if c := text[i]; c >= '0' && c <= '9' {
			if len(digits) == len(buf) {
				return b // over 20 digits
			}
			digits = append(digits, c)
		}
	}
	n := len(digits) - 1
	if n < minPhoneDigits {
		return b
	}
	if n > phoneDigits {
		digits = append(buf[:1], digits[1+n-phoneDigits:]...)
	}
	buf[0] = 'p'
	return append(b, digits...)
}

// leadContacts are the contact keys of a lead's phone and e-mail fields.
func leadContacts(l *Lead) []string {
	out := make([]string, 0, 2)
	if k := phoneKey(l.Fields["phone"]); k != "" {
		out = append(out, k)
	}
	if k := emailKey(l.Fields["email"]); k != "" {
		out = append(out, k)
	}
	return out
}

func contactPrefix(contact string) []byte {
	b := make([]byte, 0, len(contact)+10)
	b = append(b, kindContact)
	b = append(b, contact...)
	return append(b, 0)
}

func contactKey(contact string, id uint64) []byte { return contactKeyOf("", contact, id) }

// contactKeyOf is contactKey of tag+contact, made in one allocation
// from either a string or bytes.
func contactKeyOf[T ~string | ~[]byte](tag string, contact T, id uint64) []byte {
	b := keyOf(kindContact, len(tag)+len(contact)+9)
	b = append(append(b, tag...), contact...)
	return appendU64(append(b, 0), id)
}

// writeContacts moves a lead's contact index entries from old's contacts
// to n's (old nil for a new lead).
func writeContacts(w *stepWriter, old, n *Lead) {
	if old == nil {
		addContacts(w, n)
		return
	}
	if old.Fields["phone"] == n.Fields["phone"] && old.Fields["email"] == n.Fields["email"] {
		return
	}
	now := leadContacts(n)
	for _, c := range leadContacts(old) {
		if !slices.Contains(now, c) {
			w.del(contactKey(c, old.ID))
		}
	}
	for _, c := range now {
		w.set(contactKey(c, n.ID), nil)
	}
}

// addContacts files a new lead under its contacts: the keys contactKey
// makes of leadContacts, each made in place (a new lead is a webhook's,
// and a webhook's lead has a phone and often an e-mail).
func addContacts(w *stepWriter, n *Lead) {
	var buf [1 + maxPhoneDigits]byte
	if p := appendPhoneKey(buf[:0], n.Fields["phone"]); len(p) > 0 {
		w.set(contactKeyOf("", p, n.ID), nil)
	}
	if e, ok := emailText(n.Fields["email"]); ok {
		w.set(contactKeyOf("e", e, n.ID), nil)
	}
}

// listContact pages through the leads with one contact, oldest first,
// keeping those of offer (if set) whose status is wanted. A cursor is the
// last lead id read.
func listContact(txn *badger.Txn, contact, offer string, statuses StatusSet, after []byte, limit int, page *Page) error {
	if len(after) != 0 && len(after) != 8 {
		return fmt.Errorf("cursor: not one this list gave (pass back its next as it came): %w", ErrInvalid)
	}
	prefix := contactPrefix(contact)
	seek := prefix
	if len(after) == 8 {
		seek = append(append(append([]byte(nil), prefix...), after...), 0)
	}
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	for it.Seek(seek); it.ValidForPrefix(prefix); it.Next() {
		id := tailU64(it.Item().Key())
		l, err := getLead(txn, id)
		if err != nil {
			return fmt.Errorf("contact index of lead %d: %w", id, err)
		}
		if (offer != "" && l.Offer != offer) || !statuses.Has(l.Status) {
			continue
		}
		if len(page.Leads) == limit {
			page.Next = cursorEncoding.EncodeToString(after)
			return nil
		}
		page.Leads = append(page.Leads, l)
		after = appendU64(nil, id)
	}
	return nil
}

// indexContacts builds the contact index of a store made before it
// existed, once, before the committer starts: no edit can race it. A
// crash half way builds it again on the next open (its writes are
// idempotent; the mark comes last).
func (s *Badger) indexContacts() (int, error) {
	done := false
	err := s.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get(contactIndexed)
		done = err == nil
		if err == badger.ErrKeyNotFound {
			return nil
		}
		return err
	})
	if err != nil || done {
		return 0, err
	}
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	n := 0
	err = s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{kindLead}, PrefetchValues: true, PrefetchSize: 64})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var l *Lead
			if err := it.Item().Value(func(v []byte) (err error) { l, err = decodeLead(v); return err }); err != nil {
				return fmt.Errorf("lead %d: %w", tailU64(it.Item().Key()), err)
			}
			for _, c := range leadContacts(l) {
				if err := wb.Set(contactKey(c, l.ID), nil); err != nil {
					return err
				}
				n++
			}
		}
		return nil
	})
	if err == nil {
		err = wb.Flush()
	}
	if err == nil {
		err = s.db.Update(func(txn *badger.Txn) error { return txn.Set(contactIndexed, nil) })
	}
	return n, err
}
