package api

import (
	"context"
	"net/url"
	"strconv"
	"time"

	"leadhost/store"
)

// Journal is GET /api/journal: a page of the serve's journal, newest
// first, masked unless raw, and the cursor of the next page ("" at the
// end).
func (c *Client) Journal(ctx context.Context, q store.JournalQuery, raw bool) ([]store.JournalEntry, string, error) {
	v := url.Values{}
	for key, value := range map[string]string{"offer": q.Offer, "kind": string(q.Kind), "status": string(q.Status), "cursor": q.Cursor} {
		if value != "" {
			v.Set(key, value)
		}
	}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.Format(time.RFC3339Nano))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if raw {
		v.Set("raw", "1")
	}
	var page list[store.JournalEntry]
	if _, err := c.do(ctx, "GET", "/api/journal?"+v.Encode(), nil, "", &page); err != nil {
		return nil, "", err
	}
	return page.Items, page.Next, nil
}
