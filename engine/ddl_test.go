package engine

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/wal"
)

// gate blocks the first filesystem call a FaultFS hook picks until it is
// opened, and tells the test when that call is waiting.
type gate struct {
	once, opened sync.Once
	reached      chan struct{}
	release      chan struct{}
}

// open lets the held call go (and any later one through at once).
func (g *gate) open() { g.opened.Do(func() { close(g.release) }) }

func newGate() *gate { return &gate{reached: make(chan struct{}), release: make(chan struct{})} }

// hold blocks the caller the first time it is called.
func (g *gate) hold() {
	first := false
	g.once.Do(func() { first = true })
	if !first {
		return
	}
	close(g.reached)
	<-g.release
}

// twoTenants opens a data directory with the default tenant's collection
// "q" of n records of dimension dim (linked into the graph), and a second
// tenant, whose id it returns.
func twoTenants(t testing.TB, cfg Config, n, dim int) (*DB, string) {
	t.Helper()
	db := openTestDB(t, t.TempDir(), cfg)
	other, err := db.Meta().CreateTenant(bg, "other")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "q", Dimension: dim, Metric: distance.L2}); err != nil {
		t.Fatal(err)
	}
	h, _ := db.Collection(DefaultTenant, "q")
	if err := h.Upsert(bg, recs("r", 0, n, dim)); err != nil {
		t.Fatal(err)
	}
	h.WaitIndexed()
	return db, other.ID
}

// background runs f(g, 0), f(g, 1), ... on n goroutines (g = 0..n-1) until
// the returned stop is called or f returns an error; stop waits for them
// and returns the first error.
func background(n int, f func(g, i int) error) (stop func() error) {
	done := make(chan struct{})
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for g := 0; g < n; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				if err := f(g, i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	return func() error {
		close(done)
		wg.Wait()
		close(errs)
		return <-errs
	}
}

// stepSignal returns a Config.crashAt that closes the returned channel the
// first time the named step is reached.
func stepSignal(step string) (func(string), chan struct{}) {
	ch := make(chan struct{})
	var once sync.Once
	return func(s string) {
		if s == step {
			once.Do(func() { close(ch) })
		}
	}, ch
}

// TestDropWaitsForRunningCheckpoint: a checkpoint that is writing its
// snapshot when the collection is dropped must not recreate the dropped
// directory (or make the drop fail with ENOTEMPTY). The checkpoint is held
// at its mkdir of snapshots/ while the drop starts; it is let go only once
// the drop has finished or has reached the point where it waits for
// running checkpoints.
func TestDropWaitsForRunningCheckpoint(t *testing.T) {
	dir := t.TempDir()
	ff := wal.NewFaultFS(nil)
	atStep, closing := stepSignal("drop:closing")
	db := openTestDB(t, dir, Config{FS: ff, crashAt: atStep})
	defer db.Close()
	if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "c", Dimension: 4, Metric: distance.L2}); err != nil {
		t.Fatal(err)
	}
	h, _ := db.Collection(DefaultTenant, "c")
	if err := h.Upsert(bg, recs("r", 0, 50, 4)); err != nil {
		t.Fatal(err)
	}
	g := newGate()
	defer g.open()
	ff.SetHook(func(op wal.Op, path string) {
		if op == wal.OpMkdir && strings.HasSuffix(path, "/snapshots") {
			g.hold()
		}
	})
	ckptErr := make(chan error, 1)
	go func() { ckptErr <- h.Checkpoint() }()
	<-g.reached
	dropErr := make(chan error, 1)
	go func() { dropErr <- db.DropCollection(bg, DefaultTenant, "c") }()
	var derr error
	dropped := false
	select {
	case derr = <-dropErr:
		dropped = true
	case <-closing:
	}
	g.open()
	if !dropped {
		derr = <-dropErr
	}
	cerr := <-ckptErr
	if derr != nil {
		t.Fatalf("drop during a checkpoint: %v", derr)
	}
	if cerr != nil && !errors.Is(cerr, ErrClosed) {
		t.Fatalf("the interrupted checkpoint: %v, want nil or ErrClosed", cerr)
	}
	if _, err := os.Stat(h.dir); !errors.Is(err, os.ErrNotExist) {
		entries, _ := os.ReadDir(h.dir)
		t.Fatalf("the dropped collection's directory is on disk after the checkpoint ended (%v): %v", err, entries)
	}
}

// TestQueriesDoNotWaitForCreateOrDropIO holds a create's fsync of its first
// log segment, then a drop's fsync of collections/, and checks that another
// tenant's lookup, search and listing finish meanwhile: no database-wide
// lock is held across a create's or a drop's I/O. (The deadline only
// turns a query stuck behind the held fsync into a failure instead of a
// hang; it is not a latency bound.)
func TestQueriesDoNotWaitForCreateOrDropIO(t *testing.T) {
	ff := wal.NewFaultFS(nil)
	db, other := twoTenants(t, Config{FS: ff}, 100, 8)
	defer db.Close()
	steps := []struct {
		name  string
		block func(op wal.Op, path string) bool
		run   func() error
	}{
		{"create", func(op wal.Op, path string) bool { return op == wal.OpSync && strings.HasSuffix(path, ".wal.tmp") },
			func() error {
				_, err := db.CreateCollection(bg, other, CollectionConfig{Name: "x", Dimension: 8, Metric: distance.L2})
				return err
			}},
		{"drop", func(op wal.Op, path string) bool { return op == wal.OpSyncDir && path == db.collectionsDir() },
			func() error { return db.DropCollection(bg, other, "x") }},
	}
	for _, s := range steps {
		g := newGate()
		defer g.open()
		ff.SetHook(func(op wal.Op, path string) {
			if s.block(op, path) {
				g.hold()
			}
		})
		done := make(chan error, 1)
		go func() { done <- s.run() }()
		<-g.reached
		query := make(chan error, 1)
		go func() {
			h, err := db.Collection(DefaultTenant, "q")
			if err == nil {
				_, err = h.Search(bg, SearchRequest{Vector: vectorFor("r-1", 8), K: 5})
			}
			if err == nil && len(db.ListCollections("")) == 0 {
				err = errors.New("no collections listed")
			}
			query <- err
		}()
		select {
		case err := <-query:
			if err != nil {
				t.Fatalf("query during the %s: %v", s.name, err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("a query of another tenant waited for the %s's fsync", s.name)
		}
		g.open()
		ff.SetHook(nil)
		if err := <-done; err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
	}
}

// TestCreateAndDrop50WhileAnotherTenantQueries creates, fills and drops 50
// collections of one tenant while another tenant queries without pause:
// every query succeeds, and nothing of the dropped collections is left.
func TestCreateAndDrop50WhileAnotherTenantQueries(t *testing.T) {
	db, other := twoTenants(t, Config{}, 500, 8)
	defer db.Close()
	var queries int
	stop := background(1, func(_, i int) error {
		h, err := db.Collection(DefaultTenant, "q")
		if err == nil {
			var res SearchResult
			res, err = h.Search(bg, SearchRequest{Vector: vectorFor(fmt.Sprint("r-", i%500), 8), K: 10})
			if err == nil && len(res.Hits) != 10 {
				err = fmt.Errorf("%d hits", len(res.Hits))
			}
		}
		if err != nil {
			return fmt.Errorf("query %d: %w", i, err)
		}
		queries++
		return nil
	})
	for i := 0; i < 50; i++ {
		name := fmt.Sprint("churn-", i)
		if _, err := db.CreateCollection(bg, other, CollectionConfig{Name: name, Dimension: 8, Metric: distance.L2}); err != nil {
			t.Fatal(err)
		}
		c, err := db.Collection(other, name)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Upsert(bg, recs(name, 0, 20, 8)); err != nil {
			t.Fatal(err)
		}
		if err := db.DropCollection(bg, other, name); err != nil {
			t.Fatal(err)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if queries == 0 {
		t.Fatal("no query ran during the churn")
	}
	if n := len(db.ListCollections(other)); n != 0 {
		t.Fatalf("%d collections of the churning tenant left", n)
	}
	entries, err := os.ReadDir(db.collectionsDir())
	if err != nil || len(entries) != 1 {
		t.Fatalf("collections/ holds %d entries after the churn, want 1: %v", len(entries), err)
	}
	t.Logf("%d queries during 50 creates and drops", queries)
}

// TestNewCollectionsCostLittleDisk: a collection's log starts with a small
// segment (it used to be 64 MiB, zero-filled, per collection), so 50 empty
// collections with the default settings take a few MiB at most.
func TestNewCollectionsCostLittleDisk(t *testing.T) {
	dir := t.TempDir()
	db := openTestDB(t, dir, Config{})
	defer db.Close()
	for i := 0; i < 50; i++ {
		if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: fmt.Sprint("c", i), Dimension: 8, Metric: distance.L2}); err != nil {
			t.Fatal(err)
		}
	}
	if total := dirBytes(t, db.collectionsDir()); total > 50*(wal.DefaultInitialSegmentSize+4096) {
		t.Fatalf("50 empty collections take %d bytes of files", total)
	}
}
