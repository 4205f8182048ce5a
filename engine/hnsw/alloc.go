package hnsw

import (
	"errors"
	"sync/atomic"
	"unsafe"
)

// errReleased is what Encode returns for a state frozen before Release.
var errReleased = errors.New("hnsw encode: the graph was released")

// Allocator provides the memory of a graph's layer-0 lists and code
// blocks, the two arrays that grow with every node of a quantized graph
// (engine/mapped's Arena puts them in file-backed shared mappings, page
// cache rather than heap). The graph calls Free only for a region nothing
// can read any more: under structMu held exclusively, with no Frozen state
// pending. Alloc must return zeroed memory aligned to at least 8 bytes and
// must not fail (an allocator that cannot map falls back to the heap).
type Allocator interface {
	Alloc(n int) []byte
	Free(b []byte)
}

func (g *Graph) allocBytes(n int) []byte {
	if g.cfg.Alloc == nil {
		return make([]byte, n)
	}
	return g.cfg.Alloc.Alloc(n)
}

func (g *Graph) allocWords(n int) []uint32 {
	if g.cfg.Alloc == nil {
		return make([]uint32, n)
	}
	b := g.cfg.Alloc.Alloc(n * 4)
	return unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(b))), n)
}

// allocBlock makes an empty code block in space idx.
func (g *Graph) allocBlock(idx uint8, corr bool) *codeBlock {
	b := &codeBlock{space: idx}
	if g.cfg.Alloc == nil {
		b.codes = make([]int8, chunkSize*g.dim)
		if corr {
			b.corr = make([]float32, chunkSize)
		}
		return b
	}
	raw := g.cfg.Alloc.Alloc(chunkSize * g.dim)
	b.codes = unsafe.Slice((*int8)(unsafe.Pointer(unsafe.SliceData(raw))), len(raw))
	if corr {
		raw := g.cfg.Alloc.Alloc(chunkSize * 4)
		b.corr = unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(raw))), chunkSize)
	}
	return b
}

func bytesOf[T uint32 | int8 | float32](s []T) []byte {
	if cap(s) == 0 {
		return nil
	}
	var x T
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), cap(s)*int(unsafe.Sizeof(x)))
}

// freeBlock gives a block's memory back. The caller holds structMu
// exclusively and no Frozen state can hold the block.
func (g *Graph) freeBlock(b *codeBlock) {
	if b == nil || g.cfg.Alloc == nil {
		return
	}
	g.cfg.Alloc.Free(bytesOf(b.codes))
	g.cfg.Alloc.Free(bytesOf(b.corr))
	b.codes, b.corr = nil, nil
}

// freeChunk gives a chunk's lists and block back (structMu held
// exclusively; the chunk is out of the table).
func (g *Graph) freeChunk(c *chunk) {
	if g.cfg.Alloc == nil {
		return
	}
	g.cfg.Alloc.Free(bytesOf(c.links0))
	c.links0 = nil
	g.retire(c.codes.Swap(nil))
}

// pinRef is what unpinning a Frozen state needs (not the state itself,
// so that a cleanup can run it).
type pinRef struct {
	g   *Graph
	pin *atomic.Bool
}

// unpin ends a Frozen state's hold on the blocks, once.
func unpin(r pinRef) {
	if r.pin.CompareAndSwap(true, false) {
		r.g.frozen.Add(-1)
	}
}

// retire queues a block that readers may still hold (a search under
// structMu's read lock, a Frozen state) to be given back later.
func (g *Graph) retire(b *codeBlock) {
	if b == nil || g.cfg.Alloc == nil {
		return
	}
	g.retiredMu.Lock()
	g.retired = append(g.retired, b)
	g.retiredMu.Unlock()
}

// freeRetired gives the retired blocks back unless a Frozen state may
// still encode one. The caller holds structMu exclusively, so no search
// holds them.
func (g *Graph) freeRetired() {
	if g.cfg.Alloc == nil || g.frozen.Load() > 0 {
		return
	}
	g.retiredMu.Lock()
	defer g.retiredMu.Unlock()
	for _, b := range g.retired {
		g.freeBlock(b)
	}
	g.retired = nil
}

// collectRetired gives the retired blocks back now, holding the graph
// exclusively for that moment (stoppable searches give way, as for a
// Vacuum): a re-encoding would otherwise leave the old space's blocks
// allocated until the next exclusive step. Nothing to do without an
// Allocator, with nothing retired, or while a Frozen state holds them.
func (g *Graph) collectRetired() {
	if g.cfg.Alloc == nil || g.frozen.Load() > 0 {
		return
	}
	g.retiredMu.Lock()
	n := len(g.retired)
	g.retiredMu.Unlock()
	if n == 0 {
		return
	}
	g.quantMu.Lock()
	defer g.quantMu.Unlock()
	defer g.holdExclusive()()
	g.freeRetired()
}

// Release empties the graph and gives all its Allocator memory back, so
// that the allocator can be closed: searches after it find nothing, and
// Encode of a state frozen before it fails. It waits for searches and
// encodings in progress. A graph without an Allocator is only emptied.
func (g *Graph) Release() {
	g.quantMu.Lock()
	defer g.quantMu.Unlock()
	defer g.holdExclusive()()
	g.mutateMu.Lock()
	defer g.mutateMu.Unlock()
	if g.released {
		return
	}
	g.released = true
	for _, c := range g.table.Load().chunks {
		g.freeChunk(c)
	}
	g.frozen.Store(0) // they fail to encode now
	g.freeRetired()
	g.table.Store(&chunkTable{})
	g.entry.Store(noEntry)
	g.count.Store(0)
	g.deleted.Store(0)
}

// AllocatedBytes returns what the graph's layer-0 lists and code blocks
// take (the memory an Allocator provides), counting whole chunks.
func (g *Graph) AllocatedBytes() int64 {
	g.structMu.RLock()
	defer g.structMu.RUnlock()
	var n int64
	for _, c := range g.table.Load().chunks {
		n += int64(len(c.links0)) * 4
		if b := c.codes.Load(); b != nil {
			n += int64(len(b.codes)) + int64(len(b.corr))*4
		}
	}
	return n
}

// errNotEmpty is SetAllocator's refusal once the graph has chunks.
var errNotEmpty = errors.New("hnsw: the allocator can only change on a graph with no chunks yet")

// SetAllocator makes a graph that has no chunks yet (made by New without
// InitialCapacity) take its lists and code blocks from a (nil: the heap).
func (g *Graph) SetAllocator(a Allocator) error {
	g.structMu.Lock()
	defer g.structMu.Unlock()
	g.growMu.Lock()
	defer g.growMu.Unlock()
	if len(g.table.Load().chunks) > 0 {
		return errNotEmpty
	}
	g.cfg.Alloc = a
	return nil
}
