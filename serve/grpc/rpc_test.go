package grpc

import (
	"slices"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/grpc/akidbv1"
)

func mustStruct(t *testing.T, m map[string]any) *structpb.Struct {
	t.Helper()
	s, err := structpb.NewStruct(m)
	if err != nil {
		t.Fatalf("NewStruct: %v", err)
	}
	return s
}

func ids[T interface{ GetId() string }](items []T) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.GetId()
	}
	return out
}

// TestEveryRPC walks a collection through its life over the wire.
func TestEveryRPC(t *testing.T) {
	e := newDefaultEnv(t)
	ctx := ctxT(t)

	created, err := e.col.CreateCollection(ctx, &akidbv1.CreateCollectionRequest{
		Name: "docs", Dimension: 4, Metric: "l2", Hnsw: &akidbv1.HNSWParams{M: 8, EfConstruction: 100},
	})
	if err != nil {
		t.Fatalf("CreateCollection: %v", err)
	}
	if created.GetName() != "docs" || created.GetDimension() != 4 || created.GetMetric() != "l2" ||
		created.GetHnsw().GetM() != 8 || created.GetHnsw().GetEfConstruction() != 100 ||
		created.GetCreatedAt().AsTime().IsZero() || created.GetStats() == nil || created.GetStats().GetCount() != 0 {
		t.Fatalf("CreateCollection = %v", created)
	}
	other := e.mustCreate("other", 2, "")
	if other.GetMetric() != "cosine" || other.GetHnsw().GetM() == 0 {
		t.Fatalf("default metric/params: %v", other)
	}

	list, err := e.col.ListCollections(ctx, &akidbv1.ListCollectionsRequest{})
	if err != nil {
		t.Fatalf("ListCollections: %v", err)
	}
	var names []string
	for _, c := range list.GetCollections() {
		names = append(names, c.GetName())
		if c.GetStats() != nil {
			t.Errorf("ListCollections %s has stats; the list carries none", c.GetName())
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"docs", "other"}) {
		t.Fatalf("ListCollections names = %v", names)
	}

	redMeta := map[string]any{"color": "red", "n": 1.0, "tags": []any{"x", "y"}, "nested": map[string]any{"ok": true}, "none": nil}
	up, err := e.col.Upsert(ctx, &akidbv1.UpsertRequest{Collection: "docs", Vectors: []*akidbv1.Vector{
		{Id: "a", Vector: []float32{1, 0, 0, 0}, Metadata: mustStruct(t, redMeta)},
		{Id: "b", Vector: []float32{0, 1, 0, 0}, Metadata: mustStruct(t, map[string]any{"color": "blue"})},
		{Id: "c", Vector: []float32{0, 0, 1, 0}, Metadata: mustStruct(t, map[string]any{"color": "blue"})},
		{Id: "d", Vector: []float32{0.9, 0.1, 0, 0}},
	}})
	if err != nil || up.GetUpserted() != 4 {
		t.Fatalf("Upsert = %v, %v", up, err)
	}

	got, err := e.col.GetCollection(ctx, &akidbv1.GetCollectionRequest{Name: "docs"})
	if err != nil || got.GetStats().GetCount() != 4 || got.GetStats().GetMemoryBytes() <= 0 {
		t.Fatalf("GetCollection = %v, %v", got, err)
	}

	v, err := e.col.Get(ctx, &akidbv1.GetRequest{Collection: "docs", Id: "a"})
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if v.GetId() != "a" || !slices.Equal(v.GetVector(), []float32{1, 0, 0, 0}) || !proto.Equal(v.GetMetadata(), mustStruct(t, redMeta)) {
		t.Fatalf("Get = %v", v)
	}
	if v, err := e.col.Get(ctx, &akidbv1.GetRequest{Collection: "docs", Id: "d"}); err != nil || v.GetMetadata() != nil {
		t.Fatalf("Get without metadata = %v, %v", v, err)
	}

	q, err := e.col.Query(ctx, &akidbv1.QueryRequest{Collection: "docs", Vector: []float32{1, 0, 0, 0}, K: 2})
	if err != nil {
		t.Fatalf("Query: %v", err)
	}
	if !slices.Equal(ids(q.GetResults()), []string{"a", "d"}) || q.GetStrategy() != "graph" {
		t.Fatalf("Query = %v", q)
	}
	if q.GetResults()[0].GetMetadata() == nil || q.GetResults()[0].GetVector() != nil {
		t.Fatalf("Query default includes metadata, not vectors: %v", q.GetResults()[0])
	}
	if q.GetResults()[0].GetScore() > q.GetResults()[1].GetScore() {
		// l2 scores are distances: best first means smallest first.
		t.Fatalf("Query scores out of order: %v", q.GetResults())
	}
	no := false
	q, err = e.col.Query(ctx, &akidbv1.QueryRequest{Collection: "docs", Vector: []float32{1, 0, 0, 0}, K: 1, IncludeVector: true, IncludeMetadata: &no, Exact: true})
	if err != nil || len(q.GetResults()) != 1 || q.GetStrategy() != "exact" ||
		q.GetResults()[0].GetMetadata() != nil || !slices.Equal(q.GetResults()[0].GetVector(), []float32{1, 0, 0, 0}) {
		t.Fatalf("Query include_vector, no metadata, exact = %v, %v", q, err)
	}
	q, err = e.col.Query(ctx, &akidbv1.QueryRequest{Collection: "docs", Vector: []float32{1, 0, 0, 0}, K: 10, FilterJson: `{"color": {"$eq": "blue"}}`})
	if err != nil {
		t.Fatalf("filtered Query: %v", err)
	}
	gotIDs := ids(q.GetResults())
	slices.Sort(gotIDs)
	if !slices.Equal(gotIDs, []string{"b", "c"}) || q.GetStrategy() == "graph" || q.GetStrategy() == "exact" {
		t.Fatalf("filtered Query = %v", q)
	}

	var scrolled []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 4 {
			t.Fatalf("Scroll does not end")
		}
		page, err := e.col.Scroll(ctx, &akidbv1.ScrollRequest{Collection: "docs", Limit: 3, Cursor: cursor, IncludeVector: true})
		if err != nil {
			t.Fatalf("Scroll: %v", err)
		}
		for _, v := range page.GetVectors() {
			if len(v.GetVector()) != 4 {
				t.Fatalf("Scroll include_vector: %v", v)
			}
		}
		scrolled = append(scrolled, ids(page.GetVectors())...)
		if cursor = page.GetNextCursor(); cursor == "" {
			break
		}
	}
	if !slices.Equal(scrolled, []string{"a", "b", "c", "d"}) {
		t.Fatalf("Scroll = %v", scrolled)
	}

	del, err := e.col.Delete(ctx, &akidbv1.DeleteRequest{Collection: "docs", Ids: []string{"a", "missing"}})
	if err != nil || del.GetDeleted() != 1 {
		t.Fatalf("Delete ids = %v, %v", del, err)
	}
	del, err = e.col.Delete(ctx, &akidbv1.DeleteRequest{Collection: "docs", Ids: []string{"a"}})
	if err != nil || del.GetDeleted() != 0 {
		t.Fatalf("Delete one missing id = %v, %v", del, err)
	}
	del, err = e.col.Delete(ctx, &akidbv1.DeleteRequest{Collection: "docs", FilterJson: `{"color": "blue"}`})
	if err != nil || del.GetDeleted() != 2 {
		t.Fatalf("Delete filter = %v, %v", del, err)
	}

	st, err := e.mgmt.GetStatus(ctx, &akidbv1.GetStatusRequest{})
	if err != nil || !st.GetReady() || st.GetCollections() != 2 || st.GetVectors() != 1 {
		t.Fatalf("GetStatus = %v, %v", st, err)
	}

	if _, err := e.col.DeleteCollection(ctx, &akidbv1.DeleteCollectionRequest{Name: "docs"}); err != nil {
		t.Fatalf("DeleteCollection: %v", err)
	}
	_, err = e.col.GetCollection(ctx, &akidbv1.GetCollectionRequest{Name: "docs"})
	wantCode(t, err, codes.NotFound, api.CodeNotFound)
}
