package grpc

import (
	"context"

	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/grpc/akidbv1"
)

func (c *collectionServer) Upsert(ctx context.Context, req *akidbv1.UpsertRequest) (*akidbv1.UpsertResponse, error) {
	res, err := c.s.svc.Upsert(ctx, req.GetCollection(), api.UpsertRequest{Vectors: vectorsIn(req.GetVectors())})
	if err != nil {
		return nil, c.s.fail(ctx, err)
	}
	return &akidbv1.UpsertResponse{Upserted: int64(res.Upserted)}, nil
}

func (c *collectionServer) Query(ctx context.Context, req *akidbv1.QueryRequest) (*akidbv1.QueryResponse, error) {
	res, err := c.s.svc.Query(ctx, req.GetCollection(), queryIn(req))
	if err != nil {
		return nil, c.s.fail(ctx, err)
	}
	out, err := queryOut(res)
	if err != nil {
		return nil, c.s.fail(ctx, err)
	}
	return out, nil
}

func (c *collectionServer) Get(ctx context.Context, req *akidbv1.GetRequest) (*akidbv1.Vector, error) {
	v, err := c.s.svc.GetVector(ctx, req.GetCollection(), req.GetId())
	if err != nil {
		return nil, c.s.fail(ctx, err)
	}
	out, err := vectorOut(v)
	if err != nil {
		return nil, c.s.fail(ctx, err)
	}
	return out, nil
}

// Delete serves ids and filter deletes through DeleteVectors; deleting one
// record is the one-id case (a missing id counts 0, as in REST's
// POST .../delete).
func (c *collectionServer) Delete(ctx context.Context, req *akidbv1.DeleteRequest) (*akidbv1.DeleteResponse, error) {
	res, err := c.s.svc.DeleteVectors(ctx, req.GetCollection(), api.DeleteRequest{IDs: req.GetIds(), Filter: filterIn(req.GetFilterJson())})
	if err != nil {
		return nil, c.s.fail(ctx, err)
	}
	return &akidbv1.DeleteResponse{Deleted: int64(res.Deleted)}, nil
}

func (c *collectionServer) Scroll(ctx context.Context, req *akidbv1.ScrollRequest) (*akidbv1.ScrollResponse, error) {
	page, err := c.s.svc.Scroll(ctx, req.GetCollection(), api.ScrollRequest{Limit: int(req.GetLimit()), Cursor: req.GetCursor(), IncludeVector: req.GetIncludeVector()})
	if err != nil {
		return nil, c.s.fail(ctx, err)
	}
	out := &akidbv1.ScrollResponse{Vectors: make([]*akidbv1.Vector, len(page.Vectors)), NextCursor: page.NextCursor}
	for i, v := range page.Vectors {
		if out.Vectors[i], err = vectorOut(v); err != nil {
			return nil, c.s.fail(ctx, err)
		}
	}
	return out, nil
}
