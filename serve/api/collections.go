package api

import (
	"context"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/engine/distance"
)

func collectionView(info engine.CollectionInfo, st *engine.Stats) Collection {
	c := Collection{
		Name: info.Name, Dimension: info.Config.Dimension, Metric: info.Config.Metric.String(),
		HNSW:      HNSWParams{M: info.Config.M, EfConstruction: info.Config.EfConstruction},
		CreatedAt: info.CreatedAt, TierPolicy: info.TierPolicy, LoadState: string(info.LoadState),
		Quantization: quantizationSettingsView(info.Config.Quantization),
	}
	if st != nil {
		c.Stats = &CollectionStats{Count: st.Count, Deleted: st.Deleted, MemoryBytes: st.MemoryBytes, MappedBytes: st.MappedBytes, DiskBytes: st.DiskBytes}
		if st.Quantization.State != "" {
			q := st.Quantization
			c.Stats.Quantization = &q
		}
	}
	return c
}

// indexViews lists a collection's indexes; nil when there are none, so
// that the field is omitted.
func indexViews(infos []engine.IndexInfo) []Index {
	if len(infos) == 0 {
		return nil
	}
	return infos
}

// CreateCollection creates a collection in the caller's tenant.
func (s *Service) CreateCollection(ctx context.Context, req CreateCollectionRequest) (Collection, error) {
	db, err := s.database()
	if err != nil {
		return Collection{}, err
	}
	if err := engine.ValidateName(req.Name); err != nil {
		return Collection{}, AsError(err)
	}
	if !callerMaySee(ctx, req.Name) {
		// A key limited to some collections cannot widen its reach by
		// creating another one.
		return Collection{}, Errorf(CodePermissionDenied, "this key is limited to some collections and may not create %q", req.Name)
	}
	if req.Dimension < 1 || req.Dimension > s.opts.Limits.MaxDimension {
		return Collection{}, &Error{Code: CodeInvalidArgument, Message: "dimension must be between 1 and " + itoa(s.opts.Limits.MaxDimension), Details: map[string]any{"field": "dimension"}}
	}
	if req.Metric == "" {
		req.Metric = "cosine"
	}
	m, err := distance.ParseMetric(req.Metric)
	if err != nil {
		return Collection{}, &Error{Code: CodeInvalidArgument, Message: err.Error(), Details: map[string]any{"field": "metric"}}
	}
	if g := s.quotaGuard(); g != nil {
		done, err := g.BeginCreateCollection(tenant(ctx))
		if err != nil {
			return Collection{}, err
		}
		defer done()
	}
	if err := engine.ValidateIndexes(req.Indexes); err != nil {
		return Collection{}, AsError(err)
	}
	if req.TierPolicy != "" {
		if err := db.ValidateTierPolicy(req.TierPolicy); err != nil {
			return Collection{}, AsError(err)
		}
	}
	info, err := db.CreateCollection(ctx, tenant(ctx), engine.CollectionConfig{
		Name: req.Name, Dimension: req.Dimension, Metric: m, M: req.HNSW.M, EfConstruction: req.HNSW.EfConstruction, TierPolicy: req.TierPolicy,
		Quantization: quantizationAtCreate(req.Quantization),
		Indexes:      req.Indexes,
	})
	if err != nil {
		return Collection{}, AsError(err)
	}
	col := collectionView(info, &engine.Stats{})
	if h, err := db.Collection(tenant(ctx), req.Name); err == nil {
		st := h.Stats()
		col = collectionView(h.Info(), &st)
		col.Indexes = indexViews(h.Indexes())
	}
	return col, nil
}

// ListCollections lists the caller's tenant's collections.
func (s *Service) ListCollections(ctx context.Context) (CollectionList, error) {
	db, err := s.database()
	if err != nil {
		return CollectionList{}, err
	}
	out := CollectionList{Collections: []Collection{}}
	for _, info := range db.ListCollections(tenant(ctx)) {
		if !callerMaySee(ctx, info.Name) {
			continue
		}
		out.Collections = append(out.Collections, collectionView(info, nil))
	}
	return out, nil
}

// GetCollection returns a collection with its stats; it never loads an
// evicted collection (its stats are then as of when it left memory).
func (s *Service) GetCollection(ctx context.Context, name string) (Collection, error) {
	h, err := s.handle(ctx, name)
	if err != nil {
		return Collection{}, err
	}
	st := h.Stats()
	col := collectionView(h.Info(), &st)
	col.Indexes = indexViews(h.Indexes())
	return col, nil
}

// DeleteCollection drops a collection and its data.
func (s *Service) DeleteCollection(ctx context.Context, name string) error {
	db, err := s.database()
	if err != nil {
		return err
	}
	if err := engine.ValidateName(name); err != nil {
		return AsError(err)
	}
	if !callerMaySee(ctx, name) {
		return notFound(name)
	}
	if err := db.DropCollection(ctx, tenant(ctx), name); err != nil {
		return AsError(err)
	}
	return nil
}

// handle finds the caller's collection; another tenant's collection, or
// one outside a key's collection list, is not_found.
func (s *Service) handle(ctx context.Context, name string) (*engine.Handle, error) {
	db, err := s.database()
	if err != nil {
		return nil, err
	}
	if err := engine.ValidateName(name); err != nil {
		return nil, AsError(err)
	}
	if !callerMaySee(ctx, name) {
		return nil, notFound(name)
	}
	h, err := db.Collection(tenant(ctx), name)
	if err != nil {
		return nil, AsError(err)
	}
	return h, nil
}

// acquire finds the caller's collection and takes a request's reference
// on it, loading it first if it was evicted (up to ctx: past it the
// answer is collection_loading, and the load goes on). Call release when
// the request is done with it.
func (s *Service) acquire(ctx context.Context, name string) (h *engine.Handle, release func(), err error) {
	if h, err = s.handle(ctx, name); err != nil {
		return nil, nil, err
	}
	if release, err = h.Acquire(ctx); err != nil {
		return nil, nil, AsError(err)
	}
	return h, release, nil
}

func notFound(name string) *Error {
	return Errorf(CodeNotFound, "collection %q not found", name)
}

// callerMaySee applies a key's collection list, if it has one.
func callerMaySee(ctx context.Context, name string) bool {
	c, ok := CallerFrom(ctx)
	if !ok || len(c.Collections) == 0 {
		return true
	}
	for _, n := range c.Collections {
		if n == name {
			return true
		}
	}
	return false
}
