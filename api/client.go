package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"leadhost/host"
	"leadhost/host/app"
	"leadhost/host/check"
	"leadhost/store"
)

// Client is the admin API of a running serve as leadhost's CLI uses it:
// the same calls as app.App's, so a command gives the same output
// whether it opens the database itself or a serve holds it.
type Client struct {
	// Base is the serve's address, e.g. "http://127.0.0.1:8080".
	Base string
	// Token is the admin API's bearer token ("" for a serve without one).
	Token string
	HTTP  *http.Client
}

// Error is an answer of the admin API that is not a success: its HTTP
// status and its message, in the words the CLI prints for the same
// failure on a database it opened itself.
type Error struct {
	Status  int
	Message string
	body    []byte
}

func (e *Error) Error() string { return e.Message }

// AddLead is POST /api/leads.
func (c *Client) AddLead(ctx context.Context, input []byte, by string) (*store.Lead, bool, error) {
	var l store.Lead
	status, err := c.do(ctx, "POST", "/api/leads", input, by, &l)
	if err != nil {
		return nil, false, err
	}
	return &l, status == http.StatusCreated, nil
}

// EditLead is PATCH /api/leads/<id>.
func (c *Client) EditLead(ctx context.Context, id uint64, input []byte, by string) (*store.Lead, error) {
	var l store.Lead
	if _, err := c.do(ctx, "PATCH", "/api/leads/"+strconv.FormatUint(id, 10), input, by, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// LeadWithHistory is GET /api/leads/<id> and its history.
func (c *Client) LeadWithHistory(ctx context.Context, id uint64) (*store.Lead, error) {
	var l store.Lead
	path := "/api/leads/" + strconv.FormatUint(id, 10)
	if _, err := c.do(ctx, "GET", path, nil, "", &l); err != nil {
		return nil, err
	}
	var history list[store.Change]
	if _, err := c.do(ctx, "GET", path+"/history", nil, "", &history); err != nil {
		return nil, err
	}
	l.History = history.Items
	return &l, nil
}

// CheckNow is POST /api/offers/<offer>/check: one run now. A run that
// failed (502) comes back as its report, its Err set, as from app.App.
func (c *Client) CheckNow(ctx context.Context, offer string, req app.CheckRequest) (*check.Report, error) {
	if !host.ValidOfferID(offer) {
		// Not a folder name, so no offer: said as the app says it, before
		// the name could make another path of the URL.
		return nil, fmt.Errorf("no offer %q is loaded: %w", offer, store.ErrNotFound)
	}
	q := url.Values{"raw": {"1"}} // the caller masks what it shows (Report.Masked)
	if req.Mode != "" {
		q.Set("mode", req.Mode)
	}
	if req.Dry {
		q.Set("dry", "1")
	}
	if len(req.Leads) > 0 {
		ids := make([]string, len(req.Leads))
		for i, id := range req.Leads {
			ids[i] = strconv.FormatUint(id, 10)
		}
		q.Set("leads", strings.Join(ids, ","))
	}
	var rep check.Report
	_, err := c.do(ctx, "POST", "/api/offers/"+url.PathEscape(offer)+"/check?"+q.Encode(), nil, "", &rep)
	var e *Error
	// A run that happened and failed (the partner: 502; the offer's
	// script: 500) answers its report, raw: the caller masks it.
	if errors.As(err, &e) && (e.Status == http.StatusBadGateway || e.Status == http.StatusInternalServerError) && e.body != nil {
		if json.Unmarshal(e.body, &rep) == nil && rep.Offer != "" {
			return &rep, nil
		}
	}
	if err != nil {
		return nil, err
	}
	return &rep, nil
}

// HeldItems is GET /api/outbox/<outbox>?state=held: what the outbox holds
// for a person, masked as the serve shows it.
func (c *Client) HeldItems(ctx context.Context, outbox string) ([]store.FeedItem, error) {
	var items list[store.FeedItem]
	if _, err := c.do(ctx, "GET", "/api/outbox/"+url.PathEscape(outbox)+"?state=held", nil, "", &items); err != nil {
		return nil, err
	}
	return items.Items, nil
}

// ReleaseHeld is POST /api/outbox/<outbox>/<lead>/<rev>/release.
func (c *Client) ReleaseHeld(ctx context.Context, outbox string, lead uint64, rev uint32, by string) (store.FeedItem, error) {
	return c.heldAction(ctx, outbox, lead, rev, "release", by)
}

// DropHeld is POST /api/outbox/<outbox>/<lead>/<rev>/drop.
func (c *Client) DropHeld(ctx context.Context, outbox string, lead uint64, rev uint32, by string) (store.FeedItem, error) {
	return c.heldAction(ctx, outbox, lead, rev, "drop", by)
}

// heldAction releases or drops a held item; the serve answers with the
// item's lead and revision, which is all the returned item holds.
func (c *Client) heldAction(ctx context.Context, outbox string, lead uint64, rev uint32, action, by string) (store.FeedItem, error) {
	path := fmt.Sprintf("/api/outbox/%s/%d/%d/%s", url.PathEscape(outbox), lead, rev, action)
	var out struct{}
	if _, err := c.do(ctx, "POST", path, nil, by, &out); err != nil {
		return store.FeedItem{}, err
	}
	return store.FeedItem{Event: store.Event{LeadID: lead, Rev: rev}}, nil
}

// do sends one call and decodes its answer into out; an answer that is
// not a success is an *Error with the server's message.
func (c *Client) do(ctx context.Context, method, path string, body []byte, by string, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.Base, "/")+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", jsonContentType)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if by == app.ByCLI {
		req.Header.Set(ClientHeader, app.ByCLI)
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: app.CheckNowLimit + time.Minute} // the longest call waits for a check run
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("the serve at %s does not answer: %w", c.Base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return 0, fmt.Errorf("the serve at %s: reading its answer: %w", c.Base, err)
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, answerError(method, path, resp, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return resp.StatusCode, fmt.Errorf("the serve at %s: %s %s: an answer that does not read: %w", c.Base, method, path, err)
	}
	return resp.StatusCode, nil
}

// Backup is GET /api/backup: the serve's store copied into w as it
// streams. progress, if set, is told the bytes received so far. A copy
// cut short is an error here and, should it be kept anyway, at restore.
func (c *Client) Backup(ctx context.Context, w io.Writer, progress func(int64)) error {
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimSuffix(c.Base, "/")+"/api/backup", nil)
	if err != nil {
		return err
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{} // no overall timeout: a big store takes minutes; ctx ends it
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("the serve at %s does not answer: %w", c.Base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return answerError("GET", "/api/backup", resp, b)
	}
	var n int64
	buf := make([]byte, 256<<10)
	for {
		k, rerr := resp.Body.Read(buf)
		if k > 0 {
			if _, err := w.Write(buf[:k]); err != nil {
				return err
			}
			n += int64(k)
			if progress != nil {
				progress(n)
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("the serve at %s: the backup broke off after %d bytes: %w", c.Base, n, rerr)
		}
	}
}

// answerError is an answer that is not a success as an *Error: the
// server's JSON message, or the method, path and status when it has none.
func answerError(method, path string, resp *http.Response, body []byte) *Error {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error == "" {
		e.Error = fmt.Sprintf("%s %s: %s", method, path, resp.Status)
	}
	return &Error{Status: resp.StatusCode, Message: e.Error, body: body}
}

// Verify is GET /api/verify.
func (c *Client) Verify(ctx context.Context) ([]store.Problem, error) {
	var rep VerifyReport
	if _, err := c.do(ctx, "GET", "/api/verify", nil, "", &rep); err != nil {
		return nil, err
	}
	return rep.Problems, nil
}
