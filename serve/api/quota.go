package api

import (
	"github.com/akidb/akidb/engine"
)

// QuotaGuard checks writes against the caller's tenant's quotas before
// anything is written (serve/limits.Guard is one; serve/limits imports this
// package, so the service takes it through this interface). A refusal is
// an *Error with CodeQuotaExceeded (403).
type QuotaGuard interface {
	// StorageLimited reports whether any maximum applies to the tenant;
	// when none does the service does not estimate what a write adds.
	StorageLimited(tenantID string) bool
	// BeginUpsert admits a write adding addVectors new records of about
	// addBytes; done is called when the write has finished.
	BeginUpsert(tenantID string, addVectors, addBytes int64) (done func(), err error)
	// BeginCreateCollection admits creating one collection.
	BeginCreateCollection(tenantID string) (done func(), err error)
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

// EstimateRecordBytes is what one record adds to storage for the quota
// check of an upsert: its vector (4 bytes a dimension), id and metadata as
// compact JSON. The usage it is compared with (the engine's memory_bytes)
// also counts index links and allocates in chunks, so the estimate is a
// lower bound.
func EstimateRecordBytes(dimension, idBytes, metadataBytes int) int64 {
	return 4*int64(dimension) + int64(idBytes) + int64(metadataBytes)
}

// upsertAdds is what a batch adds for the quota check: records whose id
// the collection does not hold yet (counted once however often the batch
// repeats them) and their estimated bytes. Replacing a record adds
// nothing, so a tenant at its maximum can still update what it has.
func upsertAdds(h *engine.Handle, recs []engine.Record, dim int) (vectors, bytes int64) {
	seen := make(map[string]struct{}, len(recs))
	for _, r := range recs {
		if _, dup := seen[r.ID]; dup {
			continue
		}
		seen[r.ID] = struct{}{}
		if _, err := h.Get(r.ID); err == nil {
			continue
		}
		vectors++
		bytes += EstimateRecordBytes(dim, len(r.ID), len(r.MetadataJSON))
	}
	return vectors, bytes
}
