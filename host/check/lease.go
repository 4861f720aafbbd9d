package check

import (
	"context"
	"errors"
	"fmt"
	"time"

	"leadhost/host"
	"leadhost/store"
)

// Leases is what a scheduler on one of several nodes needs of the store
// they share (store.Cluster): a run of an offer takes the offer's lease
// first, renews it while it goes on and gives it up when done, so that
// each schedule runs on one node at a time. A Scheduler without Leases is
// the only one (Badger): it runs everything itself, as it always did.
type Leases interface {
	TakeLease(ctx context.Context, r store.LeaseRequest) (store.LeaseGrant, error)
	RenewLease(ctx context.Context, name, node string, ttl time.Duration) error
	ReleaseLease(ctx context.Context, name, node, schedule string) error
}

// DefaultLeaseTTL is how long a lease lasts unless renewed: a node that
// dies mid-run holds its schedules this long at most. It is renewed every
// third of it.
const DefaultLeaseTTL = 30 * time.Second

// BusyError says a run of the offer is going on another node.
type BusyError struct {
	Node string    // the node running it
	Mode host.Mode // the mode it runs ("" when not known)
}

// Error says where the run goes on, in the words the API answers 409 with.
func (e *BusyError) Error() string {
	if e.Mode == "" {
		return fmt.Sprintf("a check of this offer is running on node %s", e.Node)
	}
	return fmt.Sprintf("a check of this offer (%s) is running on node %s", e.Mode, e.Node)
}

// Unwrap makes it an ErrBusy: the API answers 409 either way.
func (e *BusyError) Unwrap() error { return ErrBusy }

// leaseName is the lease of an offer's runs: one per offer, not per mode,
// since runs of one offer never overlap, on one node or across several.
func leaseName(offer string) string { return "check/" + offer }

// scheduleName is the schedule whose last run's end the database keeps.
func scheduleName(offer string, mode host.Mode) string { return "check/" + offer + "/" + string(mode) }

func (s *Scheduler) leaseTTL() time.Duration {
	if s.LeaseTTL > 0 {
		return s.LeaseTTL
	}
	return DefaultLeaseTTL
}

// held is a lease this node holds and renews until release.
type held struct {
	stop chan struct{}
	done chan struct{}
}

// lease takes the offer's lease for a run of mode, then renews it until
// release is called; lost is called if a renewal finds it taken over (the
// node was too slow to renew: the run must stop). gap > 0 makes it a
// scheduled run: refused while the schedule's last run, on any node,
// ended less than gap ago.
func (s *Scheduler) lease(ctx context.Context, o *host.Offer, mode host.Mode, gap time.Duration, lost func()) (store.LeaseGrant, func(), error) {
	req := store.LeaseRequest{Name: leaseName(o.ID), Node: s.Node, What: string(mode), TTL: s.leaseTTL()}
	if gap > 0 {
		req.Schedule, req.Gap = scheduleName(o.ID, mode), gap
	}
	g, err := s.Leases.TakeLease(ctx, req)
	if err != nil || !g.Taken {
		return g, nil, err
	}
	h := &held{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		tick := time.NewTicker(req.TTL / 3)
		defer tick.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-tick.C:
			}
			err := s.Leases.RenewLease(context.Background(), req.Name, s.Node, req.TTL)
			switch {
			case errors.Is(err, store.ErrLeaseLost):
				s.log().Error("check lease lost: another node may run the offer now; stopping this run", "offer", o.ID, "mode", mode)
				lost()
				return
			case err != nil:
				// Tried again at the next third: the lease lasts two more.
				s.log().Warn("renewing a check lease", "offer", o.ID, "mode", mode, "err", err)
			}
		}
	}()
	release := func() {
		close(h.stop)
		<-h.done
		// Given up even when the host is stopping (ctx over): another
		// node takes the schedule at once rather than when it expires.
		rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Leases.ReleaseLease(rctx, req.Name, s.Node, req.Schedule); err != nil {
			s.log().Warn("giving up a check lease (it expires by itself)", "offer", o.ID, "mode", mode, "err", err)
		}
	}
	return g, release, nil
}
