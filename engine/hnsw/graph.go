package hnsw

import (
	"math"
	"sync"
	"sync/atomic"

	"github.com/akidb/akidb/engine/distance"
)

// The arena is a table of fixed-size chunks. A chunk never moves once
// allocated, so a reader holding a table snapshot can keep using it while
// the graph grows; growth copies the (small) table and swaps it atomically.
const (
	chunkBits = 8
	chunkSize = 1 << chunkBits
	chunkMask = chunkSize - 1
)

// noID marks "no node": in oldToNew, in the encoding's entry field, and as
// the self id of a plain search.
const noID = math.MaxUint32

// Bits of a node's meta word. The word is written atomically: Add stores it
// (ready + level) after copying the vector, Delete ORs in metaDeleted.
const (
	metaReady      = 1 << 0
	metaDeleted    = 1 << 1
	metaLevelShift = 8
	metaLevelMask  = 0xff
)

// chunk holds chunkSize consecutive nodes.
type chunk struct {
	// vecs holds chunkSize*dim floats; node i's vector is at i*dim. It is
	// nil when the vectors live in an Originals store (quant.go).
	vecs []float32
	// codes holds the nodes' int8 codes on a quantized graph (nil
	// otherwise). codeMu is held by Reserve from writing a node's vector
	// and code to publishing it, and by whatever installs a new block or
	// arena vectors, so that those see every published node.
	codes  atomic.Pointer[codeBlock]
	codeMu sync.Mutex
	// links0 holds chunkSize rows of stride0 = 2*M+1 words: the layer-0
	// neighbour count followed by up to 2*M ids.
	links0 []uint32
	// upper[i] is nil for a level-0 node, else level rows of strideUp =
	// M+1 words (count + ids) for layers 1..level. Only ~1/M of nodes have
	// one, so a pointer (8 bytes a node) rather than a slice header (24).
	upper [chunkSize]*[]uint32
	meta  [chunkSize]atomic.Uint32
	// locks serialise writers of a node's neighbour lists. Readers do not
	// lock: every list word is read and written atomically, writers store
	// ids before the count, and every id ever stored names a node whose
	// vector and level were published first. A reader can thus see a list
	// mid-rewrite (a mix of old and new ids) but never an invalid id, which
	// is exactly the guarantee hnswlib's lock-free search relies on.
	locks [chunkSize]sync.Mutex
}

// chunkTable is immutable once published.
type chunkTable struct {
	chunks []*chunk
}

// Graph is an HNSW index over float32 vectors. Add, Search, ExactSearch,
// Delete and Encode are safe for concurrent use; Vacuum excludes them all.
type Graph struct {
	cfg      Config
	dim      int
	m, m0    int
	stride0  int // 2*M + 1 words per layer-0 row
	strideUp int // M + 1 words per upper-layer row
	efc      int
	mL       float64
	dist     distance.Func

	// structMu: Vacuum takes it exclusively because it rewrites the arena;
	// everything else shares it. mutateMu: Encode takes it exclusively to see
	// a quiescent graph; Add and Delete share it. Lock order: structMu first.
	structMu sync.RWMutex
	mutateMu sync.RWMutex

	table  atomic.Pointer[chunkTable]
	growMu sync.Mutex

	count atomic.Uint64 // ids handed out, including in-flight Adds
	// entry packs (level << 32 | id) of the entry point, or noEntry.
	entry atomic.Uint64
	// entryMu is held by an Add whose node will raise the top level, for the
	// whole insert (as hnswlib does), so raises are serialised.
	entryMu sync.Mutex

	levelSeq   atomic.Uint64 // draws of the level generator so far
	deleted    atomic.Int64
	upperWords atomic.Int64
	unlinked   atomic.Int64 // reserved nodes not yet linked or abandoned
	// vacuuming counts Vacuums (and quantization steps) waiting for (or
	// holding) structMu: stoppable searches see it at their next check
	// and give way.
	vacuuming atomic.Int32

	// qs is the quantization state (quant.go); quantMu serialises its
	// changes and is taken before structMu.
	qs      atomic.Pointer[quantState]
	quantMu sync.Mutex

	// reserveHook, set by tests, runs in Reserve between taking an id and
	// writing the node, so a test can hold a node in flight.
	reserveHook func(id uint32)
	// linkHook, set by tests, runs in an insert once the node's lists on
	// a layer and the reverse links to it there are written.
	linkHook func(id uint32, level int)

	// retired holds code blocks replaced while readers could still hold
	// them; with an Allocator they are given back at the next exclusive
	// hold of structMu with no Frozen pending (alloc.go). frozen counts
	// Frozen states not yet encoded (they hold blocks).
	retiredMu sync.Mutex
	retired   []*codeBlock
	frozen    atomic.Int64
	// released: Release gave the memory back; the graph is empty.
	released bool

	// pool holds *scratch. It is a pointer on purpose: the runtime keeps
	// every sync.Pool in use (and its victim cache) reachable until two
	// collections have passed, and an embedded one would keep the whole
	// graph, vectors and all, alive that long after its collection is
	// dropped or evicted from memory.
	pool *sync.Pool
}

const noEntry = math.MaxUint64

func packEntry(id uint32, level int) uint64 { return uint64(level)<<32 | uint64(id) }

func unpackEntry(e uint64) (uint32, int) { return uint32(e), int(e >> 32) }

// Neighbor is one search result. Dist is the metric's "smaller is closer"
// distance (squared L2, or 1 - <a,b> for dot and cosine).
type Neighbor struct {
	ID   uint32
	Dist float32
}

// New returns an empty graph.
func New(cfg Config) (*Graph, error) {
	g, err := newGraph(cfg)
	if err != nil {
		return nil, err
	}
	if n := g.cfg.InitialCapacity; n > 0 {
		g.grow((n - 1) >> chunkBits)
	}
	return g, nil
}

func newGraph(cfg Config) (*Graph, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	g := &Graph{
		cfg:      cfg,
		dim:      cfg.Dim,
		m:        cfg.M,
		m0:       2 * cfg.M,
		stride0:  2*cfg.M + 1,
		strideUp: cfg.M + 1,
		efc:      cfg.EfConstruction,
		mL:       1 / math.Log(float64(cfg.M)),
		dist:     cfg.Metric.Func(),
		pool:     new(sync.Pool),
	}
	g.table.Store(&chunkTable{})
	g.entry.Store(noEntry)
	g.qs.Store(&quantState{floats: true})
	return g, nil
}

// newChunk makes an empty chunk for the current quantization: with arena
// vectors unless they live in an Originals store, and with a code block
// while new vectors are encoded.
func (g *Graph) newChunk() *chunk {
	st := g.quant()
	c := &chunk{links0: g.allocWords(chunkSize * g.stride0)}
	if st.floats {
		c.vecs = make([]float32, chunkSize*g.dim)
	}
	if st.encode {
		c.codes.Store(g.newBlock(st, st.cur))
	}
	return c
}

// grow makes sure chunk ci exists and returns the table that holds it.
func (g *Graph) grow(ci int) *chunkTable {
	g.growMu.Lock()
	defer g.growMu.Unlock()
	t := g.table.Load()
	if ci < len(t.chunks) {
		return t
	}
	// Appending in place is safe: a reader's snapshot never looks past its
	// own length, and the slots written here are past it. Doubling keeps
	// growth amortised O(1) per chunk.
	chunks := t.chunks
	for len(chunks) <= ci {
		chunks = append(chunks, g.newChunk())
	}
	nt := &chunkTable{chunks: chunks}
	g.table.Store(nt)
	return nt
}

// holdExclusive takes structMu exclusively for a structural change
// (vacuum, quantization steps, Release), with vacuuming raised so that
// stoppable searches in progress give way (ErrInterrupted) rather than
// make it wait for their end. The returned func releases both.
func (g *Graph) holdExclusive() (release func()) {
	g.vacuuming.Add(1)
	g.structMu.Lock()
	return func() {
		g.structMu.Unlock()
		g.vacuuming.Add(-1)
	}
}

// allocate hands out the next id and makes sure its chunk exists.
func (g *Graph) allocate() (uint32, *chunk, error) {
	for {
		n := g.count.Load()
		if n >= MaxNodes {
			return 0, nil, ErrFull
		}
		if g.count.CompareAndSwap(n, n+1) {
			t := g.table.Load()
			ci := int(n >> chunkBits)
			if ci >= len(t.chunks) {
				t = g.grow(ci)
			}
			return uint32(n), t.chunks[ci], nil
		}
	}
}

// limitOf is the first id beyond a table snapshot; ids at or past it were
// added after the snapshot and are skipped by a search that holds it.
func limitOf(tab []*chunk) uint32 { return uint32(len(tab)) << chunkBits }

func (g *Graph) vec(tab []*chunk, id uint32) []float32 {
	c := tab[id>>chunkBits]
	off := int(id&chunkMask) * g.dim
	return c.vecs[off : off+g.dim : off+g.dim]
}

// linkList returns the row (count, ids...) of id at level. The node must
// have that level.
func (g *Graph) linkList(tab []*chunk, id uint32, level int) []uint32 {
	c := tab[id>>chunkBits]
	i := int(id & chunkMask)
	if level == 0 {
		off := i * g.stride0
		return c.links0[off : off+g.stride0 : off+g.stride0]
	}
	off := (level - 1) * g.strideUp
	return (*c.upper[i])[off : off+g.strideUp : off+g.strideUp]
}

func (g *Graph) maxLinks(level int) int {
	if level == 0 {
		return g.m0
	}
	return g.m
}

func metaOf(tab []*chunk, id uint32) uint32 {
	return tab[id>>chunkBits].meta[id&chunkMask].Load()
}

func levelOfMeta(m uint32) int { return int(m>>metaLevelShift) & metaLevelMask }

// randomLevel draws floor(-ln(U) * mL). The generator is counter-based
// (splitmix64 of seed and draw number) so that concurrent Adds need no lock
// and the state to persist is a single counter.
func (g *Graph) randomLevel() int {
	seq := g.levelSeq.Add(1) - 1
	x := splitmix64(uint64(g.cfg.Seed) ^ splitmix64(seq))
	u := float64(x>>11+1) / (1 << 53) // (0, 1]
	l := int(-math.Log(u) * g.mL)
	return min(l, maxLevel)
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Config returns the configuration with defaults filled in.
func (g *Graph) Config() Config { return g.cfg }

// Len returns the number of ids handed out, deleted ones included. Ids are
// dense: 0..Len()-1.
func (g *Graph) Len() int { return int(g.count.Load()) }

// Deleted returns the number of tombstoned nodes.
func (g *Graph) Deleted() int { return int(g.deleted.Load()) }

// IsDeleted reports whether id is tombstoned (false for unknown ids).
func (g *Graph) IsDeleted(id uint32) bool {
	g.structMu.RLock()
	defer g.structMu.RUnlock()
	tab := g.table.Load().chunks
	if uint64(id) >= g.count.Load() || id >= limitOf(tab) {
		return false
	}
	return metaOf(tab, id)&metaDeleted != 0
}

// Vector returns id's vector, or nil for an unknown id: a read-only view
// of the arena, valid until the next Vacuum (do not modify it), or, when
// the vectors live in an Originals store, a copy read from it (nil if the
// read fails; ReadVector reports the error).
func (g *Graph) Vector(id uint32) []float32 {
	g.structMu.RLock()
	defer g.structMu.RUnlock()
	tab := g.table.Load().chunks
	if uint64(id) >= g.count.Load() || id >= limitOf(tab) || metaOf(tab, id)&metaReady == 0 {
		return nil
	}
	st := g.quant()
	if st.floats {
		return g.vec(tab, id)
	}
	v, err := g.readVector(st, tab, id, nil)
	if err != nil {
		return nil
	}
	return v
}

// ReadVector appends id's vector to dst (dst unchanged for an unknown id),
// reading it from the Originals store when the arena does not hold it.
func (g *Graph) ReadVector(dst []float32, id uint32) ([]float32, error) {
	g.structMu.RLock()
	defer g.structMu.RUnlock()
	tab := g.table.Load().chunks
	if uint64(id) >= g.count.Load() || id >= limitOf(tab) || metaOf(tab, id)&metaReady == 0 {
		return dst, nil
	}
	return g.readVector(g.quant(), tab, id, dst)
}

// AppendVector appends id's vector to dst and returns it (dst unchanged
// for an unknown id). The copy is made under the graph's read lock, so,
// unlike a Vector view, it needs no lock of the caller's to exclude a
// concurrent Vacuum.
func (g *Graph) AppendVector(dst []float32, id uint32) []float32 {
	g.structMu.RLock()
	defer g.structMu.RUnlock()
	tab := g.table.Load().chunks
	if uint64(id) >= g.count.Load() || id >= limitOf(tab) || metaOf(tab, id)&metaReady == 0 {
		return dst
	}
	out, err := g.readVector(g.quant(), tab, id, dst)
	if err != nil {
		return dst
	}
	return out
}

// NodeBytes is what one more node adds to MemoryBytes on average: its
// vector (if the arena holds vectors) and code (if it is quantized), its
// layer-0 list and bookkeeping, and its expected share of upper-layer
// lists (a node has 1/(M-1) upper layers on average).
func (g *Graph) NodeBytes() int64 {
	return g.vectorBytes(g.quant()) + int64(g.stride0*4) + 8 + 4 + 8 + int64(g.strideUp*4+24)/int64(g.m-1)
}

// vectorBytes is what one node's vector and code take in memory under st.
func (g *Graph) vectorBytes(st *quantState) int64 {
	var b int64
	if st.floats {
		b += int64(g.dim) * 4
	}
	if st.encode {
		b += int64(g.dim)
		if st.spaces[st.cur].HasCorr() {
			b += 4
		}
	}
	return b
}

// MemoryBytes returns the bytes held by vectors, codes, neighbour lists
// and per-node bookkeeping (arena chunks are counted whole).
func (g *Graph) MemoryBytes() int64 {
	g.structMu.RLock()
	defer g.structMu.RUnlock()
	tab := g.table.Load().chunks
	chunks := int64(len(tab))
	perNode := int64(g.stride0*4) + 8 /* upper pointer */ + 4 /* meta */ + 8 /* lock */
	var vecBytes int64
	for _, c := range tab {
		c.codeMu.Lock()
		vecBytes += int64(len(c.vecs)) * 4
		c.codeMu.Unlock()
		if b := c.codes.Load(); b != nil {
			vecBytes += int64(len(b.codes)) + int64(len(b.corr))*4
		}
	}
	// Each upper row set has a slice header (24 bytes) besides its words;
	// rows over nodes slightly overcounts nodes above layer 0.
	up := g.upperWords.Load()
	return chunks*chunkSize*perNode + vecBytes + up*4 + up/int64(g.strideUp)*24
}
