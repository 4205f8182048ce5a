package hnsw

import (
	"math/rand/v2"
	"testing"

	"github.com/akidb/akidb/engine/distance"
)

// TestInsertNamesNodeOnlyOnceLinkedBelow holds an insert of an upper-layer
// node X at the moment X is first named on a layer above 0, and inserts
// vectors next to X meanwhile. X's lists on the layers below must already
// be written then: an insert whose descent reaches X walks down from it.
// (Written top down, X's lower lists were still empty at that moment:
// the vectors inserted stopped at X and linked on layer 0 to X and one
// another only, an island whose one way in was X's list.)
func TestInsertNamesNodeOnlyOnceLinkedBelow(t *testing.T) {
	const dim = 16
	g := build(t, Config{Dim: dim, Metric: distance.L2, M: 8, EfConstruction: 64, Seed: 4}, clustered(61, 2000, dim, 8))
	more := clustered(62, 400, dim, 8)
	x := uint32(noID)
	var xv []float32
	for _, v := range more {
		id, err := g.Reserve(v)
		if err != nil {
			t.Fatal(err)
		}
		if levelOfMeta(metaOf(g.table.Load().chunks, id)) >= 1 {
			x, xv = id, v
			break
		}
		g.Link(id)
	}
	if x == noID {
		t.Fatal("no upper-layer node among the vectors drawn")
	}

	named, release, done := make(chan int), make(chan struct{}), make(chan struct{})
	held := false
	g.linkHook = func(id uint32, level int) {
		if id == x && level >= 1 && !held {
			held = true
			named <- level
			<-release
		}
	}
	go func() {
		defer close(done)
		g.Link(x)
	}()
	level := <-named
	tab := g.table.Load().chunks
	for l := range level {
		if n := g.linkList(tab, x, l)[0]; n == 0 {
			t.Errorf("node %d named on layer %d while its list on layer %d is empty", x, level, l)
		}
	}
	rng := rand.New(rand.NewPCG(63, 63))
	var near []uint32
	for range 5 {
		v := make([]float32, dim)
		for j := range v {
			v[j] = xv[j] + float32(rng.NormFloat64())*0.1
		}
		id, err := g.Add(v)
		if err != nil {
			t.Fatal(err)
		}
		near = append(near, id)
	}
	// They link to the graph around X, not only to X and one another.
	tab = g.table.Load().chunks
	island := map[uint32]bool{x: true}
	for _, y := range near {
		island[y] = true
	}
	outside := 0
	for _, y := range near {
		list := g.linkList(tab, y, 0)
		for _, z := range list[1 : 1+list[0]] {
			if !island[z] {
				outside++
			}
		}
	}
	if outside == 0 {
		t.Errorf("the %d nodes inserted next to %d during its insert link only to it and one another", len(near), x)
	}
	close(release)
	<-done
	g.linkHook = nil
	if ids, _ := g.Unreached(); len(ids) > 0 {
		t.Errorf("unreached from the entry point: %v", ids)
	}
	checkInvariants(t, g)
}
