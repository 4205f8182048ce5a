package api

import (
	"errors"

	"github.com/akidb/akidb/engine"
)

// QuotaGuard checks writes against the caller's tenant's quotas before
// anything is written (serve/limits.Guard is one; serve/limits imports this
// package, so the service takes it through this interface). A refusal is
// an *Error with CodeQuotaExceeded (403).
type QuotaGuard interface {
	// StorageLimited reports whether any maximum applies to the tenant;
	// when none does the service does not compute what a write adds.
	StorageLimited(tenantID string) bool
	// BeginUpsert admits a write that adds add; done is called when the
	// write has finished.
	BeginUpsert(tenantID string, add Growth) (done func(), err error)
	// BeginCreateCollection admits creating one collection.
	BeginCreateCollection(tenantID string) (done func(), err error)
}

// Growth is what a write adds to a tenant's usage: live records, memory
// (the engine's memory_bytes) and disk (its disk_bytes).
type Growth struct {
	Vectors, StorageBytes, DiskBytes int64
}

// upsertGrowth is what upserting recs into h adds: the engine's own
// account (engine.Handle.UpsertCost), so a replacement costs the node that
// stays until a vacuum, and metadata counts.
func upsertGrowth(h *engine.Handle, recs []engine.Record) Growth {
	c := h.UpsertCost(recs)
	return Growth{Vectors: c.NewRecords, StorageBytes: c.MemoryBytes, DiskBytes: c.DiskBytes}
}

// compactAfterRefusal asks for a vacuum and checkpoint of h when a write
// was refused for the tenant's memory or disk: deleted and replaced
// records hold memory, and the log disk, until one runs, and without the
// usual thresholds being reached it might not.
func compactAfterRefusal(h *engine.Handle, err error) {
	var ae *Error
	if !errors.As(err, &ae) || ae.Code != CodeQuotaExceeded {
		return
	}
	if r, _ := ae.Details["resource"].(string); r == "storage_bytes" || r == "disk_bytes" {
		h.RequestCompaction()
	}
}

// quotaHolder lets the guard be swapped atomically (SetQuotaGuard may run
// while requests are served).
type quotaHolder struct{ g QuotaGuard }

// SetQuotaGuard makes the service check writes against quotas from now
// on; nil turns the checks off. `akidb serve` sets it, with the database,
// before the service is ready.
func (s *Service) SetQuotaGuard(g QuotaGuard) {
	if g == nil {
		s.quota.Store(nil)
		return
	}
	s.quota.Store(&quotaHolder{g: g})
}

func (s *Service) quotaGuard() QuotaGuard {
	if h := s.quota.Load(); h != nil {
		return h.g
	}
	return nil
}
