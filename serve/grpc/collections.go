package grpc

import (
	"context"

	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/grpc/akidbv1"
)

// collectionServer implements akidb.v1.CollectionService: each method
// converts, calls the service and converts back (collections.go and
// vectors.go).
type collectionServer struct {
	akidbv1.UnimplementedCollectionServiceServer
	s *Server
}

func (c *collectionServer) CreateCollection(ctx context.Context, req *akidbv1.CreateCollectionRequest) (*akidbv1.Collection, error) {
	col, err := c.s.svc.CreateCollection(ctx, api.CreateCollectionRequest{
		Name: req.GetName(), Dimension: int(req.GetDimension()), Metric: req.GetMetric(),
		HNSW:         api.HNSWParams{M: int(req.GetHnsw().GetM()), EfConstruction: int(req.GetHnsw().GetEfConstruction())},
		TierPolicy:   req.GetTierPolicy(),
		Quantization: quantizationIn(req.GetQuantization()),
		Indexes:      req.GetIndexes(),
	})
	if err != nil {
		return nil, c.s.fail(ctx, err)
	}
	return collectionOut(col), nil
}

func (c *collectionServer) ListCollections(ctx context.Context, _ *akidbv1.ListCollectionsRequest) (*akidbv1.ListCollectionsResponse, error) {
	list, err := c.s.svc.ListCollections(ctx)
	if err != nil {
		return nil, c.s.fail(ctx, err)
	}
	out := &akidbv1.ListCollectionsResponse{Collections: make([]*akidbv1.Collection, len(list.Collections))}
	for i, col := range list.Collections {
		out.Collections[i] = collectionOut(col)
	}
	return out, nil
}

func (c *collectionServer) GetCollection(ctx context.Context, req *akidbv1.GetCollectionRequest) (*akidbv1.Collection, error) {
	col, err := c.s.svc.GetCollection(ctx, req.GetName())
	if err != nil {
		return nil, c.s.fail(ctx, err)
	}
	return collectionOut(col), nil
}

func (c *collectionServer) DeleteCollection(ctx context.Context, req *akidbv1.DeleteCollectionRequest) (*akidbv1.DeleteCollectionResponse, error) {
	if err := c.s.svc.DeleteCollection(ctx, req.GetName()); err != nil {
		return nil, c.s.fail(ctx, err)
	}
	return &akidbv1.DeleteCollectionResponse{}, nil
}

func (c *collectionServer) CreateIndex(ctx context.Context, req *akidbv1.CreateIndexRequest) (*akidbv1.Index, error) {
	idx, err := c.s.svc.CreateIndex(ctx, req.GetCollection(), api.CreateIndexRequest{Field: req.GetField(), Type: req.GetType()})
	if err != nil {
		return nil, c.s.fail(ctx, err)
	}
	return indexOut(idx), nil
}

func (c *collectionServer) ListIndexes(ctx context.Context, req *akidbv1.ListIndexesRequest) (*akidbv1.ListIndexesResponse, error) {
	list, err := c.s.svc.ListIndexes(ctx, req.GetCollection())
	if err != nil {
		return nil, c.s.fail(ctx, err)
	}
	out := &akidbv1.ListIndexesResponse{Indexes: make([]*akidbv1.Index, len(list.Indexes))}
	for i, in := range list.Indexes {
		out.Indexes[i] = indexOut(in)
	}
	return out, nil
}

func (c *collectionServer) DropIndex(ctx context.Context, req *akidbv1.DropIndexRequest) (*akidbv1.DropIndexResponse, error) {
	if _, err := c.s.svc.DropIndex(ctx, req.GetCollection(), req.GetField()); err != nil {
		return nil, c.s.fail(ctx, err)
	}
	return &akidbv1.DropIndexResponse{}, nil
}
