package engine

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/filter"
)

func newTestCollection(t testing.TB, dim int, metric distance.Metric) *Collection {
	t.Helper()
	c, err := NewCollection(CollectionConfig{Name: "test", Dimension: dim, Metric: metric, M: 16, EfConstruction: 100, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// clustered returns n vectors around a few random centres, so that nearest
// neighbour structure is not trivial.
func clustered(rng *rand.Rand, n, dim int) [][]float32 {
	centres := make([][]float32, 16)
	for i := range centres {
		centres[i] = make([]float32, dim)
		for j := range centres[i] {
			centres[i][j] = float32(rng.NormFloat64() * 3)
		}
	}
	out := make([][]float32, n)
	for i := range out {
		c := centres[rng.IntN(len(centres))]
		v := make([]float32, dim)
		for j := range v {
			v[j] = c[j] + float32(rng.NormFloat64())
		}
		out[i] = v
	}
	return out
}

func id(i int) string { return fmt.Sprintf("rec-%05d", i) }

func mustUpsert(t testing.TB, c *Collection, recs []Record) {
	t.Helper()
	for start := 0; start < len(recs); start += 500 {
		if err := c.Upsert(recs[start:min(start+500, len(recs))]); err != nil {
			t.Fatal(err)
		}
	}
}

// oracle answers queries exactly over a plain map of records.
type oracle struct {
	metric distance.Metric
	recs   map[string]Record
}

func (o *oracle) topK(q []float32, k int, match func(Record) bool) []string {
	type scored struct {
		id string
		d  float64
	}
	var all []scored
	for _, r := range o.recs {
		if match != nil && !match(r) {
			continue
		}
		var d float64
		switch o.metric {
		case distance.L2:
			for i := range q {
				x := float64(q[i] - r.Vector[i])
				d += x * x
			}
		default:
			for i := range q {
				d -= float64(q[i]) * float64(r.Vector[i])
			}
		}
		all = append(all, scored{r.ID, d})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].d < all[j].d })
	out := make([]string, 0, k)
	for i := 0; i < k && i < len(all); i++ {
		out = append(out, all[i].id)
	}
	return out
}

func recallOf(got []Hit, want []string) float64 {
	if len(want) == 0 {
		return 1
	}
	set := make(map[string]bool, len(want))
	for _, w := range want {
		set[w] = true
	}
	hit := 0
	for _, g := range got {
		if set[g.ID] {
			hit++
		}
	}
	return float64(hit) / float64(len(want))
}

func TestUpsertGetReplaceDelete(t *testing.T) {
	c := newTestCollection(t, 3, distance.L2)
	if err := c.Upsert([]Record{
		{ID: "a", Vector: []float32{1, 2, 3}, Metadata: map[string]any{"n": 1.0}},
		{ID: "b", Vector: []float32{4, 5, 6}},
	}); err != nil {
		t.Fatal(err)
	}
	if c.Count() != 2 {
		t.Fatalf("count %d", c.Count())
	}
	r, err := c.Get("a")
	if err != nil || r.Vector[2] != 3 || r.Metadata["n"] != 1.0 {
		t.Fatalf("get a: %+v %v", r, err)
	}
	// Replace a: new vector and metadata, count unchanged.
	if err := c.Upsert([]Record{{ID: "a", Vector: []float32{7, 8, 9}, Metadata: map[string]any{"n": 2.0}}}); err != nil {
		t.Fatal(err)
	}
	r, _ = c.Get("a")
	if c.Count() != 2 || r.Vector[0] != 7 || r.Metadata["n"] != 2.0 {
		t.Fatalf("after replace: count %d rec %+v", c.Count(), r)
	}
	res, err := c.Search(bg, SearchRequest{Vector: []float32{1, 2, 3}, K: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Hits) != 2 {
		t.Fatalf("search returned %d hits, want 2 (old version of a must be gone)", len(res.Hits))
	}
	n, err := c.Delete([]string{"a", "missing"})
	if err != nil || n != 1 {
		t.Fatalf("delete: n=%d err=%v", n, err)
	}
	if _, err := c.Get("a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get deleted: %v", err)
	}
	if st := c.Stats(); st.Count != 1 || st.Deleted != 2 {
		t.Fatalf("stats %+v", st)
	}
	// The same id inside one batch: the last one wins.
	if err := c.Upsert([]Record{{ID: "d", Vector: []float32{1, 1, 1}}, {ID: "d", Vector: []float32{2, 2, 2}}}); err != nil {
		t.Fatal(err)
	}
	if r, _ := c.Get("d"); r.Vector[0] != 2 || c.Count() != 2 {
		t.Fatalf("duplicate in batch: %+v count %d", r, c.Count())
	}
}

func TestBadInputChangesNothing(t *testing.T) {
	c := newTestCollection(t, 3, distance.Cosine)
	mustUpsert(t, c, []Record{{ID: "keep", Vector: []float32{1, 0, 0}}})
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	cases := map[string][]Record{
		"empty batch":   {},
		"wrong dim":     {{ID: "x", Vector: []float32{1, 2}}},
		"empty vector":  {{ID: "x", Vector: nil}},
		"nan":           {{ID: "x", Vector: []float32{1, nan, 0}}},
		"inf":           {{ID: "x", Vector: []float32{inf, 0, 0}}},
		"empty id":      {{ID: "", Vector: []float32{1, 0, 0}}},
		"long id":       {{ID: strings.Repeat("i", MaxIDBytes+1), Vector: []float32{1, 0, 0}}},
		"zero cosine":   {{ID: "x", Vector: []float32{0, 0, 0}}},
		"bad later rec": {{ID: "ok", Vector: []float32{0, 1, 0}}, {ID: "bad", Vector: []float32{1}}},
		"invalid utf8":  {{ID: "\xff", Vector: []float32{1, 0, 0}}},
	}
	for name, recs := range cases {
		err := c.Upsert(recs)
		if !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: err %v, want ErrInvalidArgument", name, err)
		}
	}
	if c.Count() != 1 {
		t.Fatalf("count %d after refused writes, want 1", c.Count())
	}
	if _, err := c.Get("ok"); !errors.Is(err, ErrNotFound) {
		t.Fatal("half of a refused batch was written")
	}
	for name, req := range map[string]SearchRequest{
		"k=0":      {Vector: []float32{1, 0, 0}, K: 0},
		"k>max":    {Vector: []float32{1, 0, 0}, K: MaxK + 1},
		"ef<0":     {Vector: []float32{1, 0, 0}, K: 1, Ef: -1},
		"dim":      {Vector: []float32{1, 0}, K: 1},
		"nan":      {Vector: []float32{nan, 0, 0}, K: 1},
		"zero cos": {Vector: []float32{0, 0, 0}, K: 1},
	} {
		if _, err := c.Search(bg, req); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("search %s: err %v", name, err)
		}
	}
	if _, err := c.Delete(nil); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("empty delete: %v", err)
	}
	for _, cfg := range []CollectionConfig{
		{Name: "bad name", Dimension: 3, Metric: distance.L2},
		{Name: "", Dimension: 3, Metric: distance.L2},
		{Name: strings.Repeat("n", 65), Dimension: 3, Metric: distance.L2},
		{Name: "x", Dimension: 0, Metric: distance.L2},
		{Name: "x", Dimension: MaxDimension + 1, Metric: distance.L2},
		{Name: "x", Dimension: 3},
		{Name: "x", Dimension: 3, Metric: distance.L2, M: 1},
		{Name: "x", Dimension: 3, Metric: distance.L2, EfConstruction: 6000},
	} {
		if _, err := NewCollection(cfg); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("config %+v: err %v", cfg, err)
		}
	}
}

func TestScrollVisitsEveryRecordOnce(t *testing.T) {
	c := newTestCollection(t, 4, distance.L2)
	rng := rand.New(rand.NewPCG(1, 1))
	vecs := clustered(rng, 1000, 4)
	recs := make([]Record, len(vecs))
	for i, v := range vecs {
		recs[i] = Record{ID: id(i), Vector: v}
	}
	mustUpsert(t, c, recs)
	if _, err := c.Delete([]string{id(3), id(500), id(999)}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	cursor := ""
	pages := 0
	for {
		page, err := c.Scroll(cursor, 64, pages == 0)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, r := range page.Records {
			seen[r.ID]++
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if len(seen) != 997 {
		t.Fatalf("scroll saw %d records, want 997", len(seen))
	}
	for k, n := range seen {
		if n != 1 {
			t.Fatalf("%s seen %d times", k, n)
		}
	}
	if _, err := c.Scroll("garbage!", 10, false); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("bad cursor: %v", err)
	}
	if _, err := c.Scroll("", 0, false); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("limit 0: %v", err)
	}
	// A vacuum renumbers nodes: old cursors are refused, not misread.
	page, _ := c.Scroll("", 10, false)
	if _, err := c.Vacuum(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Scroll(page.NextCursor, 10, false); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("stale cursor after vacuum: %v", err)
	}
}

func buildOracleCollection(t testing.TB, n, dim int, metric distance.Metric, withMeta bool) (*Collection, *oracle, [][]float32) {
	c := newTestCollection(t, dim, metric)
	rng := rand.New(rand.NewPCG(42, uint64(metric)))
	// Queries come from the same clusters as the data (the last 100).
	all := clustered(rng, n+100, dim)
	vecs, queries := all[:n], all[n:]
	o := &oracle{metric: metric, recs: map[string]Record{}}
	recs := make([]Record, n)
	for i, v := range vecs {
		var meta map[string]any
		if withMeta {
			meta = map[string]any{"p": float64(i % 100), "tag": []string{"red", "green", "blue"}[i%3]}
		}
		recs[i] = Record{ID: id(i), Vector: v, Metadata: meta}
	}
	mustUpsert(t, c, recs)
	for i := range recs {
		r, err := c.Get(recs[i].ID)
		if err != nil {
			t.Fatal(err)
		}
		o.recs[r.ID] = r // stored (normalised for cosine) form
	}
	return c, o, queries
}

func TestSearchRecallAllMetrics(t *testing.T) {
	for _, m := range []distance.Metric{distance.L2, distance.InnerProduct, distance.Cosine} {
		t.Run(m.String(), func(t *testing.T) {
			c, o, queries := buildOracleCollection(t, 3000, 24, m, false)
			total := 0.0
			for _, q := range queries {
				res, err := c.Search(bg, SearchRequest{Vector: q, K: 10, Ef: 64})
				if err != nil {
					t.Fatal(err)
				}
				qq := append([]float32(nil), q...)
				if m == distance.Cosine {
					distance.Normalize(qq)
				}
				total += recallOf(res.Hits, o.topK(qq, 10, nil))
				exact, err := c.Search(bg, SearchRequest{Vector: q, K: 10, Exact: true})
				if err != nil {
					t.Fatal(err)
				}
				if r := recallOf(exact.Hits, o.topK(qq, 10, nil)); r < 0.999 {
					t.Fatalf("exact search recall %.3f", r)
				}
			}
			if r := total / float64(len(queries)); r < 0.95 {
				t.Fatalf("recall@10 at ef=64: %.3f < 0.95", r)
			}
		})
	}
}

func TestFilteredSearchAgainstOracle(t *testing.T) {
	// Large enough that 10% selectivity is answered from the graph.
	c, o, queries := buildOracleCollection(t, 25000, 16, distance.L2, true)
	cases := []struct {
		name, filter string
		match        func(Record) bool
		strategy     string
	}{
		{"50%", `{"p": {"$lt": 50}}`, func(r Record) bool { return r.Metadata["p"].(float64) < 50 }, StrategyFilteredGraph},
		{"10%", `{"p": {"$gte": 90}}`, func(r Record) bool { return r.Metadata["p"].(float64) >= 90 }, StrategyFilteredGraph},
		{"1%", `{"$and": [{"p": 7}, {"tag": {"$in": ["red","green","blue"]}}]}`, func(r Record) bool { return r.Metadata["p"].(float64) == 7 }, StrategyFilteredExact},
		{"3 matches", `{"$and": [{"p": 7}, {"tag": "green"}, {"p": {"$ne": 8}}]}`, func(r Record) bool { return r.Metadata["p"].(float64) == 7 && r.Metadata["tag"] == "green" }, StrategyFilteredExact},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := filter.Parse([]byte(tc.filter))
			if err != nil {
				t.Fatal(err)
			}
			total := 0.0
			for _, q := range queries {
				res, err := c.Search(bg, SearchRequest{Vector: q, K: 10, Ef: 64, Filter: f, WithMetadata: true})
				if err != nil {
					t.Fatal(err)
				}
				want := o.topK(q, 10, tc.match)
				if len(res.Hits) != len(want) {
					t.Fatalf("%d hits, oracle has %d matches in its top 10", len(res.Hits), len(want))
				}
				if res.Strategy != tc.strategy {
					t.Fatalf("strategy %s, want %s", res.Strategy, tc.strategy)
				}
				for _, h := range res.Hits {
					if !tc.match(o.recs[h.ID]) {
						t.Fatalf("hit %s does not match the filter", h.ID)
					}
				}
				total += recallOf(res.Hits, want)
			}
			if r := total / float64(len(queries)); r < 0.95 {
				t.Fatalf("filtered recall %.3f < 0.95", r)
			}
		})
	}
}

func TestDeletesKeepRecall(t *testing.T) {
	c, o, queries := buildOracleCollection(t, 4000, 16, distance.L2, false)
	rng := rand.New(rand.NewPCG(5, 5))
	var del []string
	for i := 0; i < 4000; i++ {
		if rng.Float64() < 0.3 {
			del = append(del, id(i))
		}
	}
	n, err := c.Delete(del)
	if err != nil || n != len(del) {
		t.Fatalf("deleted %d of %d: %v", n, len(del), err)
	}
	for _, d := range del {
		delete(o.recs, d)
	}
	check := func(stage string) {
		total := 0.0
		for _, q := range queries {
			res, err := c.Search(bg, SearchRequest{Vector: q, K: 10, Ef: 64})
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range res.Hits {
				if _, ok := o.recs[h.ID]; !ok {
					t.Fatalf("%s: deleted record %s returned", stage, h.ID)
				}
			}
			total += recallOf(res.Hits, o.topK(q, 10, nil))
		}
		if r := total / float64(len(queries)); r < 0.95 {
			t.Fatalf("%s: recall %.3f < 0.95", stage, r)
		}
	}
	check("after deleting 30%")
	vs, err := c.Vacuum()
	if err != nil {
		t.Fatal(err)
	}
	if vs.Removed != len(del) || vs.Live != len(o.recs) || c.Stats().Deleted != 0 {
		t.Fatalf("vacuum %+v, stats %+v", vs, c.Stats())
	}
	check("after vacuum")
	for id, want := range o.recs {
		got, err := c.Get(id)
		if err != nil || got.Vector[0] != want.Vector[0] {
			t.Fatalf("after vacuum %s: %v", id, err)
		}
	}
}

func TestConcurrentWritersAndReaders(t *testing.T) {
	c := newTestCollection(t, 8, distance.L2)
	rng := rand.New(rand.NewPCG(3, 3))
	vecs := clustered(rng, 2000, 8)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(vecs); i += 4 * 10 {
				var batch []Record
				for j := i; j < min(i+4*10, len(vecs)); j += 4 {
					batch = append(batch, Record{ID: id(j), Vector: vecs[j], Metadata: map[string]any{"w": float64(w)}})
				}
				if err := c.Upsert(batch); err != nil {
					t.Error(err)
					return
				}
				if _, err := c.Delete([]string{id(i)}); err != nil {
					t.Error(err)
					return
				}
			}
		}(w)
	}
	f, _ := filter.Parse([]byte(`{"w": 1}`))
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if _, err := c.Search(bg, SearchRequest{Vector: vecs[i], K: 5, Filter: []*filter.Filter{nil, f}[i%2]}); err != nil {
					t.Error(err)
					return
				}
				_, _ = c.Get(id(i))
				_, _ = c.Scroll("", 10, false)
			}
		}()
	}
	wg.Wait()
	// Each worker deleted the first record of each of its batches: the
	// records with i%40 < 4. Everything else is present.
	for i := range vecs {
		deleted := i%40 < 4
		_, err := c.Get(id(i))
		if deleted != errors.Is(err, ErrNotFound) {
			t.Fatalf("record %d: deleted=%v err=%v", i, deleted, err)
		}
	}
}
