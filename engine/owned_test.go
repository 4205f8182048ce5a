package engine

import (
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/akidb/akidb/engine/distance"
)

// TestUpsertOwned: a batch given up to the engine (UpsertOwned) is
// written from the caller's records, normalised in place, and reads back
// the same as one given with Upsert, before and after a restart; {} and
// null are no metadata either way. Upsert leaves the caller's records as
// they were.
func TestUpsertOwned(t *testing.T) {
	dir := t.TempDir()
	db := openTestDB(t, dir, Config{})
	h := createTestCollection(t, db, CollectionConfig{Name: "c", Dimension: 4, Metric: distance.Cosine})
	batch := func(prefix string) []Record {
		return []Record{
			{ID: prefix + "json", Vector: []float32{3, 0, 0, 4}, MetadataJSON: []byte(`{"a":1,"s":"x"}`)},
			{ID: prefix + "map", Vector: []float32{0, 2, 0, 0}, Metadata: map[string]any{"a": 2}},
			{ID: prefix + "empty", Vector: []float32{1, 1, 1, 1}, MetadataJSON: []byte(`{}`)},
			{ID: prefix + "null", Vector: []float32{1, 0, 0, 0}, MetadataJSON: []byte(`null`)},
			{ID: prefix + "none", Vector: []float32{0, 0, 5, 0}},
		}
	}
	kept := batch("k-")
	given := slices.Clone(kept)
	for i := range given {
		given[i].Vector = slices.Clone(kept[i].Vector)
	}
	if err := h.Upsert(bg, given); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(given, kept) {
		t.Fatalf("Upsert changed the caller's records: %+v", given)
	}
	owned := batch("o-")
	if err := h.UpsertOwned(bg, owned); err != nil {
		t.Fatal(err)
	}
	if owned[0].Vector != nil || owned[0].MetadataJSON != nil {
		t.Fatalf("UpsertOwned kept the batch's vectors or JSON: %+v", owned[0])
	}
	check := func(when string) {
		t.Helper()
		for _, suffix := range []string{"json", "map", "empty", "null", "none"} {
			k, err := h.Get("k-" + suffix)
			if err != nil {
				t.Fatal(err)
			}
			o, err := h.Get("o-" + suffix)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(k.Vector, o.Vector) || !reflect.DeepEqual(k.Metadata, o.Metadata) {
				t.Fatalf("%s: %s differs: Upsert stored %+v, UpsertOwned %+v", when, suffix, k, o)
			}
			if (suffix == "empty" || suffix == "null" || suffix == "none") != (o.Metadata == nil) {
				t.Fatalf("%s: %s has metadata %#v", when, suffix, o.Metadata)
			}
		}
		if r, _ := h.Get("o-json"); r.Vector[0] != 0.6 || r.Metadata["a"] != 1.0 {
			t.Fatalf("%s: o-json is %+v, want the vector normalised and numbers float64", when, r)
		}
	}
	check("live")
	memory := h.Stats().MemoryBytes
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openTestDB(t, dir, Config{})
	defer db.Close()
	h, err := db.Collection(DefaultTenant, "c")
	if err != nil {
		t.Fatal(err)
	}
	check("after a restart")
	if got := h.Stats().MemoryBytes; got != memory {
		t.Fatalf("memory_bytes %d after the log's replay, %d before", got, memory)
	}
}

// TestUpsertOwnedAllocations: writing a large batch allocates about what
// the write must hold (the log record, the graph's copy of the vectors,
// the decoded metadata), not several copies of the batch: a bound of 2.5
// times the batch's vectors and metadata. Before, the engine copied the
// vectors into a batch, again into a log record, encoded it, and the log
// copied the record: more than 3.5 times.
func TestUpsertOwnedAllocations(t *testing.T) {
	const n, dim, metaBytes = 1000, 1024, 8 << 10
	db := openTestDB(t, t.TempDir(), Config{})
	defer db.Close()
	h := createTestCollection(t, db, CollectionConfig{Name: "c", Dimension: dim, Metric: distance.L2})
	pad := strings.Repeat("m", metaBytes-20)
	batch := make([]Record, n)
	for i := range batch {
		id := fmt.Sprintf("r%d", i)
		batch[i] = Record{ID: id, Vector: vectorFor(id, dim), MetadataJSON: fmt.Appendf(nil, `{"pad":"%s"}`, pad)}
	}
	size := n * (4*dim + metaBytes)
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.TotalAlloc
	if err := h.UpsertOwned(bg, batch); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&ms)
	ratio := float64(ms.TotalAlloc-before) / float64(size)
	t.Logf("a batch of %d bytes (vectors and metadata JSON) allocated %.2f× that", size, ratio)
	// The log's frame and the graph's vectors are one batch's worth; the
	// metadata is decoded and written again as its canonical text (the
	// form the collection keeps and the log holds, metadata.go), which
	// allocates the decoded values once more as garbage: at most 3× in
	// all (2.9× measured; 2.2× when the metadata was kept decoded). Under
	// the race detector sync.Pool drops some Puts on purpose, so
	// encoding/json's pooled encoder state is allocated again for some
	// records (4.0× measured): the bound is then 4.5×.
	limit := 3.0
	if raceEnabled {
		limit = 4.5
	}
	if ratio > limit {
		t.Fatalf("writing the batch allocated %.2f× its size, want at most %.1f×", ratio, limit)
	}
}

func createTestCollection(t *testing.T, db *DB, cfg CollectionConfig) *Handle {
	t.Helper()
	if _, err := db.CreateCollection(bg, DefaultTenant, cfg); err != nil {
		t.Fatal(err)
	}
	h, err := db.Collection(DefaultTenant, cfg.Name)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
