package engine

import (
	"bytes"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/akidb/akidb/engine/dirlock"
	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/wal"
)

// treeBytes is every file under dir (and every directory, as nil) by
// relative path.
func treeBytes(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if d.IsDir() {
			out[rel+"/"] = nil
			return nil
		}
		b, err := os.ReadFile(path)
		out[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameTree(t *testing.T, dir string, before map[string][]byte) {
	t.Helper()
	after := treeBytes(t, dir)
	if maps.EqualFunc(before, after, bytes.Equal) {
		return
	}
	for k, v := range after {
		if b, ok := before[k]; !ok || !bytes.Equal(b, v) {
			t.Errorf("%s: added or changed", k)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			t.Errorf("%s: removed", k)
		}
	}
	t.Fatalf("%s changed", dir)
}

// readOnlyFixture is a data directory as a crash could leave it: two
// tenants' collections, snapshots and a log tail after them, and a
// directory the catalog does not know (which Open would move aside).
func readOnlyFixture(t *testing.T) (dir, acmeID string) {
	t.Helper()
	dir = t.TempDir()
	// Small segments: the log spans several, and comparing the directory
	// byte for byte does not read 64 MiB of preallocation per collection.
	db := openTestDB(t, dir, Config{CheckpointRecords: -1, SegmentSize: 32 << 10})
	tn, err := db.Meta().CreateTenant(bg, "acme")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		tenant string
		name   string
		metric distance.Metric
	}{{DefaultTenant, "docs", distance.Cosine}, {tn.ID, "docs", distance.L2}, {tn.ID, "other", distance.InnerProduct}} {
		// A sparse graph: these tests are about files, not search quality.
		if _, err := db.CreateCollection(bg, tc.tenant, CollectionConfig{Name: tc.name, Dimension: 6, Metric: tc.metric, M: 4, EfConstruction: 8}); err != nil {
			t.Fatal(err)
		}
		h, err := db.Collection(tc.tenant, tc.name)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Upsert(bg, recs(tc.name, 0, 300, 6)); err != nil {
			t.Fatal(err)
		}
		if err := h.Checkpoint(); err != nil {
			t.Fatal(err)
		}
		// After the snapshot: only in the log.
		if err := h.Upsert(bg, recs(tc.name, 250, 400, 6)); err != nil {
			t.Fatal(err)
		}
		if _, err := h.Delete(bg, []string{tc.name + "-3", tc.name + "-260", tc.name + "-399"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.closeWithoutCheckpoint(); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "collections", "not-in-the-catalog"), 0o700); err != nil {
		t.Fatal(err)
	}
	return dir, tn.ID
}

// OpenReadOnly reads what Open recovers, and leaves every byte and file
// of the directory as it was.
func TestReadOnlyViewIsWhatOpenRecoversAndChangesNothing(t *testing.T) {
	dir, acme := readOnlyFixture(t)
	before := treeBytes(t, dir)
	ro, err := OpenReadOnly(dir, ReadOnlyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	views := map[string][]Record{}
	seqs := map[string]uint64{}
	for _, ref := range []struct{ tenant, name, key string }{{"", "docs", "default/docs"}, {"acme", "docs", "acme/docs"}, {acme, "other", "acme/other"}} {
		v, err := ro.View(ref.tenant, ref.name)
		if err != nil {
			t.Fatalf("%s: %v", ref.key, err)
		}
		views[ref.key] = viewRecords(t, v)
		seqs[ref.key] = v.Info().Seq
	}
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
	sameTree(t, dir, before)

	// A server opening it recovers the same records.
	db := openTestDB(t, dir, Config{SegmentSize: 32 << 10})
	defer db.Close()
	for key, got := range views {
		tenant, name, _ := strings.Cut(key, "/")
		if tenant == "acme" {
			tenant = acme
		}
		h, err := db.Collection(tenant, name)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 397 || h.Count() != 397 || h.Stats().AppliedSeq != seqs[key] {
			t.Fatalf("%s: view has %d records at seq %d; Open recovers %d at %d", key, len(got), seqs[key], h.Count(), h.Stats().AppliedSeq)
		}
		for _, r := range got {
			want, err := h.Get(r.ID)
			if err != nil || !slices.Equal(want.Vector, r.Vector) || want.Metadata["i"] != r.Metadata["i"] {
				t.Fatalf("%s/%s: view %v %v, Open %v %v (%v)", key, r.ID, r.Vector, r.Metadata, want.Vector, want.Metadata, err)
			}
		}
	}
}

func TestReadOnlyRefusesWhileAServerHoldsTheDirectory(t *testing.T) {
	dir := t.TempDir()
	db := openTestDB(t, dir, Config{})
	defer db.Close()
	_, err := OpenReadOnly(dir, ReadOnlyOptions{})
	var held *dirlock.HeldError
	if !errors.As(err, &held) || held.PID != os.Getpid() {
		t.Fatalf("got %v, want a *dirlock.HeldError naming this process", err)
	}
}

func TestReadOnlyNeedsADataDirectory(t *testing.T) {
	empty := t.TempDir()
	if _, err := OpenReadOnly(empty, ReadOnlyOptions{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a directory without a catalog: %v", err)
	}
	if entries, _ := os.ReadDir(empty); len(entries) != 0 {
		t.Fatalf("OpenReadOnly wrote into a directory that is not a data directory: %v", entries)
	}
	if _, err := OpenReadOnly(filepath.Join(empty, "missing"), ReadOnlyOptions{}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a missing directory: %v", err)
	}
	file := filepath.Join(empty, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenReadOnly(file, ReadOnlyOptions{}); err == nil {
		t.Fatal("a file opened as a data directory")
	}
}

func TestReadOnlyUnknownCollectionOrTenant(t *testing.T) {
	dir, _ := readOnlyFixture(t)
	ro, err := OpenReadOnly(dir, ReadOnlyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	_, err = ro.View("acme", "nope")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `"nope"`) || !strings.Contains(err.Error(), "docs, other") {
		t.Fatalf("unknown collection: %v", err)
	}
	if _, err := ro.View("nobody", "docs"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `tenant "nobody"`) {
		t.Fatalf("unknown tenant: %v", err)
	}
}

// A log ending in a torn write is read up to it, and the tear is left for
// the next server start to cut.
func TestReadOnlyReadsUpToATornTail(t *testing.T) {
	dir, _ := readOnlyFixture(t)
	ro, err := OpenReadOnly(dir, ReadOnlyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := ro.View("", "docs")
	if err != nil {
		t.Fatal(err)
	}
	want := viewRecords(t, v)
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
	// Half a record after the last one.
	walDirs, err := filepath.Glob(filepath.Join(dir, "collections", "*", "wal"))
	if err != nil || len(walDirs) != 3 {
		t.Fatalf("wal dirs %v %v", walDirs, err)
	}
	for _, wd := range walDirs {
		rep, err := wal.Verify(nil, wd)
		if err != nil || !rep.OK() {
			t.Fatalf("verify %s: %v %v", wd, err, rep)
		}
		last := rep.Segments[len(rep.Segments)-1]
		f, err := os.OpenFile(last.Path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt([]byte{0x40, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3}, last.End); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if rep, _ := wal.Verify(nil, wd); len(rep.Problems) != 1 || rep.Problems[0].Kind != wal.TornTail {
			t.Fatalf("test setup: %v", rep.Problems)
		}
	}
	before := treeBytes(t, dir)
	ro, err = OpenReadOnly(dir, ReadOnlyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v, err = ro.View("", "docs")
	if err != nil {
		t.Fatal(err)
	}
	got := viewRecords(t, v)
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || v.Info().Seq != 3 {
		t.Fatalf("with a torn tail: %d records at seq %d, want %d at 3", len(got), v.Info().Seq, len(want))
	}
	sameTree(t, dir, before)
}
