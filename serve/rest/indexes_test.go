package rest

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/serve/api"
)

// TestPayloadIndexesOverREST declares indexes at create and later, lists
// them, queries with explain, and checks the refusals.
func TestPayloadIndexesOverREST(t *testing.T) {
	ts := newTestServer(t)
	var col api.Collection
	ts.ok(http.StatusCreated, &col, "POST", "/api/v1/collections", map[string]any{
		"name": "shop", "dimension": 2, "metric": "l2", "indexes": map[string]string{"category": "keyword"},
	})
	if len(col.Indexes) != 1 || col.Indexes[0].Field != "category" || col.Indexes[0].State != "ready" {
		t.Fatalf("created collection's indexes %+v", col.Indexes)
	}
	var vecs []api.Vector
	for i := range 300 {
		vecs = append(vecs, api.Vector{ID: fmt.Sprintf("p%d", i), Vector: []float32{float32(i), 1},
			Metadata: map[string]any{"category": []string{"shoes", "hats", "bags"}[i%3], "price": float64(i % 50)}})
	}
	ts.ok(http.StatusOK, nil, "POST", "/api/v1/collections/shop/insert", api.UpsertRequest{Vectors: vecs})

	var idx api.Index
	resp := ts.ok(http.StatusAccepted, &idx, "POST", "/api/v1/collections/shop/indexes", api.CreateIndexRequest{Field: "price", Type: "float"})
	if idx.Field != "price" || idx.Type != "float" || (idx.State != "building" && idx.State != "ready") {
		t.Fatalf("index %+v", idx)
	}
	if loc := resp.header.Get("Location"); loc != "/api/v1/collections/shop/indexes/price" {
		t.Fatalf("Location %q", loc)
	}
	h, err := ts.db.Collection(engine.DefaultTenant, "shop")
	if err != nil {
		t.Fatal(err)
	}
	h.WaitIndexBuilds()
	var list api.IndexList
	ts.ok(http.StatusOK, &list, "GET", "/api/v1/collections/shop/indexes", nil)
	if len(list.Indexes) != 2 || list.Indexes[1].Field != "price" || list.Indexes[1].State != "ready" || list.Indexes[1].Values != 50 || list.Indexes[1].Records != 300 {
		t.Fatalf("list %+v", list)
	}

	var q api.QueryResponse
	ts.ok(http.StatusOK, &q, "POST", "/api/v1/collections/shop/query", map[string]any{
		"vector": []float32{10, 1}, "k": 5, "explain": true,
		"filter": map[string]any{"category": "hats", "price": map[string]any{"$lt": 10}},
	})
	if q.Strategy != engine.StrategyIndexExact || len(q.Results) != 5 || q.Explain == nil {
		t.Fatalf("query %+v", q)
	}
	if ex := q.Explain; ex.TrueMatches != 20 || ex.EstimatedMatches != 20 || ex.Estimate != "bitmaps" || ex.Candidates != 20 ||
		len(ex.Indexed) != 2 || len(ex.Unindexed) != 0 || ex.LiveRecords != 300 || ex.Tree == nil || len(ex.Tree.Children) != 2 {
		t.Fatalf("explain %+v tree %+v", ex, ex.Tree)
	}
	// Without explain the plan is not computed or sent.
	q = api.QueryResponse{}
	ts.ok(http.StatusOK, &q, "POST", "/api/v1/collections/shop/query", map[string]any{"vector": []float32{10, 1}, "k": 5, "filter": map[string]any{"category": "hats"}})
	if q.Explain != nil || q.Strategy != engine.StrategyIndexExact {
		t.Fatalf("query %+v", q)
	}

	// Refusals.
	ts.call("POST", "/api/v1/collections/shop/indexes", api.CreateIndexRequest{Field: "price", Type: "keyword"}).envelope(t, http.StatusConflict, api.CodeAlreadyExists)
	ts.call("POST", "/api/v1/collections/shop/indexes", api.CreateIndexRequest{Field: "x", Type: "text"}).envelope(t, http.StatusBadRequest, api.CodeInvalidArgument)
	ts.call("POST", "/api/v1/collections/shop/indexes", api.CreateIndexRequest{Field: "a..b", Type: "keyword"}).envelope(t, http.StatusBadRequest, api.CodeInvalidArgument)
	ts.call("POST", "/api/v1/collections/shop/indexes", api.CreateIndexRequest{Type: "keyword"}).envelope(t, http.StatusBadRequest, api.CodeInvalidArgument)
	ts.call("POST", "/api/v1/collections/shop/indexes", `{"field":"x","type":"keyword","extra":1}`).envelope(t, http.StatusBadRequest, api.CodeInvalidArgument)
	ts.call("POST", "/api/v1/collections/nope/indexes", api.CreateIndexRequest{Field: "x", Type: "keyword"}).envelope(t, http.StatusNotFound, api.CodeNotFound)
	ts.call("POST", "/api/v1/collections", map[string]any{"name": "bad", "dimension": 2, "indexes": map[string]string{"x": "text"}}).envelope(t, http.StatusBadRequest, api.CodeInvalidArgument)
	ts.call("POST", "/api/v1/collections/shop/query", map[string]any{"vector": []float32{1, 1}, "k": 1, "explain": "yes"}).envelope(t, http.StatusBadRequest, api.CodeInvalidArgument)

	var del api.DeleteIndexResponse
	ts.ok(http.StatusOK, &del, "DELETE", "/api/v1/collections/shop/indexes/price", nil)
	if !del.Deleted {
		t.Fatal("not deleted")
	}
	e := ts.call("DELETE", "/api/v1/collections/shop/indexes/price", nil).envelope(t, http.StatusNotFound, api.CodeNotFound)
	if e.Message != `collection shop has no index on "price": not found` {
		t.Fatalf("message %q", e.Message)
	}
	ts.ok(http.StatusOK, &col, "GET", "/api/v1/collections/shop", nil)
	if len(col.Indexes) != 1 || col.Indexes[0].Field != "category" {
		t.Fatalf("collection's indexes after the drop %+v", col.Indexes)
	}
	// The price condition now reads the records the category index leaves.
	q = api.QueryResponse{}
	ts.ok(http.StatusOK, &q, "POST", "/api/v1/collections/shop/query", map[string]any{
		"vector": []float32{10, 1}, "k": 5, "explain": true,
		"filter": map[string]any{"category": "hats", "price": map[string]any{"$lt": 10}},
	})
	if q.Explain.TrueMatches != 20 || q.Explain.Candidates != 100 || len(q.Explain.Unindexed) != 1 || len(q.Results) != 5 {
		t.Fatalf("explain after the drop %+v", q.Explain)
	}
}
