package tier

import (
	"context"
	"time"

	"github.com/akidb/akidb/engine/meta"
)

// CollectionStatus is one shipped collection's state.
type CollectionStatus struct {
	ID       string
	TenantID string
	Tenant   string
	Name     string
	Policy   string
	Prefix   string
	// DurableSeq is the last acknowledged write; ShippedSeq what the
	// manifest in the store reaches (a restore gets up to there).
	DurableSeq uint64
	ShippedSeq uint64
	// ShipLag is the age of the oldest acknowledged write not yet shipped
	// (0: everything acknowledged is in the store); OldestUnshippedAt is
	// that write's time (zero when the lag is 0).
	ShipLag           time.Duration
	OldestUnshippedAt time.Time
	// PendingUploads are objects staged, in the DLQ, or uploaded but not
	// yet in a manifest.
	PendingUploads int
	// NewestSnapshot is the newest snapshot in the manifest (nil: none).
	NewestSnapshot *Object
	// ManifestGeneration counts the manifests written (0: none yet).
	ManifestGeneration uint64
	LastPassAt         time.Time
	LastShippedAt      time.Time
	LastError          string
}

// Status is the tier's state for GET /admin/storage/status.
type Status struct {
	Store       string
	Prefix      string
	Breaker     BreakerStatus
	Collections []CollectionStatus
	// DLQ counts entries by collection id and status.
	DLQ []meta.DLQCount
}

// Status reports the breaker, every shipped collection and the DLQ counts.
func (t *Tier) Status(ctx context.Context) (Status, error) {
	now := t.cfg.Clock.Now()
	st := Status{Store: t.store.Name(), Prefix: t.cfg.Prefix, Breaker: t.breaker.Status()}
	for _, c := range t.colList() {
		st.Collections = append(st.Collections, c.status(now))
	}
	counts, err := t.meta.CountDLQ(ctx)
	if err != nil {
		return st, err
	}
	st.DLQ = counts
	return st, nil
}

// Totals is what a metrics scrape shows of the tier.
type Totals struct {
	Store   string
	Breaker BreakerState
	// ShipLag is the largest of the shipped collections' (0: everything
	// acknowledged is in the store).
	ShipLag time.Duration
	// DLQ counts entries by collection id and status.
	DLQ []meta.DLQCount
}

// Totals reports what Status does in sum, without a status per
// collection: a scrape (every refresh of akidb top) needs the largest
// lag only.
func (t *Tier) Totals(ctx context.Context) (Totals, error) {
	now := t.cfg.Clock.Now()
	tot := Totals{Store: t.store.Name(), Breaker: t.breaker.State()}
	for _, c := range t.colList() {
		lag, _ := c.lag(now)
		tot.ShipLag = max(tot.ShipLag, lag)
	}
	counts, err := t.meta.CountDLQ(ctx)
	if err != nil {
		return tot, err
	}
	tot.DLQ = counts
	return tot, nil
}

// CollectionStatus is one collection's state (false if it is not shipped).
func (t *Tier) CollectionStatus(id string) (CollectionStatus, bool) {
	c := t.col(id)
	if c == nil {
		return CollectionStatus{}, false
	}
	return c.status(t.cfg.Clock.Now()), true
}

// status reads what the passes publish; it does not wait for a pass in
// progress (an upload can take minutes).
func (c *colState) status(now time.Time) CollectionStatus {
	lag, at := c.lag(now)
	last := c.src.LastSeq()
	c.hold.Lock()
	defer c.hold.Unlock()
	return CollectionStatus{ID: c.info.ID, TenantID: c.info.TenantID, Tenant: c.info.TenantName, Name: c.info.Name, Policy: c.info.Policy,
		Prefix: c.prefix, DurableSeq: max(c.durable, last), ShippedSeq: c.shipped, ShipLag: lag, OldestUnshippedAt: at,
		PendingUploads: c.pending, NewestSnapshot: c.newest, ManifestGeneration: c.gen,
		LastPassAt: c.lastPass, LastShippedAt: c.lastShip, LastError: c.lastErr}
}
