package script

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	"leadhost/store"
)

// Action is what a recognised status word does to a lead.
type Action struct {
	Accept bool         // approve (status 6, or 10 without delivery)
	Status store.Status // otherwise this status
	Trash  bool         // status 5 with the trash reason
}

// Words recognises partners' status texts for core.lead.setstatus and
// setstc: English, Russian and common CRM codes, case-insensitive, with
// "_", "-" and repeated spaces read as one space and "ё" as "е".
type Words struct{ byWord map[string]Action }

// The standard table (SPEC §2). Order within a line does not matter.
var standardWords = map[Action][]string{
	{Accept: true}: {"approve", "approved", "accept", "accepted", "confirm", "confirmed", "sale", "success", "successful",
		"lead approve", "lead approved", "подтвержден", "подтверждена", "подтвержденный", "одобрен", "одобрено", "апрув", "принят"},
	{Status: store.StatusCancel}: {"cancel", "cancelled", "canceled", "reject", "rejected", "decline", "declined", "refused",
		"refuse", "denied", "отказ", "отмена", "отменен", "отменена", "отклонен", "отклонена"},
	{Status: store.StatusCancel, Trash: true}: {"trash", "invalid", "fake", "duplicate", "double", "spam", "test", "fraud",
		"wrong number", "дубль", "дубликат", "треш", "фейк", "некорректный номер"},
	{Status: store.StatusHold}: {"hold", "on hold", "холд"},
	{Status: store.StatusCallback}: {"callback", "call back", "recall", "no answer", "noanswer", "перезвонить", "перезвон",
		"недозвон", "не дозвонились"},
	{Status: store.StatusProcessing}: {"processing", "in processing", "in progress", "new", "pending", "wait", "waiting",
		"expect", "в обработке", "обработка", "новый", "новая", "ожидание", "ожидает"},
	{Status: store.StatusPacking}:   {"packing", "упаковка"},
	{Status: store.StatusSending}:   {"sending", "ready to ship", "отправка"},
	{Status: store.StatusTransit}:   {"transit", "in transit", "sent", "shipped", "в пути", "отправлен", "отправлено"},
	{Status: store.StatusDelivered}: {"delivered", "доставлен", "доставлено", "в пункте выдачи"},
	{Status: store.StatusPaid}:      {"paid", "bought", "выкуплен", "выкуп", "оплачен", "оплачено"},
	{Status: store.StatusReturn}:    {"return", "returned", "возврат", "вернулся"},
	{Status: store.StatusDeleted}:   {"deleted", "removed", "удален", "удалена", "удалено"},
}

// wordFolds are the spellings NormalizeWord treats as one. Built once: it
// runs for every setstatus and setstc.
var wordFolds = strings.NewReplacer("ё", "е", "_", " ", "-", " ")

// NormalizeWord is how status texts are compared.
func NormalizeWord(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = wordFolds.Replace(s)
	return strings.Join(strings.Fields(s), " ")
}

// StandardWords returns the standard table. It is built once and shared:
// a Words is never changed after it is made (With returns a copy).
func StandardWords() *Words { return standard() }

var standard = sync.OnceValue(func() *Words {
	w := &Words{byWord: make(map[string]Action, 180)}
	for act, list := range standardWords {
		for _, word := range list {
			w.byWord[NormalizeWord(word)] = act
		}
	}
	// A status's number as text ("6") is that status, as partners that
	// speak leadhost's numbers send it.
	for st := store.StatusNew; st <= store.MaxStatus; st++ {
		w.byWord[strconv.Itoa(int(st))] = Action{Status: st}
	}
	return w
})

// orStandard is w, or the standard table when the offer has none.
func orStandard(w *Words) *Words {
	if w == nil {
		return StandardWords()
	}
	return w
}

// With returns a copy with an offer's own words ([words] in offer.toml),
// which win over the standard ones. Kinds: approve, cancel, trash,
// callback, hold, processing, paid, return.
func (w *Words) With(extra map[string][]string) (*Words, error) {
	kinds := map[string]Action{
		"approve": {Accept: true}, "cancel": {Status: store.StatusCancel}, "trash": {Status: store.StatusCancel, Trash: true},
		"callback": {Status: store.StatusCallback}, "hold": {Status: store.StatusHold}, "processing": {Status: store.StatusProcessing},
		"paid": {Status: store.StatusPaid}, "return": {Status: store.StatusReturn},
	}
	out := &Words{byWord: make(map[string]Action, len(w.byWord)+8)}
	for k, a := range w.byWord {
		out.byWord[k] = a
	}
	for kind, list := range extra {
		act, ok := kinds[kind]
		if !ok {
			return nil, fmt.Errorf("[words]: unknown kind %q (approve, cancel, trash, callback, hold, processing, paid, return)", kind)
		}
		for _, word := range list {
			out.byWord[NormalizeWord(word)] = act
		}
	}
	return out, nil
}

// Recognize returns the action of a status text.
func (w *Words) Recognize(text string) (Action, bool) {
	a, ok := w.byWord[NormalizeWord(text)]
	return a, ok
}

// Patch turns an action into the edit it stands for.
func (a Action) Patch() store.Patch {
	switch {
	case a.Accept:
		return store.Patch{Accept: true}
	case a.Trash:
		st := store.StatusCancel
		return store.Patch{Status: &st, Trash: true} // the offer's trash_reason
	default:
		st := a.Status
		return store.Patch{Status: &st}
	}
}
