package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/tier"
)

// The residency tests drive everything themselves: the tier's loops and
// the residency loop are stopped (NoBackground), the clock is a
// ManualClock, and loads are awaited with WaitSettled.

func residencyConfig(store tier.ObjectStore, clock tier.Clock, budget int64) Config {
	cfg := tieredConfig(store, clock)
	cfg.Tier.MemoryBudget = budget
	cfg.Tier.EvictAfter = time.Minute
	cfg.Tier.CacheBytes = -1
	cfg.Tier.RoomWait = -1 // the clock is driven by hand: a load does not wait for it
	return cfg
}

func newClock() *tier.ManualClock {
	return tier.NewManualClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
}

func createWithPolicy(t *testing.T, db *DB, name, policy string) *Handle {
	t.Helper()
	if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: name, Dimension: 8, Metric: distance.Cosine, TierPolicy: policy}); err != nil {
		t.Fatal(err)
	}
	h, err := db.Collection(DefaultTenant, name)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func state(h *Handle) LoadState { return h.Residency().State }

func settle(t *testing.T, h *Handle) {
	t.Helper()
	ctx, cancel := context.WithTimeout(bg, 2*time.Minute)
	defer cancel()
	if err := h.WaitSettled(ctx); err != nil {
		t.Fatalf("%s never settled: %v", h.info.Name, err)
	}
}

// sizeOf200 is the memory of a collection of 200 8-d records.
func sizeOf200(t *testing.T) int64 {
	t.Helper()
	db := openTestDB(t, t.TempDir(), Config{})
	defer db.Close()
	h := createWithPolicy(t, db, "probe", TierMemory)
	upsertRange(t, h, "p", 0, 200)
	return h.Stats().MemoryBytes
}

func TestEvictionUnderBudgetKeepsFactsAndReloadsFromTheLocalSnapshot(t *testing.T) {
	size := sizeOf200(t)
	clock := newClock()
	store := tier.NewFaultStore(tier.NewMemStore())
	dir := t.TempDir()
	// Room for two and a half of the four tiered collections, plus the
	// memory one.
	db := openTestDB(t, dir, residencyConfig(store, clock, 3*size+size/2))
	defer db.Close()
	mem := createWithPolicy(t, db, "mem", TierMemory)
	upsertRange(t, mem, "m", 0, 200)
	var hs []*Handle
	var sizes []int64
	for i, p := range []string{TierMemoryS3, TierS3Only, TierMemoryS3, TierS3Only} {
		h := createWithPolicy(t, db, fmt.Sprintf("c%d", i), p)
		upsertRange(t, h, fmt.Sprintf("c%d", i), 0, 200)
		hs = append(hs, h)
		sizes = append(sizes, h.Stats().MemoryBytes)
		clock.Advance(time.Second) // c0 is the least recently used
	}
	// Nothing is idle for a minute yet: nothing is evicted.
	if rep := db.EvictOnce(bg); len(rep.Evicted) != 0 || !rep.Over {
		t.Fatalf("evicted before the idle time: %+v", rep)
	}
	clock.Advance(time.Minute)
	_ = mem.Count() // reading facts is not use
	if _, err := hs[3].Get("c3-0"); err != nil {
		t.Fatal(err)
	}
	rep := db.EvictOnce(bg)
	if len(rep.Evicted) != 2 || rep.Evicted[0] != "default/c0" || rep.Evicted[1] != "default/c1" || rep.Over {
		t.Fatalf("budget run: %+v", rep)
	}
	if state(hs[0]) != LoadEvicted || state(hs[1]) != LoadEvicted || state(hs[2]) != LoadResident || state(hs[3]) != LoadResident || state(mem) != LoadResident {
		t.Fatalf("states after eviction: %v %v %v %v mem %v", state(hs[0]), state(hs[1]), state(hs[2]), state(hs[3]), state(mem))
	}
	// Facts are served without a load.
	st := hs[0].Stats()
	if st.Count != 200 || st.MemoryBytes != sizes[0] || st.AppliedSeq == 0 || hs[0].Count() != 200 || hs[0].IndexBacklog() != 0 {
		t.Fatalf("stats of an evicted collection: %+v", st)
	}
	// Its files still count toward the tenant's disk, read without a load.
	if files := dirBytes(t, filepath.Join(dir, "collections", hs[0].info.ID)); st.DiskBytes == 0 || st.DiskBytes != files {
		t.Fatalf("disk_bytes of an evicted collection: %d, its files hold %d", st.DiskBytes, files)
	}
	tot := db.ResidencyTotals()
	if tot.Resident != 3 || tot.ResidentBytes > 3*size+size/2 || tot.Collections != 5 {
		t.Fatalf("totals: %+v", tot)
	}
	// The counts alone are the same, with no sizes read.
	counts := tot
	counts.ResidentBytes, counts.CacheBytes = 0, 0
	if got := db.ResidencyCounts(); got != counts {
		t.Fatalf("counts %+v, want %+v", got, counts)
	}
	// The metrics' totals count the evicted collections' records too,
	// from their facts, every collection's log and the newest checkpoint
	// (the evictions'), and load none of them.
	var logBytes int64
	for _, h := range append(slices.Clone(hs), mem) {
		logBytes += h.LogBytes()
	}
	if ct := db.CollectionTotals(); ct.Collections != 5 || ct.Vectors != 1000 || ct.IndexBacklog != 0 || ct.LastCheckpoint.IsZero() || ct.WALBytes != logBytes {
		t.Fatalf("collection totals: %+v (logs: %d bytes)", ct, logBytes)
	}
	if state(hs[0]) != LoadEvicted {
		t.Fatal("reading the facts loaded the collection")
	}
	if _, err := os.Stat(filepath.Join(dir, "collections", hs[0].info.ID, coldFile)); err != nil {
		t.Fatalf("no cold marker: %v", err)
	}
	// The store holds everything the evicted collection had.
	if got := db.Tier().ShippedSeq(hs[0].info.ID); got != st.AppliedSeq {
		t.Fatalf("shipped %d, applied %d", got, st.AppliedSeq)
	}
	// The first request loads it, from the local snapshot: nothing is
	// downloaded. To make room it evicts the next least recently used.
	var downloads atomic.Int32
	store.OnGet(func(key string) {
		if !strings.HasSuffix(key, tier.ManifestName) {
			downloads.Add(1)
		}
	})
	r, err := hs[0].Get("c0-7")
	if err != nil || r.ID != "c0-7" {
		t.Fatalf("get after eviction: %+v %v", r, err)
	}
	res := hs[0].Residency()
	if res.State != LoadResident || res.Source != SourceLocal || res.Loads != 1 || res.Evictions != 1 || downloads.Load() != 0 {
		t.Fatalf("after the load: %+v (%d downloads)", res, downloads.Load())
	}
	if state(hs[2]) != LoadEvicted || state(hs[3]) != LoadResident {
		t.Fatalf("making room: c2 %v, c3 %v", state(hs[2]), state(hs[3]))
	}
	if _, err := os.Stat(filepath.Join(dir, "collections", hs[0].info.ID, coldFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("cold marker left after the load: %v", err)
	}
	upsertRange(t, hs[0], "more", 0, 10)
	if hs[0].Count() != 210 {
		t.Fatalf("count %d", hs[0].Count())
	}
	// Memory collections are never evicted, not even by an operator.
	if _, err := db.EvictCollection(bg, DefaultTenant, "mem"); !errors.Is(err, ErrNotEvictable) {
		t.Fatalf("evict a memory collection: %v", err)
	}
	// The budget's work shows in the next start: cold collections stay
	// out of memory until asked for, with their facts.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openTestDB(t, dir, residencyConfig(store, clock, 3*size+size/2))
	h1, _ := db.Collection(DefaultTenant, "c1")
	if state(h1) != LoadEvicted || h1.Count() != 200 {
		t.Fatalf("after a restart: %v, %d records", state(h1), h1.Count())
	}
	h0, _ := db.Collection(DefaultTenant, "c0")
	if h0.Count() != 210 {
		t.Fatalf("c0 after a restart: %d", h0.Count())
	}
	if _, err := h1.Get("c1-199"); err != nil {
		t.Fatal(err)
	}
	m, _ := db.Collection(DefaultTenant, "mem")
	if state(m) != LoadResident {
		t.Fatalf("memory collection after restart: %v", state(m))
	}
}

func TestReloadFromTheStoreAfterTheLocalCopyIsGone(t *testing.T) {
	clock := newClock()
	store := tier.NewFaultStore(tier.NewMemStore())
	dir := t.TempDir()
	cfg := residencyConfig(store, clock, 1)
	db := openTestDB(t, dir, cfg)
	defer db.Close()
	ms3 := createWithPolicy(t, db, "ms3", TierMemoryS3)
	s3o := createWithPolicy(t, db, "s3o", TierS3Only)
	for _, h := range []*Handle{ms3, s3o} {
		upsertRange(t, h, "a", 0, 150)
		if err := h.Checkpoint(); err != nil {
			t.Fatal(err)
		}
		upsertRange(t, h, "b", 0, 150) // log after the snapshot
		if _, err := h.Delete(bg, []string{"a-3"}); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(time.Hour)
	if rep := db.EvictOnce(bg); len(rep.Evicted) != 2 {
		t.Fatalf("evict: %+v", rep)
	}
	// memory-s3: the whole local copy goes (a dead disk, say).
	if err := os.RemoveAll(filepath.Join(dir, "collections", ms3.info.ID)); err != nil {
		t.Fatal(err)
	}
	// s3-only: only the snapshot cache goes (CacheBytes 0).
	cfg.Tier.CacheBytes = 0
	if rep := db.EnforceCacheOnce(); rep.Deleted == 0 || rep.Bytes != 0 {
		t.Fatalf("cache: %+v", rep)
	}
	if seqs, _ := s3o.Snapshots(); len(seqs) != 0 {
		t.Fatalf("local snapshots left: %v", seqs)
	}
	for _, h := range []*Handle{ms3, s3o} {
		if _, err := h.Get("a-3"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s: deleted record: %v", h.info.Name, err)
		}
		for _, id := range []string{"a-0", "a-149", "b-0", "b-149"} {
			if _, err := h.Get(id); err != nil {
				t.Fatalf("%s: %s: %v", h.info.Name, id, err)
			}
		}
		if res := h.Residency(); res.Source != SourceStore || res.State != LoadResident || h.Count() != 299 {
			t.Fatalf("%s: %+v, %d records", h.info.Name, res, h.Count())
		}
		if _, err := os.Stat(filepath.Join(h.dir, fetchDir)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s: %s left behind: %v", h.info.Name, fetchDir, err)
		}
		upsertRange(t, h, "c", 0, 5)
	}
	// Both keep working and survive a restart.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openTestDB(t, dir, residencyConfig(store, clock, 0))
	for _, name := range []string{"ms3", "s3o"} {
		h, _ := db.Collection(DefaultTenant, name)
		settle(t, h)
		if _, err := h.Get("c-4"); err != nil || h.Count() != 304 {
			t.Fatalf("%s after a restart: %d records, %v", name, h.Count(), err)
		}
	}
}

func TestConcurrentRequestsShareOneLoadAndAnswerLoadingPastTheirDeadline(t *testing.T) {
	clock := newClock()
	store := tier.NewFaultStore(tier.NewMemStore())
	cfg := residencyConfig(store, clock, 1)
	cfg.Tier.CacheBytes = 0
	db := openTestDB(t, t.TempDir(), cfg)
	defer db.Close()
	h := createWithPolicy(t, db, "cold", TierS3Only)
	upsertRange(t, h, "k", 0, 100)
	clock.Advance(time.Hour)
	if rep := db.RunResidencyOnce(bg); len(rep.Evict.Evicted) != 1 || rep.Cache.Deleted == 0 {
		t.Fatalf("residency run: %+v", rep)
	}
	// Hold the snapshot's download until every request is waiting.
	gate, started := make(chan struct{}), make(chan struct{}, 1)
	var snapGets atomic.Int32
	store.OnGet(func(key string) {
		if strings.HasSuffix(key, ".snap") {
			snapGets.Add(1)
			started <- struct{}{}
			<-gate
		}
	})
	const n = 16
	var waiting sync.WaitGroup
	waiting.Add(n + 1)
	h.res.mu.Lock()
	h.res.onWait = waiting.Done
	h.res.mu.Unlock()
	// A request whose deadline passes first is told the collection is
	// loading, and the load goes on.
	ctx, cancel := context.WithCancel(bg)
	go func() {
		<-started
		cancel()
	}()
	_, err := h.Acquire(ctx)
	var le *LoadError
	if !errors.As(err, &le) || !errors.Is(err, ErrLoading) || le.RetryAfter < time.Second || errors.Is(err, context.Canceled) {
		t.Fatalf("acquire past its deadline: %v", err)
	}
	if state(h) != LoadLoading {
		t.Fatalf("state %v", state(h))
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			r, err := h.Get(fmt.Sprintf("k-%d", i))
			if err == nil && r.ID != fmt.Sprintf("k-%d", i) {
				err = fmt.Errorf("got %s", r.ID)
			}
			errs <- err
		})
	}
	waiting.Wait() // all of them wait for the one load
	if res := h.Residency(); res.Waiting != n || res.State != LoadLoading {
		t.Fatalf("while loading: %+v", res)
	}
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := snapGets.Load(); got != 1 {
		t.Fatalf("%d snapshot downloads for %d concurrent requests", got, n+1)
	}
	if res := h.Residency(); res.Loads != 1 || res.State != LoadResident || res.Source != SourceStore {
		t.Fatalf("%+v", res)
	}
}

// TestEvictionWhileSearchesAndWritesRun evicts a collection over and over
// (the budget's evictions, which give way to use, and an operator's, which
// wait for it) while writers and readers use it: every acknowledged write
// is readable at once and after a restart, and no request sees a
// half-loaded collection (a read of an acknowledged id never misses, a
// search never comes back short).
func TestEvictionWhileSearchesAndWritesRun(t *testing.T) {
	clock := newClock()
	store := tier.NewMemStore()
	dir := t.TempDir()
	cfg := residencyConfig(store, clock, 1)
	cfg.Tier.EvictAfter = time.Nanosecond
	db := openTestDB(t, dir, cfg)
	h := createWithPolicy(t, db, "busy", TierMemoryS3)
	upsertRange(t, h, "seed", 0, 50)

	var (
		mu    sync.Mutex
		acked []string
		stop  atomic.Bool
		wg    sync.WaitGroup
		fail  = make(chan error, 16)
	)
	report := func(err error) {
		select {
		case fail <- err:
		default:
		}
		stop.Store(true)
	}
	for w := range 2 {
		wg.Go(func() {
			for b := 0; b < 40 && !stop.Load(); b++ {
				batch := recs(fmt.Sprintf("w%d-b%d", w, b), 0, 5, 8)
				if err := h.Upsert(bg, batch); err != nil {
					report(fmt.Errorf("upsert: %w", err))
					return
				}
				mu.Lock()
				for _, r := range batch {
					acked = append(acked, r.ID)
				}
				mu.Unlock()
			}
		})
	}
	var readers sync.WaitGroup
	for r := range 2 {
		readers.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 7))
			for !stop.Load() {
				mu.Lock()
				var id string
				if len(acked) > 0 {
					id = acked[rng.IntN(len(acked))]
				}
				mu.Unlock()
				if id == "" {
					id = "seed-7"
				}
				if _, err := h.Get(id); err != nil {
					report(fmt.Errorf("get of acknowledged %s: %w", id, err))
					return
				}
				// An exact search for an acknowledged record's own vector
				// finds it first.
				res, err := h.Search(context.Background(), SearchRequest{Vector: vectorFor(id, 8), K: 1, Exact: true})
				if err != nil || len(res.Hits) != 1 || res.Hits[0].ID != id {
					report(fmt.Errorf("search for %s: %+v, %v", id, res.Hits, err))
					return
				}
			}
		})
	}
	evictions := 0
	for i := 0; ; i++ {
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		default:
		}
		clock.Advance(time.Second)
		evictions += len(db.EvictOnce(bg).Evicted)
		if i%3 == 0 {
			if _, err := db.EvictCollection(bg, DefaultTenant, "busy"); err == nil {
				evictions++
			} else if !errors.Is(err, ErrNotEvictable) { // an eviction by the budget may be running
				report(fmt.Errorf("operator eviction: %w", err))
			}
		}
		if isClosed(done) || stop.Load() {
			break
		}
	}
	stop.Store(true)
	wg.Wait()
	readers.Wait()
	select {
	case err := <-fail:
		t.Fatal(err)
	default:
	}
	res := h.Residency()
	if evictions == 0 || res.Loads == 0 {
		t.Fatalf("the test evicted %d times and loaded %d: it proved nothing", evictions, res.Loads)
	}
	t.Logf("%d evictions, %d loads, %d acknowledged writes", evictions, res.Loads, len(acked))
	check := func(h *Handle) {
		t.Helper()
		for _, id := range acked {
			if _, err := h.Get(id); err != nil {
				t.Fatalf("acknowledged %s lost: %v", id, err)
			}
		}
		if h.Count() != len(acked)+50 {
			t.Fatalf("%d records, %d acknowledged", h.Count(), len(acked)+50)
		}
	}
	check(h)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openTestDB(t, dir, cfg)
	defer db.Close()
	h, _ = db.Collection(DefaultTenant, "busy")
	check(h)
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestStoreDownAtStartup: the server starts and serves every other
// collection; an s3-only collection whose snapshot only the store has
// answers unavailable (with the reason) until the store is back.
func TestStoreDownAtStartup(t *testing.T) {
	clock := newClock()
	store := tier.NewFaultStore(tier.NewMemStore())
	dir := t.TempDir()
	cfg := residencyConfig(store, clock, 0)
	cfg.Tier.CacheBytes = 0
	db := openTestDB(t, dir, cfg)
	mem := createWithPolicy(t, db, "local", TierMemory)
	upsertRange(t, mem, "l", 0, 20)
	cold := createWithPolicy(t, db, "cold", TierS3Only)
	upsertRange(t, cold, "c", 0, 100)
	if err := cold.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if err := db.Tier().ShipOnce(bg); err != nil {
		t.Fatal(err)
	}
	if rep := db.EnforceCacheOnce(); rep.Deleted == 0 {
		t.Fatalf("cache: %+v", rep)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	store.FailAlways(tier.OpAny, errors.New("dial tcp 10.0.0.5:9000: connect: no route to host"))
	db = openTestDB(t, dir, cfg)
	defer db.Close()
	mem, _ = db.Collection(DefaultTenant, "local")
	if _, err := mem.Get("l-3"); err != nil {
		t.Fatalf("the local collection does not serve: %v", err)
	}
	cold, _ = db.Collection(DefaultTenant, "cold")
	settle(t, cold)
	res := cold.Residency()
	if res.State != LoadUnavailable || !strings.Contains(res.Reason, "no route to host") || !res.RetryAt.After(clock.Now()) {
		t.Fatalf("status while the store is down: %+v", res)
	}
	_, err := cold.Get("c-1")
	var le *LoadError
	if !errors.As(err, &le) || !errors.Is(err, ErrUnavailable) || !strings.Contains(le.Reason, "no route to host") || le.RetryAfter < time.Second {
		t.Fatalf("get while the store is down: %v", err)
	}
	// Not due yet: the residency loop leaves it.
	if rep := db.RunResidencyOnce(bg); rep.Retried != 0 {
		t.Fatalf("retried before it was due: %+v", rep)
	}
	store.Heal()
	db.Tier().Breaker().Reset()
	clock.Advance(time.Minute)
	if rep := db.RunResidencyOnce(bg); rep.Retried != 1 {
		t.Fatalf("not retried when due: %+v", rep)
	}
	settle(t, cold)
	if r, err := cold.Get("c-99"); err != nil || r.ID != "c-99" || cold.Count() != 100 {
		t.Fatalf("after the store came back: %v, %d records", err, cold.Count())
	}
}

// TestS3OnlySnapshotCacheIsBounded keeps the local snapshots of s3-only
// collections within CacheBytes, deleting only what the store holds,
// least recently used first.
func TestS3OnlySnapshotCacheIsBounded(t *testing.T) {
	clock := newClock()
	store := tier.NewFaultStore(tier.NewMemStore())
	cfg := residencyConfig(store, clock, 0)
	db := openTestDB(t, t.TempDir(), cfg)
	defer db.Close()
	var hs []*Handle
	for i := range 3 {
		h := createWithPolicy(t, db, fmt.Sprintf("s%d", i), TierS3Only)
		upsertRange(t, h, "x", 0, 100)
		if err := h.Checkpoint(); err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
		clock.Advance(time.Second)
	}
	// s2's snapshot never reaches the store.
	store.FailAlways(tier.OpPut, nil)
	if err := db.Tier().Ship(bg, hs[2].info.ID); err == nil {
		t.Fatal("a failing store shipped")
	}
	store.Heal()
	db.Tier().Breaker().Reset()
	for _, h := range hs[:2] {
		if err := db.Tier().Ship(bg, h.info.ID); err != nil {
			t.Fatal(err)
		}
	}
	one, other := db.cacheBytes([]*Handle{hs[0]}), db.cacheBytes([]*Handle{hs[2]})
	cfg.Tier.CacheBytes = one + other
	if _, err := hs[0].Get("x-1"); err != nil { // s0 is now the most recently used
		t.Fatal(err)
	}
	rep := db.EnforceCacheOnce()
	if rep.Deleted != 1 || rep.Bytes != one+other {
		t.Fatalf("cache: %+v (one snapshot %d bytes)", rep, one)
	}
	if s, _ := hs[1].Snapshots(); len(s) != 0 {
		t.Fatalf("s1 (least recently used, shipped) kept %v", s)
	}
	cfg.Tier.CacheBytes = 0
	rep = db.EnforceCacheOnce()
	if s, _ := hs[2].Snapshots(); len(s) != 1 || rep.Bytes != other {
		t.Fatalf("an unshipped snapshot was deleted: %v %+v", s, rep)
	}
	// A resident s3-only collection whose snapshot is gone from the disk
	// keeps serving, and its next start loads it from the store.
	if _, err := hs[0].Get("x-50"); err != nil {
		t.Fatal(err)
	}
}

// TestPolicyChangesOnline moves a collection through every policy while it
// is used and evicted, then opens the directory without a store: the
// memory collection has everything locally.
func TestPolicyChangesOnline(t *testing.T) {
	clock := newClock()
	store := tier.NewMemStore()
	dir := t.TempDir()
	cfg := residencyConfig(store, clock, 1)
	cfg.Tier.CacheBytes = 0
	db := openTestDB(t, dir, cfg)
	h := createWithPolicy(t, db, "p", TierMemory)
	upsertRange(t, h, "a", 0, 60)
	for i, p := range []string{TierMemoryS3, TierS3Only, TierMemoryS3, TierS3Only} {
		if info, err := db.SetTierPolicy(bg, DefaultTenant, "p", p); err != nil || info.TierPolicy != p || !db.Tier().Registered(info.ID) {
			t.Fatalf("to %s: %+v %v", p, info, err)
		}
		upsertRange(t, h, fmt.Sprintf("b%d", i), 0, 20)
		clock.Advance(time.Hour)
		if _, err := db.EvictCollection(bg, DefaultTenant, "p"); err != nil {
			t.Fatalf("evict under %s: %v", p, err)
		}
		db.EnforceCacheOnce()
		if _, err := h.Get("a-0"); err != nil {
			t.Fatalf("reload under %s: %v", p, err)
		}
	}
	clock.Advance(time.Hour)
	if _, err := db.EvictCollection(bg, DefaultTenant, "p"); err != nil {
		t.Fatal(err)
	}
	db.EnforceCacheOnce()
	if seqs, _ := h.Snapshots(); len(seqs) != 0 {
		t.Fatalf("the cache kept %v", seqs)
	}
	// To memory while evicted, its snapshot only in the store: loaded and
	// checkpointed locally first.
	if info, err := db.SetTierPolicy(bg, DefaultTenant, "p", TierMemory); err != nil || info.TierPolicy != TierMemory || db.Tier().Registered(info.ID) {
		t.Fatalf("to memory: %+v %v", info, err)
	}
	if state(h) != LoadResident {
		t.Fatalf("a memory collection is %v", state(h))
	}
	if _, err := db.EvictCollection(bg, DefaultTenant, "p"); !errors.Is(err, ErrNotEvictable) {
		t.Fatalf("evicting a memory collection: %v", err)
	}
	want := h.Count()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	local := openTestDB(t, dir, Config{})
	defer local.Close()
	lh, err := local.Collection(DefaultTenant, "p")
	if err != nil || lh.Count() != want || want != 60+4*20 {
		t.Fatalf("without a store: %d records (want %d), %v", lh.Count(), want, err)
	}
}

// TestLoadNeverWaitsForTheDatabaseLock: a drop holds the database's lock
// while it waits for a load of the collection to settle, so a load (its
// room-making reads the collections) must not wait for that lock, or the
// two wait for each other forever.
func TestLoadNeverWaitsForTheDatabaseLock(t *testing.T) {
	clock := newClock()
	db := openTestDB(t, t.TempDir(), residencyConfig(tier.NewMemStore(), clock, 1))
	defer db.Close()
	h := createWithPolicy(t, db, "c", TierMemoryS3)
	upsertRange(t, h, "x", 0, 50)
	clock.Advance(time.Hour)
	if _, err := db.EvictCollection(bg, DefaultTenant, "c"); err != nil {
		t.Fatal(err)
	}
	db.mu.Lock() // as a drop or a create holds it
	got := make(chan error, 1)
	go func() {
		_, err := h.Get("x-1")
		got <- err
	}()
	select {
	case err := <-got:
		db.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Minute):
		db.mu.Unlock()
		t.Fatal("a load waited for the database's lock")
	}
}

// TestDropDuringALoad: dropping a collection whose load is under way
// cancels the load, waits for it, and answers the waiting requests.
func TestDropDuringALoad(t *testing.T) {
	clock := newClock()
	store := tier.NewFaultStore(tier.NewMemStore())
	cfg := residencyConfig(store, clock, 1)
	cfg.Tier.CacheBytes = 0
	db := openTestDB(t, t.TempDir(), cfg)
	defer db.Close()
	h := createWithPolicy(t, db, "c", TierS3Only)
	upsertRange(t, h, "x", 0, 50)
	clock.Advance(time.Hour)
	if rep := db.RunResidencyOnce(bg); len(rep.Evict.Evicted) != 1 || rep.Cache.Deleted == 0 {
		t.Fatalf("%+v", rep)
	}
	started, gate := make(chan struct{}), make(chan struct{})
	store.OnGet(func(key string) {
		if strings.HasSuffix(key, ".snap") {
			close(started)
			<-gate
		}
	})
	got := make(chan error, 1)
	go func() {
		_, err := h.Get("x-1")
		got <- err
	}()
	<-started
	dropped := make(chan error, 1)
	go func() { dropped <- db.DropCollection(bg, DefaultTenant, "c") }()
	// Let the download finish only once the drop has closed the
	// collection: released earlier, the load may end (and the Get be
	// answered, rightly) before the drop has begun. A drop that failed
	// before closing it is reported below.
	waitUntil(t, "the drop to close the collection", func() bool {
		h.res.mu.Lock()
		defer h.res.mu.Unlock()
		return h.res.closed || len(dropped) > 0
	})
	close(gate)
	if err := <-dropped; err != nil {
		t.Fatal(err)
	}
	if err := <-got; err == nil {
		t.Fatal("a request to a dropped collection got an answer")
	}
	if _, err := db.Collection(DefaultTenant, "c"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after the drop: %v", err)
	}
}

// TestOfflineToolsAndAnS3OnlyCollectionWhoseSnapshotIsInTheStoreOnly: an
// s3-only collection whose snapshot cache was dropped is not damage to
// fsck, and an offline reader (akidb export) refuses to read what is left
// locally: it would miss records.
func TestOfflineToolsAndAnS3OnlyCollectionWhoseSnapshotIsInTheStoreOnly(t *testing.T) {
	dir := t.TempDir()
	cfg := residencyConfig(tier.NewMemStore(), newClock(), 0)
	cfg.Tier.CacheBytes = 0
	db := openTestDB(t, dir, cfg)
	h := createWithPolicy(t, db, "s", TierS3Only)
	// Three snapshots shipped, each dropped from the cache once shipped:
	// the log is then truncated after the store's second newest, and no
	// local snapshot is left.
	for i, p := range []string{"a", "b", "c"} {
		upsertRange(t, h, p, 0, 100)
		if err := h.Checkpoint(); err != nil {
			t.Fatal(err)
		}
		if err := db.Tier().ShipOnce(bg); err != nil {
			t.Fatal(err)
		}
		if rep := db.EnforceCacheOnce(); rep.Deleted == 0 {
			t.Fatalf("round %d: %+v", i, rep)
		}
	}
	if first := h.wal.FirstSeq(); first <= 1 {
		t.Fatalf("the log was not truncated (first seq %d): the test proves nothing", first)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// fsck knows the missing snapshot is in the store: no problem.
	rep, err := Fsck(dir, FsckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || len(rep.Collections) != 1 || rep.Collections[0].StoreSnapshot == 0 {
		t.Fatalf("fsck of an s3-only collection without its snapshot: %+v", rep)
	}
	ro, err := OpenReadOnly(dir, ReadOnlyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := ro.View("", "s"); err == nil || !strings.Contains(err.Error(), "object store") {
		t.Fatalf("view of an s3-only collection without its snapshot: %v", err)
	}
}

// TestALoadOverTheBudgetWaitsForRoom: room for two collections, both in
// memory and recently used; a load of a third waits (up to RoomWait) for
// the least recently used to become idle, evicts it, and only then loads:
// there are never three in memory. Without anything becoming idle it
// gives up waiting after RoomWait and loads over the budget.
func TestALoadOverTheBudgetWaitsForRoom(t *testing.T) {
	size := sizeOf200(t)
	clock := newClock()
	cfg := residencyConfig(tier.NewMemStore(), clock, 2*size+size/2)
	cfg.Tier.RoomWait = time.Hour // bounded by the test's clock moves below
	db := openTestDB(t, t.TempDir(), cfg)
	defer db.Close()
	var hs []*Handle
	for i := range 3 {
		h := createWithPolicy(t, db, fmt.Sprintf("c%d", i), TierMemoryS3)
		upsertRange(t, h, "x", 0, 200)
		hs = append(hs, h)
	}
	clock.Advance(time.Hour)
	if _, err := db.EvictCollection(bg, DefaultTenant, "c2"); err != nil {
		t.Fatal(err)
	}
	// c0 and c1 were used a moment ago: nothing is idle.
	for _, h := range hs[:2] {
		if _, err := h.Get("x-1"); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Second)
	}
	waiting := make(chan struct{}, 1)
	hs[2].res.mu.Lock()
	hs[2].res.onWait = func() { waiting <- struct{}{} }
	hs[2].res.mu.Unlock()
	got := make(chan error, 1)
	go func() {
		_, err := hs[2].Get("x-1")
		got <- err
	}()
	<-waiting
	// The load waits: c2 stays loading, c0 and c1 stay in memory.
	select {
	case err := <-got:
		t.Fatalf("the load did not wait for room: %v", err)
	case <-time.After(300 * time.Millisecond): // a bounded look, not a wait for work
	}
	if state(hs[0]) != LoadResident || state(hs[1]) != LoadResident || state(hs[2]) != LoadLoading {
		t.Fatalf("while waiting: %v %v %v", state(hs[0]), state(hs[1]), state(hs[2]))
	}
	// c0 becomes idle: it goes, c2 comes in.
	clock.Advance(time.Minute - time.Second)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if state(hs[0]) != LoadEvicted || state(hs[1]) != LoadResident || state(hs[2]) != LoadResident {
		t.Fatalf("after the load: %v %v %v", state(hs[0]), state(hs[1]), state(hs[2]))
	}
}

// An evicted collection's disk use is walked once and kept (quota checks
// read it on every write of its tenant) until its files change: the s3-only
// cache removing a snapshot, or a load, walks again.
func TestEvictedDiskBytesAreKeptUntilTheFilesChange(t *testing.T) {
	clock := newClock()
	dir := t.TempDir()
	cfg := residencyConfig(tier.NewMemStore(), clock, 1)
	db := openTestDB(t, dir, cfg)
	defer db.Close()
	h := createWithPolicy(t, db, "s3o", TierS3Only)
	upsertRange(t, h, "a", 0, 150)
	if err := h.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	if rep := db.EvictOnce(bg); len(rep.Evicted) != 1 {
		t.Fatalf("evict: %+v", rep)
	}
	colDir := filepath.Join(dir, "collections", h.info.ID)
	evicted := h.DiskBytes()
	if files := dirBytes(t, colDir); evicted == 0 || evicted != files {
		t.Fatalf("disk bytes of the evicted collection: %d, its files hold %d", evicted, files)
	}
	// A file that appears behind the engine's back is not seen: the
	// figure is not walked again.
	if err := os.WriteFile(filepath.Join(colDir, "stray"), make([]byte, 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := h.DiskBytes(); got != evicted {
		t.Fatalf("disk bytes walked again: %d, kept %d", got, evicted)
	}
	// The cache removes the snapshot: walked again.
	cfg.Tier.CacheBytes = 0
	if rep := db.EnforceCacheOnce(); rep.Deleted == 0 {
		t.Fatalf("cache: %+v", rep)
	}
	afterCache := h.DiskBytes()
	if files := dirBytes(t, colDir); afterCache != files || afterCache >= evicted+1000 {
		t.Fatalf("after the cache removed the snapshot: %d, the files hold %d (evicted: %d + the stray 1000)", afterCache, files, evicted)
	}
	// A load, then another eviction: walked again.
	if _, err := h.Get("a-7"); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(colDir, "stray")); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	if rep := db.EvictOnce(bg); len(rep.Evicted) != 1 {
		t.Fatalf("evict again: %+v", rep)
	}
	if got, files := h.DiskBytes(), dirBytes(t, colDir); got != files {
		t.Fatalf("after the load and the eviction: %d, the files hold %d", got, files)
	}
}
