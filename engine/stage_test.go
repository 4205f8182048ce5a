package engine

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/filter"
)

// stagedHandle opens a DB with one 8-d collection whose background linking
// is held until the returned release function is called.
func stagedHandle(t *testing.T, dir string) (*DB, *Handle, func()) {
	t.Helper()
	db := openTestDB(t, dir, Config{})
	if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "s", Dimension: 8, Metric: distance.L2}); err != nil {
		t.Fatal(err)
	}
	h, err := db.Collection(DefaultTenant, "s")
	if err != nil {
		t.Fatal(err)
	}
	gate := make(chan struct{})
	h.c.beforeLink = func() { <-gate }
	var once sync.Once
	return db, h, func() { once.Do(func() { close(gate) }) }
}

// reopenStaged closes db and opens dir again, returning the collection "s"
// of the new DB (closed when the test ends).
func reopenStaged(t *testing.T, db *DB, dir string) *Handle {
	t.Helper()
	_, h := reopen(t, db, dir, Config{}, "s")
	return h
}

// TestStagedRecordsAreSearchableBeforeLinking: an acknowledged upsert is
// found by every kind of search while its graph linking has not run, a
// staged record can be replaced and deleted, and a checkpoint waits for the
// linking so the snapshot's graph has every node.
func TestStagedRecordsAreSearchableBeforeLinking(t *testing.T) {
	dir := t.TempDir()
	db, h, release := stagedHandle(t, dir)
	defer release()
	base := recs("base", 0, 50, 8)
	if err := h.Upsert(bg, base); err != nil {
		t.Fatal(err)
	}
	if got, backlog := h.c.graph.Unlinked(), h.IndexBacklog(); got != 50 || backlog != 50 {
		t.Fatalf("Unlinked = %d, IndexBacklog = %d with linking held, want 50", got, backlog)
	}
	f, err := filter.Parse([]byte(`{"i": {"$gte": 40}}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []Record{base[3], base[45]} {
		for _, req := range []SearchRequest{
			{Vector: r.Vector, K: 1},
			{Vector: r.Vector, K: 1, Exact: true},
			{Vector: r.Vector, K: 1, Filter: f, FilterSamples: 1},
		} {
			res, err := h.Search(bg, req)
			if err != nil {
				t.Fatal(err)
			}
			matches := req.Filter == nil || r.Metadata["i"].(float64) >= 40
			if matches && (len(res.Hits) != 1 || res.Hits[0].ID != r.ID || res.Hits[0].Score != 0) {
				t.Fatalf("%s search (%s) for staged %s: %+v", res.Strategy, req.Filter, r.ID, res.Hits)
			}
			if !matches && len(res.Hits) == 1 && res.Hits[0].ID == r.ID {
				t.Fatalf("filtered search returned %s, which does not match", r.ID)
			}
		}
	}
	// Replace one staged record and delete another: the old versions must
	// not come back.
	moved := Record{ID: base[7].ID, Vector: vectorFor("elsewhere", 8)}
	if err := h.Upsert(bg, []Record{moved}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Delete(bg, []string{base[9].ID}); err != nil {
		t.Fatal(err)
	}
	for _, probe := range []struct {
		vec  []float32
		gone string
	}{{base[7].Vector, base[7].ID}, {base[9].Vector, base[9].ID}} {
		res, err := h.Search(bg, SearchRequest{Vector: probe.vec, K: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Hits) == 1 && res.Hits[0].ID == probe.gone && res.Hits[0].Score == 0 {
			t.Fatalf("the replaced or deleted version of %s is still found", probe.gone)
		}
	}
	if h.Count() != 49 {
		t.Fatalf("Count = %d, want 49", h.Count())
	}

	// A checkpoint drains the backlog before it captures the state: the
	// reopened graph (no log to replay) must find the moved record by a
	// graph search, so it was linked in the snapshot.
	done := make(chan error, 1)
	go func() { done <- h.Checkpoint() }()
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got, backlog := h.c.graph.Unlinked(), h.IndexBacklog(); got != 0 || backlog != 0 {
		t.Fatalf("Unlinked = %d, IndexBacklog = %d after a checkpoint", got, backlog)
	}
	h2 := reopenStaged(t, db, dir)
	res, err := h2.Search(bg, SearchRequest{Vector: moved.Vector, K: 1})
	if err != nil || len(res.Hits) != 1 || res.Hits[0].ID != moved.ID {
		t.Fatalf("after restart the graph search for %s = %+v, %v", moved.ID, res.Hits, err)
	}
}

// TestStageLimitMakesWritersWait: with the backlog full, the next upsert
// waits for linking to make room, then goes through.
func TestStageLimitMakesWritersWait(t *testing.T) {
	db, h, release := stagedHandle(t, t.TempDir())
	defer db.Close()
	defer release()
	h.c.mu.Lock()
	h.c.stageLimit = 4
	h.c.mu.Unlock()
	if err := h.Upsert(bg, recs("a", 0, 4, 8)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- h.Upsert(bg, recs("b", 0, 1, 8)) }()
	waitUntil(t, "the writer to wait for room", func() bool {
		h.c.mu.Lock()
		defer h.c.mu.Unlock()
		return h.c.stageWaits > 0
	})
	select {
	case err := <-done:
		t.Fatalf("the upsert returned (%v) while the backlog was full", err)
	default:
	}
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if h.Count() != 5 {
		t.Fatalf("Count = %d, want 5", h.Count())
	}
}

// waitUntil polls cond until it holds, failing the test after 10 s.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// TestStagedConcurrentWritesSearchesCheckpoints runs durable writers
// (upserts, replacements, deletes) against searchers, checkpoints and
// vacuums at once, with a small staging limit so writers also wait for
// room. Under -race it checks the staging locks; afterwards every record
// must be found by a graph search at its exact vector, in memory and after
// a restart.
func TestStagedConcurrentWritesSearchesCheckpoints(t *testing.T) {
	dir := t.TempDir()
	db := openTestDB(t, dir, Config{VacuumRatio: 0.01})
	if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "s", Dimension: 8, Metric: distance.L2}); err != nil {
		t.Fatal(err)
	}
	h, err := db.Collection(DefaultTenant, "s")
	if err != nil {
		t.Fatal(err)
	}
	h.c.mu.Lock()
	h.c.stageLimit = 16
	h.c.mu.Unlock()

	const writers, perWriter = 4, 150
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				r := recs(fmt.Sprintf("w%d", w), i, i+1, 8)
				if err := h.Upsert(bg, r); err != nil {
					t.Error(err)
					return
				}
				if i%10 == 9 { // replace an earlier record, delete another
					again := recs(fmt.Sprintf("w%d", w), i-5, i-4, 8)
					if err := h.Upsert(bg, again); err != nil {
						t.Error(err)
						return
					}
					if _, err := h.Delete(bg, []string{fmt.Sprintf("w%d-%d", w, i-9)}); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	stop := make(chan struct{})
	var bgWG sync.WaitGroup
	bgWG.Add(2)
	go func() { // searcher
		defer bgWG.Done()
		f, _ := filter.Parse([]byte(`{"i": {"$lt": 75}}`))
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			q := vectorFor(fmt.Sprintf("w%d-%d", n%writers, n%perWriter), 8)
			for _, req := range []SearchRequest{{Vector: q, K: 5}, {Vector: q, K: 5, Filter: f}, {Vector: q, K: 3, Exact: true}} {
				if _, err := h.Search(bg, req); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	go func() { // checkpoints (each may vacuum) and explicit vacuums
		defer bgWG.Done()
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := h.Checkpoint(); err != nil {
				t.Error(err)
				return
			}
			if _, err := h.c.Vacuum(); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	bgWG.Wait()
	if t.Failed() {
		return
	}

	check := func(h *Handle, when string) {
		t.Helper()
		want := 0
		for w := range writers {
			for i := range perWriter {
				id := fmt.Sprintf("w%d-%d", w, i)
				deleted := i%10 == 0 && i+9 < perWriter
				_, err := h.Get(id)
				if deleted != errors.Is(err, ErrNotFound) {
					t.Fatalf("%s: %s deleted=%v, Get: %v", when, id, deleted, err)
				}
				if deleted {
					continue
				}
				want++
				res, err := h.Search(bg, SearchRequest{Vector: vectorFor(id, 8), K: 1, Ef: 200})
				if err != nil || len(res.Hits) != 1 || res.Hits[0].ID != id || res.Hits[0].Score != 0 {
					t.Fatalf("%s: graph search for %s = %+v, %v", when, id, res.Hits, err)
				}
			}
		}
		if h.Count() != want {
			t.Fatalf("%s: Count = %d, want %d", when, h.Count(), want)
		}
	}
	h.WaitIndexed()
	check(h, "in memory")
	h2 := reopenStaged(t, db, dir)
	check(h2, "after restart")
}
