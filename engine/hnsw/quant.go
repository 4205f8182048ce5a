package hnsw

import (
	"errors"
	"fmt"

	"github.com/akidb/akidb/engine/distance"
)

// Quantized graphs (see doc.go, "Quantization").
//
// A graph always starts with its float32 vectors in the arena and no
// codes. The engine then drives it, one step at a time, towards what the
// collection's settings ask for: codes in a trained Space that searches
// traverse on, and the originals in the arena ("memory") or only in an
// Originals store ("disk"). Each step keeps every search answerable.

// Space is a trained int8 quantizer as the graph uses it (engine/quant's
// Quantizer implements it). Codes have Dim bytes.
type Space interface {
	// Encode writes v's code and returns its correction term (0 unless
	// HasCorr); the space counts what it clamps, for drift.
	Encode(code []int8, v []float32) float32
	// Reencode is Encode for a vector encoded before (not counted again).
	Reencode(code []int8, v []float32) float32
	// Decode writes the vector a code stands for.
	Decode(v []float32, code []int8)
	// Prepare readies q for distances from v to codes of this space.
	Prepare(q *distance.Int8Query, v []float32)
	// HasCorr reports whether codes carry a correction term.
	HasCorr() bool
}

// Originals keeps the float32 vectors of a graph whose arena does not
// (originals on disk). The graph reads them only to re-rank candidates,
// for exact scans and for Vector; it writes a node's vector before the
// node is published. Implementations must be safe for concurrent use.
type Originals interface {
	// WriteVectors stores vectors (len = n*Dim) for ids first..first+n-1.
	WriteVectors(first uint32, vecs []float32) error
	// ReadVectors fills dst (len = n*Dim) with ids first..first+n-1.
	ReadVectors(first uint32, dst []float32) error
}

// codeBlock holds the codes of one chunk's nodes in one space. A block is
// never changed once installed except to add the codes of nodes reserved
// later (under the chunk's codeMu); re-encoding installs a new block.
type codeBlock struct {
	space uint8     // index into quantState.spaces
	codes []int8    // chunkSize*dim
	corr  []float32 // chunkSize, or nil when the space has no correction
}

// quantState is the graph's quantization at one moment. It is immutable:
// changes install a new one (under quantMu), so a search loads it once and
// works with a consistent view.
type quantState struct {
	spaces [2]Space // by block index; nil = unused
	cur    uint8    // the space new codes are written in
	// encode: new nodes get codes in spaces[cur] (in chunks that have a
	// block; new chunks get a block in spaces[cur]).
	encode bool
	// traverse: every chunk has a block, and searches measure codes.
	traverse bool
	// floats: the arena holds the vectors. When false, originals does,
	// and traverse is true.
	floats bool
	// originals, when set, receives every new vector (besides the arena
	// if floats): it is being filled, or it is where the vectors live.
	originals Originals
	// link is the state inserts and list repairs measure with, when it
	// differs from this one (linkQuant).
	link *quantState
}

var errQuantState = errors.New("hnsw: quantization step out of order")

func (g *Graph) quant() *quantState { return g.qs.Load() }

// linkQuant is the state inserts and list repairs measure with: they
// measure the float32 vectors whenever the arena holds them, and codes
// only when the originals are on disk. Ranking a node's candidate
// neighbours by 8-bit approximations builds a worse graph than float32,
// and links made while the data drifts outside the ranges (every
// component clamped, so all such nodes look alike) would stay poor after
// the retraining; with the vectors in memory the graph is the one float32
// builds, and only searches traverse codes.
func (g *Graph) linkQuant() *quantState {
	st := g.quant()
	if st.link != nil {
		return st.link
	}
	return st
}

func (st *quantState) with(f func(n *quantState)) *quantState {
	n := *st
	f(&n)
	return n.withLink()
}

// withLink sets n.link and returns n.
func (n *quantState) withLink() *quantState {
	n.link = nil
	if n.traverse && n.floats {
		l := *n
		l.traverse = false
		n.link = &l
	}
	return n
}

func (st *quantState) spaceCount() int {
	n := 0
	for _, s := range st.spaces {
		if s != nil {
			n++
		}
	}
	return n
}

// newBlock makes an empty block in space idx of st.
func (g *Graph) newBlock(st *quantState, idx uint8) *codeBlock {
	return g.allocBlock(idx, st.spaces[idx].HasCorr())
}

// QuantInfo describes the graph's quantization for status reports.
type QuantInfo struct {
	// Spaces in use (2 while re-encoding into a new one).
	Spaces int
	// Encoding: new vectors get codes; Traversing: searches use them.
	Encoding, Traversing bool
	// Floats: the vectors are in memory; Originals: a store receives them.
	Floats, Originals bool
	// ChunksCurrent of Chunks have codes in the current space.
	ChunksCurrent, Chunks int
}

// CurrentSpace returns the index of the space new codes are written in,
// and false when new vectors get no codes.
func (g *Graph) CurrentSpace() (uint8, bool) {
	st := g.quant()
	return st.cur, st.encode
}

// QuantInfo reports the graph's quantization state.
func (g *Graph) QuantInfo() QuantInfo {
	st := g.quant()
	tab := g.table.Load().chunks
	n := int(min(g.count.Load(), uint64(limitOf(tab))))
	qi := QuantInfo{Spaces: st.spaceCount(), Encoding: st.encode, Traversing: st.traverse, Floats: st.floats, Originals: st.originals != nil}
	for ci := 0; ci<<chunkBits < n; ci++ {
		qi.Chunks++
		if b := tab[ci].codes.Load(); b != nil && st.encode && b.space == st.cur {
			qi.ChunksCurrent++
		}
	}
	return qi
}

// BeginEncoding starts writing codes in space: new nodes are encoded in
// it from now on (chunks made from now on get a block in it), and
// EncodeChunks converts the existing chunks. Searches keep measuring what
// they measured (floats, or codes of the older space) until FinishEncoding.
// It fails while another encoding is under way.
func (g *Graph) BeginEncoding(space Space) error {
	g.quantMu.Lock()
	defer g.quantMu.Unlock()
	// Exclusively: a search prepares its query for the spaces in use when
	// it starts, so none may be running when blocks of a new space can
	// appear. Stoppable searches give way.
	defer g.holdExclusive()()
	g.freeRetired()
	st := g.quant()
	if st.spaceCount() == 2 || (st.encode && !st.traverse) {
		return fmt.Errorf("%w: an encoding is already under way", errQuantState)
	}
	idx := uint8(0)
	if st.spaces[0] != nil {
		idx = 1
	}
	g.qs.Store(st.with(func(n *quantState) {
		n.spaces[idx], n.cur, n.encode = space, idx, true
	}))
	return nil
}

// EncodeChunks converts every chunk whose codes are not in the current
// space, reading the vectors from the arena or the Originals store. It
// calls stop (may be nil) between chunks and ends with ErrStopped when
// stop says so (what is converted stays converted), and reports progress
// (chunks done, chunks in all) after each chunk. Writers go on meanwhile:
// a chunk is locked only while it is converted.
func (g *Graph) EncodeChunks(stop func() bool, progress func(done, total int)) error {
	g.structMu.RLock()
	defer g.structMu.RUnlock()
	st := g.quant()
	if !st.encode {
		return fmt.Errorf("%w: no encoding begun", errQuantState)
	}
	space := st.spaces[st.cur]
	vecs := make([]float32, chunkSize*g.dim)
	tab := g.table.Load().chunks
	total := len(tab)
	for ci := 0; ci < total; ci++ {
		if stop != nil && stop() {
			return ErrStopped
		}
		c := tab[ci]
		if b := c.codes.Load(); b == nil || b.space != st.cur {
			if err := g.encodeChunk(st, space, c, ci, vecs); err != nil {
				return err
			}
		}
		if progress != nil {
			progress(ci+1, total)
		}
	}
	return nil
}

// encodeChunk builds chunk ci's block in the current space from the
// vectors of its published nodes, holding the chunk's codeMu so that no
// node is published in it meanwhile (Reserve publishes under codeMu).
func (g *Graph) encodeChunk(st *quantState, space Space, c *chunk, ci int, buf []float32) error {
	c.codeMu.Lock()
	defer c.codeMu.Unlock()
	nb := g.newBlock(st, st.cur)
	var vecs []float32
	if cur := g.quant(); cur.floats && c.vecs != nil {
		vecs = c.vecs
	} else {
		o := cur.originals
		if o == nil {
			return fmt.Errorf("%w: no vectors to encode chunk %d from", errQuantState, ci)
		}
		// Only published nodes: the rest have no vector yet.
		if err := readyRuns(c, chunkSize, func(from, to int) error {
			return o.ReadVectors(uint32(ci<<chunkBits+from), buf[from*g.dim:to*g.dim])
		}); err != nil {
			return fmt.Errorf("hnsw: read vectors of chunk %d: %w", ci, err)
		}
		vecs = buf
	}
	for i := 0; i < chunkSize; i++ {
		if c.meta[i].Load()&metaReady == 0 {
			continue
		}
		v := vecs[i*g.dim : (i+1)*g.dim]
		corr := space.Reencode(nb.codes[i*g.dim:(i+1)*g.dim], v)
		if nb.corr != nil {
			nb.corr[i] = corr
		}
	}
	old := c.codes.Swap(nb)
	g.retire(old)
	return nil
}

// FinishEncoding makes searches measure the current space's codes and
// forgets the older space. It converts, while writers wait, any chunk
// EncodeChunks did not (one made while it ran). With an Allocator, it then
// gives the replaced blocks back (collectRetired).
func (g *Graph) FinishEncoding() error {
	if err := g.finishEncoding(); err != nil {
		return err
	}
	g.collectRetired()
	return nil
}

func (g *Graph) finishEncoding() error {
	g.quantMu.Lock()
	defer g.quantMu.Unlock()
	g.structMu.RLock()
	defer g.structMu.RUnlock()
	g.mutateMu.Lock()
	defer g.mutateMu.Unlock()
	st := g.quant()
	if !st.encode {
		return fmt.Errorf("%w: no encoding begun", errQuantState)
	}
	var buf []float32
	for ci, c := range g.table.Load().chunks {
		if b := c.codes.Load(); b == nil || b.space != st.cur {
			if buf == nil {
				buf = make([]float32, chunkSize*g.dim)
			}
			if err := g.encodeChunk(st, st.spaces[st.cur], c, ci, buf); err != nil {
				return err
			}
		}
	}
	g.qs.Store(st.with(func(n *quantState) {
		n.traverse = true
		n.spaces[1-n.cur] = nil
	}))
	return nil
}

// checkBlocks verifies that every chunk with nodes has a block, in the
// current space if current is set (else in any space st has).
func (g *Graph) checkBlocks(st *quantState, current bool) error {
	tab := g.table.Load().chunks
	n := int(min(g.count.Load(), uint64(limitOf(tab))))
	for ci := 0; ci<<chunkBits < n; ci++ {
		b := tab[ci].codes.Load()
		switch {
		case b == nil:
			return fmt.Errorf("%w: chunk %d has no codes", errQuantState, ci)
		case current && b.space != st.cur:
			return fmt.Errorf("%w: chunk %d is not in the current space", errQuantState, ci)
		case int(b.space) >= len(st.spaces) || st.spaces[b.space] == nil:
			return fmt.Errorf("%w: chunk %d names space %d, which is not set", errQuantState, ci, b.space)
		}
	}
	return nil
}

// DropCodes turns quantization off: searches measure floats again and the
// codes are freed. The vectors must be in the arena. Stoppable searches in
// progress give way (ErrInterrupted) as for a Vacuum.
func (g *Graph) DropCodes() error {
	g.quantMu.Lock()
	defer g.quantMu.Unlock()
	defer g.holdExclusive()()
	st := g.quant()
	if !st.floats {
		return fmt.Errorf("%w: the vectors are not in memory", errQuantState)
	}
	for _, c := range g.table.Load().chunks {
		g.retire(c.codes.Swap(nil))
	}
	g.freeRetired()
	g.qs.Store(st.with(func(n *quantState) {
		n.spaces, n.cur, n.encode, n.traverse = [2]Space{}, 0, false, false
	}))
	return nil
}

// SetOriginals makes every new vector go to o as well as to the arena;
// WriteOriginals then copies the existing ones. nil stops that (the arena
// must hold the vectors); it holds the graph exclusively (stoppable
// searches give way), so that when it returns nothing reads or writes the
// old store any more and the caller may close it: a search that began
// before LoadFloats finished may still be reading it.
func (g *Graph) SetOriginals(o Originals) error {
	g.quantMu.Lock()
	defer g.quantMu.Unlock()
	if o == nil {
		defer g.holdExclusive()()
	} else {
		g.structMu.RLock()
		defer g.structMu.RUnlock()
	}
	// mutateMu: no Reserve is between writing its vector and publishing,
	// so WriteOriginals, which starts after this, sees every vector that
	// missed o.
	g.mutateMu.Lock()
	defer g.mutateMu.Unlock()
	st := g.quant()
	if o == nil && !st.floats {
		return fmt.Errorf("%w: the vectors are only in the originals store", errQuantState)
	}
	g.qs.Store(st.with(func(n *quantState) { n.originals = o }))
	return nil
}

// WriteOriginals copies the arena's vectors of published nodes to the
// originals store, a chunk at a time, with stop and progress as
// EncodeChunks.
func (g *Graph) WriteOriginals(stop func() bool, progress func(done, total int)) error {
	g.structMu.RLock()
	defer g.structMu.RUnlock()
	st := g.quant()
	if st.originals == nil || !st.floats {
		return fmt.Errorf("%w: no originals store, or no vectors in memory", errQuantState)
	}
	tab := g.table.Load().chunks
	n := int(min(g.count.Load(), uint64(limitOf(tab))))
	total := (n + chunkMask) >> chunkBits
	for ci := 0; ci < total; ci++ {
		if stop != nil && stop() {
			return ErrStopped
		}
		c := tab[ci]
		if err := readyRuns(c, min(chunkSize, n-ci<<chunkBits), func(from, to int) error {
			return st.originals.WriteVectors(uint32(ci<<chunkBits+from), c.vecs[from*g.dim:to*g.dim])
		}); err != nil {
			return fmt.Errorf("hnsw: write vectors of chunk %d: %w", ci, err)
		}
		if progress != nil {
			progress(ci+1, total)
		}
	}
	return nil
}

// DropFloats frees the arena's vectors: from now on they are read from
// the originals store, which must hold every one of them (SetOriginals,
// WriteOriginals, and whatever the store needs to make that durable), and
// searches must traverse codes. Stoppable searches give way.
func (g *Graph) DropFloats() error {
	g.quantMu.Lock()
	defer g.quantMu.Unlock()
	st := g.quant()
	if st.originals == nil || !st.traverse {
		return fmt.Errorf("%w: vectors leave memory only for a store, on a graph that traverses codes", errQuantState)
	}
	defer g.holdExclusive()()
	g.mutateMu.Lock()
	defer g.mutateMu.Unlock()
	for _, c := range g.table.Load().chunks {
		c.codeMu.Lock()
		c.vecs = nil
		c.codeMu.Unlock()
	}
	g.qs.Store(st.with(func(n *quantState) { n.floats = false }))
	return nil
}

// LoadFloats reads every vector back from the originals store into the
// arena, a chunk at a time (stop and progress as EncodeChunks), and then
// keeps them there: searches re-rank from memory, and the store goes on
// receiving new vectors until SetOriginals(nil).
func (g *Graph) LoadFloats(stop func() bool, progress func(done, total int)) error {
	g.structMu.RLock()
	st := g.quant()
	if st.floats {
		g.structMu.RUnlock()
		return nil
	}
	tab := g.table.Load().chunks
	total := len(tab)
	for ci := 0; ci < total; ci++ {
		if stop != nil && stop() {
			g.structMu.RUnlock()
			return ErrStopped
		}
		if err := g.loadChunk(st, tab[ci], ci); err != nil {
			g.structMu.RUnlock()
			return err
		}
		if progress != nil {
			progress(ci+1, total)
		}
	}
	g.structMu.RUnlock()
	// New chunks made meanwhile have no arena vectors yet; the last ones
	// are loaded while writers wait.
	g.quantMu.Lock()
	defer g.quantMu.Unlock()
	g.structMu.RLock()
	defer g.structMu.RUnlock()
	g.mutateMu.Lock()
	defer g.mutateMu.Unlock()
	tab = g.table.Load().chunks
	for ci := total; ci < len(tab); ci++ {
		if err := g.loadChunk(st, tab[ci], ci); err != nil {
			return err
		}
	}
	g.qs.Store(g.quant().with(func(n *quantState) { n.floats = true }))
	return nil
}

// loadChunk gives chunk ci arena vectors read from the originals store
// (those of nodes published so far; Reserve fills in the rest under the
// same lock).
func (g *Graph) loadChunk(st *quantState, c *chunk, ci int) error {
	c.codeMu.Lock()
	defer c.codeMu.Unlock()
	if c.vecs != nil {
		return nil
	}
	v := make([]float32, chunkSize*g.dim)
	if err := readyRuns(c, chunkSize, func(from, to int) error {
		return st.originals.ReadVectors(uint32(ci<<chunkBits+from), v[from*g.dim:to*g.dim])
	}); err != nil {
		return fmt.Errorf("hnsw: read vectors of chunk %d: %w", ci, err)
	}
	c.vecs = v
	return nil
}

// readyRuns calls fn with each run [from, to) of published nodes among
// the first limit slots of chunk c. Reserves publish out of order (ids are
// taken in order, nodes finish in any), so a node still in flight can sit
// between published ones: each run is read or written on its own, and the
// node in flight gets its vector from its own Reserve, which writes the
// arena, the store and its code under the codeMu the caller holds.
func readyRuns(c *chunk, limit int, fn func(from, to int) error) error {
	for i := 0; i < limit; {
		if c.meta[i].Load()&metaReady == 0 {
			i++
			continue
		}
		from := i
		for i < limit && c.meta[i].Load()&metaReady != 0 {
			i++
		}
		if err := fn(from, i); err != nil {
			return err
		}
	}
	return nil
}

// RestoreQuantization installs the state a decoded graph was saved in:
// the spaces its code blocks name (by index), which one is current,
// whether new vectors are encoded and searches traverse codes, and the
// originals store (required when the encoding held no vectors). It
// checks that the blocks agree.
func (g *Graph) RestoreQuantization(spaces [2]Space, cur uint8, encode, traverse bool, o Originals) error {
	g.quantMu.Lock()
	defer g.quantMu.Unlock()
	st := g.quant()
	n := (&quantState{spaces: spaces, cur: cur, encode: encode, traverse: traverse, floats: st.floats, originals: o}).withLink()
	switch {
	case int(cur) >= len(spaces):
		return fmt.Errorf("%w: current space %d", errQuantState, cur)
	case (encode || traverse) && spaces[cur] == nil:
		return fmt.Errorf("%w: current space %d is not set", errQuantState, cur)
	case traverse && !encode:
		return fmt.Errorf("%w: traversing codes that are not kept up", errQuantState)
	case !n.floats && (o == nil || !traverse):
		return fmt.Errorf("%w: the vectors are not in memory, so the graph needs its originals and codes", errQuantState)
	}
	if traverse {
		if err := g.checkBlocks(n, false); err != nil {
			return err
		}
	}
	tab := g.table.Load().chunks
	for ci, c := range tab {
		b := c.codes.Load()
		if b == nil {
			continue
		}
		if spaces[b.space] == nil {
			return fmt.Errorf("%w: chunk %d names space %d, which is not set", errQuantState, ci, b.space)
		}
		if (b.corr != nil) != spaces[b.space].HasCorr() {
			return fmt.Errorf("%w: chunk %d's correction terms do not match its space", errQuantState, ci)
		}
	}
	g.qs.Store(n)
	return nil
}

// encodeNode writes the code of a node being reserved (the caller holds
// c.codeMu); a chunk without a block is left for EncodeChunks.
func (g *Graph) encodeNode(st *quantState, c *chunk, i int, v []float32) {
	b := c.codes.Load()
	if b == nil {
		return
	}
	corr := st.spaces[b.space].Encode(b.codes[i*g.dim:(i+1)*g.dim], v)
	if b.corr != nil {
		b.corr[i] = corr
	}
}
