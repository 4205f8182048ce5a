package engine

import (
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/akidb/akidb/engine/distance"
)

func withMeta(rs []Record, bytes int) []Record {
	for i := range rs {
		rs[i].Metadata = map[string]any{"blob": strings.Repeat("x", bytes)}
	}
	return rs
}

// TestUsageCountsWhatIsHeld: metadata counts in MemoryBytes (it did not),
// a replacement costs a node until a vacuum (UpsertCost said nothing), and
// DiskBytes is what the collection's files hold.
func TestUsageCountsWhatIsHeld(t *testing.T) {
	db := openTestDB(t, t.TempDir(), Config{CheckpointRecords: -1})
	defer db.Close()
	for _, name := range []string{"plain", "meta"} {
		if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: name, Dimension: 8, Metric: distance.L2}); err != nil {
			t.Fatal(err)
		}
	}
	plain, _ := db.Collection(DefaultTenant, "plain")
	meta, _ := db.Collection(DefaultTenant, "meta")
	if err := plain.Upsert(bg, recs("r", 0, 100, 8)); err != nil {
		t.Fatal(err)
	}
	cost := meta.UpsertCost(withMeta(recs("r", 0, 100, 8), 1000))
	if err := meta.Upsert(bg, withMeta(recs("r", 0, 100, 8), 1000)); err != nil {
		t.Fatal(err)
	}
	// Compared once both graphs have linked every vector (a vector still
	// waiting to be linked holds no links yet), with a margin for the
	// links: two graphs of the same vectors differ by a few hundred bytes
	// of them, while the metadata is 100 KB.
	plain.WaitIndexed()
	meta.WaitIndexed()
	p, m := plain.Stats(), meta.Stats()
	if m.MemoryBytes-p.MemoryBytes < 100*1000*9/10 {
		t.Fatalf("100 records with 1 KB of metadata each hold %d bytes more than without: metadata not counted", m.MemoryBytes-p.MemoryBytes)
	}
	// 100 KB of records: the 64 KiB first segment must double.
	if cost.NewRecords != 100 || cost.MemoryBytes < 100*1000 || cost.DiskBytes != 64<<10 {
		t.Fatalf("cost of 100 new records with metadata: %+v", cost)
	}

	// Replacing every record (same ids, same metadata) adds no record but
	// a node each, which Stats shows once the arena grows.
	repl := meta.UpsertCost(withMeta(recs("r", 0, 100, 8), 1000))
	node := meta.c.graph.NodeBytes()
	if repl.NewRecords != 0 || repl.MemoryBytes != 100*node {
		t.Fatalf("cost of replacing 100 records: %+v, want 0 new and %d bytes", repl, 100*node)
	}
	for i := 0; i < 3; i++ {
		if err := meta.Upsert(bg, withMeta(recs("r", 0, 100, 8), 1000)); err != nil {
			t.Fatal(err)
		}
	}
	replaced := meta.Stats()
	if replaced.Count != 100 || replaced.Deleted != 300 || replaced.MemoryBytes <= m.MemoryBytes {
		t.Fatalf("after 300 replacements: %+v (memory was %d)", replaced, m.MemoryBytes)
	}

	// A compaction vacuums the tombstones whatever their share.
	meta.RequestCompaction()
	waitUntil(t, "the compaction", func() bool { return meta.Stats().Deleted == 0 })
	// Back to what 100 records hold (upper-layer lists differ a little:
	// the replacements drew new levels).
	if st := meta.Stats(); st.MemoryBytes >= replaced.MemoryBytes || st.MemoryBytes > m.MemoryBytes+m.MemoryBytes/100 {
		t.Fatalf("after compaction: %d bytes; %d before the replacements, %d with their tombstones", st.MemoryBytes, m.MemoryBytes, replaced.MemoryBytes)
	}

	// The compaction's checkpoint may still be writing its snapshot or
	// removing the log it replaces: one more checkpoint waits for it.
	if err := meta.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	files := dirBytes(t, meta.dir)
	if got := meta.Stats().DiskBytes; got != files || got == 0 {
		t.Fatalf("DiskBytes = %d, the collection's files hold %d", got, files)
	}
}

// dirBytes is the size of the files under dir.
func dirBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		total += fi.Size()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return total
}
