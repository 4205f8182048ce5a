package engine

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
	"testing"

	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/snapshot"
	"github.com/akidb/akidb/engine/wal"
)

// TestFullDiskRefusesWritesAndResumes fills a small disk (a MemFS with a
// capacity) until the log cannot grow: the write that needs the space is
// refused with ErrNoSpace and leaves nothing behind, writes keep being
// refused while the disk is full (from many writers at once too), reads go
// on, and once space returns writes succeed again without a restart. A
// reopen then holds every acknowledged write and none of the refused ones.
func TestFullDiskRefusesWritesAndResumes(t *testing.T) {
	dir, m := memDataDir(t)
	db := openTestDB(t, dir, Config{FS: m, CheckpointRecords: -1})
	if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "c", Dimension: 16, Metric: distance.L2}); err != nil {
		t.Fatal(err)
	}
	h, _ := db.Collection(DefaultTenant, "c")
	// The log's first segment is 64 KiB; it cannot double on this disk.
	m.SetCapacity(m.Used() + 32<<10)

	var acked []string
	refused := ""
	for i := 0; refused == ""; i++ {
		if i > 1000 {
			t.Fatal("the disk never filled")
		}
		batch := recs(fmt.Sprint("a", i), 0, 10, 16)
		err := h.Upsert(bg, batch)
		switch {
		case err == nil:
			for _, r := range batch {
				acked = append(acked, r.ID)
			}
		case errors.Is(err, ErrNoSpace) && errors.Is(err, syscall.ENOSPC):
			refused = batch[0].ID
		default:
			t.Fatalf("upsert on a filling disk: %v (want ErrNoSpace)", err)
		}
	}
	if _, err := h.Get(refused); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a refused write is visible: %v", err)
	}
	// Smaller records still fit in what the segment has left: fill it with
	// one-record upserts, then with deletes (of an id that is not there),
	// until those are refused too.
	for i := 0; ; i++ {
		r := recs(fmt.Sprint("s", i), 0, 1, 16)
		if err := h.Upsert(bg, r); err != nil {
			if !errors.Is(err, ErrNoSpace) {
				t.Fatalf("small upsert on a filling disk: %v", err)
			}
			break
		}
		acked = append(acked, r[0].ID)
	}
	for {
		if _, err := h.Delete(bg, []string{"nope"}); err != nil {
			if !errors.Is(err, ErrNoSpace) {
				t.Fatalf("delete on a filling disk: %v", err)
			}
			break
		}
	}
	// Full: every writer is refused cleanly, deletes too.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- h.Upsert(bg, recs(fmt.Sprint("full", w), 0, 1+w, 16))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, ErrNoSpace) {
			t.Fatalf("upsert on a full disk: %v (want ErrNoSpace)", err)
		}
	}
	if _, err := h.Delete(bg, []string{acked[0]}); !errors.Is(err, ErrNoSpace) { // "a0-0": as long as "nope"
		t.Fatalf("delete on a full disk: %v (want ErrNoSpace)", err)
	}
	// A new collection needs room for its log: refused, and nothing left.
	if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "new", Dimension: 4, Metric: distance.L2}); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("create on a full disk: %v (want ErrNoSpace)", err)
	}
	if rows, err := db.meta.ListCollections(bg, ""); err != nil || len(rows) != 1 {
		t.Fatalf("catalog after a refused create: %d rows, %v", len(rows), err)
	}
	if names, err := m.ReadDir(db.collectionsDir()); err != nil || len(names) != 1 {
		t.Fatalf("collections/ after a refused create: %v, %v", names, err)
	}
	// Reads go on.
	if _, err := h.Get(acked[len(acked)-1]); err != nil {
		t.Fatalf("read on a full disk: %v", err)
	}
	res, err := h.Search(bg, SearchRequest{Vector: vectorFor(acked[0], 16), K: 3})
	if err != nil || len(res.Hits) != 3 || res.Hits[0].ID != acked[0] {
		t.Fatalf("search on a full disk: %v %+v", err, res.Hits)
	}

	// Space returns: writes resume by themselves.
	m.SetCapacity(0)
	for i := 0; i < 50; i++ {
		batch := recs(fmt.Sprint("b", i), 0, 10, 16)
		if err := h.Upsert(bg, batch); err != nil {
			t.Fatalf("upsert after space returned: %v", err)
		}
		for _, r := range batch {
			acked = append(acked, r.ID)
		}
	}
	if n, err := h.Delete(bg, []string{acked[0]}); err != nil || n != 1 {
		t.Fatalf("delete after space returned: %d %v", n, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = openTestDB(t, dir, Config{FS: m})
	defer db.Close()
	h, _ = db.Collection(DefaultTenant, "c")
	for _, id := range acked[1:] {
		if _, err := h.Get(id); err != nil {
			t.Fatalf("acknowledged %s lost: %v", id, err)
		}
	}
	for _, id := range []string{acked[0], refused, "full0-0"} {
		if _, err := h.Get(id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s is present after reopen: %v", id, err)
		}
	}
	if n := h.Count(); n != len(acked)-1 {
		t.Fatalf("%d records after reopen, want %d", n, len(acked)-1)
	}
}

// TestSnapshotAfterARefusedWrite: a refused upsert leaves its reserved
// vectors abandoned at the end of the arena; the next snapshot must still
// describe every node slot (it wrote only the published ones, which the
// decoder then refused as not matching the graph, so a restart fell back
// to an older snapshot or none).
func TestSnapshotAfterARefusedWrite(t *testing.T) {
	dir := t.TempDir()
	ff := wal.NewFaultFS(nil)
	db := openTestDB(t, dir, Config{FS: ff, CheckpointRecords: -1})
	if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "c", Dimension: 4, Metric: distance.L2}); err != nil {
		t.Fatal(err)
	}
	h, _ := db.Collection(DefaultTenant, "c")
	if err := h.Upsert(bg, recs("ok", 0, 40, 4)); err != nil {
		t.Fatal(err)
	}
	ff.AddRule(wal.Rule{Op: wal.OpWrite, PathSuffix: ".wal", Err: syscall.ENOSPC})
	// One node in 41 abandoned: too few tombstones for the checkpoint to vacuum.
	if err := h.Upsert(bg, recs("refused", 0, 1, 4)); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("upsert: %v, want ErrNoSpace", err)
	}
	if err := h.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	seqs, err := snapshot.List(ff, h.snapshotDir())
	if err != nil || len(seqs) != 1 {
		t.Fatalf("snapshots: %v %v", seqs, err)
	}
	r, err := snapshot.Open(ff, h.snapshotDir(), seqs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c, err := DecodeState(r)
	if err != nil {
		t.Fatalf("the snapshot taken after a refused write does not decode: %v", err)
	}
	if c.Count() != 40 {
		t.Fatalf("snapshot holds %d records, want 40", c.Count())
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}
