package hnsw

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"runtime"
	"sync/atomic"

	"github.com/akidb/akidb/engine/distance"
)

// The byte layout is specified in doc.go; keep the two in step.
const (
	codecVersion = 2
	headerLen    = 64
	ioBufSize    = 1 << 20
)

// Header flags (byte 13; version 1 has it 0).
const (
	flagNoVectors = 1 << 0 // the vectors section is absent (Originals hold them)
	flagCodes     = 1 << 1 // a codes section follows the vectors section
	knownFlags    = flagNoVectors | flagCodes
)

// noBlock marks a chunk without codes in the codes section.
const noBlock = 0xff

var (
	headerMagic  = [4]byte{'A', 'K', 'H', 'G'}
	trailerMagic = [4]byte{'G', 'H', 'K', 'A'}
)

// Encode writes the whole graph (configuration, level-generator state,
// tombstones, vectors and every neighbour list) to w, as of the moment it
// is called (see Freeze): Adds and Deletes wait only while the mutable parts
// are copied, not while the output is written; searches go on throughout.
// The output is a pure function of the graph's state, so equal graphs
// encode to equal bytes.
func (g *Graph) Encode(w io.Writer) error {
	return g.Freeze().Encode(w)
}

// Frozen is the graph as it was at one moment, ready to be encoded while
// the graph goes on changing. Freeze copies under the mutation lock only
// what inserts and deletes change in place: levels, tombstones and
// neighbour lists (about 4*(2M+1) bytes a node). Vectors are not copied:
// a node's vector never changes once it is added (replacing a record adds
// a new node), so Encode reads them from the arena; Vacuum, which does
// move them, waits for Encode.
type Frozen struct {
	g      *Graph
	header [headerLen]byte
	n      int
	tab    []*chunk
	floats bool // the vectors section is written
	// vecs are the chunks' arena vectors at the freeze (when floats): a
	// DropFloats between Freeze and Encode (the move of the originals to
	// disk) drops the chunks' references, not these.
	vecs   [][]float32
	blocks []*codeBlock // per chunk (nil: none); nil slice: no codes section
	quant  FrozenQuant
	levels []byte
	dead   []byte
	links0 []uint32 // n rows of stride0 words
	upper  []uint32 // rows of strideUp words: every upper layer of every node, by id then layer
	// pin, when set, counts the blocks in g.frozen until the first Encode
	// ends (or the state is dropped unencoded), so that an Allocator does
	// not reuse them meanwhile.
	pin *atomic.Bool
}

// Freeze captures the graph's state for Encode. Adds and Deletes wait
// while it copies; searches do not.
func (g *Graph) Freeze() *Frozen {
	g.structMu.RLock()
	defer g.structMu.RUnlock()
	g.mutateMu.Lock()
	defer g.mutateMu.Unlock()

	n := int(g.count.Load())
	tab := g.table.Load().chunks
	st := g.quant()
	f := &Frozen{g: g, n: n, tab: tab, floats: st.floats,
		quant: FrozenQuant{Spaces: st.spaces, Cur: st.cur, Encode: st.encode, Traverse: st.traverse, Floats: st.floats}}
	// Blocks are captured as they are: a re-encoding installs new ones
	// rather than changing these, and nodes reserved later (ids >= n)
	// are not encoded.
	if f.floats {
		f.vecs = make([][]float32, (n+chunkMask)>>chunkBits)
		for ci := range f.vecs {
			f.vecs[ci] = tab[ci].vecs
		}
	}
	for ci := 0; ci<<chunkBits < n; ci++ {
		if b := tab[ci].codes.Load(); b != nil {
			if f.blocks == nil {
				f.blocks = make([]*codeBlock, (n+chunkMask)>>chunkBits)
			}
			f.blocks[ci] = b
		}
	}
	if f.blocks != nil && g.cfg.Alloc != nil {
		f.pin = new(atomic.Bool)
		f.pin.Store(true)
		g.frozen.Add(1)
		// A state dropped without Encode (its checkpoint failed first)
		// must not keep the retired blocks pinned for good.
		runtime.AddCleanup(f, unpin, pinRef{g: g, pin: f.pin})
	}
	entryID, top := uint32(noID), 0
	if ent := g.entry.Load(); ent != noEntry {
		entryID, top = unpackEntry(ent)
	}
	h := &f.header
	copy(h[0:4], headerMagic[:])
	le := binary.LittleEndian
	le.PutUint16(h[4:], codecVersion)
	le.PutUint16(h[6:], headerLen)
	le.PutUint32(h[8:], uint32(g.dim))
	h[12] = byte(g.cfg.Metric)
	if !f.floats {
		h[13] |= flagNoVectors
	}
	if f.blocks != nil {
		h[13] |= flagCodes
	}
	le.PutUint16(h[14:], uint16(g.m))
	le.PutUint32(h[16:], uint32(g.efc))
	le.PutUint64(h[24:], uint64(g.cfg.Seed))
	le.PutUint64(h[32:], g.levelSeq.Load())
	le.PutUint64(h[40:], uint64(g.cfg.InitialCapacity))
	le.PutUint32(h[48:], uint32(n))
	le.PutUint32(h[52:], uint32(g.deleted.Load()))
	le.PutUint32(h[56:], entryID)
	le.PutUint32(h[60:], uint32(top))

	f.levels = make([]byte, n)
	f.dead = make([]byte, (n+7)/8)
	f.links0 = make([]uint32, 0, n*g.stride0)
	for id := 0; id < n; id++ {
		m := metaOf(tab, uint32(id))
		f.levels[id] = byte(levelOfMeta(m))
		if m&metaDeleted != 0 {
			f.dead[id/8] |= 1 << (id % 8)
		}
		f.links0 = append(f.links0, g.linkList(tab, uint32(id), 0)...)
		for l := 1; l <= levelOfMeta(m); l++ {
			f.upper = append(f.upper, g.linkList(tab, uint32(id), l)...)
		}
	}
	return f
}

// Len is the number of nodes frozen, deleted ones included.
func (f *Frozen) Len() int { return f.n }

// FrozenQuant is the quantization state a Frozen graph was captured in:
// what RestoreQuantization needs, besides the Originals, to resume it.
type FrozenQuant struct {
	Spaces           [2]Space
	Cur              uint8
	Encode, Traverse bool
	// Floats: the encoding holds the vectors; otherwise they are in the
	// Originals store the graph had.
	Floats bool
}

// Quant returns the quantization state at the freeze.
func (f *Frozen) Quant() FrozenQuant { return f.quant }

// Encode writes the frozen state in the layout described in doc.go.
func (f *Frozen) Encode(w io.Writer) error {
	g := f.g
	// Keep Vacuum, which rewrites the arena, out while vectors are read.
	g.structMu.RLock()
	defer g.structMu.RUnlock()
	if f.pin != nil {
		defer unpin(pinRef{g: g, pin: f.pin})
	}
	if g.released {
		return errReleased
	}
	size := int64(headerLen) + int64(f.n)*int64(2+4*g.dim+4*g.stride0) + int64(len(f.upper))*4 + 4
	e := &encoder{w: w, buf: make([]byte, 0, min(size, ioBufSize))}
	e.bytes(f.header[:])
	e.bytes(f.levels)
	e.bytes(f.dead)
	if f.floats {
		for ci := 0; ci<<chunkBits < f.n; ci++ {
			cnt := min(chunkSize, f.n-ci<<chunkBits)
			for _, x := range f.vecs[ci][:cnt*g.dim] {
				e.u32(math.Float32bits(x))
			}
		}
	}
	for ci, b := range f.blocks {
		cnt := min(chunkSize, f.n-ci<<chunkBits)
		if b == nil {
			e.byte1(noBlock)
			e.byte1(0)
			continue
		}
		e.byte1(b.space)
		if b.corr == nil {
			e.byte1(0)
		} else {
			e.byte1(1)
		}
		for _, c := range b.codes[:cnt*g.dim] {
			e.byte1(byte(c))
		}
		for _, x := range b.corr[:min(len(b.corr), cnt)] {
			e.u32(math.Float32bits(x))
		}
	}
	for off := 0; off < len(f.links0); off += g.stride0 {
		e.list(f.links0[off : off+g.stride0])
	}
	for off := 0; off < len(f.upper); off += g.strideUp {
		e.list(f.upper[off : off+g.strideUp])
	}
	e.bytes(trailerMagic[:])
	return e.flush()
}

type encoder struct {
	w   io.Writer
	buf []byte
	err error
}

func (e *encoder) spill() {
	if e.err == nil {
		if _, err := e.w.Write(e.buf); err != nil {
			e.err = fmt.Errorf("hnsw encode: %w", err)
		}
	}
	e.buf = e.buf[:0]
}

func (e *encoder) byte1(b byte) {
	if len(e.buf) == cap(e.buf) {
		e.spill()
	}
	e.buf = append(e.buf, b)
}

func (e *encoder) u32(v uint32) {
	if len(e.buf)+4 > cap(e.buf) {
		e.spill()
	}
	e.buf = binary.LittleEndian.AppendUint32(e.buf, v)
}

func (e *encoder) bytes(b []byte) {
	for _, x := range b {
		e.byte1(x)
	}
}

// list writes a (count, ids...) row with the words past count as zero, so
// stale ids left in memory never reach the encoding.
func (e *encoder) list(row []uint32) {
	cnt := int(row[0])
	e.u32(uint32(cnt))
	for _, x := range row[1 : 1+cnt] {
		e.u32(x)
	}
	for range row[1+cnt:] {
		e.u32(0)
	}
}

func (e *encoder) flush() error {
	if len(e.buf) > 0 {
		e.spill()
	}
	return e.err
}

// Decode reads a graph written by Encode. It validates everything it reads
// (header ranges, levels, tombstone count, finite vectors, every neighbour
// id, count, level and padding word, entry point, trailer) and returns an
// error wrapping ErrCorrupt on bad content; it does not panic on any input.
// It reads exactly the encoding's bytes from r and nothing past them.
//
// Allocation is bounded by the input: sections are read piecewise and arena
// chunks are allocated as their bytes arrive, so a header claiming a huge
// graph followed by little data costs at most one chunk beyond that data.
func Decode(r io.Reader) (*Graph, error) { return DecodeWith(r, nil) }

// DecodeWith is Decode with the Allocator (nil: the heap) that the graph's
// lists and code blocks come from, as Config.Alloc for New.
func DecodeWith(r io.Reader, alloc Allocator) (*Graph, error) {
	d := &decoder{r: r, alloc: alloc}
	g, n, entryID, top, deleted, flags, err := d.header()
	if err != nil {
		return nil, err
	}
	floats := flags&flagNoVectors == 0
	// Big enough to amortise reads, small for small graphs (and for the
	// fuzzer); it never depends on more than the header's claim.
	d.buf = make([]byte, min(ioBufSize, max(4096, int64(n)*int64(4*g.stride0))))
	levels, err := d.levels(n, entryID, top)
	if err != nil {
		return nil, err
	}
	tomb, err := d.tombstones(n, deleted)
	if err != nil {
		return nil, err
	}
	if !floats {
		// Chunks are made without arena vectors; RestoreQuantization
		// must give the graph its Originals before it is used.
		g.qs.Store(&quantState{})
	}
	chunks := make([]*chunk, 0)
	for ci := 0; ci<<chunkBits < n; ci++ {
		c := g.newChunk()
		chunks = append(chunks, c)
		cnt := min(chunkSize, n-ci<<chunkBits)
		if floats {
			if err := d.floats(c.vecs[:cnt*g.dim]); err != nil {
				return nil, err
			}
		}
	}
	if flags&flagCodes != 0 {
		for ci, c := range chunks {
			if err := d.codeBlock(g, c, min(chunkSize, n-ci<<chunkBits)); err != nil {
				return nil, err
			}
		}
	}
	tab := chunks
	v := &linkValidator{n: uint32(n), levels: levels, stamps: make([]uint32, n)}
	for ci := range tab {
		cnt := min(chunkSize, n-ci<<chunkBits)
		rows := tab[ci].links0[:cnt*g.stride0]
		if err := d.words(rows); err != nil {
			return nil, err
		}
		for i := 0; i < cnt; i++ {
			id := uint32(ci<<chunkBits + i)
			if err := v.check(rows[i*g.stride0:(i+1)*g.stride0], id, 0, g.m0, d.off); err != nil {
				return nil, err
			}
		}
	}
	var upperWords int64
	for id := 0; id < n; id++ {
		lv := int(levels[id])
		if lv == 0 {
			continue
		}
		up := make([]uint32, lv*g.strideUp)
		if err := d.words(up); err != nil {
			return nil, err
		}
		for l := 1; l <= lv; l++ {
			if err := v.check(up[(l-1)*g.strideUp:l*g.strideUp], uint32(id), l, g.m, d.off); err != nil {
				return nil, err
			}
		}
		tab[id>>chunkBits].upper[id&chunkMask] = &up
		upperWords += int64(len(up))
	}
	var tr [4]byte
	if err := d.full(tr[:], "trailer"); err != nil {
		return nil, err
	}
	if tr != trailerMagic {
		return nil, corrupt(d.off-4, "bad trailer %q", tr[:])
	}

	for id := 0; id < n; id++ {
		m := uint32(metaReady) | uint32(levels[id])<<metaLevelShift
		if tomb[id>>3]&(1<<(id&7)) != 0 {
			m |= metaDeleted
		}
		tab[id>>chunkBits].meta[id&chunkMask].Store(m)
	}
	g.table.Store(&chunkTable{chunks: tab})
	g.count.Store(uint64(n))
	g.deleted.Store(int64(deleted))
	g.upperWords.Store(upperWords)
	if n > 0 {
		g.entry.Store(packEntry(entryID, top))
	}
	return g, nil
}

func corrupt(off int64, format string, args ...any) error {
	return fmt.Errorf("hnsw decode: %w at offset %d: %s", ErrCorrupt, off, fmt.Sprintf(format, args...))
}

type decoder struct {
	r     io.Reader
	alloc Allocator
	buf   []byte
	off   int64
}

// full reads exactly len(p) bytes; a short input is corruption (truncation).
func (d *decoder) full(p []byte, what string) error {
	k, err := io.ReadFull(d.r, p)
	d.off += int64(k)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("hnsw decode: %w: truncated in %s at offset %d: %w", ErrCorrupt, what, d.off, io.ErrUnexpectedEOF)
		}
		return fmt.Errorf("hnsw decode: read %s at offset %d: %w", what, d.off, err)
	}
	return nil
}

func (d *decoder) header() (g *Graph, n int, entryID uint32, top int, deleted int, flags byte, err error) {
	var h [headerLen]byte
	if err = d.full(h[:], "header"); err != nil {
		return
	}
	le := binary.LittleEndian
	if [4]byte(h[0:4]) != headerMagic {
		err = corrupt(0, "bad magic %q", h[0:4])
		return
	}
	v := le.Uint16(h[4:])
	if v != 1 && v != codecVersion {
		err = corrupt(4, "unsupported version %d", v)
		return
	}
	flags = h[13]
	if v == 1 && flags != 0 {
		err = corrupt(13, "reserved header bytes are not zero")
		return
	}
	if flags&^knownFlags != 0 || (flags&flagNoVectors != 0 && flags&flagCodes == 0) {
		err = corrupt(13, "flags %#x", flags)
		return
	}
	if hl := le.Uint16(h[6:]); hl != headerLen {
		err = corrupt(6, "header length %d, want %d", hl, headerLen)
		return
	}
	if le.Uint32(h[20:]) != 0 {
		err = corrupt(20, "reserved header bytes are not zero")
		return
	}
	initCap := le.Uint64(h[40:])
	if initCap > MaxNodes {
		err = corrupt(40, "initial capacity %d over %d", initCap, MaxNodes)
		return
	}
	cfg := Config{
		Dim:             int(le.Uint32(h[8:])),
		Metric:          metricOf(h[12]),
		M:               int(le.Uint16(h[14:])),
		EfConstruction:  int(le.Uint32(h[16:])),
		Seed:            int64(le.Uint64(h[24:])),
		InitialCapacity: int(initCap),
		Alloc:           d.alloc,
	}
	// Zero M or efc would silently take defaults in New; the encoding
	// always holds the real values.
	if cfg.M == 0 || cfg.EfConstruction == 0 || le.Uint32(h[8:]) > MaxDim {
		err = corrupt(8, "config out of range (dim %d, M %d, ef_construction %d)", le.Uint32(h[8:]), cfg.M, cfg.EfConstruction)
		return
	}
	if g, err = newGraph(cfg); err != nil {
		err = corrupt(8, "%v", err)
		return
	}
	g.levelSeq.Store(le.Uint64(h[32:]))
	cnt := le.Uint32(h[48:])
	del := le.Uint32(h[52:])
	entryID = le.Uint32(h[56:])
	tp := le.Uint32(h[60:])
	switch {
	case cnt > MaxNodes:
		err = corrupt(48, "node count %d over %d", cnt, MaxNodes)
	case del > cnt:
		err = corrupt(52, "deleted count %d over node count %d", del, cnt)
	case cnt == 0 && (entryID != noID || tp != 0):
		err = corrupt(56, "empty graph with entry point %d level %d", entryID, tp)
	case cnt > 0 && entryID >= cnt:
		err = corrupt(56, "entry point %d out of range (%d nodes)", entryID, cnt)
	case tp > maxLevel:
		err = corrupt(60, "top level %d over %d", tp, maxLevel)
	}
	return g, int(cnt), entryID, int(tp), int(del), flags, err
}

// codeBlock reads one chunk's entry of the codes section into c.
func (d *decoder) codeBlock(g *Graph, c *chunk, cnt int) error {
	var hdr [2]byte
	if err := d.full(hdr[:], "codes"); err != nil {
		return err
	}
	space, corr := hdr[0], hdr[1]
	switch {
	case space == noBlock && corr == 0:
		return nil
	case space > 1 || corr > 1:
		return corrupt(d.off-2, "code block space %d, correction flag %d", space, corr)
	}
	b := g.allocBlock(space, corr == 1)
	c.codes.Store(b) // given back with the chunk if the decode fails
	raw, err := d.bytesPiecewise(cnt*g.dim, "codes")
	if err != nil {
		return err
	}
	for i, x := range raw {
		b.codes[i] = int8(x)
	}
	if corr == 1 {
		if err := d.floats(b.corr[:cnt]); err != nil {
			return err
		}
	}
	return nil
}

// metricOf keeps unknown metric bytes unknown (so validation rejects them).
func metricOf(b byte) distance.Metric { return distance.Metric(b) }

func (d *decoder) levels(n int, entryID uint32, top int) ([]byte, error) {
	levels, err := d.bytesPiecewise(n, "levels")
	if err != nil {
		return nil, err
	}
	start := d.off - int64(n)
	maxSeen := 0
	for id, l := range levels {
		if l > maxLevel {
			return nil, corrupt(start+int64(id), "node %d level %d over %d", id, l, maxLevel)
		}
		maxSeen = max(maxSeen, int(l))
	}
	if n > 0 && (maxSeen != top || int(levels[entryID]) != top) {
		return nil, corrupt(start, "top level %d but max level %d and entry level %d", top, maxSeen, levels[entryID])
	}
	return levels, nil
}

func (d *decoder) tombstones(n, deleted int) ([]byte, error) {
	nb := (n + 7) / 8
	tomb, err := d.bytesPiecewise(nb, "tombstones")
	if err != nil {
		return nil, err
	}
	count := 0
	for _, b := range tomb {
		count += bits.OnesCount8(b)
	}
	if n&7 != 0 && tomb[nb-1]>>(n&7) != 0 {
		return nil, corrupt(d.off-1, "tombstone padding bits set")
	}
	if count != deleted {
		return nil, corrupt(d.off-int64(nb), "%d tombstones, header says %d", count, deleted)
	}
	return tomb, nil
}

// bytesPiecewise reads n bytes, growing the result only as data arrives.
func (d *decoder) bytesPiecewise(n int, what string) ([]byte, error) {
	out := make([]byte, 0, min(n, ioBufSize))
	for len(out) < n {
		k := min(n-len(out), ioBufSize)
		out = append(out, make([]byte, k)...)
		if err := d.full(out[len(out)-k:], what); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (d *decoder) floats(dst []float32) error {
	for len(dst) > 0 {
		k := min(len(dst), len(d.buf)/4)
		b := d.buf[:4*k]
		start := d.off
		if err := d.full(b, "vectors"); err != nil {
			return err
		}
		for i := range dst[:k] {
			u := binary.LittleEndian.Uint32(b[4*i:])
			if u&0x7f800000 == 0x7f800000 {
				return corrupt(start+int64(4*i), "non-finite vector component")
			}
			dst[i] = math.Float32frombits(u)
		}
		dst = dst[k:]
	}
	return nil
}

func (d *decoder) words(dst []uint32) error {
	for len(dst) > 0 {
		k := min(len(dst), len(d.buf)/4)
		b := d.buf[:4*k]
		if err := d.full(b, "links"); err != nil {
			return err
		}
		for i := range dst[:k] {
			dst[i] = binary.LittleEndian.Uint32(b[4*i:])
		}
		dst = dst[k:]
	}
	return nil
}

// linkValidator checks decoded neighbour rows: count in range, ids in range,
// no self links, no duplicates, neighbours present on the row's layer, and
// zero padding. stamps detects duplicates with one counter per row.
type linkValidator struct {
	n      uint32
	levels []byte
	stamps []uint32
	row    uint32
}

func (v *linkValidator) check(row []uint32, id uint32, level, maxN int, end int64) error {
	cnt := row[0]
	if cnt > uint32(maxN) {
		return corrupt(end, "node %d layer %d: %d neighbours, max %d", id, level, cnt, maxN)
	}
	v.row++
	if v.row == 0 {
		clear(v.stamps)
		v.row = 1
	}
	for _, x := range row[1 : 1+cnt] {
		switch {
		case x >= v.n:
			return corrupt(end, "node %d layer %d: neighbour %d out of range", id, level, x)
		case x == id:
			return corrupt(end, "node %d layer %d: links to itself", id, level)
		case int(v.levels[x]) < level:
			return corrupt(end, "node %d layer %d: neighbour %d has level %d", id, level, x, v.levels[x])
		case v.stamps[x] == v.row:
			return corrupt(end, "node %d layer %d: duplicate neighbour %d", id, level, x)
		}
		v.stamps[x] = v.row
	}
	for _, x := range row[1+cnt:] {
		if x != 0 {
			return corrupt(end, "node %d layer %d: non-zero padding", id, level)
		}
	}
	return nil
}
