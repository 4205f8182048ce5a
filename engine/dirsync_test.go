package engine

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/wal"
)

// TestNewDirectoriesSurviveAPowerCut: every directory the engine makes
// (collections/, a collection's, its wal/ and snapshots/, lost+found/) is
// fsynced in its parent, so a power cut right after the calls that made
// them keeps them. Without the snapshots/ entry, the second checkpoint's
// log truncation left a log that starts after records no snapshot holds.
func TestNewDirectoriesSurviveAPowerCut(t *testing.T) {
	dir, m := memDataDir(t)
	// A directory the catalog does not know, to be moved to lost+found.
	stray := dir + "/collections/stray"
	if err := wal.MkdirAllDurable(m, stray, 0o700); err != nil {
		t.Fatal(err)
	}
	f, err := m.OpenFile(stray+"/keep", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("evidence"), 0); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(f.Sync(), f.Close(), m.SyncDir(stray)); err != nil {
		t.Fatal(err)
	}

	db := openTestDB(t, dir, Config{FS: m, SegmentSize: 1024})
	if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "d", Dimension: 4, Metric: distance.L2}); err != nil {
		t.Fatal(err)
	}
	h, _ := db.Collection(DefaultTenant, "d")
	for i := 0; i < 3; i++ {
		if err := h.Upsert(bg, recs(fmt.Sprint("r", i), 0, 40, 4)); err != nil {
			t.Fatal(err)
		}
		if err := h.Checkpoint(); err != nil {
			t.Fatal(err)
		}
	}
	after := m.Crash()
	_ = db.closeWithoutCheckpoint()

	db = openTestDB(t, dir, Config{FS: after})
	defer db.Close()
	h, err = db.Collection(DefaultTenant, "d")
	if err != nil {
		t.Fatal(err)
	}
	if n := h.Count(); n != 120 {
		t.Fatalf("%d records after the power cut, want 120", n)
	}
	names, err := after.ReadDir(dir + "/lost+found")
	if err != nil || len(names) != 1 {
		t.Fatalf("lost+found after the power cut: %v, %v", names, err)
	}
	if _, err := after.Stat(dir + "/lost+found/" + names[0] + "/keep"); err != nil {
		t.Fatalf("the stray directory's content was lost: %v", err)
	}
}
