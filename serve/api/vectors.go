package api

import (
	"bytes"
	"context"
	"fmt"
	"strconv"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/engine/filter"
)

func itoa(n int) string { return strconv.Itoa(n) }

// InvalidField is an invalid_argument error about one field of a
// request, named in the message and in details.field.
func InvalidField(field, format string, args ...any) *Error {
	return &Error{Code: CodeInvalidArgument, Message: field + ": " + fmt.Sprintf(format, args...), Details: map[string]any{"field": field}}
}

func invalidField(field, format string, args ...any) *Error {
	return InvalidField(field, format, args...)
}

func parseFilter(raw []byte) (*filter.Filter, *Error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return nil, nil
	}
	f, err := filter.Parse(trimmed)
	if err != nil {
		return nil, invalidField("filter", "%v", err)
	}
	return f, nil
}

// Query returns the k nearest records.
func (s *Service) Query(ctx context.Context, name string, req QueryRequest) (QueryResponse, error) {
	h, release, err := s.acquire(ctx, name)
	if err != nil {
		return QueryResponse{}, err
	}
	defer release()
	lim := s.opts.Limits
	if req.K == 0 {
		// Absent from the request (JSON and protobuf alike read it as 0).
		return QueryResponse{}, invalidField("k", "is required: the number of neighbours to return, between 1 and %d", lim.MaxK)
	}
	if req.K < 1 || req.K > lim.MaxK {
		return QueryResponse{}, invalidField("k", "must be between 1 and %d, got %d", lim.MaxK, req.K)
	}
	if req.Ef < 0 || req.Ef > lim.MaxEf {
		return QueryResponse{}, invalidField("ef", "must be between 1 and %d, got %d", lim.MaxEf, req.Ef)
	}
	if req.Rerank < 0 || req.Rerank > lim.MaxEf {
		return QueryResponse{}, invalidField("rerank", "must be between 1 and %d, got %d", lim.MaxEf, req.Rerank)
	}
	if len(req.Vector) == 0 {
		return QueryResponse{}, invalidField("vector", "must not be empty")
	}
	if e := checkVector("vector", req.Vector); e != nil {
		return QueryResponse{}, e
	}
	f, ferr := parseFilter(req.Filter)
	if ferr != nil {
		return QueryResponse{}, ferr
	}
	withMeta := req.IncludeMetadata == nil || *req.IncludeMetadata
	res, err := h.Search(ctx, engine.SearchRequest{Vector: req.Vector, K: req.K, Ef: req.Ef, Rerank: req.Rerank, Filter: f, Exact: req.Exact, WithVectors: req.IncludeVector, WithMetadata: withMeta, Explain: req.Explain})
	if err != nil {
		return QueryResponse{}, AsError(err)
	}
	out := QueryResponse{Results: make([]QueryHit, len(res.Hits)), Strategy: res.Strategy, Explain: res.Explain}
	for i, hit := range res.Hits {
		out.Results[i] = QueryHit{ID: hit.ID, Score: hit.Score, Metadata: hit.Metadata, Vector: hit.Vector}
	}
	return out, nil
}

// GetVector returns one record.
func (s *Service) GetVector(ctx context.Context, name, id string) (Vector, error) {
	h, release, err := s.acquire(ctx, name)
	if err != nil {
		return Vector{}, err
	}
	defer release()
	if err := engine.ValidateID("id", id); err != nil {
		return Vector{}, AsError(err)
	}
	r, err := h.Get(id)
	if err != nil {
		return Vector{}, Errorf(CodeNotFound, "vector %q not found in collection %q", id, name)
	}
	return Vector{ID: r.ID, Vector: r.Vector, Metadata: r.Metadata}, nil
}

// DeleteVector deletes one record; a missing id is not_found.
func (s *Service) DeleteVector(ctx context.Context, name, id string) (DeleteResponse, error) {
	h, release, err := s.acquire(ctx, name)
	if err != nil {
		return DeleteResponse{}, err
	}
	defer release()
	if err := engine.ValidateID("id", id); err != nil {
		return DeleteResponse{}, AsError(err)
	}
	n, err := h.Delete(ctx, []string{id})
	if err != nil {
		return DeleteResponse{}, AsError(err)
	}
	if n == 0 {
		return DeleteResponse{}, Errorf(CodeNotFound, "vector %q not found in collection %q", id, name)
	}
	return DeleteResponse{Deleted: n}, nil
}

// DeleteVectors deletes by ids or by filter.
func (s *Service) DeleteVectors(ctx context.Context, name string, req DeleteRequest) (DeleteResponse, error) {
	h, release, err := s.acquire(ctx, name)
	if err != nil {
		return DeleteResponse{}, err
	}
	defer release()
	f, ferr := parseFilter(req.Filter)
	if ferr != nil {
		return DeleteResponse{}, ferr
	}
	switch {
	case len(req.IDs) > 0 && f != nil:
		return DeleteResponse{}, invalidField("ids", "give ids or a filter, not both")
	case len(req.IDs) > s.opts.Limits.MaxDeleteIDs:
		return DeleteResponse{}, &Error{Code: CodeTooLarge, Message: fmt.Sprintf("%d ids exceed the limit of %d", len(req.IDs), s.opts.Limits.MaxDeleteIDs)}
	case len(req.IDs) > 0:
		n, err := h.Delete(ctx, req.IDs)
		if err != nil {
			return DeleteResponse{}, AsError(err)
		}
		return DeleteResponse{Deleted: n}, nil
	case f != nil:
		n, err := h.DeleteWhere(ctx, f)
		if err != nil {
			return DeleteResponse{Deleted: n}, AsError(err)
		}
		return DeleteResponse{Deleted: n}, nil
	}
	return DeleteResponse{}, invalidField("ids", "give ids or a filter")
}

// Scroll pages through a collection.
func (s *Service) Scroll(ctx context.Context, name string, req ScrollRequest) (ScrollResponse, error) {
	h, release, err := s.acquire(ctx, name)
	if err != nil {
		return ScrollResponse{}, err
	}
	defer release()
	if req.Limit == 0 {
		req.Limit = 100
	}
	if req.Limit < 1 || req.Limit > s.opts.Limits.MaxScrollLimit {
		return ScrollResponse{}, invalidField("limit", "must be between 1 and %d, got %d", s.opts.Limits.MaxScrollLimit, req.Limit)
	}
	page, err := h.Scroll(req.Cursor, req.Limit, req.IncludeVector)
	if err != nil {
		return ScrollResponse{}, AsError(err)
	}
	out := ScrollResponse{Vectors: make([]Vector, len(page.Records)), NextCursor: page.NextCursor}
	for i, r := range page.Records {
		out.Vectors[i] = Vector{ID: r.ID, Vector: r.Vector, Metadata: r.Metadata}
	}
	return out, nil
}
