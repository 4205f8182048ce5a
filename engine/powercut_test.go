package engine

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/wal"
)

// The power-cut test runs the engine over a wal.MemFS and cuts the power
// at a random filesystem call: every write and directory change no fsync
// covered is lost, which a SIGKILL (TestCrashKillNeverLosesAcknowledgedWrites)
// never shows because the page cache survives it. The catalog (SQLite) is
// on the real disk and keeps its own durability (synchronous=FULL); a
// create or drop in flight at the cut may advance it a step further along
// its error path, which the protocol must survive too.

func powerCutCycles() int {
	if s := os.Getenv("AKIDB_POWERCUT_CYCLES"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n
		}
	}
	return 24
}

// memDataDir returns a real temporary data directory (for the catalog)
// and a MemFS for the collections, in which that directory exists durably.
func memDataDir(t testing.TB) (string, *wal.MemFS) {
	t.Helper()
	dir := t.TempDir()
	m := wal.NewMemFS()
	if err := m.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	m.MakeDurable()
	return dir, m
}

// ackLog is what the workload of one cycle had acknowledged.
type ackLog struct {
	mu        sync.Mutex
	present   map[string]bool // id -> acknowledged present (true) or deleted (false)
	uncertain map[string]bool // a delete was issued and not acknowledged
	// collections: name -> acknowledged state ("created", "dropped");
	// a name whose drop was issued and not acknowledged is "dropping".
	collections map[string]string
	colRecords  map[string][]string // acknowledged records per scratch collection
}

func (a *ackLog) set(f func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f()
}

// TestPowerCutNeverLosesAcknowledgedWrites cuts the power at random
// points of a workload of concurrent upserts and deletes, checkpoints
// (which truncate the log) and collection creates and drops, then checks
// that the data directory reopens and holds every acknowledged write and
// none of the acknowledged deletes and drops. `make crashtest` runs 400
// cycles (AKIDB_POWERCUT_CYCLES).
func TestPowerCutNeverLosesAcknowledgedWrites(t *testing.T) {
	dir, m := memDataDir(t)
	rng := rand.New(rand.NewPCG(2026, 13))
	db := openTestDB(t, dir, Config{FS: m})
	if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "pc", Dimension: crashDim, Metric: distance.L2}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	acks := &ackLog{present: map[string]bool{}, uncertain: map[string]bool{}, collections: map[string]string{}, colRecords: map[string][]string{}}
	cycles := powerCutCycles()
	for cycle := 0; cycle < cycles; cycle++ {
		ff := wal.NewFaultFS(m)
		cutAt := 1 + rng.IntN(1500)
		ff.AddRule(wal.Rule{Op: wal.OpAny, Nth: cutAt, Crash: true})
		cfg := Config{FS: ff, CheckpointRecords: 80, SegmentSize: 4 << 10}
		if db, err := Open(dir, cfg); err == nil {
			runPowerCutWorkload(db, cycle, acks)
			_ = db.closeWithoutCheckpoint()
		} else if !errors.Is(err, wal.ErrCrashed) {
			t.Fatalf("cycle %d: open failed before the cut: %v", cycle, err)
		}
		after := ff.AfterCrash()
		if after == nil {
			t.Fatalf("cycle %d: the workload ended without the power cut", cycle)
		}
		m = after
		db, err := Open(dir, Config{FS: m, SegmentSize: 4 << 10})
		if err != nil {
			t.Fatalf("cycle %d (cut at call %d): reopen after the power cut failed: %v", cycle, cutAt, err)
		}
		checkPowerCut(t, db, cycle, cutAt, acks)
		if err := db.Close(); err != nil {
			t.Fatalf("cycle %d: close: %v", cycle, err)
		}
	}
	t.Logf("%d power cuts, %d acknowledged ids and %d collections checked", cycles, len(acks.present), len(acks.collections))
}

// runPowerCutWorkload runs until every goroutine has hit the cut.
func runPowerCutWorkload(db *DB, cycle int, acks *ackLog) {
	h, err := db.Collection(DefaultTenant, "pc")
	if err != nil {
		return
	}
	var wg sync.WaitGroup
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := 0; ; b++ {
				var batch []Record
				for i := 0; i < 1+(b+w)%4; i++ {
					id := fmt.Sprintf("p%d-w%d-b%d-%d", cycle, w, b, i)
					batch = append(batch, Record{ID: id, Vector: vectorFor(id, crashDim)})
				}
				if err := h.Upsert(bg, batch); err != nil {
					return
				}
				acks.set(func() {
					for _, r := range batch {
						acks.present[r.ID] = true
					}
				})
				if b%4 == 3 {
					del := batch[0].ID
					acks.set(func() { acks.uncertain[del] = true })
					if _, err := h.Delete(bg, []string{del}); err != nil {
						return
					}
					acks.set(func() { acks.present[del] = false; delete(acks.uncertain, del) })
				}
			}
		}()
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		for db.Checkpoint() == nil {
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			name := fmt.Sprintf("tmp-%d-%d", cycle, i)
			acks.set(func() { acks.collections[name] = "creating" })
			if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: name, Dimension: 4, Metric: distance.L2}); err != nil {
				return
			}
			acks.set(func() { acks.collections[name] = "created" })
			c, err := db.Collection(DefaultTenant, name)
			if err != nil {
				return
			}
			rs := recs(name, 0, 3, 4)
			if err := c.Upsert(bg, rs); err != nil {
				return
			}
			acks.set(func() {
				for _, r := range rs {
					acks.colRecords[name] = append(acks.colRecords[name], r.ID)
				}
			})
			if i%2 == 1 {
				continue // keep every other one
			}
			acks.set(func() { acks.collections[name] = "dropping" })
			if err := db.DropCollection(bg, DefaultTenant, name); err != nil {
				return
			}
			acks.set(func() { acks.collections[name] = "dropped" })
		}
	}()
	wg.Wait()
}

func checkPowerCut(t *testing.T, db *DB, cycle, cutAt int, acks *ackLog) {
	t.Helper()
	h, err := db.Collection(DefaultTenant, "pc")
	if err != nil {
		t.Fatalf("cycle %d: %v", cycle, err)
	}
	for id, want := range acks.present {
		if acks.uncertain[id] {
			continue
		}
		r, err := h.Get(id)
		switch {
		case want && err != nil:
			t.Fatalf("cycle %d (cut at call %d): acknowledged %s lost: %v", cycle, cutAt, id, err)
		case want && r.Vector[3] != vectorFor(id, crashDim)[3]:
			t.Fatalf("cycle %d: %s has the wrong vector", cycle, id)
		case !want && err == nil:
			t.Fatalf("cycle %d (cut at call %d): acknowledged delete of %s undone", cycle, cutAt, id)
		}
	}
	for name, state := range acks.collections {
		c, err := db.Collection(DefaultTenant, name)
		switch state {
		case "created":
			if err != nil {
				t.Fatalf("cycle %d (cut at call %d): acknowledged collection %s lost: %v", cycle, cutAt, name, err)
			}
			for _, id := range acks.colRecords[name] {
				if _, err := c.Get(id); err != nil {
					t.Fatalf("cycle %d (cut at call %d): %s: acknowledged %s lost: %v", cycle, cutAt, name, id, err)
				}
			}
		case "dropped":
			if err == nil {
				t.Fatalf("cycle %d (cut at call %d): acknowledged drop of %s undone", cycle, cutAt, name)
			}
		}
	}
	// Leave only collections whose state is certain for the next cycle's
	// checks: an uncertain create or drop may have gone either way.
	for name, state := range acks.collections {
		if state == "creating" || state == "dropping" {
			if _, err := db.Collection(DefaultTenant, name); err == nil {
				acks.collections[name] = "created"
			} else {
				delete(acks.collections, name)
			}
		}
	}
}
