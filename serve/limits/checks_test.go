package limits

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/serve/api"
)

func TestCheckUpsertBoundaries(t *testing.T) {
	e := Effective{MaxVectors: ptr[int64](100), MaxStorageBytes: ptr[int64](1000)}
	cur := Usage{Vectors: 90, StorageBytes: 900}
	if err := e.CheckUpsert(cur, Usage{Vectors: 10, StorageBytes: 100}); err != nil {
		t.Fatalf("exactly at the limits: %v", err)
	}
	err := e.CheckUpsert(cur, Usage{Vectors: 11})
	if err == nil || err.Code != api.CodeQuotaExceeded || err.Details["resource"] != ResourceVectors ||
		err.Details["limit"] != int64(100) || err.Details["current"] != int64(90) || err.Details["requested"] != int64(11) {
		t.Fatalf("one vector over: %+v", err)
	}
	if st := api.StatusOf(err.Code); st.HTTP != http.StatusForbidden {
		t.Fatalf("quota_exceeded is HTTP %d", st.HTTP)
	}
	if err := e.CheckUpsert(cur, Usage{Vectors: 1, StorageBytes: 101}); err == nil || err.Details["resource"] != ResourceStorageBytes {
		t.Fatalf("one byte over: %+v", err)
	}
	// A tenant over its quota (lowered meanwhile) may still write what
	// adds nothing (a delete; a replacement whose memory a vacuum freed).
	if err := e.CheckUpsert(Usage{Vectors: 500, StorageBytes: 5000}, Usage{}); err != nil {
		t.Fatalf("a write adding nothing: %v", err)
	}
	// Unlimited.
	if err := (Effective{}).CheckUpsert(Usage{Vectors: 1 << 40}, Usage{Vectors: 1 << 20, StorageBytes: 1 << 30, DiskBytes: 1 << 30}); err != nil {
		t.Fatalf("unlimited: %v", err)
	}
	// Zero means none.
	zero := Effective{MaxCollections: ptr[int64](0)}
	if err := zero.CheckCreateCollection(Usage{}); err == nil || err.Details["resource"] != ResourceCollections {
		t.Fatalf("max_collections 0: %+v", err)
	}
	three := Effective{MaxCollections: ptr[int64](3)}
	if three.CheckCreateCollection(Usage{Collections: 2}) != nil || three.CheckCreateCollection(Usage{Collections: 3}) == nil {
		t.Fatal("max_collections 3: the third must pass and the fourth fail")
	}
}

// TestCheckDisk: max_disk_bytes bounds writes by the log bytes they add,
// and collections by the first segment each costs.
func TestCheckDisk(t *testing.T) {
	e := Effective{MaxDiskBytes: ptr[int64](1 << 20)}
	cur := Usage{Collections: 2, DiskBytes: 1<<20 - 1000}
	if err := e.CheckUpsert(cur, Usage{Vectors: 1, DiskBytes: 1000}); err != nil {
		t.Fatalf("exactly at max_disk_bytes: %v", err)
	}
	err := e.CheckUpsert(cur, Usage{Vectors: 1, DiskBytes: 1001})
	if err == nil || err.Details["resource"] != ResourceDiskBytes || err.Details["limit"] != int64(1<<20) {
		t.Fatalf("one byte over max_disk_bytes: %+v", err)
	}
	if err := e.CheckCreateCollection(cur); err == nil || err.Details["resource"] != ResourceDiskBytes ||
		err.Details["requested"] != int64(engine.NewCollectionDiskBytes) {
		t.Fatalf("a collection past max_disk_bytes: %+v", err)
	}
	if err := e.CheckCreateCollection(Usage{DiskBytes: 1<<20 - engine.NewCollectionDiskBytes}); err != nil {
		t.Fatalf("a collection that just fits: %v", err)
	}
}

func TestQuotasCheckHelpers(t *testing.T) {
	ctx := context.Background()
	s, _ := openStore(t, "")
	q := newQuotas(t, s, newRuntimeConfig(t, s), Defaults{MaxVectors: ptr[int64](10)})
	if err := q.CheckUpsert(meta.DefaultTenantID, Usage{Vectors: 5}, Usage{Vectors: 6}); err == nil {
		t.Fatal("server default max_vectors not applied")
	}
	if _, err := q.Set(ctx, meta.DefaultTenantID, QuotaUpdate{MaxVectors: meta.SetTo[int64](20), MaxCollections: meta.SetTo[int64](1)}); err != nil {
		t.Fatal(err)
	}
	if err := q.CheckUpsert(meta.DefaultTenantID, Usage{Vectors: 5}, Usage{Vectors: 6}); err != nil {
		t.Fatalf("tenant's own max_vectors not applied: %v", err)
	}
	if q.CheckCreateCollection(meta.DefaultTenantID, Usage{}) != nil || q.CheckCreateCollection(meta.DefaultTenantID, Usage{Collections: 1}) == nil {
		t.Fatal("max_collections 1")
	}
}

// fakeUsage is a UsageSource with settable numbers.
type fakeUsage struct {
	mu       sync.Mutex
	usage    map[string]Usage
	calls    atomic.Int64
	allCalls atomic.Int64
}

func (f *fakeUsage) TenantUsage(id string) Usage {
	f.calls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.usage[id]
}

func (f *fakeUsage) AllTenantUsage() map[string]Usage {
	f.allCalls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]Usage, len(f.usage))
	for k, v := range f.usage {
		out[k] = v
	}
	return out
}

func (f *fakeUsage) set(id string, u Usage) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.usage[id] = u
}

func TestGuardCountsWritesInFlight(t *testing.T) {
	ctx := context.Background()
	s, _ := openStore(t, "")
	q := newQuotas(t, s, newRuntimeConfig(t, s), Defaults{})
	usage := &fakeUsage{usage: map[string]Usage{}}
	g := NewGuard(q, usage)

	// Without limits the guard does not even ask for usage.
	done, err := g.BeginUpsert(meta.DefaultTenantID, api.Growth{Vectors: 1 << 30, StorageBytes: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	done()
	if usage.calls.Load() != 0 {
		t.Fatalf("usage computed %d times for an unlimited tenant", usage.calls.Load())
	}

	if _, err := q.Set(ctx, meta.DefaultTenantID, QuotaUpdate{MaxVectors: meta.SetTo[int64](100), MaxCollections: meta.SetTo[int64](2)}); err != nil {
		t.Fatal(err)
	}
	usage.set(meta.DefaultTenantID, Usage{Collections: 1, Vectors: 30})
	done1, err := g.BeginUpsert(meta.DefaultTenantID, api.Growth{Vectors: 60})
	if err != nil {
		t.Fatal(err)
	}
	// The first write is still running: 30 + 60 pending + 20 > 100.
	_, err = g.BeginUpsert(meta.DefaultTenantID, api.Growth{Vectors: 20})
	if ae := wantAPIError(t, err, api.CodeQuotaExceeded, ""); ae.Details["current"] != int64(90) {
		t.Fatalf("current %v, want 90 (30 stored + 60 in flight)", ae.Details["current"])
	}
	// It finishes: the engine now reports its records, the guard no longer
	// counts them as pending (done twice is harmless).
	usage.set(meta.DefaultTenantID, Usage{Collections: 1, Vectors: 90})
	done1()
	done1()
	done2, err := g.BeginUpsert(meta.DefaultTenantID, api.Growth{Vectors: 10})
	if err != nil {
		t.Fatalf("after the first write finished: %v", err)
	}
	done2()

	// Collections likewise.
	doneC, err := g.BeginCreateCollection(meta.DefaultTenantID)
	if err != nil {
		t.Fatal(err)
	}
	_, err = g.BeginCreateCollection(meta.DefaultTenantID)
	wantAPIError(t, err, api.CodeQuotaExceeded, "")
	doneC() // the creation failed, say: the slot is free again
	if done, err := g.BeginCreateCollection(meta.DefaultTenantID); err != nil {
		t.Fatal(err)
	} else {
		done()
	}
	if len(g.pending) != 0 {
		t.Fatalf("pending left over: %+v", g.pending)
	}
}

// Many concurrent single-record writes against max_vectors 50: exactly 50
// are admitted while none has finished.
func TestGuardConcurrent(t *testing.T) {
	ctx := context.Background()
	s, _ := openStore(t, "")
	q := newQuotas(t, s, newRuntimeConfig(t, s), Defaults{})
	if _, err := q.Set(ctx, meta.DefaultTenantID, QuotaUpdate{MaxVectors: meta.SetTo[int64](50)}); err != nil {
		t.Fatal(err)
	}
	g := NewGuard(q, &fakeUsage{usage: map[string]Usage{}})
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		dones []func()
	)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				if done, err := g.BeginUpsert(meta.DefaultTenantID, api.Growth{Vectors: 1, StorageBytes: 4}); err == nil {
					mu.Lock()
					dones = append(dones, done)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(dones) != 50 {
		t.Fatalf("%d writes admitted, want 50", len(dones))
	}
	for _, d := range dones {
		d()
	}
	if len(g.pending) != 0 {
		t.Fatalf("pending left over: %+v", g.pending)
	}
}

// TestReportSizesOnlyLimitedTenants: the quota gauges' report computes
// usage (which sizes each collection's files) only for tenants a storage
// limit applies to: none without limits, the tenants with limits of
// their own without defaults, every tenant with defaults.
func TestReportSizesOnlyLimitedTenants(t *testing.T) {
	ctx := context.Background()
	report := func(g *Guard) map[string]Usage {
		out := map[string]Usage{}
		for _, r := range g.Report() {
			out[r.TenantID] = r.Usage
		}
		return out
	}
	usage := &fakeUsage{usage: map[string]Usage{meta.DefaultTenantID: {Vectors: 5}, "t2": {Vectors: 7}}}
	s, _ := openStore(t, "")
	q := newQuotas(t, s, newRuntimeConfig(t, s), Defaults{})
	g := NewGuard(q, usage)
	if r := report(g); len(r) != 0 || usage.calls.Load()+usage.allCalls.Load() != 0 {
		t.Fatalf("without limits: report %v, usage asked %d + %d times", r, usage.calls.Load(), usage.allCalls.Load())
	}
	if _, err := q.Set(ctx, meta.DefaultTenantID, QuotaUpdate{MaxVectors: meta.SetTo[int64](100)}); err != nil {
		t.Fatal(err)
	}
	if r := report(g); len(r) != 1 || r[meta.DefaultTenantID].Vectors != 5 || usage.calls.Load() != 1 || usage.allCalls.Load() != 0 {
		t.Fatalf("one tenant with a limit: report %v, usage asked %d + %d times", r, usage.calls.Load(), usage.allCalls.Load())
	}

	s2, _ := openStore(t, "")
	limit := int64(1000)
	q2 := newQuotas(t, s2, newRuntimeConfig(t, s2), Defaults{MaxVectors: &limit})
	usage.calls.Store(0)
	g2 := NewGuard(q2, usage)
	if r := report(g2); len(r) != 2 || r["t2"].Vectors != 7 || usage.allCalls.Load() != 1 {
		t.Fatalf("with default limits: report %v, usage asked %d + %d times", r, usage.calls.Load(), usage.allCalls.Load())
	}
}
