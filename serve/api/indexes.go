package api

import "context"

// CreateIndex declares a payload index on a metadata field and starts
// building it in the background; the answer says building, and the
// collection's indexes say ready once queries use it. An evicted
// collection is loaded first, as for any request that needs its data.
func (s *Service) CreateIndex(ctx context.Context, name string, req CreateIndexRequest) (Index, error) {
	h, release, err := s.acquire(ctx, name)
	if err != nil {
		return Index{}, err
	}
	defer release()
	if req.Field == "" {
		return Index{}, InvalidField("field", "is required: the metadata field to index (a dot path for a nested one)")
	}
	if req.Type == "" {
		return Index{}, InvalidField("type", "is required: keyword, integer or float")
	}
	info, err := h.CreateIndex(ctx, req.Field, req.Type)
	if err != nil {
		return Index{}, AsError(err)
	}
	return info, nil
}

// DropIndex removes the payload index on field (loading an evicted
// collection first).
func (s *Service) DropIndex(ctx context.Context, name, field string) (DeleteIndexResponse, error) {
	h, release, err := s.acquire(ctx, name)
	if err != nil {
		return DeleteIndexResponse{}, err
	}
	defer release()
	if err := h.DropIndex(ctx, field); err != nil {
		return DeleteIndexResponse{}, AsError(err)
	}
	return DeleteIndexResponse{Deleted: true}, nil
}

// ListIndexes lists a collection's payload indexes with their state; it
// never loads an evicted collection (their state is then evicted).
func (s *Service) ListIndexes(ctx context.Context, name string) (IndexList, error) {
	h, err := s.handle(ctx, name)
	if err != nil {
		return IndexList{}, err
	}
	return IndexList{Indexes: h.Indexes()}, nil
}
