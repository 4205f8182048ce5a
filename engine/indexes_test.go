package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/filter"
	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/engine/payload"
	"github.com/akidb/akidb/engine/snapshot"
	"github.com/akidb/akidb/engine/tier"
	"github.com/akidb/akidb/engine/wal"
)

// indexProbe is a fixed set of filtered queries whose exact answers are
// compared across restarts, replays and vacuums.
var indexProbe = []string{
	`{"cat":"shoes"}`, `{"cat":{"$in":["boots","hats"]},"n":{"$gte":5}}`, `{"n":{"$lt":3}}`,
	`{"$or":[{"cat":"bags"},{"n":{"$gt":15}}]}`, `{"$not":{"cat":{"$exists":true}}}`, `{"n":{"$ne":4},"free":{"$exists":false}}`,
	`{"price":{"$gte":10,"$lt":20}}`, `{"tags":"Zed"}`,
}

type probeAnswer struct {
	ids     []string
	matches uint64
	strat   string
}

func probe(t *testing.T, h *Handle) []probeAnswer {
	t.Helper()
	out := make([]probeAnswer, len(indexProbe))
	for i, fs := range indexProbe {
		f, err := filter.Parse([]byte(fs))
		if err != nil {
			t.Fatal(err)
		}
		res, err := h.Search(bg, SearchRequest{Vector: vectorFor(fs, 8), K: 15, Filter: f, Exact: true, Explain: true})
		if err != nil {
			t.Fatal(err)
		}
		out[i] = probeAnswer{hitIDs(res), res.Explain.TrueMatches, res.Strategy}
	}
	return out
}

func sameProbe(t *testing.T, when string, got, want []probeAnswer) {
	t.Helper()
	for i := range want {
		if !slices.Equal(got[i].ids, want[i].ids) || got[i].matches != want[i].matches {
			t.Fatalf("%s: %s answers %v (%d matches), before %v (%d)", when, indexProbe[i], got[i].ids, got[i].matches, want[i].ids, want[i].matches)
		}
	}
}

func fxRecords(r *rand.Rand, prefix string, n int) []Record {
	out := make([]Record, n)
	for i := range out {
		id := fmt.Sprintf("%s%d", prefix, i)
		out[i] = Record{ID: id, Vector: vectorFor(id, 8), Metadata: fxMeta(r)}
	}
	return out
}

func indexStates(h *Handle) map[string]string {
	m := map[string]string{}
	for _, in := range h.Indexes() {
		m[in.Field+":"+in.Type] = in.State
	}
	return m
}

func checkIndexesReady(t *testing.T, when string, h *Handle, want ...string) {
	t.Helper()
	got := indexStates(h)
	if len(got) != len(want) {
		t.Fatalf("%s: indexes %v, want %v", when, got, want)
	}
	for _, w := range want {
		if got[w] != "ready" {
			t.Fatalf("%s: index %s is %q (all: %v)", when, w, got[w], got)
		}
	}
	if err := h.c.CheckIndexes(); err != nil {
		t.Fatalf("%s: %v", when, err)
	}
}

// Payload indexes survive a clean restart (from the snapshot), a crash
// (rebuilt from the snapshot and the replayed log), a vacuum (renumbered),
// a dropped index in an older snapshot, and a crash between declaring an
// index in the catalog and building it.
func TestIndexesSurviveRestartReplayAndVacuum(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{CheckpointRecords: -1}
	db := openTestDB(t, dir, cfg)
	if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "c", Dimension: 8, Metric: distance.L2,
		Indexes: map[string]string{"cat": "keyword"}}); err != nil {
		t.Fatal(err)
	}
	h, _ := db.Collection(DefaultTenant, "c")
	r := rand.New(rand.NewPCG(4, 4))
	all := fxRecords(r, "a", 3000)
	for b := 0; b < len(all); b += 250 {
		if err := h.Upsert(bg, all[b:b+250]); err != nil {
			t.Fatal(err)
		}
	}
	info, err := h.CreateIndex(bg, "n", "integer")
	if err != nil || info.Field != "n" || info.Type != "integer" {
		t.Fatalf("create index: %+v %v", info, err)
	}
	if _, err := h.CreateIndex(bg, "n", "float"); !errors.Is(err, ErrAlreadyExists) {
		t.Fatalf("second index on n: %v", err)
	}
	for _, bad := range [][2]string{{"", "keyword"}, {"a..b", "keyword"}, {"$x", "keyword"}, {"x", "text"}} {
		if _, err := h.CreateIndex(bg, bad[0], bad[1]); !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("create index %v: %v", bad, err)
		}
	}
	h.WaitIndexBuilds()
	checkIndexesReady(t, "built", h, "cat:keyword", "n:integer")
	before := probe(t, h)
	if !slices.ContainsFunc(before, func(a probeAnswer) bool { return a.strat == StrategyIndexExact }) {
		t.Fatal("no probe used an index")
	}

	// Clean restart: the indexes come from the snapshot.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openTestDB(t, dir, cfg)
	h, _ = db.Collection(DefaultTenant, "c")
	checkIndexesReady(t, "after restart", h, "cat:keyword", "n:integer")
	sameProbe(t, "after restart", probe(t, h), before)

	// Writes after the snapshot, then a crash: the log replay updates the
	// snapshot's indexes.
	if err := h.Upsert(bg, fxRecords(r, "b", 500)); err != nil {
		t.Fatal(err)
	}
	if err := h.Upsert(bg, fxRecords(r, "a", 200)); err != nil { // replacements
		t.Fatal(err)
	}
	var dels []string
	for i := 200; i < 500; i++ {
		dels = append(dels, fmt.Sprintf("a%d", i))
	}
	if _, err := h.Delete(bg, dels); err != nil {
		t.Fatal(err)
	}
	before = probe(t, h)
	if err := db.closeWithoutCheckpoint(); err != nil {
		t.Fatal(err)
	}
	db = openTestDB(t, dir, cfg)
	h, _ = db.Collection(DefaultTenant, "c")
	if h.sinceRecords.Load() == 0 {
		t.Fatal("nothing was replayed")
	}
	checkIndexesReady(t, "after replay", h, "cat:keyword", "n:integer")
	sameProbe(t, "after replay", probe(t, h), before)

	// A vacuum renumbers the nodes, and the indexes with them.
	h.RequestCompaction()
	if err := h.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if h.c.graph.Deleted() != 0 {
		t.Fatalf("%d tombstones after the compaction", h.c.graph.Deleted())
	}
	checkIndexesReady(t, "after vacuum", h, "cat:keyword", "n:integer")
	sameProbe(t, "after vacuum", probe(t, h), before)

	// Dropped after the snapshot that has it: the next open drops it too.
	if err := h.DropIndex(bg, "n"); err != nil {
		t.Fatal(err)
	}
	if err := h.DropIndex(bg, "n"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second drop: %v", err)
	}
	// Declared in the catalog but never built (a crash right after the
	// row was written): the next open builds it.
	if _, err := db.meta.InsertPayloadIndex(bg, meta.PayloadIndex{CollectionID: h.info.ID, Field: "price", Type: "float"}); err != nil {
		t.Fatal(err)
	}
	if err := db.closeWithoutCheckpoint(); err != nil {
		t.Fatal(err)
	}
	db = openTestDB(t, dir, cfg)
	h, _ = db.Collection(DefaultTenant, "c")
	checkIndexesReady(t, "after drop and declare", h, "cat:keyword", "price:float")
	sameProbe(t, "after drop and declare", probe(t, h), before)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// An index built while writers upsert, replace and delete, and a vacuum
// renumbers the nodes in the middle of the build, ends up exactly the
// index built from the final records.
func TestIndexBuildWhileWriting(t *testing.T) {
	dir := t.TempDir()
	db := openTestDB(t, dir, Config{CheckpointRecords: -1})
	defer db.Close()
	if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "c", Dimension: 8, Metric: distance.L2, M: 8, EfConstruction: 40}); err != nil {
		t.Fatal(err)
	}
	h, _ := db.Collection(DefaultTenant, "c")
	r := rand.New(rand.NewPCG(6, 6))
	if err := h.Upsert(bg, fxRecords(r, "p", 4000)); err != nil {
		t.Fatal(err)
	}
	var (
		stop    atomic.Bool
		wg      sync.WaitGroup
		writes  atomic.Int64
		batches int
	)
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wr := rand.New(rand.NewPCG(uint64(w), 1))
			for i := 0; !stop.Load(); i++ {
				var err error
				switch i % 3 {
				case 0:
					err = h.Upsert(bg, fxRecords(wr, fmt.Sprintf("w%d-%d-", w, i), 5))
				case 1:
					err = h.Upsert(bg, fxRecords(wr, "p", 1+wr.IntN(5))) // replaces p0..p4
				default:
					_, err = h.Delete(bg, []string{fmt.Sprintf("p%d", wr.IntN(4000))})
				}
				if err != nil {
					t.Error(err)
					return
				}
				writes.Add(1)
			}
		}()
	}
	h.c.builds.batch = 300
	// The two builds below run at once and share the hook (and r).
	var hookMu sync.Mutex
	h.c.builds.afterBatch = func(string) {
		hookMu.Lock()
		defer hookMu.Unlock()
		batches++
		// Deterministic interleaving on top of the writers': a write
		// between every two batches, and a vacuum in the middle.
		if err := h.Upsert(bg, fxRecords(r, fmt.Sprintf("hook%d-", batches), 3)); err != nil {
			t.Error(err)
		}
		if _, err := h.Delete(bg, []string{fmt.Sprintf("p%d", 10*batches)}); err != nil {
			t.Error(err)
		}
		if batches == 5 {
			if _, err := h.c.Vacuum(); err != nil {
				t.Error(err)
			}
		}
	}
	if _, err := h.CreateIndex(bg, "cat", "keyword"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.CreateIndex(bg, "n", "integer"); err != nil {
		t.Fatal(err)
	}
	h.WaitIndexBuilds()
	stop.Store(true)
	wg.Wait()
	if batches < 10 || writes.Load() == 0 {
		t.Fatalf("%d batches, %d concurrent writes: the build did not overlap the writes", batches, writes.Load())
	}
	checkIndexesReady(t, "after a build under writes", h, "cat:keyword", "n:integer")
	t.Logf("%d batches, %d concurrent writes", batches, writes.Load())
}

// A collection takes at most payload.MaxIndexes indexes; one more is
// refused before the catalog changes, and a drop makes room again.
func TestIndexLimit(t *testing.T) {
	dir := t.TempDir()
	db := openTestDB(t, dir, Config{CheckpointRecords: -1})
	defer db.Close()
	if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "c", Dimension: 4, Metric: distance.L2}); err != nil {
		t.Fatal(err)
	}
	h, _ := db.Collection(DefaultTenant, "c")
	for i := range payload.MaxIndexes {
		if _, err := h.CreateIndex(bg, fmt.Sprintf("f%d", i), "keyword"); err != nil {
			t.Fatal(err)
		}
	}
	_, err := h.CreateIndex(bg, "one-more", "keyword")
	var ve *ValidationError
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), "drop one first") {
		t.Fatalf("index %d: %v", payload.MaxIndexes+1, err)
	}
	rows, err := db.meta.ListPayloadIndexes(bg, h.Info().ID)
	if err != nil || len(rows) != payload.MaxIndexes {
		t.Fatalf("catalog has %d indexes (%v)", len(rows), err)
	}
	if err := h.DropIndex(bg, "f0"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.CreateIndex(bg, "one-more", "keyword"); err != nil {
		t.Fatal(err)
	}
	h.WaitIndexBuilds()
}

// A version 1 state (no payload index section) still decodes; its
// collection has no index until the catalog's are built.
func TestDecodeStateVersion1(t *testing.T) {
	c, err := NewCollection(CollectionConfig{Name: "old", Dimension: 8, Metric: distance.L2})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(2, 2))
	if err := c.Upsert(fxRecords(r, "x", 300)); err != nil {
		t.Fatal(err)
	}
	var buf bytesBuffer
	if err := c.EncodeState(&buf); err != nil {
		t.Fatal(err)
	}
	// Version 2 is version 3 without the quantization section (after the
	// node count: a u32 length, 4 for an unquantized collection, and those
	// bytes).
	v3 := buf.b
	sec := 8 + int(binary.LittleEndian.Uint32(v3[4:])) + 16
	if binary.LittleEndian.Uint32(v3[sec:]) != 4 {
		t.Fatalf("quantization section of %d bytes", binary.LittleEndian.Uint32(v3[sec:]))
	}
	v2 := append(slices.Clone(v3[:sec]), v3[sec+8:]...)
	v2[0] = 2
	// Version 2 is version 1 followed by the index section: a u64 length
	// and, with no index, a u32 count of 0.
	if got := v2[len(v2)-12:]; !slices.Equal(got, []byte{4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}) {
		t.Fatalf("unexpected tail %v", got)
	}
	v1 := slices.Clone(v2[:len(v2)-12])
	v1[0] = 1
	back, err := DecodeState(&bytesBuffer{b: v1})
	if err != nil {
		t.Fatal(err)
	}
	if back.Count() != 300 || len(back.Indexes()) != 0 {
		t.Fatalf("count %d, indexes %v", back.Count(), back.Indexes())
	}
	if err := back.CreateIndex("cat", "keyword"); err != nil {
		t.Fatal(err)
	}
	if err := back.CheckIndexes(); err != nil {
		t.Fatal(err)
	}
	v0 := slices.Clone(v2)
	v0[0] = 0
	if _, err := DecodeState(&bytesBuffer{b: v0}); !errors.Is(err, errState) {
		t.Fatalf("version 0: %v", err)
	}
	// A newer layout is not damage: it is refused as such.
	v4 := slices.Clone(v3)
	v4[0] = 4
	var ve *StateVersionError
	if _, err := DecodeState(&bytesBuffer{b: v4}); !errors.As(err, &ve) || ve.Version != 4 || errors.Is(err, errState) {
		t.Fatalf("version 4: %v", err)
	}
	// A version 2 state cut inside its index section is refused.
	if _, err := DecodeState(&bytesBuffer{b: v2[:len(v2)-2]}); !errors.Is(err, errState) {
		t.Fatalf("truncated index section: %v", err)
	}
}

// A collection whose newest snapshot a newer AkiDB wrote does not open: the
// older snapshot it would fall back to lacks what the log no longer holds.
// The files are left as they are, and the newer binary (this one, once the
// version is back) opens them with nothing lost.
func TestNewerSnapshotRefusesToOpen(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{CheckpointRecords: -1}
	db := openTestDB(t, dir, cfg)
	if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "c", Dimension: 4, Metric: distance.L2}); err != nil {
		t.Fatal(err)
	}
	h, _ := db.Collection(DefaultTenant, "c")
	for i, prefix := range []string{"x", "y"} {
		if err := h.Upsert(bg, recs(prefix, 0, 100, 4)); err != nil {
			t.Fatal(err)
		}
		if err := h.Checkpoint(); err != nil {
			t.Fatalf("checkpoint %d: %v", i, err)
		}
	}
	snapDir := h.snapshotDir()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	seqs, _ := snapshot.List(wal.OSFS{}, snapDir)
	r, err := snapshot.Open(wal.OSFS{}, snapDir, seqs[0])
	if err != nil {
		t.Fatal(err)
	}
	state, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	rewrite := func(version byte) {
		t.Helper()
		state[0] = version
		w, err := snapshot.Create(wal.OSFS{}, snapDir, seqs[0])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(state); err != nil {
			t.Fatal(err)
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	rewrite(stateVersion + 1)
	if db, err := Open(dir, cfg); err == nil {
		db.Close()
		t.Fatal("opened a data directory with a snapshot from a newer version")
	} else if !strings.Contains(err.Error(), "newer AkiDB") {
		t.Fatalf("error %q does not say a newer AkiDB wrote it", err)
	}
	// fsck says why; --repair does not take it for damage.
	for _, repair := range []bool{false, true} {
		rep, err := Fsck(dir, FsckOptions{Repair: repair})
		if err != nil {
			t.Fatal(err)
		}
		if rep.OK() || !rep.Collections[0].Snapshots[0].Newer || len(rep.Repairs) != 0 {
			t.Fatalf("fsck (repair %v): %+v", repair, rep)
		}
	}
	rewrite(stateVersion)
	db = openTestDB(t, dir, cfg)
	defer db.Close()
	h, _ = db.Collection(DefaultTenant, "c")
	if h.Count() != 200 {
		t.Fatalf("count %d, want 200", h.Count())
	}
}

// bytesBuffer is a minimal io.ReadWriter over a slice.
type bytesBuffer struct {
	b   []byte
	off int
}

func (w *bytesBuffer) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }
func (w *bytesBuffer) Read(p []byte) (int, error) {
	if w.off >= len(w.b) {
		return 0, io.EOF
	}
	n := copy(p, w.b[w.off:])
	w.off += n
	return n, nil
}

// Payload indexes across an eviction and the loads after it: listing them
// never loads the collection, a filtered search loads it like any request
// and finds its indexes ready (from the snapshot, or built again for one
// the eviction interrupted), and an index dropped or created meanwhile is
// what the next load has.
func TestIndexesAcrossEvictionAndLoad(t *testing.T) {
	db := openTestDB(t, t.TempDir(), residencyConfig(tier.NewMemStore(), newClock(), 0))
	defer db.Close()
	if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "c", Dimension: 8, Metric: distance.L2,
		TierPolicy: TierMemoryS3, Indexes: map[string]string{"cat": "keyword"}}); err != nil {
		t.Fatal(err)
	}
	h, _ := db.Collection(DefaultTenant, "c")
	all := fxRecords(rand.New(rand.NewPCG(8, 8)), "e", 1200)
	for b := 0; b < len(all); b += 200 {
		if err := h.Upsert(bg, all[b:b+200]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.CreateIndex(bg, "n", "integer"); err != nil {
		t.Fatal(err)
	}
	h.WaitIndexBuilds()
	checkIndexesReady(t, "before", h, "cat:keyword", "n:integer")
	want := probe(t, h)
	evict := func(when string) {
		t.Helper()
		if _, err := db.EvictCollection(bg, DefaultTenant, "c"); err != nil {
			t.Fatalf("%s: evict: %v", when, err)
		}
		if state(h) != LoadEvicted {
			t.Fatalf("%s: state %v after the eviction", when, state(h))
		}
	}

	evict("first")
	if got := indexStates(h); len(got) != 2 || got["cat:keyword"] != IndexEvicted || got["n:integer"] != IndexEvicted {
		t.Fatalf("indexes of an evicted collection: %v", got)
	}
	h.WaitIndexBuilds()
	if state(h) != LoadEvicted {
		t.Fatalf("listing the indexes loaded the collection: %v", state(h))
	}
	got := probe(t, h)
	if state(h) != LoadResident {
		t.Fatalf("a filtered search left the collection %v", state(h))
	}
	sameProbe(t, "after a load", got, want)
	if !strings.HasPrefix(got[0].strat, "index_") {
		t.Fatalf("after a load %s ran %s, not on the index", indexProbe[0], got[0].strat)
	}
	checkIndexesReady(t, "after a load", h, "cat:keyword", "n:integer")

	// Dropping an index loads the collection; the next load keeps the
	// catalog's list.
	evict("before the drop")
	if err := h.DropIndex(bg, "n"); err != nil {
		t.Fatal(err)
	}
	evict("after the drop")
	sameProbe(t, "after the drop and a load", probe(t, h), want)
	checkIndexesReady(t, "after the drop and a load", h, "cat:keyword")

	// An eviction while an index builds: wherever the build was, the next
	// load has it ready and right.
	if _, err := h.CreateIndex(bg, "price", "float"); err != nil {
		t.Fatal(err)
	}
	evict("during a build")
	sameProbe(t, "after an eviction during a build", probe(t, h), want)
	h.WaitIndexBuilds()
	checkIndexesReady(t, "after an eviction during a build", h, "cat:keyword", "price:float")
}
