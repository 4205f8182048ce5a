package api

import (
	"context"

	"github.com/akidb/akidb/engine"
)

// UpdateCollection changes a collection's settings: its tiering policy
// and its quantization. An empty request changes nothing and answers the
// collection. With both, the change that the other needs goes first:
// originals on disk are refused for a tiered collection, so a move to a
// tiered policy comes after the quantization change and a move away from
// one before it.
func (s *Service) UpdateCollection(ctx context.Context, name string, req UpdateCollectionRequest) (Collection, error) {
	h, err := s.handle(ctx, name)
	if err != nil {
		return Collection{}, err
	}
	if req.TierPolicy == nil && req.Quantization == nil {
		st := h.Stats()
		return collectionView(h.Info(), &st), nil
	}
	db, err := s.database()
	if err != nil {
		return Collection{}, err
	}
	setPolicy := func() error {
		if req.TierPolicy == nil {
			return nil
		}
		_, err := db.SetTierPolicy(ctx, tenant(ctx), name, *req.TierPolicy)
		return err
	}
	setQuant := func() error {
		if req.Quantization == nil {
			return nil
		}
		q := mergeQuantization(h.Info().Config.Quantization, *req.Quantization)
		_, err := db.SetQuantization(ctx, tenant(ctx), name, q)
		return err
	}
	steps := []func() error{setPolicy, setQuant}
	if req.TierPolicy != nil && *req.TierPolicy != engine.TierMemory {
		steps = []func() error{setQuant, setPolicy}
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return Collection{}, AsError(err)
		}
	}
	st := h.Stats()
	return collectionView(h.Info(), &st), nil
}

// CheckpointCollection checkpoints a collection now (a snapshot of its
// state, the log before it dropped as the retention allows) and, for a
// memory-s3 collection, wakes the tier to upload it.
func (s *Service) CheckpointCollection(ctx context.Context, name string) (CheckpointResponse, error) {
	h, err := s.handle(ctx, name)
	if err != nil {
		return CheckpointResponse{}, err
	}
	db, err := s.database()
	if err != nil {
		return CheckpointResponse{}, err
	}
	if err := h.Checkpoint(); err != nil {
		return CheckpointResponse{}, AsError(err)
	}
	out := CheckpointResponse{Collection: name, TierPolicy: h.TierPolicy()}
	if seqs, err := h.Snapshots(); err == nil && len(seqs) > 0 {
		out.SnapshotSeq = seqs[0]
	}
	out.UploadQueued = h.TierPolicy() != engine.TierMemory && db.Tier() != nil && db.Tier().Registered(h.Info().ID)
	return out, nil
}

// LoadCollection loads an evicted collection into memory now and waits
// for it (up to the request's time: collection_loading past it, the load
// goes on). A resident collection is only marked used.
func (s *Service) LoadCollection(ctx context.Context, name string) (ResidencyResponse, error) {
	return s.residency(ctx, name, func(db *engine.DB) error {
		if _, err := db.LoadCollection(ctx, tenant(ctx), name); err != nil {
			return AsError(err)
		}
		return nil
	})
}

// EvictCollection evicts a memory-s3 or s3-only collection from memory
// now: it waits for the requests using it, checkpoints it if needed and
// waits for the object store to confirm its upload. A memory collection,
// or a server without an object store, is failed_precondition; a store
// that does not confirm the upload is unavailable (the collection stays).
func (s *Service) EvictCollection(ctx context.Context, name string) (ResidencyResponse, error) {
	return s.residency(ctx, name, func(db *engine.DB) error {
		_, err := db.EvictCollection(ctx, tenant(ctx), name)
		if err == nil {
			return nil
		}
		if ae := AsError(err); ae.Code != CodeInternal {
			return ae
		}
		return &Error{Code: CodeUnavailable, Message: err.Error(), RetryAfterSeconds: 30}
	})
}

// residency runs op on the caller's collection name and answers where
// the collection is afterwards.
func (s *Service) residency(ctx context.Context, name string, op func(*engine.DB) error) (ResidencyResponse, error) {
	h, err := s.handle(ctx, name)
	if err != nil {
		return ResidencyResponse{}, err
	}
	db, err := s.database()
	if err != nil {
		return ResidencyResponse{}, err
	}
	if err := op(db); err != nil {
		return ResidencyResponse{}, err
	}
	return residencyView(h), nil
}

func residencyView(h *engine.Handle) ResidencyResponse {
	r := h.Residency()
	out := ResidencyResponse{Collection: h.Info().Name, TierPolicy: h.TierPolicy(), LoadState: string(r.State), MemoryBytes: r.Facts.MemoryBytes,
		LoadSource: r.Source, LoadSeconds: r.LastLoad.Seconds(), Loads: r.Loads, Evictions: r.Evictions}
	if !r.LastUsed.IsZero() {
		u := r.LastUsed.UTC()
		out.LastUsedAt = &u
	}
	return out
}
