package app

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime/debug"
	"sort"
	"strconv"
	"sync"
	"time"

	"leadhost/host"
	"leadhost/store"
)

// A serve is one node. On a store several serves share (PostgreSQL:
// store.Cluster) it registers under its name, heartbeats every
// HeartbeatEvery with what it runs, and its check runs take leases; a
// node not heard from for DeadAfterBeats heartbeats is dead. On Badger
// it is the only node and nothing of this touches the store.

// DefaultHeartbeat is how often a node says it is alive.
const DefaultHeartbeat = 5 * time.Second

// DeadAfterBeats heartbeats missed make a node dead.
const DeadAfterBeats = 3

// keepDead is how long GET /api/nodes lists a node after its last
// heartbeat.
const keepDead = time.Hour

// VersionLen is how much of an offer's files' hash names its version
// across nodes.
const VersionLen = 12

// node is this App as a node of the cluster.
type node struct {
	cluster store.Cluster // nil: the only node (Badger)
	every   time.Duration
	started time.Time
	nudge   chan struct{} // a reload: heartbeat now
	// provisional is the name its leases go by before Join: "host (pid N)".
	provisional string

	mu     sync.Mutex
	name   string
	listen string
	// newest is, by offer, the newest version any live node runs and
	// that node's name.
	newest map[string][2]string
}

// OfferVersion is the version of an offer's files as nodes compare them:
// the start of their hash, the same on every node with the same files.
func OfferVersion(o *host.Offer) string {
	if len(o.Hash) > VersionLen {
		return o.Hash[:VersionLen]
	}
	return o.Hash
}

// binaryVersion is leadhost's version as the build recorded it: the
// module's, or the commit it was built from.
func binaryVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+modified"
			}
		}
	}
	if (v == "" || v == "(devel)") && rev != "" {
		return rev[:min(12, len(rev))] + modified
	}
	if v == "" {
		return "(devel)"
	}
	return v
}

// Node is this serve's node name ("" before Join).
func (a *App) Node() string {
	a.node.mu.Lock()
	defer a.node.mu.Unlock()
	return a.node.name
}

// Join makes this App a node listening on addr: its name is the
// configured one, else the machine's host name, with the port added
// when a live node already has that name elsewhere. On a shared store it
// registers, learns the offers' newest versions and has its check runs
// take leases from then on. Call it once, before Run.
func (a *App) Join(ctx context.Context, addr net.Addr) error {
	hostname, err := os.Hostname()
	if err != nil || hostname == "" {
		hostname = "leadhost"
	}
	listen := addr.String()
	port := ""
	if ta, ok := addr.(*net.TCPAddr); ok {
		port = strconv.Itoa(ta.Port)
		if ta.IP.IsUnspecified() {
			listen = net.JoinHostPort(hostname, port) // ":8080" says nothing to another machine
		}
	}
	name := a.cfgNode
	n := &a.node
	if n.cluster != nil {
		nodes, err := n.cluster.Nodes(ctx, a.deadAfter())
		if err != nil {
			return fmt.Errorf("nodes: %w", err)
		}
		taken := func(name string) *store.NodeState {
			for i, other := range nodes {
				// The same name at the same address is this node
				// restarted before its death was noticed.
				if other.Name == name && !other.Left && other.Listen != listen {
					return &nodes[i]
				}
			}
			return nil
		}
		switch {
		case name != "":
			if other := taken(name); other != nil {
				return fmt.Errorf("node %q is alive at %s (heard from %s ago): give this serve another name (--node, or node in leadhost.toml)", name, other.Listen, other.Age.Round(time.Second))
			}
		case taken(hostname) != nil && port != "":
			name = hostname + ":" + port
		default:
			name = hostname
		}
	} else if name == "" {
		name = hostname
	}
	n.mu.Lock()
	n.name, n.listen = name, listen
	n.mu.Unlock()
	if n.cluster == nil {
		return nil
	}
	if err := n.cluster.Join(ctx, a.beat()); err != nil {
		return fmt.Errorf("node %s: %w", name, err)
	}
	if err := a.learnVersions(ctx); err != nil {
		return fmt.Errorf("node %s: %w", name, err)
	}
	a.Checks.Leases, a.Checks.Node, a.Checks.Hold = n.cluster, name, a.versionHold
	return nil
}

func (a *App) deadAfter() time.Duration { return DeadAfterBeats * a.node.every }

// beat is what this node says of itself.
func (a *App) beat() store.NodeBeat {
	offers := map[string]string{}
	for _, o := range a.Offers.Offers() {
		offers[o.ID] = OfferVersion(o)
	}
	a.node.mu.Lock()
	defer a.node.mu.Unlock()
	return store.NodeBeat{Name: a.node.name, Binary: binaryVersion(), Started: a.node.started, Listen: a.node.listen, Offers: offers}
}

// heartbeat says this node is alive every heartbeat, and at once after a
// reload, until ctx ends.
func (a *App) heartbeat(ctx context.Context) error {
	n := &a.node
	if n.cluster == nil || a.Node() == "" {
		return nil
	}
	tick := time.NewTicker(n.every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-n.nudge:
		}
		if err := n.cluster.Heartbeat(ctx, a.beat()); err != nil && ctx.Err() == nil {
			a.log.Warn("heartbeat", "node", a.Node(), "err", err)
			continue
		}
		if err := a.learnVersions(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("reading the nodes' offer versions", "err", err)
		}
	}
}

// leave marks the node gone and frees what leases it still holds: its
// schedules run elsewhere at once, not a lease's life later.
func (a *App) leave() {
	if a.node.cluster == nil || a.Node() == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.node.cluster.Leave(ctx, a.Node()); err != nil {
		a.log.Warn("leaving the cluster", "node", a.Node(), "err", err)
	}
}

// nudgeHeartbeat has the node heartbeat now (its offers changed).
func (a *App) nudgeHeartbeat() {
	select {
	case a.node.nudge <- struct{}{}:
	default:
	}
}

// learnVersions finds, for each offer, the newest version a live node
// runs: the one that first appeared in the cluster last.
func (a *App) learnVersions(ctx context.Context) error {
	nodes, err := a.node.cluster.Nodes(ctx, a.deadAfter())
	if err != nil {
		return err
	}
	newest := map[string][2]string{}
	since := map[string]time.Time{}
	for _, nd := range nodes {
		if nd.Left {
			continue
		}
		for offer, v := range nd.Offers {
			if first := nd.FirstSeen[offer]; first.After(since[offer]) || newest[offer][0] == "" {
				since[offer], newest[offer] = first, [2]string{v, nd.Name}
			}
		}
	}
	a.node.mu.Lock()
	a.node.newest = newest
	a.node.mu.Unlock()
	return nil
}

// versionHold is why this node does not run the offer's schedules: it
// has another version than the newest a live node runs.
func (a *App) versionHold(o *host.Offer) string {
	a.node.mu.Lock()
	defer a.node.mu.Unlock()
	nv, ok := a.node.newest[o.ID]
	if !ok || nv[0] == OfferVersion(o) {
		return ""
	}
	return fmt.Sprintf("this node runs version %s of the offer; node %s runs %s, the newest: its schedules run on nodes that have it", OfferVersion(o), nv[1], nv[0])
}

// NodeView is a node as GET /api/nodes shows it.
type NodeView struct {
	Name string `json:"name"`
	// State is alive, dead (not heard from for 3 heartbeats) or left
	// (stopped cleanly).
	State   string            `json:"state"`
	Binary  string            `json:"binary"`
	Started time.Time         `json:"started"`
	Listen  string            `json:"listen"`
	Seen    time.Time         `json:"seen"`
	Offers  map[string]string `json:"offers"` // offer: the version it runs (OfferVersion)
	Leases  []store.Lease     `json:"leases"`
}

// Nodes lists the nodes alive and those dead or gone within the last
// hour, by name, with the leases each holds. On Badger: this one.
func (a *App) Nodes(ctx context.Context) ([]NodeView, error) {
	n := &a.node
	if n.cluster == nil {
		b := a.beat()
		name := b.Name
		if name == "" {
			name, _ = os.Hostname()
		}
		return []NodeView{{Name: name, State: "alive", Binary: b.Binary, Started: b.Started, Listen: b.Listen, Seen: a.now().UTC(), Offers: b.Offers, Leases: []store.Lease{}}}, nil
	}
	nodes, err := n.cluster.Nodes(ctx, keepDead)
	if err != nil {
		return nil, err
	}
	leases, err := n.cluster.Leases(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]NodeView, 0, len(nodes))
	for _, nd := range nodes {
		v := NodeView{Name: nd.Name, State: "alive", Binary: nd.Binary, Started: nd.Started, Listen: nd.Listen, Seen: nd.Seen, Offers: nd.Offers, Leases: []store.Lease{}}
		switch {
		case nd.Left:
			v.State = "left"
		case nd.Age > a.deadAfter():
			v.State = "dead"
		}
		for _, l := range leases {
			if l.Node == nd.Name {
				v.Leases = append(v.Leases, l)
			}
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// NodeOfferVersion is one node's version of an offer.
type NodeOfferVersion struct {
	Node    string `json:"node"`
	Version string `json:"version"` // OfferVersion
	Newest  bool   `json:"newest"`  // the one schedules run with
}

// OfferVersions are, for each offer whose version differs between live
// nodes, every live node's version of it (by node name); offers that
// all nodes run alike are not in it. On Badger it is empty.
func (a *App) OfferVersions(ctx context.Context) (map[string][]NodeOfferVersion, error) {
	if a.node.cluster == nil {
		return nil, nil
	}
	nodes, err := a.node.cluster.Nodes(ctx, a.deadAfter())
	if err != nil {
		return nil, err
	}
	byOffer := map[string][]NodeOfferVersion{}
	newest := map[string]time.Time{}
	for _, nd := range nodes {
		if nd.Left {
			continue
		}
		for offer, v := range nd.Offers {
			byOffer[offer] = append(byOffer[offer], NodeOfferVersion{Node: nd.Name, Version: v})
			if first := nd.FirstSeen[offer]; first.After(newest[offer]) {
				newest[offer] = first
			}
		}
	}
	out := map[string][]NodeOfferVersion{}
	for offer, vs := range byOffer {
		differ := false
		for _, v := range vs {
			differ = differ || v.Version != vs[0].Version
		}
		if !differ {
			continue
		}
		for i := range vs {
			for _, nd := range nodes {
				if nd.Name == vs[i].Node {
					vs[i].Newest = nd.FirstSeen[offer].Equal(newest[offer])
				}
			}
		}
		out[offer] = vs // in the nodes' order: by name
	}
	return out, nil
}
