package engine

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/wal"
)

// A bulk upsert is linked before it returns (no background backlog), is
// found by graph searches as well as an exact one, and survives a restart
// by log replay alone (no checkpoint).
func TestUpsertBulkLinksBeforeReturningAndReplays(t *testing.T) {
	dir := t.TempDir()
	db := openTestDB(t, dir, Config{CheckpointRecords: -1})
	if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "bulk", Dimension: 16, Metric: distance.L2}); err != nil {
		t.Fatal(err)
	}
	h, _ := db.Collection(DefaultTenant, "bulk")
	rng := rand.New(rand.NewPCG(1, 2))
	vecs := clustered(rng, 3000, 16)
	o := &oracle{metric: distance.L2, recs: map[string]Record{}}
	for start := 0; start < len(vecs); start += 700 {
		var batch []Record
		for i := start; i < min(start+700, len(vecs)); i++ {
			r := Record{ID: id(i), Vector: vecs[i], Metadata: map[string]any{"i": float64(i)}}
			batch = append(batch, r)
			o.recs[r.ID] = r
		}
		if err := h.UpsertBulk(bg, batch, 4); err != nil {
			t.Fatal(err)
		}
		if n := h.IndexBacklog(); n != 0 {
			t.Fatalf("backlog %d after a bulk upsert returned", n)
		}
	}
	check := func(h *Handle) {
		t.Helper()
		if h.Count() != len(vecs) {
			t.Fatalf("count %d, want %d", h.Count(), len(vecs))
		}
		var recall float64
		for q := 0; q < 50; q++ {
			res, err := h.Search(bg, SearchRequest{Vector: vecs[q*37], K: 10, Ef: 100})
			if err != nil {
				t.Fatal(err)
			}
			if res.Strategy != StrategyGraph {
				t.Fatalf("strategy %s", res.Strategy)
			}
			recall += recallOf(res.Hits, o.topK(vecs[q*37], 10, nil))
		}
		if recall/50 < 0.95 {
			t.Fatalf("recall@10 %.3f after bulk load", recall/50)
		}
	}
	check(h)
	if err := db.closeWithoutCheckpoint(); err != nil {
		t.Fatal(err)
	}
	db = openTestDB(t, dir, Config{CheckpointRecords: -1})
	defer db.Close()
	h, _ = db.Collection(DefaultTenant, "bulk")
	check(h)
	r, err := h.Get(id(2999))
	if err != nil || r.Metadata["i"] != float64(2999) {
		t.Fatalf("get after replay: %v %v", r, err)
	}
}

// A bulk batch whose fsync fails is not acknowledged, never becomes
// visible and leaves the collection read-only, as Upsert does.
func TestUpsertBulkFsyncFailureIsNotVisible(t *testing.T) {
	ffs := wal.NewFaultFS(nil)
	db := openTestDB(t, t.TempDir(), Config{FS: ffs, CheckpointRecords: -1})
	defer db.Close()
	if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "c", Dimension: 4, Metric: distance.Cosine}); err != nil {
		t.Fatal(err)
	}
	h, _ := db.Collection(DefaultTenant, "c")
	if err := h.UpsertBulk(bg, []Record{{ID: "z", Vector: []float32{0, 0, 0, 0}}}, 2); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("zero cosine vector: %v", err)
	}
	ffs.AddRule(wal.Rule{Op: wal.OpSync, Nth: 1, PathSuffix: ".wal"})
	if err := h.UpsertBulk(bg, recs("fail", 0, 50, 4), 2); err == nil {
		t.Fatal("bulk upsert acknowledged although its fsync failed")
	}
	if _, err := h.Get("fail-0"); !errors.Is(err, ErrNotFound) {
		t.Fatal("a bulk write whose fsync failed became visible")
	}
	res, err := h.Search(bg, SearchRequest{Vector: []float32{1, 0, 0, 0}, K: 5})
	if err != nil || len(res.Hits) != 0 {
		t.Fatalf("search after a failed bulk write: %v %v", res.Hits, err)
	}
	ffs.ClearRules()
	if err := h.UpsertBulk(bg, recs("after", 0, 5, 4), 2); err == nil || !strings.Contains(err.Error(), "log") {
		t.Fatalf("bulk write after a log failure: %v (want fail-stop)", err)
	}
}
