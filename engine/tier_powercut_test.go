package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/engine/tier"
	"github.com/akidb/akidb/engine/wal"
)

// Power cuts and the object storage tier: the engine and the tier run over
// a wal.MemFS (the catalog, with the DLQ, on the real disk), uploads fail
// so that staged files are queued in the DLQ, and the power is cut. After
// the cut every DLQ entry's file must be there whole (the tier fsyncs a
// staged file and its directory before anything durable refers to it),
// the DLQ must drain once the store is back, and a restore from the store
// must hold every acknowledged record.

// framedParquet is body in Parquet's frame (the magic at both ends, an
// empty footer): the engine's tests cannot import the export package, and
// the tier checks only the frame before it stages an export.
func framedParquet(body string) string { return "PAR1" + body + "\x00\x00\x00\x00PAR1" }

func fakeParquet(_ context.Context, w io.Writer, v *RecordView) error {
	_, err := io.WriteString(w, framedParquet(fmt.Sprintf("records as of %d", v.Info().Seq)))
	return err
}

// readMem reads a whole file of fsys.
func readMem(fsys wal.FS, path string) ([]byte, error) {
	f, err := fsys.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	b := make([]byte, fi.Size())
	if _, err := f.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return b, nil
}

func memHash(fsys wal.FS, path string) (string, int64, error) {
	b, err := readMem(fsys, path)
	if err != nil {
		return "", 0, err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), int64(len(b)), nil
}

// copyMemToDisk writes the tree under path in m to the real disk.
func copyMemToDisk(t *testing.T, m *wal.MemFS, path string) {
	t.Helper()
	fi, err := m.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.IsDir() {
		if err := os.MkdirAll(path, 0o700); err != nil {
			t.Fatal(err)
		}
		names, err := m.ReadDir(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			copyMemToDisk(t, m, filepath.Join(path, n))
		}
		return
	}
	b, err := readMem(m, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestPowerCutKeepsEveryQueuedStagedFileWhole(t *testing.T) {
	rng := rand.New(rand.NewPCG(2026, 12))
	for cycle := range 12 {
		t.Run(fmt.Sprint(cycle), func(t *testing.T) {
			dir, m := memDataDir(t)
			store := tier.NewFaultStore(tier.NewMemStore())
			clock := tier.NewManualClock(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
			config := func(fsys wal.FS) Config {
				cfg := tieredConfig(store, clock)
				if fsys != nil {
					cfg.FS = fsys
				}
				cfg.Tier.Parquet = fakeParquet
				return cfg
			}
			ff := wal.NewFaultFS(m)
			db := openTestDB(t, dir, config(ff))
			h := createTiered(t, db, "docs")
			want := map[string]Record{}
			add := func(prefix string, n int) {
				upsertRange(t, h, prefix, 0, n)
				for _, r := range recs(prefix, 0, n, 8) {
					want[r.ID] = r
				}
			}
			add("a", 60)
			if err := h.Checkpoint(); err != nil {
				t.Fatal(err)
			}
			if err := db.Tier().ShipOnce(bg); err != nil {
				t.Fatal(err)
			}
			// Uploads fail: a snapshot, its Parquet export and log chunks
			// land in the DLQ, their files staged.
			store.FailAlways(tier.OpPut, errors.New("injected: uploads fail"))
			add("b", 40+rng.IntN(80))
			if cycle%2 == 0 {
				if err := h.Checkpoint(); err != nil {
					t.Fatal(err)
				}
			}
			add("c", 10+rng.IntN(40))
			if err := db.Tier().ShipOnce(bg); err == nil {
				t.Fatal("a pass with failing uploads reported no error")
			}
			entries, err := db.Meta().ListDLQ(bg, meta.DLQFilter{}, 0, 100)
			if err != nil || len(entries) == 0 {
				t.Fatalf("DLQ after failed uploads: %v %v", entries, err)
			}
			// The power goes at the next filesystem call.
			ff.AddRule(wal.Rule{Op: wal.OpAny, Nth: 1, Crash: true})
			_ = db.closeWithoutCheckpoint()
			after := ff.AfterCrash()
			if after == nil {
				t.Fatal("no power cut")
			}
			for _, e := range entries {
				sum, size, err := memHash(after, e.LocalFile)
				if err != nil || sum != e.SHA256 || size != e.Size {
					t.Fatalf("after the power cut, the %s file %s of DLQ entry %d is not what was staged (%d bytes, sha-256 %s): %d bytes, %s, %v",
						e.Kind, e.LocalFile, e.ID, e.Size, e.SHA256, size, sum, err)
				}
			}
			// The load of a tiered collection works on the real disk
			// (load.go): what the cut left is put there.
			copyMemToDisk(t, after, filepath.Join(dir, "collections"))
			store.Heal()
			db = openTestDB(t, dir, config(nil))
			defer db.Close()
			h, err = db.Collection(DefaultTenant, "docs")
			if err != nil {
				t.Fatal(err)
			}
			// A tiered collection is loaded in the background at start:
			// a Get waits for it.
			if _, err := h.Get("a-0"); err != nil {
				t.Fatal(err)
			}
			checkContents(t, h, want)
			clock.Advance(time.Hour)
			if _, err := db.Tier().DLQ().RunOnce(bg); err != nil {
				t.Fatal(err)
			}
			if err := db.Tier().ShipOnce(bg); err != nil {
				t.Fatal(err)
			}
			if left, _ := db.Meta().ListDLQ(bg, meta.DLQFilter{}, 0, 100); len(left) != 0 {
				t.Fatalf("DLQ after the store came back: %+v", left)
			}
			st, _ := db.Tier().CollectionStatus(h.Info().ID)
			if st.ShippedSeq != st.DurableSeq {
				t.Fatalf("shipped up to %d of %d", st.ShippedSeq, st.DurableSeq)
			}
			fresh := t.TempDir()
			if _, err := Restore(bg, fresh, Config{}, RestoreOptions{Store: store.Inner(), Prefix: "box", Name: "docs"}); err != nil {
				t.Fatal(err)
			}
			rdb := openTestDB(t, fresh, Config{})
			defer rdb.Close()
			rh, err := rdb.Collection(DefaultTenant, "docs")
			if err != nil {
				t.Fatal(err)
			}
			checkContents(t, rh, want)
		})
	}
}
