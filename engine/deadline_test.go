package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/filter"
)

// TestExactScanStopsAtDeadlineWithoutBlockingWrites pauses an exact scan
// part-way (the test hook runs where the scan checks its context), then:
// an upsert and a delete of the same collection complete while the scan
// is paused (no lock a writer needs is held across the scan); and once the
// scan's deadline has passed and it resumes, it stops at its next check
// with context.DeadlineExceeded instead of finishing. Ordering, not timing:
// the deadline below only gives the context something to expire; the
// liveness wait turns a writer stuck behind the scan into a failure
// instead of a hang.
func TestExactScanStopsAtDeadlineWithoutBlockingWrites(t *testing.T) {
	db := openTestDB(t, t.TempDir(), Config{})
	defer db.Close()
	if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "c", Dimension: 8, Metric: distance.L2}); err != nil {
		t.Fatal(err)
	}
	h, _ := db.Collection(DefaultTenant, "c")
	for i := 0; i < 4; i++ {
		if err := h.Upsert(bg, recs("r", i*1000, (i+1)*1000, 8)); err != nil {
			t.Fatal(err)
		}
	}
	h.WaitIndexed()
	g := newGate()
	defer g.open()
	var hookCalls int
	var hookMu sync.Mutex
	h.c.scanHook = func() {
		hookMu.Lock()
		hookCalls++
		second := hookCalls == 2
		hookMu.Unlock()
		if second { // part-way through the scan
			g.hold()
		}
	}
	ctx, cancel := context.WithTimeout(bg, 100*time.Millisecond)
	defer cancel()
	scan := make(chan error, 1)
	go func() {
		_, err := h.Search(ctx, SearchRequest{Vector: vectorFor("r-1", 8), K: 10, Exact: true})
		scan <- err
	}()
	<-g.reached
	wrote := make(chan error, 1)
	go func() {
		err := h.Upsert(bg, recs("during", 0, 5, 8))
		if err == nil {
			_, err = h.Delete(bg, []string{"r-7"})
		}
		wrote <- err
	}()
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatalf("write during the scan: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a write waited for an exact scan of the same collection")
	}
	<-ctx.Done()
	g.open()
	if err := <-scan; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("scan past its deadline: %v, want context.DeadlineExceeded", err)
	}
	if _, err := h.Get("during-4"); err != nil {
		t.Fatalf("the write made during the scan: %v", err)
	}
}

// TestSearchesDuringVacuumStayConsistent runs graph, exact and filtered
// searches while records are replaced and deleted and the collection is
// vacuumed (renumbering its nodes) over and over: every hit must be a
// record with its own vector. Searches read records without the
// collection's lock; one that overlaps a vacuum must notice and start
// again rather than pair an id with another node's vector.
func TestSearchesDuringVacuumStayConsistent(t *testing.T) {
	c, err := NewCollection(CollectionConfig{Name: "v", Dimension: 8, Metric: distance.L2})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Upsert(recs("r", 0, 600, 8)); err != nil {
		t.Fatal(err)
	}
	f, err := filter.Parse([]byte(`{"i": {"$lt": 300}}`))
	if err != nil {
		t.Fatal(err)
	}
	stop := background(3, func(s, i int) error {
		req := SearchRequest{Vector: vectorFor(fmt.Sprint("r-", i%600), 8), K: 5, WithVectors: true, Exact: s == 1}
		if s == 2 {
			req.Filter = f
		}
		res, err := c.Search(bg, req)
		if err != nil {
			return err
		}
		for _, h := range res.Hits {
			if want := vectorFor(h.ID, 8); h.Vector[0] != want[0] || h.Vector[7] != want[7] {
				return fmt.Errorf("hit %s came with another record's vector", h.ID)
			}
		}
		return nil
	})
	for round := 0; round < 30; round++ {
		if err := c.Upsert(recs("r", round*20, round*20+20, 8)); err != nil { // replace
			t.Fatal(err)
		}
		if _, err := c.Delete([]string{fmt.Sprint("r-", 599-round)}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Vacuum(); err != nil {
			t.Fatal(err)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
