package engine

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/hnsw"
	"github.com/akidb/akidb/engine/payload"

	"github.com/RoaringBitmap/roaring/v2"
)

// stateVersion is the version of the collection state layout below. The
// snapshot container (engine/snapshot) frames and checksums it.
//
//	u32 stateVersion
//	u32 len | config JSON {name, dimension, metric, m, ef_construction, seed}
//	u64 applied sequence number
//	u32 generation
//	u32 node slots N
//	since version 3: the quantization section (quantstate.go)
//	N x { u16 idLen (0 = empty slot) | id | u32 metaLen | metadata JSON }
//	graph (engine/hnsw Encode layout)
//	since version 2: u64 len | payload indexes (engine/payload Encode layout)
//
// Version 3 adds the quantization section; version 2 (payload indexes, no
// quantization section, graph encoding version 1) and version 1 (neither)
// are still read: an older snapshot's collection is unquantized, and one
// without indexes builds the catalog's when it opens.
const stateVersion = 3

// oldestStateVersion is the oldest layout DecodeState reads.
const oldestStateVersion = 1

// quantStateVersion is the first layout with the quantization section.
const quantStateVersion = 3

type stateConfig struct {
	Name           string `json:"name"`
	Dimension      int    `json:"dimension"`
	Metric         string `json:"metric"`
	M              int    `json:"m"`
	EfConstruction int    `json:"ef_construction"`
	Seed           int64  `json:"seed"`
}

func toStateConfig(cfg CollectionConfig) stateConfig {
	return stateConfig{Name: cfg.Name, Dimension: cfg.Dimension, Metric: cfg.Metric.String(), M: cfg.M, EfConstruction: cfg.EfConstruction, Seed: cfg.Seed}
}

func (sc stateConfig) collectionConfig() (CollectionConfig, error) {
	m, err := distance.ParseMetric(sc.Metric)
	if err != nil {
		return CollectionConfig{}, err
	}
	return CollectionConfig{Name: sc.Name, Dimension: sc.Dimension, Metric: m, M: sc.M, EfConstruction: sc.EfConstruction, Seed: sc.Seed}.withDefaults()
}

// stateCapture is a collection's state at one sequence number, taken while
// writes are paused. Writing it out needs no lock, so writes resume as soon
// as it is taken: slots never change once published, the graph's mutable
// parts are copied by hnsw's Freeze, and the payload indexes are encoded
// while writes are paused (their bitmaps are a small fraction of the state).
type stateCapture struct {
	cfg        CollectionConfig
	applied    uint64
	generation uint32
	slots      []*slot
	graph      *hnsw.Frozen
	quant      quantCapture
	indexes    []byte
}

// captureState takes the state; the caller keeps writers out and the
// staged backlog drained (lockWrites) so that it is the state at exactly
// the applied sequence number, with every node linked.
func (c *Collection) captureState() (*stateCapture, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	st := &stateCapture{cfg: c.cfg, applied: c.applied, generation: c.generation, graph: c.graph.Freeze()}
	st.quant = c.captureQuant(st.graph)
	// One slot per node of the graph: nodes past the last published one
	// (reserved by a write that was then refused) are empty slots.
	st.slots = c.slots.Load().snapshot(st.graph.Len())
	var buf bytes.Buffer
	if err := c.idx.Encode(&buf); err != nil {
		return nil, fmt.Errorf("encode payload indexes: %w", err)
	}
	st.indexes = buf.Bytes()
	return st, nil
}

// EncodeState writes the collection's full state. The caller must keep
// writers out (BeginWrite's gate) so the state is the one at the applied
// sequence number; EncodeState waits for staged nodes to be linked.
func (c *Collection) EncodeState(w io.Writer) error {
	c.waitLinked()
	st, err := c.captureState()
	if err != nil {
		return err
	}
	if err := st.quant.commitVectors(); err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	return st.encode(w)
}

func (st *stateCapture) encode(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	cfgJSON, err := json.Marshal(toStateConfig(st.cfg))
	if err != nil {
		return fmt.Errorf("encode state config: %w", err)
	}
	var hdr []byte
	hdr = binary.LittleEndian.AppendUint32(hdr, stateVersion)
	hdr = binary.LittleEndian.AppendUint32(hdr, uint32(len(cfgJSON)))
	hdr = append(hdr, cfgJSON...)
	hdr = binary.LittleEndian.AppendUint64(hdr, st.applied)
	hdr = binary.LittleEndian.AppendUint32(hdr, st.generation)
	hdr = binary.LittleEndian.AppendUint32(hdr, uint32(len(st.slots)))
	if hdr, err = st.quant.appendTo(hdr); err != nil {
		return fmt.Errorf("encode quantization: %w", err)
	}
	if _, err := bw.Write(hdr); err != nil {
		return err
	}
	var buf []byte
	for _, sl := range st.slots {
		var id, meta string
		if sl != nil {
			id, meta = sl.id, sl.meta
		}
		buf = buf[:0]
		buf = binary.LittleEndian.AppendUint16(buf, uint16(len(id)))
		buf = append(buf, id...)
		buf = binary.LittleEndian.AppendUint32(buf, uint32(len(meta)))
		buf = append(buf, meta...)
		if _, err := bw.Write(buf); err != nil {
			return err
		}
	}
	if err := st.graph.Encode(bw); err != nil {
		return fmt.Errorf("encode graph: %w", err)
	}
	if _, err := bw.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(st.indexes)))); err != nil {
		return err
	}
	if _, err := bw.Write(st.indexes); err != nil {
		return err
	}
	return bw.Flush()
}

var errState = errors.New("invalid collection state")

// StateVersionError: a snapshot was written by a newer AkiDB, in a state
// layout this binary does not read. It is not corruption: opening the
// collection fails instead of falling back to an older snapshot, whose log
// may be gone, which would lose what the newer snapshot holds. (A version
// beyond any plausible layout, 2^16 or more, is taken for damage.)
type StateVersionError struct{ Version uint32 }

func (e *StateVersionError) Error() string {
	return fmt.Sprintf("state version %d was written by a newer AkiDB; this binary reads versions %d to %d: run the newer binary (or export the data with it)", e.Version, oldestStateVersion, stateVersion)
}

// DecodeState rebuilds a collection from EncodeState's output. It validates
// everything and never trusts a length beyond the limits it implies. A
// state whose originals are on disk needs its vectors file, which only
// the engine's own readers (decodeState) can open.
func DecodeState(r io.Reader) (*Collection, error) { return decodeState(r, stateEnv{}) }

// stateHeader is what precedes the slots.
type stateHeader struct {
	version    uint32
	cfg        CollectionConfig
	applied    uint64
	generation uint32
	slots      int
}

// decodeStateHeader reads the version, the config and the counters.
func decodeStateHeader(br *bufio.Reader) (CollectionConfig, uint32, error) {
	h, err := readStateHeader(br)
	return h.cfg, h.version, err
}

func readStateHeader(br *bufio.Reader) (stateHeader, error) {
	var h stateHeader
	read := func(b []byte, what string) error {
		if _, err := io.ReadFull(br, b); err != nil {
			return fmt.Errorf("%w: read %s: %w", errState, what, err)
		}
		return nil
	}
	var fixed [8]byte
	if err := read(fixed[:8], "header"); err != nil {
		return h, err
	}
	h.version = binary.LittleEndian.Uint32(fixed[0:4])
	if h.version > stateVersion && h.version < 1<<16 {
		return h, &StateVersionError{Version: h.version}
	}
	if h.version < oldestStateVersion || h.version > stateVersion {
		return h, fmt.Errorf("%w: state version %d, this binary reads %d to %d", errState, h.version, oldestStateVersion, stateVersion)
	}
	cfgLen := binary.LittleEndian.Uint32(fixed[4:8])
	if cfgLen > 64<<10 {
		return h, fmt.Errorf("%w: config length %d", errState, cfgLen)
	}
	cfgJSON := make([]byte, cfgLen)
	if err := read(cfgJSON, "config"); err != nil {
		return h, err
	}
	var sc stateConfig
	if err := json.Unmarshal(cfgJSON, &sc); err != nil {
		return h, fmt.Errorf("%w: config: %v", errState, err)
	}
	cfg, err := sc.collectionConfig()
	if err != nil {
		return h, fmt.Errorf("%w: config: %v", errState, err)
	}
	h.cfg = cfg
	var ctr [16]byte
	if err := read(ctr[:], "counters"); err != nil {
		return h, err
	}
	h.applied = binary.LittleEndian.Uint64(ctr[0:8])
	h.generation = binary.LittleEndian.Uint32(ctr[8:12])
	h.slots = int(binary.LittleEndian.Uint32(ctr[12:16]))
	return h, nil
}

func decodeState(r io.Reader, env stateEnv) (*Collection, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	read := func(b []byte, what string) error {
		if _, err := io.ReadFull(br, b); err != nil {
			return fmt.Errorf("%w: read %s: %w", errState, what, err)
		}
		return nil
	}
	h, err := readStateHeader(br)
	if err != nil {
		return nil, err
	}
	cfg, applied, generation, slots := h.cfg, h.applied, h.generation, h.slots
	var qs quantSection
	if h.version >= quantStateVersion {
		if qs, err = decodeQuantSection(br, cfg); err != nil {
			return nil, err
		}
	}
	// Slots are appended as they are read, so a lying count cannot make
	// this allocate ahead of the input; the graph must then agree.
	var (
		table = slotsFor(0)
		byID  = make(map[string]uint32)
		idb   int64
		metab int64
		buf   = make([]byte, 0, 256)
	)
	for n := 0; n < slots; n++ {
		var l2 [2]byte
		if err := read(l2[:], "slot id length"); err != nil {
			return nil, err
		}
		idLen := int(binary.LittleEndian.Uint16(l2[:]))
		if idLen > MaxIDBytes {
			return nil, fmt.Errorf("%w: slot %d: id length %d", errState, n, idLen)
		}
		buf = buf[:idLen]
		if err := read(buf, "slot id"); err != nil {
			return nil, err
		}
		id := string(buf)
		var l4 [4]byte
		if err := read(l4[:], "metadata length"); err != nil {
			return nil, err
		}
		metaLen := int(binary.LittleEndian.Uint32(l4[:]))
		if metaLen > MaxMetadataBytes {
			return nil, fmt.Errorf("%w: slot %d: metadata length %d", errState, n, metaLen)
		}
		var meta string
		if metaLen > 0 {
			raw := make([]byte, metaLen)
			if err := read(raw, "metadata"); err != nil {
				return nil, err
			}
			// Written canonical (metadata.go; version 1 by
			// encoding/json.Marshal of the decoded map, which is too):
			// checking that it is one JSON object is enough.
			if raw[0] != '{' || !json.Valid(raw) {
				return nil, fmt.Errorf("%w: slot %d: metadata is not a JSON object", errState, n)
			}
			meta = string(raw)
		}
		if id != "" {
			if _, dup := byID[id]; dup {
				return nil, fmt.Errorf("%w: id %q appears twice", errState, id)
			}
			byID[id] = uint32(n)
			idb += int64(len(id))
			metab += int64(len(meta))
			for n >= table.nodes() {
				table.chunks = append(table.chunks, new(slotChunk))
			}
			table.chunks[n>>slotChunkBits][n&slotChunkMask].Store(&slot{id: id, meta: meta})
		}
	}
	g, err := hnsw.DecodeWith(br, env.alloc)
	if err != nil {
		return nil, fmt.Errorf("%w: graph: %w", errState, err)
	}
	gc := g.Config()
	if gc.Dim != cfg.Dimension || gc.Metric != cfg.Metric || gc.M != cfg.M {
		return nil, fmt.Errorf("%w: graph (dim %d, %s, M %d) does not match the config (dim %d, %s, M %d)", errState, gc.Dim, gc.Metric, gc.M, cfg.Dimension, cfg.Metric, cfg.M)
	}
	if g.Len() != slots {
		return nil, fmt.Errorf("%w: graph has %d nodes, state has %d slots", errState, g.Len(), slots)
	}
	for id, n := range byID {
		if g.IsDeleted(n) {
			return nil, fmt.Errorf("%w: live record %q points at a deleted node", errState, id)
		}
	}
	live := roaring.New()
	for _, n := range byID {
		live.Add(n)
	}
	idx := payload.NewSetWithLive(live)
	if h.version >= 2 {
		var l8 [8]byte
		if err := read(l8[:], "payload index length"); err != nil {
			return nil, err
		}
		n := binary.LittleEndian.Uint64(l8[:])
		lr := &io.LimitedReader{R: br, N: int64(min(n, 1<<62))}
		if idx, err = payload.Decode(lr, live); err != nil {
			return nil, fmt.Errorf("%w: %w", errState, err)
		}
		if lr.N != 0 {
			return nil, fmt.Errorf("%w: payload index section has %d bytes left over", errState, lr.N)
		}
	}
	c := newCollectionWithGraph(cfg, g, applied)
	c.idx = idx
	c.byID, c.idBytes, c.metaBytes, c.generation = byID, idb, metab, generation
	c.slots.Store(table)
	c.live.Store(int64(len(byID)))
	if err := qs.restore(c, env); err != nil {
		return nil, err
	}
	return c, nil
}
