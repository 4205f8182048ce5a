package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"testing"

	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/filter"
)

// Filtered search against an exact oracle, with and without payload
// indexes. The oracle is brute force over the records the test wrote:
// filter.Match on the decoded metadata and the reference distance.

var (
	fxCats  = []string{"shoes", "boots", "hats", "bags", "", "Zed"}
	fxNums  = []float64{-2, 0, 1, 2, 3, 5, 8, 13, 2.5, 1e9}
	fxTypes = map[string]string{"cat": "keyword", "n": "integer", "price": "float", "tags": "keyword", "dims.w": "float", "ok": "keyword"}
)

func fxScalar(r *rand.Rand) any {
	switch r.IntN(6) {
	case 0, 1:
		return fxCats[r.IntN(len(fxCats))]
	case 2, 3:
		return fxNums[r.IntN(len(fxNums))]
	case 4:
		return r.IntN(2) == 0
	}
	return nil
}

// fxMeta makes metadata mostly typed as the indexes expect, with arrays,
// nested objects, missing fields and mistyped values mixed in.
func fxMeta(r *rand.Rand) map[string]any {
	m := map[string]any{}
	if r.IntN(8) > 0 {
		m["cat"] = fxCats[r.IntN(len(fxCats))]
	}
	if r.IntN(8) > 0 {
		m["n"] = float64(r.IntN(20))
	}
	if r.IntN(8) > 0 {
		m["price"] = float64(r.IntN(1000)) / 10
	}
	if r.IntN(2) == 0 {
		tags := make([]any, r.IntN(4))
		for i := range tags {
			tags[i] = fxCats[r.IntN(len(fxCats))]
		}
		m["tags"] = tags
	}
	if r.IntN(2) == 0 {
		m["dims"] = map[string]any{"w": float64(r.IntN(50))}
	}
	if r.IntN(3) == 0 {
		m["ok"] = r.IntN(2) == 0
	}
	if r.IntN(5) == 0 {
		m["free"] = fxScalar(r) // never indexed
	}
	if r.IntN(15) == 0 {
		// A value outside its index's type.
		k := []string{"cat", "n", "price", "ok"}[r.IntN(4)]
		m[k] = fxScalar(r)
	}
	if r.IntN(25) == 0 {
		return nil
	}
	return m
}

func fxOperand(r *rand.Rand, field string) any {
	switch field {
	case "cat", "tags":
		if r.IntN(6) > 0 {
			return fxCats[r.IntN(len(fxCats))]
		}
	case "n":
		if r.IntN(6) > 0 {
			return float64(r.IntN(22) - 1)
		}
	case "price", "dims.w":
		if r.IntN(6) > 0 {
			return float64(r.IntN(1000)) / 10
		}
	case "ok":
		if r.IntN(6) > 0 {
			return r.IntN(2) == 0
		}
	}
	for {
		if v := fxScalar(r); v != nil {
			return v
		}
	}
}

var fxFields = []string{"cat", "n", "price", "tags", "dims.w", "ok", "free"}

func fxCond(r *rand.Rand, field string, op string) any {
	switch op {
	case "$exists":
		return map[string]any{op: r.IntN(2) == 0}
	case "$in", "$nin":
		list := make([]any, r.IntN(5))
		for i := range list {
			list[i] = fxOperand(r, field)
		}
		return map[string]any{op: list}
	case "$gt", "$gte", "$lt", "$lte":
		v := fxOperand(r, field)
		if _, isBool := v.(bool); isBool {
			v = 1.0
		}
		if r.IntN(3) == 0 {
			// A range on both sides.
			lo, hi := fxOperand(r, field), fxOperand(r, field)
			if _, ok := lo.(bool); !ok {
				if _, ok := hi.(bool); !ok {
					return map[string]any{"$gte": lo, "$lt": hi}
				}
			}
		}
		return map[string]any{op: v}
	}
	return map[string]any{op: fxOperand(r, field)}
}

var fxOps = []string{"$eq", "$ne", "$in", "$nin", "$gt", "$gte", "$lt", "$lte", "$exists"}

func fxFilter(r *rand.Rand, depth int) map[string]any {
	if depth < 3 && r.IntN(3) == 0 {
		switch r.IntN(3) {
		case 0:
			return map[string]any{"$not": fxFilter(r, depth+1)}
		case 1:
			return map[string]any{"$and": []any{fxFilter(r, depth+1), fxFilter(r, depth+1)}}
		default:
			return map[string]any{"$or": []any{fxFilter(r, depth+1), fxFilter(r, depth+1)}}
		}
	}
	f := fxFields[r.IntN(len(fxFields))]
	return map[string]any{f: fxCond(r, f, fxOps[r.IntN(len(fxOps))])}
}

func mustFilter(t testing.TB, v any) *filter.Filter {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	f, err := filter.Parse(raw)
	if err != nil {
		t.Fatalf("filter %s: %v", raw, err)
	}
	return f
}

// fxCollection is a collection with known content, for the oracle.
type fxCollection struct {
	c    *Collection
	recs map[string]Record
}

// newFxCollection makes a collection of n records and, with indexed, an
// index on every field of fxTypes (some declared at creation, the rest
// added once the data is in).
func newFxCollection(t testing.TB, n int, seed uint64, indexed bool) *fxCollection {
	t.Helper()
	cfg := CollectionConfig{Name: "fx", Dimension: 8, Metric: distance.L2, Seed: 1, M: 8, EfConstruction: 40}
	if indexed {
		cfg.Indexes = map[string]string{"cat": "keyword", "n": "integer"}
	}
	c, err := NewCollection(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, 99))
	fx := &fxCollection{c: c, recs: map[string]Record{}}
	var batch []Record
	for i := range n {
		id := fmt.Sprintf("r%d", i)
		rec := Record{ID: id, Vector: vectorFor(id, 8), Metadata: fxMeta(r)}
		batch = append(batch, rec)
		if len(batch) == 100 || i == n-1 {
			if err := c.Upsert(batch); err != nil {
				t.Fatal(err)
			}
			batch = nil
		}
	}
	// Replace and delete some, so that indexes see removals.
	for i := 0; i < n; i += 7 {
		id := fmt.Sprintf("r%d", i)
		if i%14 == 0 {
			if _, err := c.Delete([]string{id}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		rec := Record{ID: id, Vector: vectorFor(id+"'", 8), Metadata: fxMeta(r)}
		if err := c.Upsert([]Record{rec}); err != nil {
			t.Fatal(err)
		}
	}
	if indexed {
		for _, f := range sortedKeys(fxTypes) {
			if _, _, ok := c.idx.Has(f); !ok {
				if err := c.CreateIndex(f, fxTypes[f]); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	c.waitLinked()
	for i := range n {
		id := fmt.Sprintf("r%d", i)
		if r, err := c.Get(id); err == nil {
			fx.recs[id] = Record{ID: id, Vector: c.graph.Vector(c.byID[id]), Metadata: r.Metadata}
		}
	}
	return fx
}

// oracle returns the ids of the k nearest records f matches, and how many
// match in all.
func (fx *fxCollection) oracle(q []float32, k int, f *filter.Filter) ([]string, int) {
	type hit struct {
		id string
		d  float32
	}
	var hits []hit
	dist := distance.L2.Func()
	for id, r := range fx.recs {
		if f.Match(r.Metadata) {
			hits = append(hits, hit{id, dist(q, r.Vector)})
		}
	}
	sort.Slice(hits, func(i, j int) bool { return hits[i].d < hits[j].d || hits[i].d == hits[j].d && hits[i].id < hits[j].id })
	out := make([]string, 0, k)
	for _, h := range hits[:min(k, len(hits))] {
		out = append(out, h.id)
	}
	return out, len(hits)
}

func hitIDs(res SearchResult) []string {
	out := make([]string, len(res.Hits))
	for i, h := range res.Hits {
		out[i] = h.ID
	}
	return out
}

// TestFilteredSearchOracle runs every operator on every field, and random
// combinations with $and, $or and $not, on a collection with payload
// indexes and on the same data without: exact searches must both equal
// the oracle, and graph searches must return only matching records, k of
// them whenever k match.
func TestFilteredSearchOracle(t *testing.T) {
	const n, k = 8000, 10
	withIdx := newFxCollection(t, n, 5, true)
	without := newFxCollection(t, n, 5, false)
	if err := withIdx.c.CheckIndexes(); err != nil {
		t.Fatal(err)
	}
	for _, in := range withIdx.c.Indexes() {
		if in.State != "ready" {
			t.Fatalf("index %+v not ready", in)
		}
	}
	r := rand.New(rand.NewPCG(8, 8))
	var filters []map[string]any
	for _, f := range fxFields {
		for _, op := range fxOps {
			for range 3 {
				filters = append(filters, map[string]any{f: fxCond(r, f, op)})
			}
		}
	}
	for range 400 {
		filters = append(filters, fxFilter(r, 1))
	}
	strategies := map[string]int{}
	for i, fv := range filters {
		f := mustFilter(t, fv)
		q := vectorFor(fmt.Sprintf("q%d", i), 8)
		want, matches := withIdx.oracle(q, k, f)
		for _, fx := range []*fxCollection{withIdx, without} {
			for _, exact := range []bool{true, false} {
				res, err := fx.c.Search(bg, SearchRequest{Vector: q, K: k, Filter: f, Exact: exact, WithMetadata: true, Explain: i%5 == 0})
				if err != nil {
					t.Fatal(err)
				}
				strategies[res.Strategy]++
				got := hitIDs(res)
				if exact && !slices.Equal(got, want) {
					t.Fatalf("filter %s (%s, indexed %v): got %v, oracle %v", f, res.Strategy, fx == withIdx, got, want)
				}
				if len(got) != len(want) {
					t.Fatalf("filter %s (%s, indexed %v): %d results, %d match", f, res.Strategy, fx == withIdx, len(got), matches)
				}
				for _, h := range res.Hits {
					if !f.Match(h.Metadata) {
						t.Fatalf("filter %s (%s): %s does not match (%v)", f, res.Strategy, h.ID, h.Metadata)
					}
				}
				if ex := res.Explain; ex != nil {
					if ex.TrueMatches != uint64(matches) || ex.Estimate == "bitmaps" && ex.EstimatedMatches != ex.TrueMatches {
						t.Fatalf("filter %s: explain says %d true matches (estimated %d from %s), oracle %d", f, ex.TrueMatches, ex.EstimatedMatches, ex.Estimate, matches)
					}
					graph := ex.Planned == StrategyIndexGraph || ex.Planned == StrategyIndexTwoHop
					if graph != (ex.Density != nil) || graph && ex.Ef < k || ex.Strategy != res.Strategy {
						t.Fatalf("filter %s: explain %+v", f, ex)
					}
				}
			}
		}
		// Every plan the benchmarks can force keeps the promise too: only
		// matches, k of them while k match; index_exact is the oracle's.
		for _, forced := range []string{StrategyIndexExact, StrategyIndexTwoHop, StrategyIndexGraph} {
			res, err := withIdx.c.Search(bg, SearchRequest{Vector: q, K: k, Filter: f, Strategy: forced, WithMetadata: true})
			if err != nil {
				t.Fatal(err)
			}
			got := hitIDs(res)
			if len(got) != len(want) || forced == StrategyIndexExact && res.Strategy == forced && !slices.Equal(got, want) {
				t.Fatalf("filter %s forced to %s (ran %s): got %v, oracle %v", f, forced, res.Strategy, got, want)
			}
			for _, h := range res.Hits {
				if !f.Match(h.Metadata) {
					t.Fatalf("filter %s forced to %s: %s does not match (%v)", f, forced, h.ID, h.Metadata)
				}
			}
		}
	}
	if _, err := withIdx.c.Search(bg, SearchRequest{Vector: vectorFor("q", 8), K: k, Filter: mustFilter(t, map[string]any{"cat": "a"}), Strategy: "fastest"}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("unknown strategy: %v, want ErrInvalid", err)
	}
	t.Logf("strategies: %v", strategies)
	for _, s := range []string{StrategyIndexExact, StrategyFilteredExact} {
		if strategies[s] == 0 {
			t.Errorf("no search used %s", s)
		}
	}
}

var fuzzTwins struct {
	once             sync.Once
	indexed, without *fxCollection
}

// FuzzIndexedMatchesUnindexed feeds arbitrary filters to a collection with
// payload indexes and to its twin without: exact searches must agree, and
// the indexed graph search must return only matching records, as many as
// the oracle finds up to k.
func FuzzIndexedMatchesUnindexed(f *testing.F) {
	for _, s := range []string{
		`{"cat":"shoes"}`, `{"n":{"$gte":3,"$lt":9}}`, `{"price":{"$gt":50}}`, `{"tags":{"$nin":["hats",""]}}`,
		`{"$or":[{"cat":{"$gt":"c"}},{"dims.w":{"$lte":10}}]}`, `{"$not":{"ok":true}}`, `{"free":{"$exists":true},"n":2}`,
		`{"cat":5}`, `{"n":2.5}`, `{"ok":{"$in":[false,"true",1]}}`, `{"$and":[{"$not":{}},{"cat":"a"}]}`, `{}`,
	} {
		f.Add([]byte(s), uint8(10))
	}
	f.Fuzz(func(t *testing.T, text []byte, k uint8) {
		flt, err := filter.Parse(text)
		if err != nil {
			return
		}
		fuzzTwins.once.Do(func() {
			fuzzTwins.indexed = newFxCollection(t, 600, 12, true)
			fuzzTwins.without = newFxCollection(t, 600, 12, false)
		})
		kk := 1 + int(k)%60
		q := vectorFor(string(text), 8)
		want, matches := fuzzTwins.indexed.oracle(q, kk, flt)
		for _, fx := range []*fxCollection{fuzzTwins.indexed, fuzzTwins.without} {
			res, err := fx.c.Search(bg, SearchRequest{Vector: q, K: kk, Filter: flt, Exact: true})
			if err != nil {
				t.Fatal(err)
			}
			if got := hitIDs(res); !slices.Equal(got, want) {
				t.Fatalf("filter %s (%s): %v, oracle %v (%d match)", flt, res.Strategy, got, want, matches)
			}
		}
		res, err := fuzzTwins.indexed.c.Search(bg, SearchRequest{Vector: q, K: kk, Filter: flt, WithMetadata: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Hits) != len(want) {
			t.Fatalf("filter %s (%s): %d results, want %d", flt, res.Strategy, len(res.Hits), len(want))
		}
		for _, h := range res.Hits {
			if !flt.Match(h.Metadata) {
				t.Fatalf("filter %s (%s): %s does not match", flt, res.Strategy, h.ID)
			}
		}
	})
}

// The planner keeps a filter's plan between searches (payload.SearchPlan);
// the same filter searched again after each kind of change (a record added
// that matches, its metadata changed so that it no longer does, a delete,
// a vacuum that renumbers the nodes, the index dropped) answers as the
// oracle does, exactly and through the graph.
func TestRepeatedFilterSeesEveryChange(t *testing.T) {
	fx := newFxCollection(t, 600, 21, true)
	for id, r := range fx.recs {
		// The oracle's own copies: a vacuum moves the graph's vectors.
		r.Vector = append([]float32(nil), r.Vector...)
		fx.recs[id] = r
	}
	flt, err := filter.Parse([]byte(`{"n":{"$gte":2,"$lt":6}}`))
	if err != nil {
		t.Fatal(err)
	}
	q := vectorFor("probe", 8)
	check := func(step string) {
		t.Helper()
		fx.c.waitLinked()
		want, matches := fx.oracle(q, 10, flt)
		for _, exact := range []bool{true, false} {
			for range 2 { // the second search uses the kept plan
				res, err := fx.c.Search(bg, SearchRequest{Vector: q, K: 10, Filter: flt, Exact: exact})
				if err != nil {
					t.Fatal(err)
				}
				got := hitIDs(res)
				if exact && !slices.Equal(got, want) || len(got) != len(want) {
					t.Fatalf("%s (exact %v, %s): %v, oracle %v (%d match)", step, exact, res.Strategy, got, want, matches)
				}
				if !exact && recallOfIDs(got, want) < 0.8 {
					t.Fatalf("%s (%s): %v, oracle %v", step, res.Strategy, got, want)
				}
			}
		}
	}
	check("at first")
	// A record right at the query that matches.
	near := Record{ID: "near", Vector: append([]float32(nil), q...), Metadata: map[string]any{"n": 3.0}}
	if err := fx.c.Upsert([]Record{near}); err != nil {
		t.Fatal(err)
	}
	fx.recs["near"] = near
	check("after an upsert that matches")
	near.Metadata = map[string]any{"n": 9.0}
	if err := fx.c.Upsert([]Record{near}); err != nil {
		t.Fatal(err)
	}
	fx.recs["near"] = near
	check("after its metadata stopped matching")
	want, _ := fx.oracle(q, 10, flt)
	if _, err := fx.c.Delete(want[:3]); err != nil {
		t.Fatal(err)
	}
	for _, id := range want[:3] {
		delete(fx.recs, id)
	}
	check("after deleting the three nearest matches")
	if _, err := fx.c.Vacuum(); err != nil {
		t.Fatal(err)
	}
	check("after a vacuum")
	if err := fx.c.DropIndex("n"); err != nil {
		t.Fatal(err)
	}
	check("after dropping the index")
}

func recallOfIDs(got, want []string) float64 {
	if len(want) == 0 {
		return 1
	}
	hit := 0
	for _, id := range got {
		if slices.Contains(want, id) {
			hit++
		}
	}
	return float64(hit) / float64(len(want))
}
