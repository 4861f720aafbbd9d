package store

// JournalKind says what a journal entry records. Adding a kind is one
// line here (and the producer that writes it).
type JournalKind string

// The journal's kinds.
const (
	KindHook        JournalKind = "hook"         // a webhook call, with the raw request
	KindPostback    JournalKind = "postback"     // a partner's status postback, with the raw request
	KindSend        JournalKind = "send"         // a new lead delivered to its partner
	KindPostbackOut JournalKind = "postback-out" // a status change reported to a tracker
	KindCheck       JournalKind = "check"        // a status-check run
	KindReload      JournalKind = "reload"       // an offer loaded, changed or gone
	KindLead        JournalKind = "lead"         // a lead added or edited from the CLI or the admin API
)

// JournalKinds lists every kind, for filters that refuse others.
var JournalKinds = []JournalKind{KindHook, KindPostback, KindSend, KindPostbackOut, KindCheck, KindReload, KindLead}

// JournalStatus is how the recorded operation ended.
type JournalStatus string

// The journal's statuses.
const (
	JournalOK      JournalStatus = "ok"
	JournalError   JournalStatus = "error"   // failed: counted, mailed
	JournalRefused JournalStatus = "refused" // turned away at the door (no such offer, a wrong token): not the offer failing
	JournalDry     JournalStatus = "dry"     // a person trying a script: neither a failure nor a recovery
)

// JournalStatuses lists every status, for filters that refuse others.
var JournalStatuses = []JournalStatus{JournalOK, JournalError, JournalRefused, JournalDry}
