package rest

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"testing"

	"github.com/akidb/akidb/serve/api"
)

func TestCollectionLifecycle(t *testing.T) {
	ts := newTestServer(t)

	var created api.Collection
	resp := ts.ok(http.StatusCreated, &created, "POST", "/api/v1/collections",
		map[string]any{"name": "docs", "dimension": 4, "metric": "l2", "hnsw": map[string]int{"m": 8, "ef_construction": 64}})
	if created.Name != "docs" || created.Dimension != 4 || created.Metric != "l2" || created.HNSW.M != 8 || created.HNSW.EfConstruction != 64 || created.CreatedAt.IsZero() {
		t.Fatalf("created %+v", created)
	}
	if loc := resp.header.Get("Location"); loc != "/api/v1/collections/docs" {
		t.Fatalf("Location %q", loc)
	}
	// Defaults: metric cosine.
	var second api.Collection
	ts.ok(http.StatusCreated, &second, "POST", "/api/v1/collections", map[string]any{"name": "images", "dimension": 2})
	if second.Metric != "cosine" {
		t.Fatalf("default metric %q", second.Metric)
	}

	var list api.CollectionList
	ts.ok(http.StatusOK, &list, "GET", "/api/v1/collections", nil)
	if len(list.Collections) != 2 || list.Collections[0].Name != "docs" || list.Collections[1].Name != "images" {
		t.Fatalf("list %+v", list)
	}

	var got api.Collection
	ts.ok(http.StatusOK, &got, "GET", "/api/v1/collections/docs", nil)
	if got.Stats == nil || got.Stats.Count != 0 || got.Dimension != 4 {
		t.Fatalf("get %+v", got)
	}

	ts.call("POST", "/api/v1/collections", map[string]any{"name": "docs", "dimension": 4}).envelope(t, http.StatusConflict, api.CodeAlreadyExists)

	var del map[string]any
	ts.ok(http.StatusOK, &del, "DELETE", "/api/v1/collections/docs", nil)
	if del["deleted"] != true || len(del) != 1 {
		t.Fatalf("delete answered %v", del)
	}
	ts.call("GET", "/api/v1/collections/docs", nil).envelope(t, http.StatusNotFound, api.CodeNotFound)
	ts.call("DELETE", "/api/v1/collections/docs", nil).envelope(t, http.StatusNotFound, api.CodeNotFound)
	ts.ok(http.StatusOK, &list, "GET", "/api/v1/collections", nil)
	if len(list.Collections) != 1 || list.Collections[0].Name != "images" {
		t.Fatalf("list after delete %+v", list)
	}

	var st api.StatusResponse
	ts.ok(http.StatusOK, &st, "GET", "/api/v1/status", nil)
	if !st.Ready || st.Collections != 1 || st.Version != "test" {
		t.Fatalf("status %+v", st)
	}
}

// vec returns a deterministic 3-d vector for record i.
func vec(i int) []float32 { return []float32{float32(i), float32(i % 3), 1} }

func TestVectorsContract(t *testing.T) {
	ts := newTestServer(t)
	ts.createCollection("docs", 3, "l2")

	batch := api.UpsertRequest{}
	for i := range 10 {
		batch.Vectors = append(batch.Vectors, api.Vector{
			ID: fmt.Sprintf("v%d", i), Vector: vec(i),
			Metadata: map[string]any{"even": i%2 == 0, "n": i, "tag": fmt.Sprintf("t%d", i%3)},
		})
	}
	var up api.UpsertResponse
	ts.ok(http.StatusOK, &up, "POST", "/api/v1/collections/docs/insert", batch)
	if up.Upserted != 10 || ts.count("docs") != 10 {
		t.Fatalf("upserted %d, count %d", up.Upserted, ts.count("docs"))
	}

	// Exact query: nearest to v4 is v4 itself, with metadata by default.
	var qr api.QueryResponse
	ts.ok(http.StatusOK, &qr, "POST", "/api/v1/collections/docs/query", map[string]any{"vector": vec(4), "k": 3, "exact": true})
	if len(qr.Results) != 3 || qr.Results[0].ID != "v4" || qr.Results[0].Score != 0 || qr.Strategy != "exact" {
		t.Fatalf("exact query %+v", qr)
	}
	if qr.Results[0].Metadata["n"] != float64(4) || qr.Results[0].Vector != nil {
		t.Fatalf("hit %+v: want metadata, no vector", qr.Results[0])
	}
	// Graph query with include_vector and without metadata.
	qr = api.QueryResponse{}
	ts.ok(http.StatusOK, &qr, "POST", "/api/v1/collections/docs/query", map[string]any{"vector": vec(7), "k": 1, "include_vector": true, "include_metadata": false})
	if len(qr.Results) != 1 || qr.Results[0].ID != "v7" || !slices.Equal(qr.Results[0].Vector, vec(7)) || qr.Results[0].Metadata != nil || qr.Strategy != "graph" {
		t.Fatalf("graph query %+v", qr)
	}
	// Filtered query: only even records.
	qr = api.QueryResponse{}
	ts.ok(http.StatusOK, &qr, "POST", "/api/v1/collections/docs/query", map[string]any{"vector": vec(3), "k": 10, "filter": map[string]any{"even": true}})
	if len(qr.Results) != 5 {
		t.Fatalf("filtered query returned %d results: %+v", len(qr.Results), qr)
	}
	for _, h := range qr.Results {
		if h.Metadata["even"] != true {
			t.Fatalf("filter let %+v through", h)
		}
	}

	var v api.Vector
	ts.ok(http.StatusOK, &v, "GET", "/api/v1/collections/docs/vectors/v5", nil)
	if v.ID != "v5" || !slices.Equal(v.Vector, vec(5)) || v.Metadata["tag"] != "t2" {
		t.Fatalf("get %+v", v)
	}
	ts.call("GET", "/api/v1/collections/docs/vectors/nope", nil).envelope(t, http.StatusNotFound, api.CodeNotFound)

	var dr api.DeleteResponse
	ts.ok(http.StatusOK, &dr, "DELETE", "/api/v1/collections/docs/vectors/v5", nil)
	if dr.Deleted != 1 || ts.count("docs") != 9 {
		t.Fatalf("delete one: %+v, count %d", dr, ts.count("docs"))
	}
	ts.call("DELETE", "/api/v1/collections/docs/vectors/v5", nil).envelope(t, http.StatusNotFound, api.CodeNotFound)
	ts.call("GET", "/api/v1/collections/docs/vectors/v5", nil).envelope(t, http.StatusNotFound, api.CodeNotFound)

	// Many by ids: v5 is already gone and v99 never existed.
	dr = api.DeleteResponse{}
	ts.ok(http.StatusOK, &dr, "POST", "/api/v1/collections/docs/delete", map[string]any{"ids": []string{"v0", "v1", "v5", "v99"}})
	if dr.Deleted != 2 || ts.count("docs") != 7 {
		t.Fatalf("delete by ids: %+v, count %d", dr, ts.count("docs"))
	}
	// By filter: tag t0 is v3, v6, v9 (v0 is gone).
	dr = api.DeleteResponse{}
	ts.ok(http.StatusOK, &dr, "POST", "/api/v1/collections/docs/delete", map[string]any{"filter": map[string]any{"tag": "t0"}})
	if dr.Deleted != 3 || ts.count("docs") != 4 {
		t.Fatalf("delete by filter: %+v, count %d", dr, ts.count("docs"))
	}

	// Scroll everything left in pages of 3: v2 v4 v7 v8.
	var ids []string
	cursor := ""
	pages := 0
	for {
		q := url.Values{"limit": {"3"}, "include_vector": {"true"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var page api.ScrollResponse
		ts.ok(http.StatusOK, &page, "GET", "/api/v1/collections/docs/vectors?"+q.Encode(), nil)
		pages++
		for _, r := range page.Vectors {
			ids = append(ids, r.ID)
			var i int
			fmt.Sscanf(r.ID, "v%d", &i)
			if !slices.Equal(r.Vector, vec(i)) {
				t.Fatalf("scrolled %+v", r)
			}
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
		if pages > 10 {
			t.Fatal("scroll does not end")
		}
	}
	sort.Strings(ids)
	if !slices.Equal(ids, []string{"v2", "v4", "v7", "v8"}) || pages != 2 {
		t.Fatalf("scrolled %v in %d pages", ids, pages)
	}
	// Without include_vector, vectors are left out; the default limit applies.
	var page api.ScrollResponse
	ts.ok(http.StatusOK, &page, "GET", "/api/v1/collections/docs/vectors", nil)
	if len(page.Vectors) != 4 || page.Vectors[0].Vector != nil || page.NextCursor != "" {
		t.Fatalf("default scroll %+v", page)
	}
}

// Ids are any UTF-8 up to 256 bytes: "/" travels as %2F and "+" stays "+".
func TestAwkwardIDsInPaths(t *testing.T) {
	ts := newTestServer(t)
	ts.createCollection("docs", 3, "l2")
	ids := []string{"a/b", "c+d", "e f", "ü?#%", "."}
	req := api.UpsertRequest{}
	for i, id := range ids {
		req.Vectors = append(req.Vectors, api.Vector{ID: id, Vector: vec(i)})
	}
	ts.ok(http.StatusOK, nil, "POST", "/api/v1/collections/docs/insert", req)
	for i, id := range ids[:4] {
		var v api.Vector
		ts.ok(http.StatusOK, &v, "GET", "/api/v1/collections/docs/vectors/"+url.PathEscape(id), nil)
		if v.ID != id || !slices.Equal(v.Vector, vec(i)) {
			t.Fatalf("id %q: got %+v", id, v)
		}
	}
	// "+" sent unescaped is a plus, not a space.
	var v api.Vector
	ts.ok(http.StatusOK, &v, "GET", "/api/v1/collections/docs/vectors/c+d", nil)
	if v.ID != "c+d" {
		t.Fatalf("got %q", v.ID)
	}
	ts.ok(http.StatusOK, nil, "DELETE", "/api/v1/collections/docs/vectors/a%2Fb", nil)
	if ts.count("docs") != 4 {
		t.Fatalf("count %d", ts.count("docs"))
	}
}
