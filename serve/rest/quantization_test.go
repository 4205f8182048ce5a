package rest

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/serve/api"
)

// TestQuantizationOverREST: a collection created int8 with its originals
// on disk reports its settings and, once trained, its state; a query's
// rerank reaches the engine; PATCH changes the settings (fields given
// change, the others stay; type none brings the originals back); bad
// settings and a bad rerank are invalid_argument naming the field.
func TestQuantizationOverREST(t *testing.T) {
	ts := newTestServer(t)
	var created api.Collection
	ts.ok(http.StatusCreated, &created, "POST", "/api/v1/collections", map[string]any{
		"name": "q", "dimension": 8, "metric": "l2", "quantization": map[string]any{"type": "int8", "originals": "disk"},
	})
	want := api.QuantizationSettings{Type: "int8", Originals: "disk", Ranges: "auto"}
	if created.Quantization != want || created.Stats == nil || created.Stats.Quantization == nil || created.Stats.Quantization.State != "waiting" {
		t.Fatalf("created %+v stats %+v", created.Quantization, created.Stats)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	vecs := make([][]float32, 1500)
	for s := 0; s < len(vecs); s += 500 {
		var batch api.UpsertRequest
		for i := s; i < s+500; i++ {
			v := make([]float32, 8)
			for j := range v {
				v[j] = float32(rng.NormFloat64())
			}
			vecs[i] = v
			batch.Vectors = append(batch.Vectors, api.Vector{ID: fmt.Sprintf("v%d", i), Vector: v})
		}
		ts.ok(http.StatusOK, nil, "POST", "/api/v1/collections/q/insert", batch)
	}
	h, err := ts.db.Collection(engine.DefaultTenant, "q")
	if err != nil {
		t.Fatal(err)
	}
	if st := h.WaitQuantization(); st.State != engine.QuantStateReady || !st.OriginalsOnDisk {
		t.Fatalf("after 1500 vectors: %+v", st)
	}
	var got api.Collection
	ts.ok(http.StatusOK, &got, "GET", "/api/v1/collections/q", nil)
	if q := got.Stats.Quantization; q.State != "ready" || !q.Traversing || !q.OriginalsOnDisk || q.RangesInUse == "" || q.TrainedOn < 1000 {
		t.Fatalf("stats.quantization %+v", q)
	}
	var list api.CollectionList
	ts.ok(http.StatusOK, &list, "GET", "/api/v1/collections", nil)
	if len(list.Collections) != 1 || list.Collections[0].Quantization != want {
		t.Fatalf("list %+v", list)
	}

	// A stored vector finds itself, exactly scored, at every rerank.
	for _, rerank := range []int{0, 1, 10, 200} {
		var qr api.QueryResponse
		ts.ok(http.StatusOK, &qr, "POST", "/api/v1/collections/q/query", map[string]any{"vector": vecs[7], "k": 3, "rerank": rerank})
		if len(qr.Results) != 3 || qr.Results[0].ID != "v7" || qr.Results[0].Score != 0 {
			t.Fatalf("rerank %d: %+v", rerank, qr)
		}
	}
	for _, bad := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"vector": vecs[0], "k": 1, "rerank": -1}, "rerank"},
		{map[string]any{"vector": vecs[0], "k": 1, "rerank": engine.MaxEf + 1}, "rerank"},
	} {
		e := ts.call("POST", "/api/v1/collections/q/query", bad.body).envelope(t, http.StatusBadRequest, api.CodeInvalidArgument)
		if e.Details["field"] != bad.field {
			t.Fatalf("%v: details %v", bad.body, e.Details)
		}
	}

	// PATCH: ranges only; originals and type stay.
	ts.ok(http.StatusOK, &got, "PATCH", "/api/v1/collections/q", map[string]any{"quantization": map[string]any{"ranges": "dimension"}})
	if want := (api.QuantizationSettings{Type: "int8", Originals: "disk", Ranges: "dimension"}); got.Quantization != want {
		t.Fatalf("after PATCH ranges: %+v", got.Quantization)
	}
	if st := h.WaitQuantization(); st.State != engine.QuantStateReady || st.RangesInUse != "dimension" || !st.OriginalsOnDisk {
		t.Fatalf("after PATCH ranges: %+v", st)
	}
	// Bad settings change nothing.
	for _, bad := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"quantization": map[string]any{"type": "int4"}}, "quantization.type"},
		{map[string]any{"quantization": map[string]any{"originals": "tape"}}, "quantization.originals"},
		{map[string]any{"quantization": map[string]any{"ranges": "rows"}}, "quantization.ranges"},
		{map[string]any{"quantization": map[string]any{"type": "none", "originals": "disk"}}, "quantization.originals"},
		{map[string]any{"quantization": map[string]any{"bits": 4}}, "bits"},
		{map[string]any{"tier": "x"}, "tier"},
	} {
		e := ts.call("PATCH", "/api/v1/collections/q", bad.body).envelope(t, http.StatusBadRequest, api.CodeInvalidArgument)
		if e.Details["field"] != bad.field {
			t.Fatalf("%v: details %v", bad.body, e.Details)
		}
	}
	ts.call("POST", "/api/v1/collections", map[string]any{"name": "bad", "dimension": 4, "quantization": map[string]any{"type": "pq"}}).
		envelope(t, http.StatusBadRequest, api.CodeInvalidArgument)
	ts.call("PATCH", "/api/v1/collections/nope", map[string]any{"quantization": map[string]any{"type": "int8"}}).
		envelope(t, http.StatusNotFound, api.CodeNotFound)
	// Off: the originals come back to memory, searches measure floats.
	ts.ok(http.StatusOK, &got, "PATCH", "/api/v1/collections/q", map[string]any{"quantization": map[string]any{"type": "none"}})
	if want := (api.QuantizationSettings{Type: "none", Originals: "memory", Ranges: "dimension"}); got.Quantization != want {
		t.Fatalf("after PATCH none: %+v", got.Quantization)
	}
	if st := h.WaitQuantization(); st.State != engine.QuantStateOff || st.Traversing || st.OriginalsOnDisk {
		t.Fatalf("after PATCH none: %+v", st)
	}
	var one api.Vector
	ts.ok(http.StatusOK, &one, "GET", "/api/v1/collections/q/vectors/v9", nil)
	for j := range one.Vector {
		if one.Vector[j] != vecs[9][j] {
			t.Fatalf("v9 reads %v, was written %v", one.Vector, vecs[9])
		}
	}
	// An empty PATCH changes nothing.
	ts.ok(http.StatusOK, &got, "PATCH", "/api/v1/collections/q", map[string]any{})
	if got.Quantization.Type != "none" || got.Stats == nil {
		t.Fatalf("empty PATCH: %+v", got)
	}
}
