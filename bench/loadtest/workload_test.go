package loadtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func testWorkload(t *testing.T, mix string, mutate func(*WorkloadConfig)) *Workload {
	t.Helper()
	m, err := ParseMix(mix)
	if err != nil {
		t.Fatal(err)
	}
	vecs, err := NewClustered(8, 4, 7)
	if err != nil {
		t.Fatal(err)
	}
	cfg := WorkloadConfig{
		BaseURL: "http://127.0.0.1:9", Collection: "lt", Metric: "cosine",
		Header: http.Header{"Authorization": {"Bearer k"}}, Vectors: vecs, Mix: m,
		K: 10, InsertBatch: 1, Preload: 100000, MaxDeletes: 50000, Seed: 42,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	w, err := NewWorkload(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestWorkloadMixProportions(t *testing.T) {
	w := testWorkload(t, "query=70,insert=15,get=5,list=4,delete=3,create-drop=3", nil)
	const n = 200000
	counts := map[Op]int{}
	var tgt vegeta.Target
	for i := 0; i < n; i++ {
		op, err := w.Next(&tgt)
		if err != nil {
			t.Fatal(err)
		}
		counts[op]++
		// Every request is classified back to the operation that made it.
		if got, ok := w.OpOf(tgt.Method, tgt.URL); !ok || got != op {
			t.Fatalf("OpOf(%s %s) = %q %v, want %q", tgt.Method, tgt.URL, got, ok, op)
		}
	}
	for _, e := range w.cfg.Mix {
		got := float64(counts[e.Op]) / n
		want := e.Weight / 100
		// Five binomial standard deviations.
		if tol := 5 * math.Sqrt(want*(1-want)/n); math.Abs(got-want) > tol {
			t.Errorf("%s: share %.4f, want %.4f ± %.4f", e.Op, got, want, tol)
		}
	}
}

func TestWorkloadZeroWeightNeverDrawn(t *testing.T) {
	w := testWorkload(t, "delete=0,query=1,insert=0", nil)
	var tgt vegeta.Target
	for i := 0; i < 10000; i++ {
		if op, err := w.Next(&tgt); err != nil || op != OpQuery {
			t.Fatalf("draw %d: %q %v", i, op, err)
		}
	}
	if w.pick(1.0) != OpQuery || w.pick(0) != OpQuery {
		t.Fatal("the edges of the weight range must pick the one positive operation")
	}
}

type insertBody struct {
	Vectors []struct {
		ID       string         `json:"id"`
		Vector   []float32      `json:"vector"`
		Metadata map[string]int `json:"metadata"`
	} `json:"vectors"`
}

// Inserts use ids never used before (not preloaded, not inserted earlier),
// gets read only ids no delete touches, and deletes hit each id once.
func TestWorkloadIDs(t *testing.T) {
	w := testWorkload(t, "insert=4,get=3,delete=3", func(c *WorkloadConfig) {
		c.Preload, c.MaxDeletes, c.InsertBatch = 1000, 500, 3
	})
	seen := map[string]bool{}
	deleted := map[string]bool{}
	var tgt vegeta.Target
	for i := 0; i < 1200; i++ {
		op, err := w.Next(&tgt)
		if err == ErrDeletesExhausted {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch op {
		case OpInsert:
			var b insertBody
			if err := json.Unmarshal(tgt.Body, &b); err != nil {
				t.Fatalf("insert body: %v: %s", err, tgt.Body)
			}
			if len(b.Vectors) != 3 {
				t.Fatalf("insert of %d records, want 3", len(b.Vectors))
			}
			for _, v := range b.Vectors {
				var n int
				if _, err := fmt.Sscanf(v.ID, "v%d", &n); err != nil || n < 1000 {
					t.Fatalf("insert id %q is not fresh (preload is v0..v999)", v.ID)
				}
				if seen[v.ID] {
					t.Fatalf("insert id %q used twice", v.ID)
				}
				seen[v.ID] = true
				if len(v.Vector) != 8 {
					t.Fatalf("vector of %d values", len(v.Vector))
				}
				if _, ok := v.Metadata[BucketField]; !ok {
					t.Fatalf("record without the %s field: %v", BucketField, v.Metadata)
				}
			}
		case OpGet:
			id := tgt.URL[strings.LastIndex(tgt.URL, "/")+1:]
			var n int
			if _, err := fmt.Sscanf(id, "v%d", &n); err != nil || n >= 500 {
				t.Fatalf("get of %q: outside the ids no delete touches (v0..v499)", id)
			}
		case OpDelete:
			id := tgt.URL[strings.LastIndex(tgt.URL, "/")+1:]
			var n int
			if _, err := fmt.Sscanf(id, "v%d", &n); err != nil || n < 500 || n >= 1000 {
				t.Fatalf("delete of %q: outside the preloaded ids set aside for deletes (v500..v999)", id)
			}
			if deleted[id] {
				t.Fatalf("%q deleted twice", id)
			}
			deleted[id] = true
		}
	}
	if len(deleted) == 0 || len(seen) == 0 {
		t.Fatalf("%d deletes and %d inserts drawn", len(deleted), len(seen))
	}
}

func TestWorkloadDeletesExhausted(t *testing.T) {
	w := testWorkload(t, "delete=1", func(c *WorkloadConfig) { c.Preload, c.MaxDeletes = 10, 5 })
	var tgt vegeta.Target
	for i := 0; i < 5; i++ {
		if _, err := w.Next(&tgt); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Next(&tgt); err != ErrDeletesExhausted {
		t.Fatalf("sixth delete of five set aside: %v", err)
	}
}

func TestWorkloadChurn(t *testing.T) {
	w := testWorkload(t, "create-drop=1", nil)
	var tgt vegeta.Target
	live := map[string]bool{}
	for i := 0; i < 200; i++ {
		if _, err := w.Next(&tgt); err != nil {
			t.Fatal(err)
		}
		switch tgt.Method {
		case http.MethodPost:
			var b struct{ Name string }
			if err := json.Unmarshal(tgt.Body, &b); err != nil {
				t.Fatal(err)
			}
			live[b.Name] = true
		case http.MethodDelete:
			name := tgt.URL[strings.LastIndex(tgt.URL, "/")+1:]
			if !live[name] {
				t.Fatalf("drop of %q, which is not live", name)
			}
			delete(live, name)
		}
		if len(live) > churnLag+1 {
			t.Fatalf("%d churn collections live, want at most %d", len(live), churnLag+1)
		}
	}
	alive := w.ChurnAlive()
	if len(alive) != len(live) {
		t.Fatalf("ChurnAlive %v, live %v", alive, live)
	}
	for _, n := range alive {
		if !live[n] {
			t.Fatalf("ChurnAlive lists %q, which was dropped", n)
		}
	}
}

// A filter on a window of buckets matches the asked-for fraction of the
// records, query by query.
func TestWorkloadFilterSelectivity(t *testing.T) {
	for _, sel := range []float64{0.01, 0.1, 0.5, 1} {
		w := testWorkload(t, "query=1", func(c *WorkloadConfig) { c.FilterSelectivity = sel })
		const records = 50000
		buckets := make([]int, records)
		for i := range buckets {
			buckets[i] = w.Bucket(uint64(i))
		}
		for j := uint64(0); j < 20; j++ {
			var q struct {
				Filter map[string]map[string]int `json:"filter"`
			}
			if err := json.Unmarshal(w.QueryBody(j, false), &q); err != nil {
				t.Fatal(err)
			}
			lo, hi := q.Filter[BucketField]["$gte"], q.Filter[BucketField]["$lt"]
			if wlo, whi, ok := w.FilterWindow(j); !ok || wlo != lo || whi != hi {
				t.Fatalf("body window [%d,%d), FilterWindow [%d,%d) %v", lo, hi, wlo, whi, ok)
			}
			if lo < 0 || hi > BucketCount {
				t.Fatalf("window [%d,%d) outside the buckets", lo, hi)
			}
			match := 0
			for _, b := range buckets {
				if b >= lo && b < hi {
					match++
				}
			}
			got := float64(match) / records
			if tol := 5*math.Sqrt(sel*(1-sel)/records) + 1e-9; math.Abs(got-sel) > tol {
				t.Errorf("selectivity %g: query %d matches %.4f of the records (±%.4f)", sel, j, got, tol)
			}
		}
	}
	w := testWorkload(t, "query=1", nil)
	if bytes.Contains(w.QueryBody(0, false), []byte("filter")) {
		t.Fatal("selectivity 0 must send unfiltered queries")
	}
	if !bytes.Contains(w.QueryBody(0, true), []byte(`"exact":true`)) {
		t.Fatal("an exact query body must ask for exact search")
	}
}

func drawAll(t *testing.T, w *Workload, n int) []vegeta.Target {
	t.Helper()
	out := make([]vegeta.Target, n)
	for i := range out {
		if _, err := w.Next(&out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestWorkloadDeterministic(t *testing.T) {
	const mix = "query=50,insert=20,get=10,list=5,delete=5,create-drop=10"
	opt := func(c *WorkloadConfig) { c.FilterSelectivity = 0.3 }
	a := drawAll(t, testWorkload(t, mix, opt), 2000)
	b := drawAll(t, testWorkload(t, mix, opt), 2000)
	for i := range a {
		if !a[i].Equal(&b[i]) {
			t.Fatalf("draw %d differs with the same seed:\n%s %s %s\n%s %s %s", i, a[i].Method, a[i].URL, a[i].Body, b[i].Method, b[i].URL, b[i].Body)
		}
	}
	c := drawAll(t, testWorkload(t, mix, func(c *WorkloadConfig) { opt(c); c.Seed = 43 }), 2000)
	same := 0
	for i := range a {
		if a[i].Equal(&c[i]) {
			same++
		}
	}
	if same > 200 {
		t.Fatalf("%d of 2000 draws equal under another seed", same)
	}
}

// Concurrent draws (as vegeta's workers make them) hand out every fresh id
// and every delete id exactly once.
func TestWorkloadConcurrent(t *testing.T) {
	w := testWorkload(t, "insert=1,delete=1,query=1", func(c *WorkloadConfig) { c.Preload, c.MaxDeletes = 100000, 50000 })
	tr := w.Targeter()
	const workers, per = 8, 2000
	ids := make([][]string, workers)
	var wg sync.WaitGroup
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var tgt vegeta.Target
			for i := 0; i < per; i++ {
				if err := tr(&tgt); err != nil {
					t.Error(err)
					return
				}
				switch tgt.Method {
				case http.MethodDelete:
					ids[g] = append(ids[g], "d:"+tgt.URL)
				case http.MethodPost:
					if strings.HasSuffix(tgt.URL, "/insert") {
						var b insertBody
						if err := json.Unmarshal(tgt.Body, &b); err != nil {
							t.Error(err)
							return
						}
						ids[g] = append(ids[g], "i:"+b.Vectors[0].ID)
					}
				}
			}
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, list := range ids {
		for _, id := range list {
			if seen[id] {
				t.Fatalf("%s handed out twice", id)
			}
			seen[id] = true
		}
	}
	if len(seen) < workers*per/2 {
		t.Fatalf("only %d inserts and deletes in %d draws", len(seen), workers*per)
	}
}

func TestNewWorkloadRejects(t *testing.T) {
	vecs, _ := NewClustered(4, 2, 1)
	mix, _ := ParseMix("get=1,delete=1")
	for _, tc := range []struct {
		cfg  WorkloadConfig
		want string
	}{
		{WorkloadConfig{Mix: mix, K: 1, InsertBatch: 1}, "no vector source"},
		{WorkloadConfig{Vectors: vecs, Mix: mix, K: 1, InsertBatch: 1}, "need preloaded records"},
		{WorkloadConfig{Vectors: vecs, Mix: mix, K: 1, InsertBatch: 1, Preload: 10}, "no ids are set aside"},
		{WorkloadConfig{Vectors: vecs, Mix: mix, K: 1, InsertBatch: 1, Preload: 10, MaxDeletes: 6}, "at most half"},
		{WorkloadConfig{Vectors: vecs, Mix: mix, K: 0, InsertBatch: 1}, "k must be"},
		{WorkloadConfig{Vectors: vecs, Mix: mix, K: 1, InsertBatch: 1, FilterSelectivity: 2}, "selectivity"},
	} {
		if _, err := NewWorkload(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewWorkload(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
}
