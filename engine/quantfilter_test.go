package engine

import (
	"math/rand/v2"
	"testing"

	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/filter"
)

// TestFilteredSearchOnAQuantizedCollection: with payload indexes on an
// int8 collection whose originals are on disk, every plan of a filtered
// search (the scan of the index's candidates, the two-hop search, the
// admitting search, and the planner's own choice) returns only matching
// records, ranked by their exact float32 distances, with the recall of a
// graph search; an exact filtered search finds the true nearest matches.
func TestFilteredSearchOnAQuantizedCollection(t *testing.T) {
	const dim, n = 32, 3000
	db := openTestDB(t, t.TempDir(), Config{CheckpointRecords: -1})
	defer db.Close()
	if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "qf", Dimension: dim, Metric: distance.L2,
		Quantization: Quantization{Type: QuantInt8, Originals: OriginalsDisk},
		Indexes:      map[string]string{"tag": "keyword", "w": "integer"}}); err != nil {
		t.Fatal(err)
	}
	h, err := db.Collection(DefaultTenant, "qf")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(11, 12))
	recs := quantRecords(rng, "", n, dim)
	for i := range recs {
		recs[i].Metadata["w"] = i % 100
	}
	for s := 0; s < n; s += 500 {
		if err := h.Upsert(bg, recs[s:s+500]); err != nil {
			t.Fatal(err)
		}
	}
	if st := h.WaitQuantization(); st.State != QuantStateReady || !st.Traversing || !st.OriginalsOnDisk {
		t.Fatalf("quantization: %+v", st)
	}
	h.WaitIndexed()
	o := oracleOf(t, h.Collection(), recs, distance.L2)
	queries := clustered(rng, 40, dim)
	w := func(r Record) float64 { v, _ := r.Metadata["w"].(float64); return v }
	cases := []struct {
		filter string
		match  func(Record) bool
	}{
		{`{"tag":"red"}`, func(r Record) bool { return r.Metadata["tag"] == "red" }},
		{`{"w":{"$lt":5}}`, func(r Record) bool { return w(r) < 5 }},
		{`{"w":{"$gte":20,"$lt":40}}`, func(r Record) bool { return w(r) >= 20 && w(r) < 40 }},
	}
	for _, tc := range cases {
		f, err := filter.Parse([]byte(tc.filter))
		if err != nil {
			t.Fatal(err)
		}
		for _, strategy := range []string{"", StrategyIndexExact, StrategyIndexTwoHop, StrategyIndexGraph} {
			// The admitting search, forced, at ef 64 measured 0.895 to 0.925
			// on the range over a fifth of the records (the graph differs with
			// the timing of the training in the background; the planner never
			// picks it there: auto answers at 1.0). This test is about each
			// plan answering correctly on codes, so the forced admitting
			// search gets the ef a user forcing it would give.
			ef := 64
			if strategy == StrategyIndexGraph {
				ef = 128
			}
			req := SearchRequest{K: 10, Ef: ef, Filter: f, Strategy: strategy, WithMetadata: true}
			for _, q := range queries[:5] {
				req.Vector = q
				res, err := h.Search(bg, req)
				if err != nil {
					t.Fatalf("%s %q: %v", tc.filter, strategy, err)
				}
				if len(res.Hits) != 10 {
					t.Fatalf("%s %q: %d hits", tc.filter, strategy, len(res.Hits))
				}
				for _, hit := range res.Hits {
					if !tc.match(o.recs[hit.ID]) {
						t.Fatalf("%s %q: hit %s does not match (%v)", tc.filter, strategy, hit.ID, hit.Metadata)
					}
				}
			}
			req.Vector = nil
			r := searchRecall(t, h, o, queries, req, tc.match)
			t.Logf("%s strategy %q: recall@10 %.4f", tc.filter, strategy, r)
			if r < 0.9 {
				t.Fatalf("%s %q: recall@10 %.4f", tc.filter, strategy, r)
			}
		}
		if r := searchRecall(t, h, o, queries, SearchRequest{K: 10, Filter: f, Exact: true}, tc.match); r != 1 {
			t.Fatalf("%s exact: recall %.4f", tc.filter, r)
		}
	}
}
