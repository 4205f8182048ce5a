package hnsw

import (
	"bytes"
	"errors"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/quant"
)

// poisonAlloc is an Allocator for the graph's unit tests: it tracks the
// regions it hands out, fails the test on a double or foreign Free, and
// fills a freed region with 0xab (keeping it reachable), so that a graph
// still reading a region it gave back answers differently.
type poisonAlloc struct {
	t     testing.TB
	mu    sync.Mutex
	live  map[unsafe.Pointer]int
	freed [][]byte
	bytes int64
}

func newPoisonAlloc(t testing.TB) *poisonAlloc {
	return &poisonAlloc{t: t, live: make(map[unsafe.Pointer]int)}
}

func (p *poisonAlloc) Alloc(n int) []byte {
	b := make([]byte, n)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.live[unsafe.Pointer(unsafe.SliceData(b))] = n
	p.bytes += int64(n)
	return b
}

func (p *poisonAlloc) Free(b []byte) {
	if cap(b) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ptr := unsafe.Pointer(unsafe.SliceData(b))
	n, ok := p.live[ptr]
	if !ok || n != cap(b) {
		p.t.Errorf("Free of a region not handed out (or freed twice): %d bytes", cap(b))
		return
	}
	delete(p.live, ptr)
	p.bytes -= int64(n)
	b = b[:cap(b)]
	for i := range b {
		b[i] = 0xab
	}
	p.freed = append(p.freed, b)
}

func (p *poisonAlloc) liveBytes() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bytes
}

// TestAllocatorHoldsListsAndCodes: with an Allocator, the layer-0 lists
// and the code blocks come from it (and nothing else does), the graph
// answers and encodes exactly as the same graph on the heap, and every
// step that replaces or drops blocks or chunks (re-encoding, vacuum,
// DropCodes, Release) gives their memory back without a reader seeing it
// poisoned.
func TestAllocatorHoldsListsAndCodes(t *testing.T) {
	const dim = 24
	data := clustered(41, 1500, dim, 15)
	queries := clustered(42, 40, dim, 15)
	cfg := Config{Dim: dim, Metric: distance.L2, M: 8, EfConstruction: 64, Seed: 3}
	pa := newPoisonAlloc(t)
	heap := build(t, cfg, data)
	cfg.Alloc = pa
	g := build(t, cfg, data)
	same := func(step string) {
		t.Helper()
		if !bytes.Equal(encode(t, g), encode(t, heap)) {
			t.Fatalf("%s: the graph on the allocator encodes differently", step)
		}
		for i, q := range queries {
			a, c := heap.Search(q, 10, 48, nil), g.Search(q, 10, 48, nil)
			if !slices.Equal(a, c) {
				t.Fatalf("%s: query %d: %v on the allocator, %v on the heap", step, i, c, a)
			}
		}
		// Blocks replaced by a re-encoding while a Frozen state held them
		// stay until the next exclusive step, so the allocator may hold
		// more than the graph counts.
		if got, want := pa.liveBytes(), g.AllocatedBytes(); got < want {
			t.Fatalf("%s: allocator holds %d bytes, the graph counts %d", step, got, want)
		}
	}
	chunks := int64((len(data) + chunkMask) >> chunkBits)
	same("float graph")
	if got, want := pa.liveBytes(), chunks*chunkSize*int64(2*cfg.M+1)*4; got != want {
		t.Fatalf("float graph: allocator holds %d bytes, want the lists' %d", got, want)
	}

	sp := train(t, data, distance.L2, quant.RangesDimension)
	for _, h := range []*Graph{heap, g} {
		quantize(t, h, sp)
	}
	same("quantized")
	if got, want := pa.liveBytes(), chunks*chunkSize*(int64(2*cfg.M+1)*4+dim); got < want {
		t.Fatalf("quantized: allocator holds %d bytes, want at least lists and codes, %d", got, want)
	}
	oh, og := &memOriginals{dim: dim}, &memOriginals{dim: dim}
	toDisk(t, heap, oh)
	toDisk(t, g, og)
	same("originals on disk")

	// A state frozen before a re-encoding keeps its blocks until encoded,
	// even when the graph would give the replaced ones back meanwhile.
	frozen := g.Freeze()
	var want bytes.Buffer
	if err := heap.Freeze().Encode(&want); err != nil {
		t.Fatal(err)
	}
	sp2 := train(t, data[:700], distance.L2, quant.RangesCollection)
	for _, h := range []*Graph{heap, g} {
		quantize(t, h, sp2)
		if err := h.BeginEncoding(sp); err != nil { // exclusive: retired blocks may go now
			t.Fatal(err)
		}
	}
	var got bytes.Buffer
	if err := frozen.Encode(&got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatal("a frozen state's blocks were given back before it was encoded")
	}
	for _, h := range []*Graph{heap, g} {
		if err := h.EncodeChunks(nil, nil); err != nil {
			t.Fatal(err)
		}
		if err := h.FinishEncoding(); err != nil {
			t.Fatal(err)
		}
	}
	same("re-encoded twice")
	if got, want := pa.liveBytes(), g.AllocatedBytes(); got != want {
		t.Fatalf("after a re-encoding: allocator holds %d bytes, the graph counts %d (the old blocks were not given back)", got, want)
	}

	// Vacuum frees the chunks it no longer needs and the retired blocks.
	for id := uint32(0); id < uint32(len(data)); id += 2 {
		for _, h := range []*Graph{heap, g} {
			if err := h.Delete(id); err != nil {
				t.Fatal(err)
			}
		}
	}
	plan := g.PlanVacuum()
	oh.compact(plan)
	og.compact(plan)
	if _, err := heap.VacuumOriginals(oh); err != nil {
		t.Fatal(err)
	}
	if _, err := g.VacuumOriginals(og); err != nil {
		t.Fatal(err)
	}
	same("vacuumed")
	liveChunks := int64((len(data)/2 + chunkMask) >> chunkBits)
	perNode := int64(2*cfg.M+1)*4 + dim
	if sp.HasCorr() {
		perNode += 4
	}
	if got, want := pa.liveBytes(), liveChunks*chunkSize*perNode; got != want {
		t.Fatalf("vacuumed: allocator holds %d bytes, want %d for %d chunks", got, want, liveChunks)
	}

	// Decoding onto an allocator puts lists and codes there too.
	pd := newPoisonAlloc(t)
	d, err := DecodeWith(bytes.NewReader(encode(t, g)), pd)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.RestoreQuantization([2]Space{sp}, 0, true, true, og); err != nil {
		t.Fatal(err)
	}
	if pd.liveBytes() != pa.liveBytes() {
		t.Fatalf("decoded graph holds %d bytes of its allocator, the original %d", pd.liveBytes(), pa.liveBytes())
	}

	// Back to memory and no codes: the blocks go, the lists stay.
	for _, h := range []*Graph{heap, g} {
		if err := h.LoadFloats(nil, nil); err != nil {
			t.Fatal(err)
		}
		if err := h.DropCodes(); err != nil {
			t.Fatal(err)
		}
	}
	same("codes dropped")
	if got, want := pa.liveBytes(), liveChunks*chunkSize*int64(2*cfg.M+1)*4; got != want {
		t.Fatalf("codes dropped: allocator holds %d bytes, want the lists' %d", got, want)
	}

	// Release gives everything back; the graph is empty and a state
	// frozen before it does not encode.
	frozen = g.Freeze()
	g.Release()
	if got := pa.liveBytes(); got != 0 {
		t.Fatalf("released: allocator holds %d bytes", got)
	}
	if res := g.Search(queries[0], 10, 48, nil); len(res) != 0 {
		t.Fatalf("released graph answers %v", res)
	}
	if err := frozen.Encode(&bytes.Buffer{}); !errors.Is(err, errReleased) {
		t.Fatalf("encoding a state frozen before Release: %v", err)
	}
	g.Release() // twice is a no-op
}

// TestAllocatorUnderConcurrency runs searches and adds against
// re-encodings and vacuums on an allocator that poisons what it gets back
// (run with -race): no reader sees a region after it was given back.
func TestAllocatorUnderConcurrency(t *testing.T) {
	const dim = 16
	data := clustered(43, 3000, dim, 12)
	pa := newPoisonAlloc(t)
	g := build(t, Config{Dim: dim, Metric: distance.L2, M: 8, EfConstruction: 40, Seed: 9, Alloc: pa}, data[:1500])
	o := &memOriginals{dim: dim}
	quantize(t, g, train(t, data[:1500], distance.L2, quant.RangesDimension))
	toDisk(t, g, o)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var searchErr error
	var errMu sync.Mutex
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				q := data[(i*7+w)%len(data)]
				res, err := g.SearchWith(q, 5, 32, SearchOptions{})
				if err != nil && !errors.Is(err, ErrInterrupted) {
					errMu.Lock()
					searchErr = err
					errMu.Unlock()
					return
				}
				for _, n := range res {
					if n.Dist < 0 || n.ID >= uint32(g.Len()+1500) {
						errMu.Lock()
						searchErr = errors.New("search returned an impossible neighbour")
						errMu.Unlock()
						return
					}
				}
			}
		}(w)
	}
	adds := make(chan error, 1)
	go func() {
		for _, v := range data[1500:] {
			if _, err := g.Add(v); err != nil {
				adds <- err
				return
			}
		}
		adds <- nil
	}()
	for round := 0; round < 3; round++ {
		quantize(t, g, train(t, data[:1000+round*300], distance.L2, quant.RangesCollection))
	}
	if err := <-adds; err != nil {
		t.Fatal(err)
	}
	for id := uint32(0); id < uint32(len(data)); id += 3 {
		if err := g.Delete(id); err != nil {
			t.Fatal(err)
		}
	}
	plan := g.PlanVacuum()
	o.compact(plan)
	if _, err := g.VacuumOriginals(o); err != nil {
		t.Fatal(err)
	}
	quantize(t, g, train(t, data[:1200], distance.L2, quant.RangesDimension))
	close(stop)
	wg.Wait()
	if searchErr != nil {
		t.Fatal(searchErr)
	}
	if got, want := pa.liveBytes(), g.AllocatedBytes(); got < want {
		t.Fatalf("allocator holds %d bytes, the graph counts %d", got, want)
	}
	checkInvariants(t, g)
}

// TestFrozenDroppedUnencodedUnpins: a Frozen state that is never encoded
// (its checkpoint failed before the graph section) stops holding the
// retired blocks once it is collected, so they are given back at the next
// exclusive step.
func TestFrozenDroppedUnencodedUnpins(t *testing.T) {
	const dim = 8
	data := clustered(44, 600, dim, 6)
	pa := newPoisonAlloc(t)
	g := build(t, Config{Dim: dim, Metric: distance.L2, M: 4, EfConstruction: 16, Seed: 2, Alloc: pa}, data)
	quantize(t, g, train(t, data, distance.L2, quant.RangesDimension))
	func() { _ = g.Freeze() }() // dropped without Encode
	quantize(t, g, train(t, data[:300], distance.L2, quant.RangesCollection))
	deadline := time.Now().Add(30 * time.Second)
	for g.frozen.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("a Frozen state dropped unencoded still pins the retired blocks")
		}
		runtime.GC()
		runtime.Gosched()
	}
	if err := g.DropCodes(); err != nil { // exclusive: gives the retired blocks back
		t.Fatal(err)
	}
	if got, want := pa.liveBytes(), g.AllocatedBytes(); got != want {
		t.Fatalf("allocator holds %d bytes after the retired blocks went, the graph counts %d", got, want)
	}
}
