package s3_test

// Cold collections against a real MinIO server: evicted under the memory
// budget, loaded back from the local snapshot and, once the local copy is
// gone, from MinIO; concurrent requests sharing one load; MinIO down when
// the server starts; and SIGKILL during an eviction and during a load.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/tier"
	"github.com/akidb/akidb/engine/tier/s3"
	"github.com/akidb/akidb/engine/tier/s3/s3test"
)

const resDim = 32

// residencyConfig is tierConfig with a memory budget of one byte (every
// idle tiered collection may be evicted), collections idle after a minute
// of the manual clock, and no local snapshot kept for s3-only ones.
func residencyConfig(store tier.ObjectStore, clock tier.Clock) engine.Config {
	cfg := tierConfig(store, clock, nil)
	cfg.Tier.MemoryBudget = 1
	cfg.Tier.EvictAfter = time.Minute
	cfg.Tier.CacheBytes = 0
	cfg.Tier.RoomWait = -1 // the clock is driven by hand: a load does not wait for it
	return cfg
}

func create(t testing.TB, db *engine.DB, name, policy string) *engine.Handle {
	t.Helper()
	if _, err := db.CreateCollection(bg, engine.DefaultTenant, engine.CollectionConfig{Name: name, Dimension: resDim, Metric: distance.L2, M: 8, EfConstruction: 40, TierPolicy: policy}); err != nil {
		t.Fatal(err)
	}
	h, err := db.Collection(engine.DefaultTenant, name)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func fill(t testing.TB, h *engine.Handle, pfx string, from, to int, want map[string]bool) {
	t.Helper()
	for i := from; i < to; i += 100 {
		batch := records(pfx, i, min(i+100, to), resDim)
		if err := h.Upsert(bg, batch); err != nil {
			t.Fatal(err)
		}
		for _, r := range batch {
			want[r.ID] = true
		}
	}
}

func settle(t testing.TB, h *engine.Handle) {
	t.Helper()
	ctx, cancel := context.WithTimeout(bg, 2*time.Minute)
	defer cancel()
	if err := h.WaitSettled(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestEvictAndReloadThroughMinIO(t *testing.T) {
	srv := s3test.Start(t)
	fs := tier.NewFaultStore(srv.Store(t, "evict"))
	clock := tier.NewManualClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	dir := t.TempDir()
	db := open(t, dir, residencyConfig(fs, clock))
	defer db.Close()
	wants := map[string]map[string]bool{}
	hs := map[string]*engine.Handle{}
	for _, c := range []struct{ name, policy string }{{"ms3", engine.TierMemoryS3}, {"s3o", engine.TierS3Only}, {"mem", engine.TierMemory}} {
		hs[c.name] = create(t, db, c.name, c.policy)
		wants[c.name] = map[string]bool{}
		fill(t, hs[c.name], "a", 0, 1500, wants[c.name])
		if err := hs[c.name].Checkpoint(); err != nil {
			t.Fatal(err)
		}
		fill(t, hs[c.name], "b", 0, 500, wants[c.name]) // log after the snapshot
	}
	clock.Advance(time.Hour)
	rep := db.RunResidencyOnce(bg)
	if len(rep.Evict.Evicted) != 2 || !rep.Evict.Over || rep.Cache.Deleted == 0 {
		t.Fatalf("residency run: %+v", rep)
	}
	if s, _ := hs["s3o"].Snapshots(); len(s) != 0 {
		t.Fatalf("s3-only kept local snapshots %v", s)
	}
	// memory-s3 comes back from its local snapshot, s3-only from MinIO.
	checkHolds(t, hs["ms3"], wants["ms3"], resDim)
	checkHolds(t, hs["s3o"], wants["s3o"], resDim)
	if a, b := hs["ms3"].Residency(), hs["s3o"].Residency(); a.Source != engine.SourceLocal || b.Source != engine.SourceStore {
		t.Fatalf("load sources: %s, %s", a.Source, b.Source)
	}
	checkHolds(t, hs["mem"], wants["mem"], resDim)
	if st := hs["mem"].Residency(); st.Evictions != 0 {
		t.Fatal("a memory collection was evicted")
	}

	// The memory-s3 collection's local copy goes (a dead disk): evicted,
	// it comes back from MinIO whole. Concurrent requests share the one
	// load.
	clock.Advance(time.Hour)
	if _, err := db.EvictCollection(bg, engine.DefaultTenant, "ms3"); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "collections", hs["ms3"].Info().ID)); err != nil {
		t.Fatal(err)
	}
	var snapGets atomic.Int32
	fs.OnGet(func(key string) {
		if strings.HasSuffix(key, ".snap") {
			snapGets.Add(1)
		}
	})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			id := fmt.Sprintf("a-%d", i*100)
			r, err := hs["ms3"].Get(id)
			if err == nil && r.ID != id {
				err = fmt.Errorf("got %s for %s", r.ID, id)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := snapGets.Load(); n != 1 {
		t.Fatalf("%d snapshot downloads for 8 concurrent requests", n)
	}
	checkHolds(t, hs["ms3"], wants["ms3"], resDim)
	if st := hs["ms3"].Residency(); st.Source != engine.SourceStore || st.Loads != 2 {
		t.Fatalf("after the load from MinIO: %+v", st)
	}
	// It goes on working and shipping.
	fill(t, hs["ms3"], "c", 0, 200, wants["ms3"])
	if err := db.Tier().ShipOnce(bg); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = open(t, dir, residencyConfig(fs, clock))
	for name, want := range wants {
		h, _ := db.Collection(engine.DefaultTenant, name)
		checkHolds(t, h, want, resDim)
	}
}

// TestMinIODownAtStartup: the server starts with MinIO down and serves the
// collections it can; an s3-only collection whose snapshot only MinIO has
// is unavailable, with the reason, until MinIO is back.
func TestMinIODownAtStartup(t *testing.T) {
	srv := s3test.Start(t)
	store := srv.Store(t, "down")
	clock := tier.NewManualClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	dir := t.TempDir()
	cfg := residencyConfig(store, clock)
	cfg.Tier.MemoryBudget = 0
	db := open(t, dir, cfg)
	want, local := map[string]bool{}, map[string]bool{}
	fill(t, create(t, db, "local", engine.TierMemory), "l", 0, 300, local)
	cold := create(t, db, "cold", engine.TierS3Only)
	fill(t, cold, "k", 0, 800, want)
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

	srv.Kill()
	db = open(t, dir, cfg)
	defer db.Close()
	lh, _ := db.Collection(engine.DefaultTenant, "local")
	checkHolds(t, lh, local, resDim)
	cold, _ = db.Collection(engine.DefaultTenant, "cold")
	settle(t, cold)
	st := cold.Residency()
	if st.State != engine.LoadUnavailable || st.Reason == "" {
		t.Fatalf("with MinIO down: %+v", st)
	}
	if _, err := cold.Get("k-1"); !errors.Is(err, engine.ErrUnavailable) {
		t.Fatalf("get with MinIO down: %v", err)
	}
	t.Logf("unavailable: %s", st.Reason)

	srv.Restart()
	db.Tier().Breaker().Reset()
	clock.Advance(time.Hour)
	if rep := db.RunResidencyOnce(bg); rep.Retried != 1 {
		t.Fatalf("not retried: %+v", rep)
	}
	settle(t, cold)
	checkHolds(t, cold, want, resDim)
}

// The SIGKILL tests: a child writes an s3-only collection, then evicts it
// with its snapshot's upload held (mode evict) or evicts it and loads it
// with its snapshot's download from MinIO held (mode load), says where it
// is, and is killed there. The restarted process cleans up and holds every
// acknowledged write.
const (
	envResChild = "AKIDB_RESIDENCY_CRASH_CHILD"
	resBucket   = "residency-crash"
)

func residencyCrashChild() int {
	mode := os.Getenv(envResChild)
	store, err := s3.Open(bg, s3test.ConfigFor(os.Getenv(envEndpoint), resBucket))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child store:", err)
		return 2
	}
	fs := tier.NewFaultStore(store)
	var out sync.Mutex
	say := func(format string, args ...any) {
		out.Lock()
		fmt.Printf(format+"\n", args...)
		out.Unlock()
	}
	db, err := engine.Open(os.Getenv(envDir), residencyConfig(fs, nil))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		return 2
	}
	if _, err := db.CreateCollection(bg, engine.DefaultTenant, engine.CollectionConfig{Name: "c", Dimension: resDim, Metric: distance.L2, M: 8, EfConstruction: 40, TierPolicy: engine.TierS3Only}); err != nil {
		fmt.Fprintln(os.Stderr, "child create:", err)
		return 2
	}
	h, _ := db.Collection(engine.DefaultTenant, "c")
	for i := 0; i < 2000; i += 100 {
		if err := h.Upsert(bg, records("k", i, i+100, resDim)); err != nil {
			fmt.Fprintln(os.Stderr, "child upsert:", err)
			return 2
		}
		say("ACK k-%d", i+99)
		if i == 1000 {
			if err := h.Checkpoint(); err != nil {
				fmt.Fprintln(os.Stderr, "child checkpoint:", err)
				return 2
			}
		}
	}
	hold := func(what string) { say(what); select {} }
	switch mode {
	case "evict":
		fs.OnPutProgress(func(key string, sent int64) {
			if strings.HasSuffix(key, ".snap") && sent > 0 {
				hold("EVICTING")
			}
		})
		_, err = db.EvictCollection(bg, engine.DefaultTenant, "c")
	case "load":
		if _, err = db.EvictCollection(bg, engine.DefaultTenant, "c"); err == nil {
			db.EnforceCacheOnce()
			fs.OnGet(func(key string) {
				if strings.HasSuffix(key, ".snap") {
					hold("LOADING")
				}
			})
			_, err = h.Get("k-1")
		}
	}
	fmt.Fprintln(os.Stderr, "child: never held:", err)
	return 2
}

func TestSIGKILLDuringEvictionAndLoad(t *testing.T) {
	srv := s3test.Start(t)
	for _, c := range []struct{ mode, marker string }{{"evict", "EVICTING"}, {"load", "LOADING"}} {
		t.Run(c.mode, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), envResChild+"="+c.mode, envDir+"="+dir, envEndpoint+"="+srv.Endpoint())
			var stderr strings.Builder
			cmd.Stderr = &stderr
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			acked, held := 0, false
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				line := sc.Text()
				if line == c.marker {
					held = true
					break
				}
				var n int
				if _, err := fmt.Sscanf(line, "ACK k-%d", &n); err == nil {
					acked = n + 1
				}
			}
			_ = cmd.Process.Signal(syscall.SIGKILL)
			_ = cmd.Wait()
			if !held {
				t.Fatalf("the child never got to %s; stderr:\n%s", c.marker, stderr.String())
			}
			store, err := s3.Open(bg, s3test.ConfigFor(srv.Endpoint(), resBucket))
			if err != nil {
				t.Fatal(err)
			}
			db := open(t, dir, residencyConfig(store, nil))
			defer db.Close()
			h, err := db.Collection(engine.DefaultTenant, "c")
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]bool{}
			for i := range acked {
				want[fmt.Sprintf("k-%d", i)] = true
			}
			checkHolds(t, h, want, resDim)
			if c.mode == "load" && h.Residency().Source != engine.SourceStore {
				t.Fatalf("after a kill during a load from MinIO, loaded from %s", h.Residency().Source)
			}
			leftovers, _ := filepath.Glob(filepath.Join(dir, "collections", "*", "snapshots", "*.download"))
			more, _ := filepath.Glob(filepath.Join(dir, "collections", "*", "wal.fetch"))
			if len(leftovers)+len(more) != 0 {
				t.Fatalf("left behind: %v %v", leftovers, more)
			}
			if err := db.Tier().ShipOnce(bg); err != nil {
				t.Fatal(err)
			}
			if ups, _ := store.ListIncompleteUploads(bg, prefix); len(ups) != 0 {
				t.Fatalf("unfinished uploads after the first pass: %+v", ups)
			}
			// Evicted and loaded again, it still has everything.
			if _, err := db.EvictCollection(bg, engine.DefaultTenant, "c"); err != nil {
				t.Fatal(err)
			}
			checkHolds(t, h, want, resDim)
		})
	}
}

// TestEvictionWhileSearchesAndWritesRunThroughMinIO: an s3-only collection
// is evicted six times (its snapshot cache kept empty, so loads download
// from MinIO) while writers and readers use it: every acknowledged write is
// readable at once and after a restart, and no read misses one.
func TestEvictionWhileSearchesAndWritesRunThroughMinIO(t *testing.T) {
	srv := s3test.Start(t)
	store := srv.Store(t, "busy")
	clock := tier.NewManualClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	dir := t.TempDir()
	cfg := residencyConfig(store, clock)
	cfg.Tier.EvictAfter = time.Nanosecond
	db := open(t, dir, cfg)
	h := create(t, db, "busy", engine.TierS3Only)
	want := map[string]bool{}
	fill(t, h, "seed", 0, 200, want)

	var (
		mu    sync.Mutex
		acked = []string{"seed-0"}
		stop  atomic.Bool
		fail  = make(chan error, 8)
	)
	report := func(err error) {
		select {
		case fail <- err:
		default:
		}
		stop.Store(true)
	}
	var writers, readers sync.WaitGroup
	for w := range 2 {
		writers.Go(func() {
			for b := 0; !stop.Load(); b++ {
				batch := records(fmt.Sprintf("w%d-b%d", w, b), 0, 20, resDim)
				if err := h.Upsert(bg, batch); err != nil {
					report(err)
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
	readers.Go(func() {
		for i := 0; !stop.Load(); i++ {
			mu.Lock()
			id := acked[i%len(acked)]
			mu.Unlock()
			r, err := h.Get(id)
			if err != nil || r.ID != id {
				report(fmt.Errorf("get of acknowledged %s: %v", id, err))
				return
			}
			res, err := h.Search(context.Background(), engine.SearchRequest{Vector: vectorFor(id, resDim), K: 1, Exact: true})
			if err != nil || len(res.Hits) != 1 || res.Hits[0].ID != id {
				report(fmt.Errorf("exact search for %s: %+v %v", id, res.Hits, err))
				return
			}
		}
	})
	// Evict six times while they run (each eviction waits for the
	// requests in flight and holds new ones back; its load then comes
	// from MinIO, the cache being empty).
	evictions := 0
	for try := 0; evictions < 6 && try < 50 && !stop.Load(); try++ {
		clock.Advance(time.Second)
		if _, err := db.EvictCollection(bg, engine.DefaultTenant, "busy"); err == nil {
			evictions++
		} else if !errors.Is(err, engine.ErrNotEvictable) { // loading: the next try waits for it
			report(err)
		}
		db.EnforceCacheOnce()
		// Load it again (or join the load the requests started).
		if _, err := h.Get("seed-1"); err != nil {
			report(err)
		}
	}
	stop.Store(true)
	writers.Wait()
	readers.Wait()
	select {
	case err := <-fail:
		t.Fatal(err)
	default:
	}
	res := h.Residency()
	if evictions == 0 || res.Loads == 0 {
		t.Fatalf("%d evictions, %d loads: the test proved nothing", evictions, res.Loads)
	}
	t.Logf("%d evictions, %d loads (the last from %s), %d acknowledged ids", evictions, res.Loads, res.Source, len(acked))
	for _, id := range acked {
		want[id] = true
	}
	checkHolds(t, h, want, resDim)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = open(t, dir, cfg)
	defer db.Close()
	h, _ = db.Collection(engine.DefaultTenant, "busy")
	checkHolds(t, h, want, resDim)
}
