package store

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// Fuzz targets: the seed corpus runs with every `go test`; CI also fuzzes
// each for a few seconds (.ci/run).

func FuzzDecodeLead(f *testing.F) {
	l := &Lead{ID: 7, Offer: "acme", Ext: "x", Status: StatusCancel, Reason: 6, Comment: "c",
		Base: MoneyFromUnits(1210, 2), Counts: 2, Curr: 643, Fields: map[string]string{"phone": "7999"},
		Created: t0, Updated: t0, Rev: 3, HoldUntil: t0.Add(time.Hour)}
	f.Add(encodeLead(nil, l))
	f.Add(encodeLead(nil, &Lead{}))
	f.Add([]byte{recordV1, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decodeLead(data)
		if err != nil {
			if !errors.Is(err, errCorrupt) {
				t.Fatalf("error %v does not say the record is corrupt", err)
			}
			return
		}
		// Whatever decodes must survive a round trip unchanged.
		again, err := decodeLead(encodeLead(nil, got))
		if err != nil || !bytes.Equal(encodeLead(nil, again), encodeLead(nil, got)) {
			t.Fatalf("round trip of %+v: %+v, %v", got, again, err)
		}
	})
}

func FuzzDecodeChange(f *testing.F) {
	f.Add(encodeChange(nil, &Change{Rev: 2, At: t0, By: "api", Fields: []FieldChange{{"status", "2", "6"}}}))
	f.Add([]byte{recordV1, 1, 2, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := decodeChange(data); err != nil && !errors.Is(err, errCorrupt) {
			t.Fatalf("error %v does not say the record is corrupt", err)
		}
	})
}

func FuzzParseMoney(f *testing.F) {
	for _, s := range []string{"12.10", "-0.5", "1,5", "999999999999.999999", "1e3", "", ".", "+7."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		m, err := ParseMoney(text)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParseMoney(%q): error %v is not ErrInvalid", text, err)
			}
			return
		}
		again, err := ParseMoney(m.String())
		if err != nil || again != m {
			t.Fatalf("ParseMoney(%q) = %s, which reads back as %s, %v", text, m, again, err)
		}
	})
}

func FuzzDecodePatch(f *testing.F) {
	for _, s := range []string{`{"accept":1}`, `{"status":5,"reason":6}`, `{"hold":3}`, `{"cash":{"pay":"1.5","cc":"RUB"}}`,
		`{"base":12.1,"curr":643}`, `{"status":"paid"}`, `{`, `[]`, `null`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		p, err := DecodePatch(bytes.NewReader([]byte(text)))
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("DecodePatch(%q): error %v is not ErrInvalid", text, err)
			}
			return
		}
		// A decoded patch applies or is refused; it never panics or
		// leaves a lead with an out-of-range status.
		l := &Lead{ID: 1, Offer: "acme", Status: StatusProcessing, Counts: 1, Created: t0, Rev: 1}
		env := &editEnv{now: t0, policy: DefaultPolicy(), reasons: StandardReasons(),
			goalCode: func(string, uint32) (string, bool, error) { return "", false, nil },
			goalID:   func(string, string) (uint32, bool, error) { return 0, false, nil }}
		res, err := applyPatch(l, &p, env)
		if err == nil && !res.lead.Status.Valid() {
			t.Fatalf("patch %q left status %d", text, res.lead.Status)
		}
	})
}
