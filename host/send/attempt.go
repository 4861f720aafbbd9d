package send

import (
	"errors"
	"net"
	"time"

	"github.com/valyala/fasthttp"

	"leadhost/store"
)

// Outcome is what became of an attempt.
type Outcome string

// The outcomes of an attempt.
const (
	Sent     Outcome = "sent"     // the partner took it (a send: status 2 with its id)
	Rejected Outcome = "rejected" // the partner refused the lead for good (a send: status 5 with a reason)
	Refused  Outcome = "refused"  // the partner refused the request (a tracker's 4xx): not retried, and a failure
	Retry    Outcome = "retry"    // it failed; another attempt follows, with backoff
	Held     Outcome = "held"     // for a person: in doubt, or an answer that could not be recorded
	Dropped  Outcome = "dropped"  // the offer no longer sends (or reports) at all
)

// Failed says the attempt did not end as it should: what the journal
// records as an error, the error metric counts and the mails report. A
// partner that rejects a lead answered as it should; a tracker that
// answers 404 to every postback did not.
func (o Outcome) Failed() bool { return o != Sent && o != Rejected }

// Done says the item leaves the outbox: delivered, or refused for good.
func (o Outcome) Done() bool { return o == Sent || o == Rejected || o == Refused }

// Attempt is one send of a lead and what became of it.
type Attempt struct {
	Offer    string         `json:"offer"`
	LeadID   uint64         `json:"lead_id"`
	Try      int            `json:"try"`
	Method   string         `json:"method,omitempty"`
	URL      string         `json:"url,omitempty"`
	Body     string         `json:"body,omitempty"`
	Status   int            `json:"status,omitempty"`
	Response string         `json:"response,omitempty"`
	Duration store.Duration `json:"duration"`
	Outcome  Outcome        `json:"outcome"`
	Ext      string         `json:"ext,omitempty"`
	Reason   store.Reason   `json:"reason,omitempty"`
	Err      string         `json:"error,omitempty"`
	Next     time.Time      `json:"next,omitzero"` // retry: not before
	Logs     []string       `json:"-"`             // what send.lua said: the journal entry keeps them
}

// neverSent says a failed request certainly did not reach the partner:
// no connection was made (refused, unreachable, no such host, dial
// timeout).
func neverSent(err error) bool {
	if errors.Is(err, fasthttp.ErrDialTimeout) || errors.Is(err, fasthttp.ErrNoFreeConns) {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

// fail marks an attempt for retry; partner failures count for the
// offer's circuit.
func (s *Sender) fail(offer string, a *Attempt, err error, partner bool) {
	a.Outcome, a.Err = Retry, err.Error()
	if partner {
		s.partnerFailed(offer)
	}
}

// do makes one request to a partner under the sender's timeout, and
// says how long it took.
func (s *Sender) do(req *fasthttp.Request, resp *fasthttp.Response) (store.Duration, error) {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	started := time.Now()
	err := s.Client.DoDeadline(req, resp, started.Add(timeout))
	return store.Duration(time.Since(started)), err
}
