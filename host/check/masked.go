package check

import (
	"leadhost/store"
)

// Masked is the report as people are shown it by default: the partner's
// key in a URL, a token header, the leads' phones and e-mails in the
// requests, answers, edits and logs hidden, as the journal hides them.
// r is not changed; the error keeps its kind (errors.As still finds a
// script's RunError) with its text masked.
func (r *Report) Masked() *Report {
	m := *r
	if r.Err != nil {
		m.Err = &maskedError{err: r.Err, text: store.Mask(r.Err.Error())}
	}
	m.Exchanges = make([]Exchange, len(r.Exchanges))
	for i, ex := range r.Exchanges {
		ex.URL, ex.Body, ex.Response, ex.Err = store.Mask(ex.URL), store.Mask(ex.Body), store.Mask(ex.Response), store.Mask(ex.Err)
		if ex.Headers != nil {
			headers := make(map[string]string, len(ex.Headers))
			for k, h := range ex.Headers {
				if store.SecretName(k) {
					h = "***"
				}
				headers[k] = store.Mask(h)
			}
			ex.Headers = headers
		}
		m.Exchanges[i] = ex
	}
	m.Edits = store.MaskEdits(r.Edits)
	m.Refused = store.MaskAll(r.Refused)
	m.Logs = store.MaskAll(r.Logs)
	return &m
}

// maskedError is an error whose text is shown masked.
type maskedError struct {
	err  error
	text string
}

func (e *maskedError) Error() string { return e.text }
func (e *maskedError) Unwrap() error { return e.err }
