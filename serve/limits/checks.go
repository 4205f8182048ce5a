package limits

import (
	"fmt"
	"sync"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/serve/api"
)

// Usage is what a tenant holds: the sums over its collections of what the
// engine reports (GET /api/v1/collections/{name}: count and memory_bytes).
type Usage struct {
	Collections  int64 `json:"collections"`
	Vectors      int64 `json:"vectors"`       // live records
	StorageBytes int64 `json:"storage_bytes"` // the engine's memory_bytes
	DiskBytes    int64 `json:"disk_bytes"`    // the engine's disk_bytes
}

func (u Usage) add(v Usage) Usage {
	return Usage{u.Collections + v.Collections, u.Vectors + v.Vectors, u.StorageBytes + v.StorageBytes, u.DiskBytes + v.DiskBytes}
}

func (u Usage) neg() Usage {
	return Usage{-u.Collections, -u.Vectors, -u.StorageBytes, -u.DiskBytes}
}

// UsageSource reports tenants' usage. The engine knows it (count and
// memory per collection); the wiring sums it per tenant. Both methods
// are called on request paths and at scrape time, so they must be cheap
// and must not fail: before the engine has recovered they report zero.
type UsageSource interface {
	// TenantUsage is one tenant's usage.
	TenantUsage(tenantID string) Usage
	// AllTenantUsage is the usage of every tenant that has collections.
	AllTenantUsage() map[string]Usage
}

// Quota resource names: the error details' "resource" and the metrics'
// resource label.
const (
	ResourceCollections  = "collections"
	ResourceVectors      = "vectors"
	ResourceStorageBytes = "storage_bytes"
	ResourceDiskBytes    = "disk_bytes"
)

// CheckUpsert refuses a write that would take the tenant past
// max_vectors, max_storage_bytes or max_disk_bytes, with quota_exceeded
// (403) saying which, the limit, the current usage and the addition. add
// is what the write adds (engine.Handle.UpsertCost): new records, memory
// (a node for every record, replacements included, which stays until a
// vacuum) and log bytes. A write that adds nothing to a resource passes
// on it even when the tenant is over (its quota was lowered, say).
func (e Effective) CheckUpsert(cur, add Usage) *api.Error {
	if err := exceeds(ResourceVectors, "max_vectors", e.MaxVectors, cur.Vectors, add.Vectors); err != nil {
		return err
	}
	if err := exceeds(ResourceStorageBytes, "max_storage_bytes", e.MaxStorageBytes, cur.StorageBytes, add.StorageBytes); err != nil {
		return err
	}
	return exceeds(ResourceDiskBytes, "max_disk_bytes", e.MaxDiskBytes, cur.DiskBytes, add.DiskBytes)
}

// CheckCreateCollection refuses a collection past max_collections, or one
// whose first log segment (engine.NewCollectionDiskBytes) would take the
// tenant past max_disk_bytes.
func (e Effective) CheckCreateCollection(cur Usage) *api.Error {
	if err := exceeds(ResourceCollections, "max_collections", e.MaxCollections, cur.Collections, 1); err != nil {
		return err
	}
	return exceeds(ResourceDiskBytes, "max_disk_bytes", e.MaxDiskBytes, cur.DiskBytes, engine.NewCollectionDiskBytes)
}

func exceeds(resource, field string, limit *int64, cur, add int64) *api.Error {
	if limit == nil || add <= 0 || cur+add <= *limit {
		return nil
	}
	return &api.Error{
		Code:    api.CodeQuotaExceeded,
		Message: fmt.Sprintf("tenant quota exceeded: %s is %d; the tenant has %d and the request adds %d", field, *limit, cur, add),
		Details: map[string]any{"resource": resource, "limit": *limit, "current": cur, "requested": add},
	}
}

// unlimited reports whether no storage limit applies, so checks can skip
// computing usage.
func (e Effective) unlimited() bool {
	return e.MaxCollections == nil && e.MaxVectors == nil && e.MaxStorageBytes == nil && e.MaxDiskBytes == nil
}

// CheckUpsert is Effective(tenantID).CheckUpsert.
func (q *Quotas) CheckUpsert(tenantID string, cur, add Usage) *api.Error {
	return q.Effective(tenantID).CheckUpsert(cur, add)
}

// CheckCreateCollection is Effective(tenantID).CheckCreateCollection.
func (q *Quotas) CheckCreateCollection(tenantID string, cur Usage) *api.Error {
	return q.Effective(tenantID).CheckCreateCollection(cur)
}

// Guard checks writes against quotas with the usage from a UsageSource,
// counting the writes it has admitted that are still running, so that
// concurrent writes cannot pass one check each and together exceed the
// quota. It is safe for concurrent use.
//
// Between the engine applying a write and done being called the write is
// counted twice (in the usage and as pending); that errs on refusing.
type Guard struct {
	quotas *Quotas
	usage  UsageSource

	mu      sync.Mutex
	pending map[string]Usage
}

// NewGuard returns a Guard over quotas and usage.
func NewGuard(quotas *Quotas, usage UsageSource) *Guard {
	return &Guard{quotas: quotas, usage: usage, pending: make(map[string]Usage)}
}

func noop() {}

// StorageLimited reports whether any maximum (collections, vectors,
// storage) applies to the tenant. When none does, the Begin methods admit
// without computing usage, and a caller may skip estimating what a write
// adds.
func (g *Guard) StorageLimited(tenantID string) bool {
	return !g.quotas.Effective(tenantID).unlimited()
}

// Usage is the tenant's current usage, from the usage source (the
// writes admitted and still running are not included).
func (g *Guard) Usage(tenantID string) Usage { return g.usage.TenantUsage(tenantID) }

// BeginUpsert admits a write that adds add, or refuses it with
// quota_exceeded (an *api.Error) before anything is written: a batch is
// admitted or refused whole. On admission call done once the write has
// finished, whether it succeeded or not.
func (g *Guard) BeginUpsert(tenantID string, add api.Growth) (done func(), err error) {
	u := Usage{Vectors: add.Vectors, StorageBytes: add.StorageBytes, DiskBytes: add.DiskBytes}
	return g.begin(tenantID, u, func(e Effective, cur Usage) *api.Error {
		return e.CheckUpsert(cur, u)
	})
}

// BeginCreateCollection admits creating one collection, or refuses it
// with quota_exceeded. On admission call done once the creation has
// finished.
func (g *Guard) BeginCreateCollection(tenantID string) (done func(), err error) {
	return g.begin(tenantID, Usage{Collections: 1, DiskBytes: engine.NewCollectionDiskBytes}, func(e Effective, cur Usage) *api.Error {
		return e.CheckCreateCollection(cur)
	})
}

func (g *Guard) begin(tenantID string, add Usage, check func(Effective, Usage) *api.Error) (func(), error) {
	eff := g.quotas.Effective(tenantID)
	if eff.unlimited() {
		return noop, nil // the common case costs no usage computation
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	cur := g.usage.TenantUsage(tenantID).add(g.pending[tenantID])
	if e := check(eff, cur); e != nil {
		return nil, e
	}
	g.pending[tenantID] = g.pending[tenantID].add(add)
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			defer g.mu.Unlock()
			p := g.pending[tenantID].add(add.neg())
			if p == (Usage{}) {
				delete(g.pending, tenantID)
			} else {
				g.pending[tenantID] = p
			}
		})
	}, nil
}

// TenantReport is one tenant's usage against its effective quota.
type TenantReport struct {
	TenantID  string
	Usage     Usage
	Effective Effective
}

// Report is the usage against its quota of every tenant a storage limit
// applies to (the metric shows limited resources only): with default
// limits every tenant the usage source reports and those with a quota of
// their own; without, only those with limits of their own. A tenant no
// limit applies to is not sized: computing usage sizes each collection's
// files, the costliest part of a metrics scrape that asks for the quota
// gauges (docs/top.md).
func (g *Guard) Report() []TenantReport {
	g.quotas.mu.RLock()
	own := make([]string, 0, len(g.quotas.tenants))
	for id := range g.quotas.tenants {
		own = append(own, id)
	}
	g.quotas.mu.RUnlock()
	var out []TenantReport
	if g.quotas.Effective("").unlimited() {
		for _, id := range own {
			if eff := g.quotas.Effective(id); !eff.unlimited() {
				out = append(out, TenantReport{TenantID: id, Usage: g.usage.TenantUsage(id), Effective: eff})
			}
		}
		return out
	}
	all := g.usage.AllTenantUsage()
	for _, id := range own {
		if _, ok := all[id]; !ok {
			all[id] = Usage{}
		}
	}
	for id, u := range all {
		if eff := g.quotas.Effective(id); !eff.unlimited() {
			out = append(out, TenantReport{TenantID: id, Usage: u, Effective: eff})
		}
	}
	return out
}
