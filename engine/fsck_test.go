package engine

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/wal"
)

// makeDataDir leaves a data dir with one collection whose log holds 20
// records and no snapshot, as after a crash.
func makeDataDir(t *testing.T) (dir, walDir string) {
	t.Helper()
	dir = t.TempDir()
	db := openTestDB(t, dir, Config{CheckpointRecords: -1})
	if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "c", Dimension: 8, Metric: distance.L2}); err != nil {
		t.Fatal(err)
	}
	h, _ := db.Collection(DefaultTenant, "c")
	for b := 0; b < 20; b++ {
		if err := h.Upsert(bg, recs("r", b*10, b*10+10, 8)); err != nil {
			t.Fatal(err)
		}
	}
	walDir = h.walDir()
	if err := db.closeWithoutCheckpoint(); err != nil {
		t.Fatal(err)
	}
	return dir, walDir
}

func TestFsckHealthy(t *testing.T) {
	dir, _ := makeDataDir(t)
	rep, err := Fsck(dir, FsckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || len(rep.Collections) != 1 || rep.Collections[0].LogRecords != 20 {
		t.Fatalf("healthy dir: %+v", rep)
	}
}

func TestFsckFindsAndRepairsMidLogCorruption(t *testing.T) {
	dir, walDir := makeDataDir(t)
	vr, err := wal.Verify(nil, walDir)
	if err != nil || len(vr.Segments) == 0 {
		t.Fatalf("verify: %v %+v", err, vr)
	}
	seg := vr.Segments[0]
	b, err := os.ReadFile(seg.Path)
	if err != nil {
		t.Fatal(err)
	}
	off := seg.End / 3
	b[off] ^= 0xff
	if err := os.WriteFile(seg.Path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir, Config{})
	var ce *wal.CorruptionError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), filepath.Base(seg.Path)) {
		t.Fatalf("open with mid-log corruption: %v (want a CorruptionError naming the segment)", err)
	}
	rep, err := Fsck(dir, FsckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || len(rep.Collections[0].Problems) == 0 {
		t.Fatalf("fsck missed the corruption: %+v", rep)
	}
	rep, err = Fsck(dir, FsckOptions{Repair: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || len(rep.Repairs) == 0 {
		t.Fatalf("repair: %+v", rep)
	}
	db, err := Open(dir, Config{})
	if err != nil {
		t.Fatalf("open after repair: %v", err)
	}
	defer db.Close()
	h, _ := db.Collection(DefaultTenant, "c")
	// The records before the damage survive; the evidence is kept.
	if h.Count() == 0 || h.Count() >= 200 {
		t.Fatalf("count after repair %d", h.Count())
	}
	if _, err := h.Get("r-0"); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(walDir)
	evidence := false
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".corrupt") || strings.HasSuffix(e.Name(), ".broken") {
			evidence = true
		}
	}
	if !evidence {
		t.Fatal("repair deleted the damaged bytes instead of keeping them")
	}
	// Writes continue after the repair.
	if err := h.Upsert(bg, recs("after", 0, 3, 8)); err != nil {
		t.Fatal(err)
	}
}

func TestFsckCatalogAndDirectories(t *testing.T) {
	dir, _ := makeDataDir(t)
	orphan := filepath.Join(dir, "collections", "00000000-0000-4000-8000-000000000000")
	if err := os.MkdirAll(orphan, 0o700); err != nil {
		t.Fatal(err)
	}
	rep, err := Fsck(dir, FsckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Orphans) != 1 || rep.OK() {
		t.Fatalf("orphan not reported: %+v", rep)
	}
	rep, err = Fsck(dir, FsckOptions{Repair: true})
	if err != nil || !rep.OK() {
		t.Fatalf("repair orphan: %+v %v", rep, err)
	}
	if _, err := os.Stat(orphan); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("orphan still in collections/")
	}
	lf, _ := os.ReadDir(filepath.Join(dir, "lost+found"))
	if len(lf) != 1 {
		t.Fatalf("orphan not kept in lost+found: %v", lf)
	}
	// A catalog entry whose directory vanished.
	db := openTestDB(t, dir, Config{})
	h, _ := db.Collection(DefaultTenant, "c")
	cdir := h.dir
	db.Close()
	if err := os.RemoveAll(cdir); err != nil {
		t.Fatal(err)
	}
	rep, _ = Fsck(dir, FsckOptions{})
	if rep.OK() {
		t.Fatal("ghost catalog entry not reported")
	}
	rep, _ = Fsck(dir, FsckOptions{Repair: true})
	if !rep.OK() {
		t.Fatalf("ghost entry not repaired: %+v", rep)
	}
	// A live server's directory is refused.
	db = openTestDB(t, dir, Config{})
	defer db.Close()
	if _, err := Fsck(dir, FsckOptions{}); err == nil {
		t.Fatal("fsck ran on a data dir held by a server")
	}
}

func TestFsckDamagedSnapshot(t *testing.T) {
	dir := t.TempDir()
	db := openTestDB(t, dir, Config{CheckpointRecords: -1})
	if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "c", Dimension: 8, Metric: distance.L2}); err != nil {
		t.Fatal(err)
	}
	h, _ := db.Collection(DefaultTenant, "c")
	if err := h.Upsert(bg, recs("r", 0, 50, 8)); err != nil {
		t.Fatal(err)
	}
	snapDir := h.snapshotDir()
	db.Close() // checkpoints
	entries, _ := os.ReadDir(snapDir)
	if len(entries) != 1 {
		t.Fatalf("snapshots: %v", entries)
	}
	p := filepath.Join(snapDir, entries[0].Name())
	b, _ := os.ReadFile(p)
	b[len(b)-30] ^= 1
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err := Fsck(dir, FsckOptions{})
	if err != nil || rep.OK() || rep.Collections[0].Snapshots[0].Error == "" {
		t.Fatalf("damaged snapshot not reported: %+v %v", rep, err)
	}
	rep, err = Fsck(dir, FsckOptions{Repair: true})
	if err != nil || !rep.OK() {
		t.Fatalf("repair: %+v %v", rep, err)
	}
	if _, err := os.Stat(p + ".corrupt"); err != nil {
		t.Fatal("damaged snapshot not kept as .corrupt")
	}
	// The log still holds everything, so nothing is lost.
	db = openTestDB(t, dir, Config{})
	defer db.Close()
	h, _ = db.Collection(DefaultTenant, "c")
	if h.Count() != 50 {
		t.Fatalf("count %d after snapshot quarantine", h.Count())
	}
}
