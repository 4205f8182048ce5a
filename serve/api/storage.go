package api

import (
	"context"

	"github.com/akidb/akidb/engine"
)

// UpdateCollection changes a collection's settings (today its tiering
// policy). An empty request changes nothing and answers the collection.
func (s *Service) UpdateCollection(ctx context.Context, name string, req UpdateCollectionRequest) (Collection, error) {
	h, err := s.handle(ctx, name)
	if err != nil {
		return Collection{}, err
	}
	if req.TierPolicy != nil {
		db, err := s.database()
		if err != nil {
			return Collection{}, err
		}
		if _, err := db.SetTierPolicy(ctx, tenant(ctx), name, *req.TierPolicy); err != nil {
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
	out.UploadQueued = h.TierPolicy() == engine.TierMemoryS3 && db.Tier() != nil && db.Tier().Registered(h.Info().ID)
	return out, nil
}
