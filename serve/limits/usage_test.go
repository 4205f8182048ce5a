package limits

import (
	"context"
	"testing"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/engine/wal"
	"github.com/akidb/akidb/serve/api"
)

// TestEngineUsage sums a real engine's collections per tenant: counts of
// live records and the engine's memory figure, which a quota then checks.
func TestEngineUsage(t *testing.T) {
	ctx := context.Background()
	db, err := engine.Open(t.TempDir(), engine.Config{Sync: wal.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	acme, err := db.Meta().CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	u := NewEngineUsage(db)
	if got := u.TenantUsage(acme.ID); got != (Usage{}) {
		t.Fatalf("usage of an empty tenant %+v", got)
	}
	for _, name := range []string{"a", "b"} {
		if _, err := db.CreateCollection(ctx, acme.ID, engine.CollectionConfig{Name: name, Dimension: 4, Metric: distance.L2}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.CreateCollection(ctx, meta.DefaultTenantID, engine.CollectionConfig{Name: "c", Dimension: 4, Metric: distance.L2}); err != nil {
		t.Fatal(err)
	}
	h, _ := db.Collection(acme.ID, "a")
	recs := []engine.Record{{ID: "x", Vector: []float32{1, 2, 3, 4}}, {ID: "y", Vector: []float32{4, 3, 2, 1}}, {ID: "z", Vector: []float32{1, 1, 1, 1}}}
	if err := h.Upsert(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Delete(ctx, []string{"z"}); err != nil {
		t.Fatal(err)
	}
	got := u.TenantUsage(acme.ID)
	st := h.Stats()
	hb, _ := db.Collection(acme.ID, "b")
	wantBytes := st.MemoryBytes + hb.Stats().MemoryBytes
	if got.Collections != 2 || got.Vectors != 2 || got.StorageBytes != wantBytes || got.StorageBytes <= 0 {
		t.Fatalf("acme's usage %+v, want 2 collections, 2 vectors, %d bytes", got, wantBytes)
	}
	all := u.AllTenantUsage()
	if len(all) != 2 || all[acme.ID] != got || all[meta.DefaultTenantID].Collections != 1 {
		t.Fatalf("all usage %+v", all)
	}
	if u.TenantUsage("") != (Usage{}) {
		t.Fatal("the empty tenant id sums every tenant")
	}

	// The guard refuses what would pass the tenant's maxima, with this
	// usage, and says whether any maximum applies at all.
	rc := newRuntimeConfig(t, db.Meta())
	q := newQuotas(t, db.Meta(), rc, Defaults{MaxCollections: ptr[int64](5)})
	g := NewGuard(q, u)
	if !g.StorageLimited(acme.ID) || g.Usage(acme.ID) != got {
		t.Fatal("StorageLimited or Usage wrong with a default maximum")
	}
	if d := q.Defaults(); d.MaxCollections == nil || *d.MaxCollections != 5 || d.MaxVectors != nil {
		t.Fatalf("Defaults %+v", d)
	}
	q2 := newQuotas(t, db.Meta(), rc, Defaults{})
	if NewGuard(q2, u).StorageLimited(acme.ID) {
		t.Fatal("StorageLimited without any maximum")
	}
	if _, err := q2.Set(ctx, acme.ID, QuotaUpdate{MaxVectors: meta.SetTo[int64](3)}); err != nil {
		t.Fatal(err)
	}
	g2 := NewGuard(q2, u)
	if _, err := g2.BeginUpsert(acme.ID, api.Growth{Vectors: 2}); err == nil {
		t.Fatal("2 more vectors than 2 of 3 admitted")
	}
	done, err := g2.BeginUpsert(acme.ID, api.Growth{Vectors: 1})
	if err != nil {
		t.Fatal(err)
	}
	done()
}
