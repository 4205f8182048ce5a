package engine

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/snapshot"
	"github.com/akidb/akidb/engine/wal"
)

// TestLogBytesAndLastCheckpoint: what the server's akidb_wal_bytes and
// akidb_last_checkpoint_timestamp_seconds read. The log grows with writes
// and shrinks when a checkpoint lets it drop segments; the checkpoint time
// is set by a checkpoint that writes a snapshot and, after a restart, read
// from the snapshot the collection was loaded from.
func TestLogBytesAndLastCheckpoint(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{CheckpointRecords: -1, SegmentSize: 16 << 10}
	db := openTestDB(t, dir, cfg)
	if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "c", Dimension: 16, Metric: distance.L2}); err != nil {
		t.Fatal(err)
	}
	h, _ := db.Collection(DefaultTenant, "c")
	if !h.LastCheckpoint().IsZero() {
		t.Fatalf("a new collection has a checkpoint time %v", h.LastCheckpoint())
	}
	empty := h.LogBytes()
	for b := range 10 {
		if err := h.Upsert(bg, recs("a", b*50, b*50+50, 16)); err != nil {
			t.Fatal(err)
		}
	}
	written := h.LogBytes()
	if written <= empty+500*16*4 {
		t.Fatalf("LogBytes %d after 500 16-d vectors (empty: %d)", written, empty)
	}
	before := time.Now()
	for range 2 { // the second snapshot lets the log before the first go
		if err := h.Upsert(bg, recs("b", 0, 1, 16)); err != nil {
			t.Fatal(err)
		}
		if err := h.Checkpoint(); err != nil {
			t.Fatal(err)
		}
	}
	at := h.LastCheckpoint()
	if at.Before(before.Add(-time.Second)) || at.After(time.Now().Add(time.Second)) {
		t.Fatalf("LastCheckpoint %v, want about %v", at, before)
	}
	if got := h.LogBytes(); got >= written {
		t.Fatalf("LogBytes %d after checkpoints, want less than %d", got, written)
	}
	// A checkpoint with nothing new writes no snapshot and keeps the time.
	if err := h.Checkpoint(); err != nil || !h.LastCheckpoint().Equal(at) {
		t.Fatalf("no-op checkpoint: %v, time %v -> %v", err, at, h.LastCheckpoint())
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// After a restart the time is the newest snapshot's.
	seqs, err := snapshot.List(wal.OSFS{}, h.snapshotDir())
	if err != nil || len(seqs) == 0 {
		t.Fatalf("snapshots: %v %v", seqs, err)
	}
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(filepath.Join(h.snapshotDir(), snapshot.FileName(seqs[0])), old, old); err != nil {
		t.Fatal(err)
	}
	db = openTestDB(t, dir, cfg)
	defer db.Close()
	h, _ = db.Collection(DefaultTenant, "c")
	if got := h.LastCheckpoint(); !got.Equal(old) {
		t.Fatalf("LastCheckpoint after reopen %v, want the snapshot's time %v", got, old)
	}
}
