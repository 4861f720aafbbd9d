package api

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"leadhost/host/app"
	"leadhost/host/hosttest"
	"leadhost/store"
	"leadhost/store/postgres"
	"leadhost/store/postgres/pgtest"
)

// clusterNode is one serve of a cluster test: an app on the shared
// database with its admin API and webhooks on 127.0.0.1:0.
type clusterNode struct {
	base string
	app  *app.App
	stop func()
}

// startClusterNode opens an app named name on the database at url with
// the offers in scripts, joins it and runs it until stop or the test's
// end. Its heartbeat is quick, so that a node is dead within a second.
func startClusterNode(t *testing.T, url, name, scripts string) *clusterNode {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.Open(ctx, app.Config{DatabaseURL: url, Scripts: scripts, Node: name, Heartbeat: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{App: a, Log: slog.New(slog.DiscardHandler), LocalToken: localToken}
	srv := s.HTTP()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	if err := a.Join(ctx, ln.Addr()); err != nil {
		t.Fatal(err)
	}
	ran := make(chan struct{})
	go func() { a.Run(ctx); close(ran) }()
	n := &clusterNode{base: "http://" + ln.Addr().String(), app: a}
	stopped := false
	n.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		s.Shutdown(srv)
		<-ran
		a.Close()
	}
	t.Cleanup(n.stop)
	return n
}

// copyScripts copies api/testdata/scripts to a folder of the test's, so
// that one node's offers may change.
func copyScripts(t *testing.T) string {
	t.Helper()
	to := filepath.Join(t.TempDir(), "scripts")
	err := filepath.Walk("testdata/scripts", func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("testdata/scripts", path)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return to
}

type nodeList struct {
	Items []struct {
		Name   string            `json:"name"`
		State  string            `json:"state"`
		Offers map[string]string `json:"offers"`
	} `json:"items"`
}

// Three serves on one database: GET /api/nodes on any of them lists the
// three alive, then two once one stops; the node still on an older
// version of an offer does not run its schedules (and says why) while
// its webhooks keep working, and GET /api/offers shows each node's
// version of that offer.
func TestNodesShareADatabase(t *testing.T) {
	url := pgtest.URL(t)
	older := copyScripts(t)
	newer := copyScripts(t)
	// c runs crm as it was; a and b get the new check.lua, which first
	// appears in the cluster after c's: the newest.
	c := startClusterNode(t, url, "c", older)
	if err := os.WriteFile(filepath.Join(newer, "crm", "check.lua"), []byte(mustRead(t, filepath.Join(older, "crm", "check.lua"))+"\n-- v2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := startClusterNode(t, url, "a", newer)
	b := startClusterNode(t, url, "b", newer)

	alive := func(n *clusterNode) []string {
		var list nodeList
		contractCall(t, "GET", n.base+"/api/nodes", 200, &list)
		var names []string
		for _, it := range list.Items {
			if it.State == "alive" {
				names = append(names, it.Name)
			}
		}
		return names
	}
	if got := strings.Join(alive(c), ","); got != "a,b,c" {
		t.Fatalf("alive nodes %q, want a,b,c", got)
	}

	// c waits for the newest crm; a and b run it.
	hosttest.Eventually(t, "c learning that a and b have a newer crm", func() bool {
		return strings.Contains(crmWaiting(t, c), "node a runs")
	})
	if w := crmWaiting(t, a); w != "" {
		t.Errorf("a, with the newest crm, says its schedule waits: %q", w)
	}
	var offers struct {
		Items []struct {
			ID    string                 `json:"id"`
			Nodes []app.NodeOfferVersion `json:"nodes"`
		} `json:"items"`
	}
	contractCall(t, "GET", b.base+"/api/offers", 200, &offers)
	for _, o := range offers.Items {
		switch {
		case o.ID == "crm" && (len(o.Nodes) != 3 || o.Nodes[2].Node != "c" || o.Nodes[2].Newest || !o.Nodes[0].Newest):
			t.Errorf("crm's versions on the nodes: %+v, want a's and b's newest, c's not", o.Nodes)
		case o.ID == "shop" && len(o.Nodes) != 0:
			t.Errorf("shop is the same on every node, yet its versions are listed: %+v", o.Nodes)
		}
	}
	// Webhooks on the node left behind still work.
	code, _, body := call(t, "POST", c.base+"/hook/shop?token=s3cret", "application/json", strings.NewReader(`{"order":"C1","phone":"79990001122"}`), nil)
	if code != 200 {
		t.Errorf("a webhook on c: %d %s", code, body)
	}
	// Its journal entry says it was c's, on every node, API and console.
	var hooks struct {
		Items []struct {
			ID   string `json:"id"`
			Node string `json:"node"`
		} `json:"items"`
	}
	hosttest.Eventually(t, "the webhook journaled", func() bool {
		contractCall(t, "GET", a.base+"/api/journal?kind=hook", 200, &hooks)
		return len(hooks.Items) == 1
	})
	if hooks.Items[0].Node != "c" {
		t.Errorf("the webhook's entry says node %q, want c", hooks.Items[0].Node)
	}
	if code, _, page := call(t, "GET", b.base+"/ui/journal/"+hooks.Items[0].ID, "", nil, nil); code != 200 || !strings.Contains(string(page), `<dd id="node">c</dd>`) {
		t.Errorf("the entry's page on b: %d, without node c:\n%s", code, page)
	}
	if code, _, page := call(t, "GET", b.base+"/ui/", "", nil, nil); code != 200 || !strings.Contains(string(page), "Versions differ between nodes") {
		t.Errorf("the overview on b: %d, without the versions of crm on the nodes:\n%s", code, page)
	}
	if code, _, page := call(t, "GET", c.base+"/ui/", "", nil, nil); code != 200 || !strings.Contains(string(page), "node a runs") {
		t.Errorf("the overview on c: %d, without why its crm checks wait:\n%s", code, page)
	}

	// While b runs crm's check, "check now" on a, or from the CLI (an
	// app that never joins), is refused saying where it runs.
	lease := store.LeaseRequest{Name: "check/crm", Node: "b", What: "processing", TTL: time.Minute}
	if g, err := b.app.Store.(store.Cluster).TakeLease(context.Background(), lease); err != nil || !g.Taken {
		t.Fatalf("b taking crm's lease: %+v, %v", g, err)
	}
	code, _, body = call(t, "POST", a.base+"/api/offers/crm/check?mode=processing", "", nil, asLocal)
	if code != 409 || !strings.Contains(string(body), `"a check of this offer (processing) is running on node b"`) {
		t.Errorf("check now on a while b runs crm: %d %s", code, body)
	}
	cli, err := app.Open(context.Background(), app.Config{DatabaseURL: url, Scripts: newer, OneShot: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.CheckNow(context.Background(), "crm", app.CheckRequest{Mode: "processing"}); err == nil || !strings.Contains(err.Error(), "running on node b") {
		t.Errorf("check now from the CLI while b runs crm: %v", err)
	}
	cli.Close()

	b.stop()
	if got := strings.Join(alive(a), ","); got != "a,c" {
		t.Errorf("alive nodes after b stopped: %q, want a,c", got)
	}

	// A node killed stops heartbeating without leaving: three beats
	// later it is listed dead.
	d, err := postgres.Open(context.Background(), url, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Join(context.Background(), store.NodeBeat{Name: "d", Started: time.Now(), Listen: "10.0.0.4:8080"}); err != nil {
		t.Fatal(err)
	}
	d.Close()
	states := func() string {
		var list nodeList
		contractCall(t, "GET", a.base+"/api/nodes", 200, &list)
		var out []string
		for _, it := range list.Items {
			out = append(out, it.Name+" "+it.State)
		}
		return strings.Join(out, ", ")
	}
	hosttest.Eventually(t, "d listed dead", func() bool { return states() == "a alive, b left, c alive, d dead" })
}

// crmWaiting is why crm's first schedule does not run on n ("": it runs).
func crmWaiting(t *testing.T, n *clusterNode) string {
	var o struct {
		Schedules []struct {
			Waiting string `json:"waiting"`
		} `json:"schedules"`
	}
	contractCall(t, "GET", n.base+"/api/offers/crm", 200, &o)
	if len(o.Schedules) == 0 {
		return "no schedule"
	}
	return o.Schedules[0].Waiting
}

// A node's lead counts (/metrics, the console's overview) follow the
// leads other nodes write to the shared database, not only its own.
func TestLeadCountsFollowOtherNodes(t *testing.T) {
	url := pgtest.URL(t)
	scripts := copyScripts(t)
	a := startClusterNode(t, url, "a", scripts)
	b := startClusterNode(t, url, "b", scripts)
	m := NewMetrics(b.app)
	stop, err := m.TrackLeads(context.Background(), b.app.Store)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go m.FollowShared(ctx, b.app.Store, 50*time.Millisecond)

	if code, _, body := call(t, "POST", a.base+"/hook/shop?token=s3cret", "application/json", strings.NewReader(`{"order":"N1"}`), nil); code != 200 {
		t.Fatalf("webhook on node a: %d %s", code, body)
	}
	hosttest.Eventually(t, "node b counting the lead node a took", func() bool {
		counts, ok := m.LeadCounts()
		n := 0
		for _, c := range counts["shop"] {
			n += c
		}
		return ok && n == 1
	})
}
