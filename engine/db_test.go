package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/akidb/akidb/engine/dirlock"
	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/snapshot"
	"github.com/akidb/akidb/engine/wal"
)

var bg = context.Background()

// vectorFor derives a record's vector from its id, so a checker can
// recompute what must be stored.
func vectorFor(id string, dim int) []float32 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(id))
	rng := rand.New(rand.NewPCG(h.Sum64(), 1))
	v := make([]float32, dim)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

func openTestDB(t testing.TB, dir string, cfg Config) *DB {
	t.Helper()
	db, err := Open(dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// reopen closes db, opens dir again with cfg (closed when the test ends)
// and returns it with its collection name of the default tenant: a
// restart in the middle of a test.
func reopen(t testing.TB, db *DB, dir string, cfg Config, name string) (*DB, *Handle) {
	t.Helper()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openTestDB(t, dir, cfg)
	t.Cleanup(func() { _ = db.Close() })
	h, err := db.Collection(DefaultTenant, name)
	if err != nil {
		t.Fatal(err)
	}
	return db, h
}

func recs(prefix string, from, to, dim int) []Record {
	out := make([]Record, 0, to-from)
	for i := from; i < to; i++ {
		id := fmt.Sprintf("%s-%d", prefix, i)
		out = append(out, Record{ID: id, Vector: vectorFor(id, dim), Metadata: map[string]any{"i": float64(i)}})
	}
	return out
}

func TestDBDurableAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	db := openTestDB(t, dir, Config{})
	if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "docs", Dimension: 8, Metric: distance.L2}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "docs", Dimension: 8, Metric: distance.L2}); !errors.Is(err, ErrAlreadyExists) {
		t.Fatalf("duplicate create: %v", err)
	}
	if _, err := db.CreateCollection(bg, "no-such-tenant", CollectionConfig{Name: "docs", Dimension: 8, Metric: distance.L2}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown tenant: %v", err)
	}
	h, err := db.Collection(DefaultTenant, "docs")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Upsert(bg, recs("a", 0, 300, 8)); err != nil {
		t.Fatal(err)
	}
	if n, err := h.Delete(bg, []string{"a-1", "a-2"}); err != nil || n != 2 {
		t.Fatalf("delete %d %v", n, err)
	}
	if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "gone", Dimension: 2, Metric: distance.Cosine}); err != nil {
		t.Fatal(err)
	}
	if err := db.DropCollection(bg, DefaultTenant, "gone"); err != nil {
		t.Fatal(err)
	}
	if err := db.DropCollection(bg, DefaultTenant, "gone"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("drop twice: %v", err)
	}
	// A second process (or handle) cannot open the same directory.
	if _, err := Open(dir, Config{}); err == nil {
		t.Fatal("second Open of a locked data dir succeeded")
	} else {
		var he *dirlock.HeldError
		if !errors.As(err, &he) {
			t.Fatalf("second open: %v", err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = openTestDB(t, dir, Config{})
	defer db.Close()
	h, err = db.Collection(DefaultTenant, "docs")
	if err != nil {
		t.Fatal(err)
	}
	if h.Count() != 298 {
		t.Fatalf("count after reopen %d", h.Count())
	}
	r, err := h.Get("a-7")
	if err != nil || r.Vector[3] != vectorFor("a-7", 8)[3] || r.Metadata["i"] != 7.0 {
		t.Fatalf("a-7 after reopen: %+v %v", r, err)
	}
	if _, err := h.Get("a-1"); !errors.Is(err, ErrNotFound) {
		t.Fatal("deleted record back after reopen")
	}
	if _, err := db.Collection(DefaultTenant, "gone"); !errors.Is(err, ErrNotFound) {
		t.Fatal("dropped collection back after reopen")
	}
	if got := db.ListCollections(DefaultTenant); len(got) != 1 || got[0].Name != "docs" {
		t.Fatalf("list %+v", got)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "collections"))
	if len(entries) != 1 {
		t.Fatalf("%d collection dirs, want 1", len(entries))
	}
	res, err := h.Search(bg, SearchRequest{Vector: vectorFor("a-9", 8), K: 1})
	if err != nil || len(res.Hits) != 1 || res.Hits[0].ID != "a-9" {
		t.Fatalf("search after reopen: %+v %v", res, err)
	}
}

func TestCheckpointTruncatesLogAndReopenReplaysTail(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{CheckpointRecords: -1, SegmentSize: 64 << 10}
	db := openTestDB(t, dir, cfg)
	if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "c", Dimension: 16, Metric: distance.L2}); err != nil {
		t.Fatal(err)
	}
	h, _ := db.Collection(DefaultTenant, "c")
	for round := 0; round < 3; round++ {
		for b := 0; b < 10; b++ {
			if err := h.Upsert(bg, recs(fmt.Sprintf("r%d", round), b*50, b*50+50, 16)); err != nil {
				t.Fatal(err)
			}
		}
		if err := h.Checkpoint(); err != nil {
			t.Fatal(err)
		}
	}
	seqs, _ := snapshot.List(wal.OSFS{}, h.snapshotDir())
	if len(seqs) != keepSnapshots || seqs[0] != 30 || seqs[1] != 20 {
		t.Fatalf("snapshots %v, want [30 20]", seqs)
	}
	if first := h.wal.FirstSeq(); first > 21 {
		t.Fatalf("log starts at %d: records after the older snapshot were dropped", first)
	}
	if err := h.Upsert(bg, recs("tail", 0, 10, 16)); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil { // checkpoints at 31
		t.Fatal(err)
	}
	db = openTestDB(t, dir, cfg)
	h, _ = db.Collection(DefaultTenant, "c")
	if h.Count() != 1510 || h.c.appliedSeq() != 31 {
		t.Fatalf("count %d applied %d after reopen", h.Count(), h.c.appliedSeq())
	}
	if h.sinceRecords.Load() != 0 {
		t.Fatalf("reopen after a clean close replayed %d records", h.sinceRecords.Load())
	}
	db.Close()
}

func TestCorruptNewestSnapshotFallsBackToOlder(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{CheckpointRecords: -1}
	db := openTestDB(t, dir, cfg)
	if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "c", Dimension: 4, Metric: distance.Cosine}); err != nil {
		t.Fatal(err)
	}
	h, _ := db.Collection(DefaultTenant, "c")
	if err := h.Upsert(bg, recs("x", 0, 100, 4)); err != nil {
		t.Fatal(err)
	}
	if err := h.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if err := h.Upsert(bg, recs("y", 0, 100, 4)); err != nil {
		t.Fatal(err)
	}
	snapDir := h.snapshotDir()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	seqs, _ := snapshot.List(wal.OSFS{}, snapDir)
	if len(seqs) != 2 {
		t.Fatalf("snapshots %v", seqs)
	}
	newest := filepath.Join(snapDir, snapshot.FileName(seqs[0]))
	b, _ := os.ReadFile(newest)
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(newest, b, 0o600); err != nil {
		t.Fatal(err)
	}
	db = openTestDB(t, dir, cfg)
	defer db.Close()
	h, _ = db.Collection(DefaultTenant, "c")
	if h.Count() != 200 {
		t.Fatalf("count %d after falling back, want 200", h.Count())
	}
	if _, err := h.Get("y-99"); err != nil {
		t.Fatal(err)
	}
}

func TestReadOnlyAfterLogFailure(t *testing.T) {
	dir := t.TempDir()
	ffs := wal.NewFaultFS(nil)
	db := openTestDB(t, dir, Config{FS: ffs, CheckpointRecords: -1})
	if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "c", Dimension: 4, Metric: distance.L2}); err != nil {
		t.Fatal(err)
	}
	h, _ := db.Collection(DefaultTenant, "c")
	if err := h.Upsert(bg, recs("ok", 0, 5, 4)); err != nil {
		t.Fatal(err)
	}
	ffs.AddRule(wal.Rule{Op: wal.OpSync, Nth: 1, PathSuffix: ".wal"})
	if err := h.Upsert(bg, recs("fail", 0, 5, 4)); err == nil {
		t.Fatal("upsert acknowledged although its fsync failed")
	}
	if _, err := h.Get("fail-0"); !errors.Is(err, ErrNotFound) {
		t.Fatal("a write whose fsync failed became visible")
	}
	ffs.ClearRules()
	if err := h.Upsert(bg, recs("after", 0, 5, 4)); err == nil || !strings.Contains(err.Error(), "log") {
		t.Fatalf("write after a log failure: %v (want fail-stop)", err)
	}
	_ = db.Close()
	db = openTestDB(t, dir, Config{})
	defer db.Close()
	h, _ = db.Collection(DefaultTenant, "c")
	if _, err := h.Get("ok-4"); err != nil {
		t.Fatalf("acknowledged record lost: %v", err)
	}
}

// Fault injection at every k-th write, fsync, rename and allocate: the
// caller gets an error (never a panic), and a clean reopen holds every
// acknowledged record.
func TestFaultInjectionEveryKthOperation(t *testing.T) {
	for _, op := range []wal.Op{wal.OpWrite, wal.OpSync, wal.OpRename, wal.OpAllocate, wal.OpSyncDir} {
		for k := 1; k <= 12; k++ {
			t.Run(fmt.Sprintf("%s-%d", op, k), func(t *testing.T) {
				dir := t.TempDir()
				ffs := wal.NewFaultFS(nil)
				db, err := Open(dir, Config{FS: ffs, CheckpointRecords: 40, SegmentSize: 4 << 10})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "c", Dimension: 8, Metric: distance.L2}); err != nil {
					t.Fatal(err)
				}
				h, _ := db.Collection(DefaultTenant, "c")
				ffs.AddRule(wal.Rule{Op: op, Nth: k, Short: op == wal.OpWrite && k%2 == 0})
				var acked []string
				failed := false
				for b := 0; b < 20; b++ {
					batch := recs(fmt.Sprintf("b%d", b), 0, 5, 8)
					if err := h.Upsert(bg, batch); err != nil {
						failed = true
						continue
					}
					for _, r := range batch {
						acked = append(acked, r.ID)
					}
					if b%5 == 4 {
						_ = h.Checkpoint() // may fail under injection; must not lose data
					}
				}
				_ = db.Close()
				db2, err := Open(dir, Config{})
				if err != nil {
					t.Fatalf("clean reopen after fault (failed=%v): %v", failed, err)
				}
				defer db2.Close()
				h2, err := db2.Collection(DefaultTenant, "c")
				if err != nil {
					t.Fatal(err)
				}
				for _, id := range acked {
					r, err := h2.Get(id)
					if err != nil {
						t.Fatalf("acknowledged %s lost: %v", id, err)
					}
					if r.Vector[0] != vectorFor(id, 8)[0] {
						t.Fatalf("%s has the wrong vector", id)
					}
				}
			})
		}
	}
}

// A captured state encodes as it was when captured, whatever writes and
// deletes happen before it is written out.
func TestCapturedStateIgnoresLaterWrites(t *testing.T) {
	c := newTestCollection(t, 8, distance.L2)
	mustUpsert(t, c, recs("old", 0, 300, 8))
	st, err := c.captureState()
	if err != nil {
		t.Fatal(err)
	}
	mustUpsert(t, c, recs("new", 0, 300, 8))
	if _, err := c.Delete([]string{"old-1", "old-2"}); err != nil {
		t.Fatal(err)
	}
	mustUpsert(t, c, recs("old", 5, 6, 8)) // replaces old-5 with a new node
	var buf bytes.Buffer
	if err := st.encode(&buf); err != nil {
		t.Fatal(err)
	}
	got, err := DecodeState(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if got.Count() != 300 || got.graph.Len() != 300 || got.graph.Deleted() != 0 {
		t.Fatalf("decoded count %d, nodes %d, deleted %d; want the 300 records of the capture", got.Count(), got.graph.Len(), got.graph.Deleted())
	}
	for i := 0; i < 300; i++ {
		id := fmt.Sprintf("old-%d", i)
		r, err := got.Get(id)
		if err != nil || r.Vector[0] != vectorFor(id, 8)[0] {
			t.Fatalf("%s: %v", id, err)
		}
	}
	res, err := got.Search(bg, SearchRequest{Vector: vectorFor("old-9", 8), K: 1})
	if err != nil || res.Hits[0].ID != "old-9" {
		t.Fatalf("search in the decoded capture: %+v %v", res, err)
	}
}
