package store

import (
	"fmt"
	"sort"
)

// Reason is why a lead was cancelled (status 5). Reasons 1..17 are the
// seed's; a network may add its own through a ReasonTable.
type Reason uint16

// The standard rejection reasons of the seed.
const (
	ReasonWrongNumber    Reason = 1
	ReasonChangedMind    Reason = 2
	ReasonDidNotOrder    Reason = 3
	ReasonNeedsCert      Reason = 4
	ReasonWrongGeo       Reason = 5
	ReasonTrash          Reason = 6
	ReasonDuplicate      Reason = 7
	ReasonOrderedElse    Reason = 8
	ReasonExpensive      Reason = 9
	ReasonDelivery       Reason = 10
	ReasonUnreachable    Reason = 11
	ReasonFraud          Reason = 12
	ReasonLanguage       Reason = 13
	ReasonNotSuitable    Reason = 14
	ReasonOfferDisabled  Reason = 15
	ReasonConsultation   Reason = 16
	ReasonTimer          Reason = 17
	lastStandardReason          = ReasonTimer
	defaultDefaultReason        = ReasonChangedMind // a plain cancel is not trash
	defaultTrashReason          = ReasonTrash
)

// ReasonInfo describes one reason. Trash reasons mark a lead as junk (stage
// "trash" in postbacks), the others as an honest cancel.
type ReasonInfo struct {
	ID    Reason `json:"id" toml:"id"`
	Code  string `json:"code" toml:"code"`
	Label string `json:"label" toml:"label"`
	Trash bool   `json:"trash" toml:"trash"`
}

// ReasonTable is the list of reasons a store accepts. Its zero value is not
// usable; start from StandardReasons.
type ReasonTable struct {
	byID map[Reason]ReasonInfo
}

// StandardReasons returns a table with the seed's reasons 1..17.
func StandardReasons() *ReasonTable {
	t := &ReasonTable{byID: make(map[Reason]ReasonInfo, 32)}
	for _, r := range []ReasonInfo{
		{ReasonWrongNumber, "wrong_number", "Некорректный номер", true},
		{ReasonChangedMind, "changed_mind", "Передумал", false},
		{ReasonDidNotOrder, "did_not_order", "Не заказывал", true},
		{ReasonNeedsCert, "needs_certificate", "Требует сертификат", false},
		{ReasonWrongGeo, "wrong_geo", "Неверное ГЕО", true},
		{ReasonTrash, "trash", "Треш или тест", true},
		{ReasonDuplicate, "duplicate", "Дублированный заказ", true},
		{ReasonOrderedElse, "ordered_elsewhere", "Заказал в другом месте", true},
		{ReasonExpensive, "expensive", "Дорого", false},
		{ReasonDelivery, "delivery", "Не устраивает доставка", true},
		{ReasonUnreachable, "unreachable", "Не удалось дозвониться", true},
		{ReasonFraud, "fraud", "Подозрения на фрод", true},
		{ReasonLanguage, "language", "Не говорит на языке колл-центра", false},
		{ReasonNotSuitable, "not_suitable", "Товар не подошел", true},
		{ReasonOfferDisabled, "offer_disabled", "Оффер отключен", false},
		{ReasonConsultation, "consultation", "Консультация", false},
		{ReasonTimer, "timer", "Отклонён по таймеру", false},
	} {
		t.byID[r.ID] = r
	}
	return t
}

// With returns a copy of the table with extra reasons added or standard ones
// relabelled. A reason needs an id above 0 and a code.
func (t *ReasonTable) With(extra ...ReasonInfo) (*ReasonTable, error) {
	out := &ReasonTable{byID: make(map[Reason]ReasonInfo, len(t.byID)+len(extra))}
	for id, r := range t.byID {
		out.byID[id] = r
	}
	for _, r := range extra {
		if r.ID == 0 || r.Code == "" {
			return nil, fmt.Errorf("reason %d %q: needs an id above 0 and a code: %w", r.ID, r.Code, ErrInvalid)
		}
		out.byID[r.ID] = r
	}
	return out, nil
}

// Lookup returns the reason's description.
func (t *ReasonTable) Lookup(id Reason) (ReasonInfo, bool) {
	r, ok := t.byID[id]
	return r, ok
}

// All lists the table's reasons by id, for a person choosing one.
func (t *ReasonTable) All() []ReasonInfo {
	out := make([]ReasonInfo, 0, len(t.byID))
	for _, r := range t.byID {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Stage is a status as traffic sources read it in postbacks: wait (1, 2,
// 3), hold (4), approve (6–10), cancel (5 with an honest reason, 11 a
// return), trash (5 with a trash reason, 12). reasons nil: StandardReasons.
func Stage(s Status, r Reason, reasons *ReasonTable) string {
	switch {
	case s == StatusHold:
		return "hold"
	case s >= StatusPacking && s <= StatusPaid:
		return "approve"
	case s == StatusReturn:
		return "cancel"
	case s == StatusDeleted:
		return "trash"
	case s == StatusCancel:
		if reasons == nil {
			reasons = StandardReasons()
		}
		if info, ok := reasons.Lookup(r); ok && info.Trash {
			return "trash"
		}
		return "cancel"
	}
	return "wait"
}
