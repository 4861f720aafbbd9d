package store

import (
	"context"
	"errors"
	"time"
)

// Cluster is what a store shared by several leadhost nodes offers them
// (the PostgreSQL backend; Badger is one process's database and does not
// implement it: callers ask for it with a type assertion). Nodes register
// and heartbeat; a schedule runs under a lease that one node holds at a
// time until it expires. Every time here is the database's clock, so
// that the nodes' own clocks need not agree (heartbeats are on
// Options.Now instead when it is set: tests). A node's heartbeats also
// keep the outbox items it has in flight its own (Feed).
type Cluster interface {
	// Join registers the node (or refreshes it) and has the store write
	// the node's name into the journal entries it keeps from now on.
	Join(ctx context.Context, n NodeBeat) error
	// Heartbeat says the node is alive, with what it runs now.
	Heartbeat(ctx context.Context, n NodeBeat) error
	// Leave marks the node gone and frees the leases it holds.
	Leave(ctx context.Context, node string) error
	// Nodes lists the nodes heard from within the last keep, by name.
	Nodes(ctx context.Context, keep time.Duration) ([]NodeState, error)

	// TakeLease takes the lease r names for r.Node, unless another node
	// holds it and it has not expired, or r.Schedule's last run ended
	// less than r.Gap ago.
	TakeLease(ctx context.Context, r LeaseRequest) (LeaseGrant, error)
	// RenewLease pushes the lease's expiry to ttl from now
	// (ErrLeaseLost when the node no longer holds it).
	RenewLease(ctx context.Context, name, node string, ttl time.Duration) error
	// ReleaseLease frees the lease; with schedule set, it records now as
	// the end of that schedule's last run.
	ReleaseLease(ctx context.Context, name, node, schedule string) error
	// Leases lists the leases held and not expired.
	Leases(ctx context.Context) ([]Lease, error)
}

// DefaultDeadAfter is Options.DeadAfter's default: three missed
// heartbeats of 5 s.
const DefaultDeadAfter = 15 * time.Second

// ErrLeaseLost says a lease expired and another node may have taken it.
var ErrLeaseLost = errors.New("the lease was lost")

// NodeBeat is what a node says of itself at each heartbeat.
type NodeBeat struct {
	Name    string    `json:"name"`
	Binary  string    `json:"binary"` // leadhost's version
	Started time.Time `json:"started"`
	Listen  string    `json:"listen"`
	// Offers are the versions the node runs: each loaded offer's files'
	// hash (host.Offer.Hash), the same on every node that has the same
	// files.
	Offers map[string]string `json:"offers"`
}

// NodeState is a node as the cluster last heard of it.
type NodeState struct {
	NodeBeat
	Seen time.Time     // its last heartbeat
	Age  time.Duration // since Seen, by the database's clock
	Left bool          // it stopped cleanly
	// FirstSeen is, for each offer, when the version this node runs first
	// appeared in the cluster: of two versions, the later is the newer.
	FirstSeen map[string]time.Time
}

// LeaseRequest asks for a lease.
type LeaseRequest struct {
	Name string        // what the lease guards: "check/<offer>"
	Node string        // who asks
	What string        // what it is for, shown with the lease: a check mode
	TTL  time.Duration // until it expires unless renewed
	// Schedule, when set, names the schedule the run is for: the lease
	// is refused while its last run ended less than Gap ago.
	Schedule string
	Gap      time.Duration
}

// LeaseGrant is the answer to a LeaseRequest.
type LeaseGrant struct {
	Taken  bool
	Holder string // not taken: the node holding it ("" when it is free but too soon)
	What   string // not taken: what the holder holds it for
	// Wait is, when it was too soon, how long until Gap has passed since
	// the schedule's last run ended.
	Wait time.Duration
}

// Lease is a lease held.
type Lease struct {
	Name    string    `json:"name"`
	Node    string    `json:"node"`
	What    string    `json:"what,omitempty"`
	Expires time.Time `json:"expires"`
}
