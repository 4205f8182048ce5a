package grpc

import (
	"fmt"
	"testing"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/serve/grpc/akidbv1"
)

// TestPayloadIndexRPCs: indexes declared at create and later, listed,
// used by a query with explain, and dropped, over the wire.
func TestPayloadIndexRPCs(t *testing.T) {
	e := newDefaultEnv(t)
	ctx := ctxT(t)
	col, err := e.col.CreateCollection(ctx, &akidbv1.CreateCollectionRequest{Name: "shop", Dimension: 2, Metric: "l2",
		Indexes: map[string]string{"category": "keyword"}})
	if err != nil || len(col.GetIndexes()) != 1 || col.GetIndexes()[0].GetState() != "ready" {
		t.Fatalf("CreateCollection = %v, %v", col, err)
	}
	var vecs []*akidbv1.Vector
	for i := range 90 {
		vecs = append(vecs, &akidbv1.Vector{Id: fmt.Sprintf("p%d", i), Vector: []float32{float32(i), 1},
			Metadata: mustStruct(t, map[string]any{"category": []any{"shoes", "hats", "bags"}[i%3], "n": float64(i % 10)})})
	}
	if _, err := e.col.Upsert(ctx, &akidbv1.UpsertRequest{Collection: "shop", Vectors: vecs}); err != nil {
		t.Fatal(err)
	}
	idx, err := e.col.CreateIndex(ctx, &akidbv1.CreateIndexRequest{Collection: "shop", Field: "n", Type: "integer"})
	if err != nil || idx.GetField() != "n" || idx.GetType() != "integer" {
		t.Fatalf("CreateIndex = %v, %v", idx, err)
	}
	h, err := e.db.Collection(engine.DefaultTenant, "shop")
	if err != nil {
		t.Fatal(err)
	}
	h.WaitIndexBuilds()
	list, err := e.col.ListIndexes(ctx, &akidbv1.ListIndexesRequest{Collection: "shop"})
	if err != nil || len(list.GetIndexes()) != 2 || list.GetIndexes()[1].GetState() != "ready" || list.GetIndexes()[1].GetValues() != 10 {
		t.Fatalf("ListIndexes = %v, %v", list, err)
	}
	got, err := e.col.GetCollection(ctx, &akidbv1.GetCollectionRequest{Name: "shop"})
	if err != nil || len(got.GetIndexes()) != 2 {
		t.Fatalf("GetCollection = %v, %v", got, err)
	}
	q, err := e.col.Query(ctx, &akidbv1.QueryRequest{Collection: "shop", Vector: []float32{3, 1}, K: 4, Explain: true,
		FilterJson: `{"category":"hats","n":{"$gte":5}}`})
	if err != nil || q.GetStrategy() != engine.StrategyIndexExact || len(q.GetResults()) != 4 {
		t.Fatalf("Query = %v, %v", q, err)
	}
	if p := q.GetExplain(); p.GetTrueMatches() != 15 || p.GetEstimate() != "bitmaps" || len(p.GetIndexedFields()) != 2 ||
		p.GetTree() == nil || len(p.GetTree().GetChildren()) != 2 || p.GetTree().GetChildren()[0].GetIndex() == "" {
		t.Fatalf("plan %v", p)
	}
	if q.GetExplain().EntryDensity != nil {
		t.Fatalf("a scan reports an entry density: %v", q.GetExplain())
	}
	// Enough matches for a graph search: its density and ef come too.
	vecs = vecs[:0]
	for i := range 3000 {
		vecs = append(vecs, &akidbv1.Vector{Id: fmt.Sprintf("q%d", i), Vector: []float32{float32(i % 97), float32(i / 97)},
			Metadata: mustStruct(t, map[string]any{"category": "coats", "n": float64(i % 10)})})
	}
	for b := 0; b < len(vecs); b += 1000 {
		if _, err := e.col.Upsert(ctx, &akidbv1.UpsertRequest{Collection: "shop", Vectors: vecs[b : b+1000]}); err != nil {
			t.Fatal(err)
		}
	}
	q, err = e.col.Query(ctx, &akidbv1.QueryRequest{Collection: "shop", Vector: []float32{3, 1}, K: 4, Explain: true, FilterJson: `{"n":{"$gte":1}}`})
	if err != nil || len(q.GetResults()) != 4 {
		t.Fatalf("Query = %v, %v", q, err)
	}
	if p := q.GetExplain(); p.EntryDensity == nil || p.GetEf() < 4 || (p.GetPlanned() != engine.StrategyIndexGraph && p.GetPlanned() != engine.StrategyIndexTwoHop) {
		t.Fatalf("graph plan %v", p)
	}
	if _, err := e.col.DropIndex(ctx, &akidbv1.DropIndexRequest{Collection: "shop", Field: "n"}); err != nil {
		t.Fatal(err)
	}
	list, err = e.col.ListIndexes(ctx, &akidbv1.ListIndexesRequest{Collection: "shop"})
	if err != nil || len(list.GetIndexes()) != 1 {
		t.Fatalf("ListIndexes after drop = %v, %v", list, err)
	}
}
