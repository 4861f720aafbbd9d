package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"leadhost/host/app"
	"leadhost/host/send"
	"leadhost/store"
)

// runHeld is `leadhost held`: the items the outboxes hold for a person,
// and `held release|drop OUTBOX LEAD REV` to let one go out again or
// remove it — what the console's Held work page does, for a shell.
func runHeld(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	action := "list"
	if len(args) > 0 && (args[0] == "release" || args[0] == "drop" || args[0] == "list") {
		action, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("leadhost held "+action, flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := addServiceFlags(fs)
	outbox := fs.String("outbox", "", "list one outbox only: send or postback")
	asJSON := fs.Bool("json", false, "print the items as JSON")
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return exitUsage
	}
	if *outbox != "" && !knownOutbox(*outbox) {
		fmt.Fprintf(stderr, "leadhost held %s: --outbox %q: want %s\n", action, *outbox, outboxChoices)
		return exitUsage
	}
	var lead uint64
	var rev uint32
	switch action {
	case "list":
		if len(rest) != 0 {
			fmt.Fprintf(stderr, "leadhost held: unknown words %q (held, held release OUTBOX LEAD REV, held drop OUTBOX LEAD REV)\n", rest)
			return exitUsage
		}
	default:
		if len(rest) != 3 {
			fmt.Fprintf(stderr, "leadhost held %s: needs OUTBOX LEAD REV, as `leadhost held` lists them\n", action)
			return exitUsage
		}
		*outbox = rest[0]
		if !knownOutbox(*outbox) {
			fmt.Fprintf(stderr, "leadhost held %s: outbox %q: want %s\n", action, *outbox, outboxChoices)
			return exitUsage
		}
		l, lerr := strconv.ParseUint(rest[1], 10, 64)
		r, rerr := strconv.ParseUint(rest[2], 10, 32)
		if lerr != nil || rerr != nil || l == 0 || r == 0 {
			fmt.Fprintf(stderr, "leadhost held %s: %q %q is not a lead id and a revision\n", action, rest[1], rest[2])
			return exitUsage
		}
		lead, rev = l, uint32(r)
	}
	svc, done, err := target.open(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "leadhost held %s: %v\n", action, err)
		return exitError
	}
	defer done()
	switch action {
	case "release":
		_, err = svc.ReleaseHeld(ctx, *outbox, lead, rev, app.ByCLI)
		if err == nil {
			fmt.Fprintf(stdout, "released: the %s of lead %d (revision %d) goes out again\n", *outbox, lead, rev)
		}
	case "drop":
		_, err = svc.DropHeld(ctx, *outbox, lead, rev, app.ByCLI)
		if err == nil {
			fmt.Fprintf(stdout, "dropped: the %s of lead %d (revision %d) will not go out; the lead stays as it is\n", *outbox, lead, rev)
		}
	default:
		err = listHeld(ctx, svc, *outbox, *asJSON, stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "leadhost held %s: %s\n", action, store.Describe(err))
		return exitError
	}
	return exitOK
}

// outboxChoices names the outboxes a held command takes, as its usage
// errors say them.
var outboxChoices = send.Feed + " or " + send.PostbackFeed

// knownOutbox reports whether name is an outbox held items can be in.
func knownOutbox(name string) bool { return name == send.Feed || name == send.PostbackFeed }

// heldRow is one held item as `leadhost held --json` prints it.
type heldRow struct {
	Outbox string `json:"outbox"`
	store.FeedItem
}

func listHeld(ctx context.Context, svc service, only string, asJSON bool, stdout io.Writer) error {
	outboxes := []string{send.Feed, send.PostbackFeed}
	if only != "" {
		outboxes = []string{only}
	}
	var rows []heldRow
	for _, ob := range outboxes {
		items, err := svc.HeldItems(ctx, ob)
		if err != nil {
			return err
		}
		for _, it := range items {
			rows = append(rows, heldRow{Outbox: ob, FeedItem: it.Masked()})
		}
	}
	if asJSON {
		if rows == nil {
			rows = []heldRow{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	if len(rows) == 0 {
		fmt.Fprintln(stdout, "nothing held")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OUTBOX\tLEAD\tREV\tOFFER\tCHANGE\tATTEMPTS\tSINCE\tWHY")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%d → %d\t%d\t%s\t%s\n", r.Outbox, r.LeadID, r.Rev, r.Offer, r.From, r.To,
			r.Attempts, r.At.Local().Format(time.DateTime), r.LastError)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\n%d held; `leadhost held release OUTBOX LEAD REV` sends one again, `leadhost held drop …` removes it\n", len(rows))
	return nil
}
