package engine

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/akidb/akidb/engine/distance"
)

// segFiles lists the arena's segment files in a collection directory.
func segFiles(t *testing.T, h *Handle) []string {
	t.Helper()
	ents, err := os.ReadDir(h.mappedDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// checkMapped asserts that h's graph keeps its layer-0 lists and codes in
// the arena: the allocator holds at least what the graph counts for them,
// which is at least a list and a code per node, nothing fell back to the
// heap, and the stats report it.
func checkMapped(t *testing.T, h *Handle, nodes, dim int) {
	t.Helper()
	st := h.c.mappedStats()
	graph := h.c.graph.AllocatedBytes()
	perNode := int64((2*h.c.cfg.M+1)*4 + dim)
	switch {
	case st.Fallbacks != 0 || st.HeapBytes != 0:
		t.Fatalf("regions fell back to the heap: %+v", st)
	case graph < int64(nodes)*perNode:
		t.Fatalf("the graph counts %d bytes of lists and codes for %d nodes, want at least %d", graph, nodes, int64(nodes)*perNode)
	case st.InUseBytes < graph:
		t.Fatalf("the arena holds %d bytes, the graph's lists and codes take %d", st.InUseBytes, graph)
	case st.MappedBytes < st.InUseBytes || st.Segments == 0:
		t.Fatalf("arena stats %+v", st)
	case h.Stats().MappedBytes != st.InUseBytes:
		t.Fatalf("stats report %d mapped bytes, the arena %d", h.Stats().MappedBytes, st.InUseBytes)
	case h.DiskBytes() < st.MappedBytes+h.wal.Size():
		// The segment files are fallocated: quotas count the disk they take.
		t.Fatalf("disk bytes %d do not count the %d bytes of segment files", h.DiskBytes(), st.MappedBytes)
	}
	if len(segFiles(t, h)) != st.Segments {
		t.Fatalf("%d segment files for %d segments", len(segFiles(t, h)), st.Segments)
	}
}

// TestMappedMemoryThroughTheEngine: a durable int8 collection with its
// originals on disk keeps its graph's lists and codes in file-backed
// memory under collections/<id>/mapped through writes, checkpoints,
// restarts (stale files go), a vacuum and fsck, answers as it should
// throughout, and leaves no scratch files once closed or dropped.
func TestMappedMemoryThroughTheEngine(t *testing.T) {
	dir := t.TempDir()
	const dim = 32
	cfg := Config{CheckpointRecords: -1, VacuumRatio: 0.2}
	db := openTestDB(t, dir, cfg)
	h := createQuantized(t, db, "dev", dim, distance.L2, Quantization{Type: QuantInt8, Originals: OriginalsDisk})
	rng := rand.New(rand.NewPCG(19, 19))
	all := quantRecords(rng, "r", 3000, dim)
	for s := 0; s < len(all); s += 500 {
		if err := h.Upsert(bg, all[s:s+500]); err != nil {
			t.Fatal(err)
		}
	}
	if st := h.WaitQuantization(); st.State != QuantStateReady || !st.OriginalsOnDisk || !st.Traversing {
		t.Fatalf("quantization %+v", st)
	}
	checkMapped(t, h, len(all), dim)
	o := oracleOf(t, h.c, all, distance.L2)
	queries := make([][]float32, 0, 100)
	for i := 0; i < 100; i++ {
		queries = append(queries, all[i*29].Vector)
	}
	recall := func(h *Handle, step string) {
		t.Helper()
		if r := searchRecall(t, h, o, queries, SearchRequest{K: 10, Ef: 64}, nil); r < 0.9 {
			t.Fatalf("%s: recall@10 %.3f", step, r)
		}
		for _, r := range all[:50] {
			if _, gone := o.recs[r.ID]; !gone {
				continue
			}
			got, err := h.Get(r.ID)
			if err != nil || !slices.Equal(got.Vector, r.Vector) {
				t.Fatalf("%s: get %s: %v", step, r.ID, err)
			}
		}
	}
	recall(h, "written")
	if err := h.Checkpoint(); err != nil {
		t.Fatal(err)
	}

	// A restart: the files go at close, stale ones left by a crash go at
	// open, and the loaded graph is mapped again.
	mappedDir := h.mappedDir()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(mappedDir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the scratch directory survived close: %v", err)
	}
	if err := os.MkdirAll(mappedDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mappedDir, "seg-999999"), []byte("stale"), 0o600); err != nil {
		t.Fatal(err)
	}
	// fsck does not mind the scratch directory, and does not touch it.
	rep, err := Fsck(dir, FsckOptions{})
	if err != nil || rep.Problems != 0 {
		t.Fatalf("fsck with a scratch directory: %v %+v", err, rep)
	}
	if _, err := os.Stat(filepath.Join(mappedDir, "seg-999999")); err != nil {
		t.Fatalf("fsck touched the scratch directory: %v", err)
	}
	db = openTestDB(t, dir, cfg)
	t.Cleanup(func() { _ = db.Close() })
	h, err = db.Collection(DefaultTenant, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Get(all[0].ID); err != nil { // loads it
		t.Fatal(err)
	}
	if slices.Contains(segFiles(t, h), "seg-999999") {
		t.Fatal("a stale segment file survived the load")
	}
	checkMapped(t, h, len(all), dim)
	recall(h, "reopened")

	// Writes after the load, then a vacuum (at the checkpoint) that
	// renumbers and frees chunks.
	more := quantRecords(rng, "m", 1000, dim)
	if err := h.Upsert(bg, more); err != nil {
		t.Fatal(err)
	}
	for _, r := range more {
		o.recs[r.ID] = r
	}
	var del []string
	for _, r := range all[1000:2500] {
		del = append(del, r.ID)
		delete(o.recs, r.ID)
	}
	if _, err := h.Delete(bg, del); err != nil {
		t.Fatal(err)
	}
	before := h.c.mappedStats().InUseBytes
	if err := h.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if d := h.c.graph.Deleted(); d != 0 {
		t.Fatalf("the checkpoint did not vacuum: %d deleted", d)
	}
	checkMapped(t, h, 2500, dim)
	if after := h.c.mappedStats().InUseBytes; after >= before {
		t.Fatalf("the vacuum gave back no mapped memory: %d before, %d after", before, after)
	}
	recall(h, "vacuumed")

	// Originals back to memory: the arena stays until the next load,
	// which keeps the graph on the heap.
	if _, err := db.SetQuantization(bg, DefaultTenant, "dev", Quantization{Type: QuantInt8, Originals: OriginalsMemory}); err != nil {
		t.Fatal(err)
	}
	if st := h.WaitQuantization(); st.OriginalsOnDisk {
		t.Fatalf("after originals memory: %+v", st)
	}
	recall(h, "originals in memory")
	if err := h.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	db, h = reopen(t, db, dir, cfg, "dev")
	recall(h, "reopened with originals in memory")
	if st := h.Stats(); st.MappedBytes != 0 || segFiles(t, h) != nil {
		t.Fatalf("a collection with its originals in memory is mapped: %d bytes, files %v", st.MappedBytes, segFiles(t, h))
	}
	// And to disk again: mapped from the next load on.
	if _, err := db.SetQuantization(bg, DefaultTenant, "dev", Quantization{Type: QuantInt8, Originals: OriginalsDisk}); err != nil {
		t.Fatal(err)
	}
	if st := h.WaitQuantization(); !st.OriginalsOnDisk {
		t.Fatalf("after originals disk: %+v", st)
	}
	if err := h.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	db, h = reopen(t, db, dir, cfg, "dev")
	if _, err := h.Get(all[0].ID); err != nil {
		t.Fatal(err)
	}
	checkMapped(t, h, 2500, dim)
	recall(h, "back on disk")

	// Drop removes the directory, scratch files and all.
	cdir := filepath.Dir(h.mappedDir())
	if err := db.DropCollection(bg, DefaultTenant, "dev"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cdir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the dropped collection's directory: %v", err)
	}
}

// TestMappedMemoryOnlyForOriginalsOnDisk: other collections keep their
// graph on the heap and make no scratch directory.
func TestMappedMemoryOnlyForOriginalsOnDisk(t *testing.T) {
	dir := t.TempDir()
	db := openTestDB(t, dir, Config{CheckpointRecords: -1})
	t.Cleanup(func() { _ = db.Close() })
	for _, q := range []Quantization{{Type: QuantNone}, {Type: QuantInt8, Originals: OriginalsMemory}} {
		name := strings.ReplaceAll(q.Type+"-"+q.Originals, "-", "x")
		h := createQuantized(t, db, name, 16, distance.L2, q)
		if err := h.Upsert(bg, recs("a", 0, 600, 16)); err != nil {
			t.Fatal(err)
		}
		h.WaitQuantization()
		if st := h.Stats(); st.MappedBytes != 0 || segFiles(t, h) != nil {
			t.Fatalf("%+v: %d mapped bytes, files %v", q, st.MappedBytes, segFiles(t, h))
		}
	}
}
