package migratetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/engine/distance"
)

// Snapshot records every file's and directory's content digest, mode
// and mtime under dir.
func Snapshot(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		sum := ""
		if !d.IsDir() {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			h := sha256.Sum256(data)
			sum = hex.EncodeToString(h[:])
		}
		out[path] = sum + " " + fi.Mode().String() + " " + fi.ModTime().Format(time.RFC3339Nano)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// AssertUnchanged fails the test if two Snapshots differ, naming what
// changed.
func AssertUnchanged(t testing.TB, before, after map[string]string) {
	t.Helper()
	if !reflect.DeepEqual(before, after) {
		for k, v := range after {
			if before[k] != v {
				t.Errorf("v1 changed: %s: %q -> %q", k, before[k], v)
			}
		}
		for k := range before {
			if _, ok := after[k]; !ok {
				t.Errorf("v1 changed: %s removed", k)
			}
		}
		t.FailNow()
	}
}

// CheckV2 opens the target and compares it, record by record, with what
// the fixture says v2 must hold: independent of the migrator's own
// verification.
func CheckV2(t testing.TB, dataDir string, f *Fixture) {
	t.Helper()
	db, err := engine.Open(dataDir, engine.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	want := map[string]bool{}
	for _, c := range f.Migrated() {
		tid := engine.DefaultTenant
		if c.V2Tenant != engine.DefaultTenant {
			tn, err := db.Meta().GetTenantByName(ctx, c.V2Tenant)
			if err != nil {
				t.Fatalf("tenant %s: %v", c.V2Tenant, err)
			}
			tid = tn.ID
		}
		want[tid+"/"+c.V2Name] = true
		h, err := db.Collection(tid, c.V2Name)
		if err != nil {
			t.Fatalf("collection %s/%s: %v", c.V2Tenant, c.V2Name, err)
		}
		m, _ := distance.ParseMetric(c.Metric)
		if cfg := h.Info().Config; cfg.Dimension != c.Dim || cfg.Metric != m {
			t.Fatalf("%s: %d-d %s, want %d-d %s", c.V2Name, cfg.Dimension, cfg.Metric, c.Dim, m)
		}
		if h.Count() != len(c.Final) {
			t.Fatalf("%s/%s: %d records, want %d", c.V2Tenant, c.V2Name, h.Count(), len(c.Final))
		}
		for id, r := range c.Final {
			got, err := h.Get(id)
			if err != nil {
				t.Fatalf("%s/%s: record %q: %v", c.V2Tenant, c.V2Name, id, err)
			}
			v := append([]float32(nil), r.Vector...)
			if m == distance.Cosine {
				distance.Normalize(v)
			}
			if !reflect.DeepEqual(got.Vector, v) {
				t.Fatalf("%s: record %q: vector %v, want %v", c.V2Name, id, got.Vector, v)
			}
			if !sameJSON(got.Metadata, r.Metadata) {
				t.Fatalf("%s: record %q: metadata %v, want %v", c.V2Name, id, got.Metadata, r.Metadata)
			}
		}
	}
	for _, info := range db.ListCollections("") {
		if !want[info.TenantID+"/"+info.Name] {
			t.Fatalf("unexpected collection %s/%s in v2", info.TenantID, info.Name)
		}
	}
}

func sameJSON(a, b map[string]any) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
