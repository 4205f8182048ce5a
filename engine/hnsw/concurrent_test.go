package hnsw

import (
	"bytes"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/akidb/akidb/engine/distance"
)

// TestConcurrentMixedWorkload runs adders, searchers (plain and filtered),
// a deleter, brute-force readers, an encoder and finally a vacuum against one
// graph at once. Run under -race it checks the locking; afterwards it checks
// the graph's invariants and its recall.
func TestConcurrentMixedWorkload(t *testing.T) {
	const (
		dim     = 16
		n       = 3000
		seedN   = 300
		adders  = 3
		deleteN = 600
	)
	data := clustered(81, n, dim, 20)
	queries := clustered(82, 200, dim, 20)
	g := build(t, Config{Dim: dim, Metric: distance.L2, M: 16, EfConstruction: 100, Seed: 1}, data[:seedN])
	byID := make([][]float32, n)
	copy(byID, data[:seedN])

	var (
		wg        sync.WaitGroup
		addsDone  atomic.Bool
		nextAdd   atomic.Int64
		failures  = make(chan string, 16)
		snapshots [][]byte
		snapMu    sync.Mutex
	)
	fail := func(msg string) {
		select {
		case failures <- msg:
		default:
		}
	}
	nextAdd.Store(seedN)
	var adderWG sync.WaitGroup
	for range adders {
		adderWG.Add(1)
		go func() {
			defer adderWG.Done()
			for {
				i := nextAdd.Add(1) - 1
				if i >= n {
					return
				}
				id, err := g.Add(data[i])
				if err != nil {
					fail(err.Error())
					return
				}
				byID[id] = data[i] // ids follow Add order, not i

			}
		}()
	}
	wg.Add(1)
	go func() { // close the add phase once every adder is done
		defer wg.Done()
		adderWG.Wait()
		addsDone.Store(true)
	}()
	for s := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(s), 9))
			for !addsDone.Load() {
				q := queries[rng.IntN(len(queries))]
				var allow func(uint32) bool
				if s == 1 {
					allow = func(id uint32) bool { return id%4 == 0 }
				}
				res := g.Search(q, 10, 32, allow)
				for i, r := range res {
					if int(r.ID) >= g.Len() || (allow != nil && !allow(r.ID)) {
						fail("search returned an impossible id")
					}
					if i > 0 && res[i-1].Dist > r.Dist {
						fail("search results out of order")
					}
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // deleter: ids below seedN, which exist from the start
		defer wg.Done()
		for id := uint32(0); id < deleteN; id += 2 {
			if err := g.Delete(id % seedN); err != nil {
				fail(err.Error())
			}
		}
	}()
	wg.Add(1)
	go func() { // brute-force readers and accessors
		defer wg.Done()
		for i := 0; !addsDone.Load(); i++ {
			q := queries[i%len(queries)]
			for _, r := range g.ExactSearch(q, 5, nil) {
				if g.Vector(r.ID) == nil {
					fail("ExactSearch returned an id without a vector")
				}
			}
			g.ExactSearchIDs(q, 5, []uint32{1, 2, 3, uint32(g.Len() - 1)})
			g.MemoryBytes()
			g.IsDeleted(uint32(i % n))
		}
	}()
	wg.Add(1)
	go func() { // snapshots taken mid-build must be consistent
		defer wg.Done()
		for range 3 {
			var buf bytes.Buffer
			if err := g.Encode(&buf); err != nil {
				fail(err.Error())
			}
			snapMu.Lock()
			snapshots = append(snapshots, buf.Bytes())
			snapMu.Unlock()
		}
	}()
	wg.Wait()
	close(failures)
	for msg := range failures {
		t.Error(msg)
	}
	if t.Failed() {
		return
	}
	for i, b := range snapshots {
		if _, err := Decode(bytes.NewReader(b)); err != nil {
			t.Fatalf("snapshot %d taken during the workload is invalid: %v", i, err)
		}
	}
	if g.Len() != n || g.Deleted() != seedN/2 {
		t.Fatalf("Len %d Deleted %d, want %d and %d", g.Len(), g.Deleted(), n, seedN/2)
	}
	checkInvariants(t, g)
	r := meanRecall(t, g, byID, queries, 10, 64, nil)
	t.Logf("recall after concurrent build: %.4f", r)
	// The interleaving (and so the graph) differs from run to run; a
	// single-threaded build of this data scores about 0.99.
	if r < 0.95 {
		t.Fatalf("recall after concurrent build %.4f < 0.95", r)
	}

	// Vacuum while searches run: they wait for it, then see the new graph.
	var stop atomic.Bool
	var swg sync.WaitGroup
	for range 2 {
		swg.Add(1)
		go func() {
			defer swg.Done()
			for !stop.Load() {
				for _, r := range g.Search(queries[0], 10, 32, nil) {
					if int(r.ID) >= g.Len() {
						t.Error("search returned an impossible id during vacuum")
						return
					}
				}
			}
		}()
	}
	if _, err := g.Vacuum(); err != nil {
		t.Fatal(err)
	}
	stop.Store(true)
	swg.Wait()
	if g.Len() != n-seedN/2 {
		t.Fatalf("Len after vacuum %d", g.Len())
	}
	checkInvariants(t, g)
}

// TestShrinkKeepsStaleWordsValid pins what lock-free readers rely on when a
// full list is shrunk: a reader that loaded the old, larger count reads the
// words past the new count, so those must still name nodes of that layer.
// They used to be zeroed, which named node 0; when node 0 had no upper
// layers, concurrent inserts crashed on its missing layer-1 list.
func TestShrinkKeepsStaleWordsValid(t *testing.T) {
	data := clustered(5, 400, 8, 4)
	g := build(t, Config{Dim: 8, Metric: distance.L2, M: 4, EfConstruction: 32, Seed: 3}, data)
	tab := g.table.Load().chunks
	for id := uint32(0); id < uint32(g.Len()); id++ {
		if levelOfMeta(metaOf(tab, id)) < 1 {
			continue
		}
		list := g.linkList(tab, id, 1)
		cnt := int(list[0])
		if cnt < 3 {
			continue
		}
		before := append([]uint32(nil), list...)
		v := g.vec(tab, id)
		cs := []item{{g.dist(g.vec(tab, list[1]), v), list[1]}}
		g.writeList(tab, list, cs, g.maxLinks(1), g.getScratch(), false)
		if list[0] != 1 || list[1] != before[1] {
			t.Fatalf("node %d: list after shrink to one = %v", id, list[:2])
		}
		for j := 2; j <= cnt; j++ {
			if list[j] != before[j] {
				t.Fatalf("node %d: word %d past the new count changed from %d to %d", id, j, before[j], list[j])
			}
			if levelOfMeta(metaOf(tab, list[j])) < 1 {
				t.Fatalf("node %d: word %d names node %d, which has no layer 1", id, j, list[j])
			}
		}
		return
	}
	t.Fatal("no node with a layer-1 list of 3 or more; the fixture needs more nodes")
}

// TestConcurrentAddsSmallM inserts from several goroutines into a graph with
// M=2, where upper layers are common and lists are shrunk constantly, while
// searches run: the interleavings that once crashed on a zeroed word.
func TestConcurrentAddsSmallM(t *testing.T) {
	const n, dim = 6000, 8
	data := clustered(11, n, dim, 8)
	g := mustNew(t, Config{Dim: dim, Metric: distance.L2, M: 2, EfConstruction: 16, Seed: 2})
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= n {
					return
				}
				if _, err := g.Add(data[i]); err != nil {
					t.Error(err)
					return
				}
				if i%8 == 0 {
					g.Search(data[i], 5, 16, nil)
				}
			}
		}()
	}
	wg.Wait()
	if g.Len() != n {
		t.Fatalf("Len = %d, want %d", g.Len(), n)
	}
	checkInvariants(t, g)
}
