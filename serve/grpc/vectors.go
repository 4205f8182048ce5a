package grpc

import (
	"context"

	"google.golang.org/protobuf/proto"

	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/grpc/akidbv1"
)

// Upsert decodes the records from the message's wire form (kept by the
// server's codec) into the batch, so the first record that breaks a limit
// ends the request; a message passed in process (not through the codec)
// is taken as it is.
func (c *collectionServer) Upsert(ctx context.Context, req *akidbv1.UpsertRequest) (*akidbv1.UpsertResponse, error) {
	raw, free, fromWire := keptUpsert(ctx)
	size := int64(len(raw))
	if !fromWire {
		size = int64(proto.Size(req))
	}
	b, err := c.s.svc.BeginUpsert(ctx, req.GetCollection(), func() int64 { return size })
	if err != nil {
		return nil, c.s.fail(ctx, err)
	}
	if hold := holdDecoded(ctx); hold != nil {
		b.HoldWith(hold)
	}
	var e *api.Error
	if fromWire {
		e = decodeUpsertWire(raw, b)
		// The batch holds copies of what it needs: the message's bytes
		// go back to the pool before the write, not after it.
		free()
	} else {
		e = b.AddAll(vectorsIn(req.GetVectors()))
	}
	if e != nil {
		return nil, c.s.fail(ctx, e)
	}
	res, err := c.s.svc.WriteUpsert(ctx, b)
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
