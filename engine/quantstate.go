package engine

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/akidb/akidb/engine/hnsw"
	"github.com/akidb/akidb/engine/quant"
	"github.com/akidb/akidb/engine/snapshot"
	"github.com/akidb/akidb/engine/vecfile"
	"github.com/akidb/akidb/engine/wal"
)

// The quantization section of a collection's state (since state version 3),
// between the counters and the slots (docs/snapshot.md):
//
//	u32 length L of what follows (<= maxQuantSection)
//	u8  section version (1)
//	u8  flags: 1 new vectors are encoded, 2 searches traverse codes,
//	        4 the originals are on disk (the graph holds no vectors)
//	u8  current space (0 or 1)
//	u8  spaces present: bit i for space i
//	per present space, by index: u32 length | quant.Params encoding
//	with flag 4: u64 vectors file generation | u64 rows | u32 CRC32-C
//
// The graph's code blocks name their space by index; restart loads the
// codes as they are, without re-encoding.
const (
	quantSectionVersion = 1
	maxQuantSection     = 1 << 20

	qflagEncode   = 1
	qflagTraverse = 2
	qflagDisk     = 4
)

// quantCapture is the quantization part of a stateCapture.
type quantCapture struct {
	frozen hnsw.FrozenQuant
	params [2]*quant.Params
	// vectors is the file holding the originals when they are on disk,
	// rows how many of its rows the state covers; ref is filled in by
	// commitVectors before the state is written.
	vectors *vecfile.File
	rows    uint64
	ref     vecfile.Ref
}

// captureQuant records the quantization state at the freeze f; the caller
// holds what captureState holds.
func (c *Collection) captureQuant(f *hnsw.Frozen) quantCapture {
	qc := quantCapture{frozen: f.Quant(), rows: uint64(f.Len())}
	c.q.mu.Lock()
	defer c.q.mu.Unlock()
	for i, sp := range qc.frozen.Spaces {
		if sp == nil {
			continue
		}
		qz, _ := sp.(*quant.Quantizer)
		if qz == nil {
			continue
		}
		p := qz.Params()
		qc.params[i] = &p
	}
	if !qc.frozen.Floats {
		qc.vectors = c.q.vectors
	}
	return qc
}

// commitVectors makes the vectors file's rows the state covers durable
// and records their Ref.
func (qc *quantCapture) commitVectors() error {
	if qc.frozen.Floats {
		return nil
	}
	if qc.vectors == nil {
		return errors.New("the originals are on disk but no vectors file is open")
	}
	ref, err := qc.vectors.Commit(qc.rows)
	if err != nil {
		return err
	}
	qc.ref = ref
	return nil
}

func (qc *quantCapture) appendTo(b []byte) ([]byte, error) {
	var sec []byte
	var flags, mask byte
	if qc.frozen.Encode {
		flags |= qflagEncode
	}
	if qc.frozen.Traverse {
		flags |= qflagTraverse
	}
	if !qc.frozen.Floats {
		flags |= qflagDisk
	}
	for i, p := range qc.params {
		if p != nil {
			mask |= 1 << i
		}
	}
	sec = append(sec, quantSectionVersion, flags, qc.frozen.Cur, mask)
	for _, p := range qc.params {
		if p == nil {
			continue
		}
		pb, err := p.MarshalBinary()
		if err != nil {
			return nil, err
		}
		sec = binary.LittleEndian.AppendUint32(sec, uint32(len(pb)))
		sec = append(sec, pb...)
	}
	if !qc.frozen.Floats {
		sec = binary.LittleEndian.AppendUint64(sec, qc.ref.Gen)
		sec = binary.LittleEndian.AppendUint64(sec, qc.ref.Rows)
		sec = binary.LittleEndian.AppendUint32(sec, qc.ref.CRC)
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(sec)))
	return append(b, sec...), nil
}

// quantSection is a decoded quantization section.
type quantSection struct {
	encode, traverse, disk bool
	cur                    uint8
	spaces                 [2]*quant.Quantizer
	ref                    vecfile.Ref
}

// decodeQuantSection reads and validates a section for a collection of
// cfg's dimension and metric.
func decodeQuantSection(br *bufio.Reader, cfg CollectionConfig) (quantSection, error) {
	var qs quantSection
	var l4 [4]byte
	if _, err := io.ReadFull(br, l4[:]); err != nil {
		return qs, fmt.Errorf("%w: read quantization section length: %w", errState, err)
	}
	n := binary.LittleEndian.Uint32(l4[:])
	if n < 4 || n > maxQuantSection {
		return qs, fmt.Errorf("%w: quantization section of %d bytes", errState, n)
	}
	sec := make([]byte, n)
	if _, err := io.ReadFull(br, sec); err != nil {
		return qs, fmt.Errorf("%w: read quantization section: %w", errState, err)
	}
	return parseQuantSection(sec, cfg)
}

func parseQuantSection(sec []byte, cfg CollectionConfig) (quantSection, error) {
	var qs quantSection
	bad := func(format string, args ...any) (quantSection, error) {
		return quantSection{}, fmt.Errorf("%w: quantization section: %s", errState, fmt.Sprintf(format, args...))
	}
	if sec[0] != quantSectionVersion {
		return bad("version %d", sec[0])
	}
	flags, cur, mask := sec[1], sec[2], sec[3]
	if flags&^(qflagEncode|qflagTraverse|qflagDisk) != 0 || mask&^3 != 0 || cur > 1 {
		return bad("flags %#x, current space %d, spaces %#x", flags, cur, mask)
	}
	qs.encode, qs.traverse, qs.disk, qs.cur = flags&qflagEncode != 0, flags&qflagTraverse != 0, flags&qflagDisk != 0, cur
	switch {
	case qs.traverse && !qs.encode:
		return bad("traversing codes that are not kept up")
	case qs.disk && !qs.traverse:
		return bad("originals on disk without codes to traverse")
	case qs.encode && mask&(1<<cur) == 0:
		return bad("the current space %d is absent", cur)
	}
	rest := sec[4:]
	for i := range 2 {
		if mask&(1<<i) == 0 {
			continue
		}
		if len(rest) < 4 {
			return bad("truncated in space %d", i)
		}
		pl := binary.LittleEndian.Uint32(rest)
		if uint64(pl) > uint64(len(rest)-4) {
			return bad("space %d of %d bytes, %d left", i, pl, len(rest)-4)
		}
		var p quant.Params
		if err := p.UnmarshalBinary(rest[4 : 4+pl]); err != nil {
			return bad("space %d: %v", i, err)
		}
		if p.Dim != cfg.Dimension || p.Metric != cfg.Metric {
			return bad("space %d is for dimension %d %s, the collection is %d %s", i, p.Dim, p.Metric, cfg.Dimension, cfg.Metric)
		}
		qz, err := quant.New(p)
		if err != nil {
			return bad("space %d: %v", i, err)
		}
		qs.spaces[i] = qz
		rest = rest[4+pl:]
	}
	if qs.disk {
		if len(rest) != 20 {
			return bad("vectors file reference of %d bytes", len(rest))
		}
		qs.ref = vecfile.Ref{Gen: binary.LittleEndian.Uint64(rest), Rows: binary.LittleEndian.Uint64(rest[8:]), CRC: binary.LittleEndian.Uint32(rest[16:])}
		rest = rest[20:]
	}
	if len(rest) != 0 {
		return bad("%d bytes after the section's fields", len(rest))
	}
	return qs, nil
}

// restore installs a decoded section in c, whose graph was just decoded:
// the spaces, the flags and, for originals on disk, the vectors file
// (opened by env).
func (qs quantSection) restore(c *Collection, env stateEnv) error {
	if qs.disk == c.graph.QuantInfo().Floats {
		return fmt.Errorf("%w: the quantization section and the graph disagree on where the vectors are", errState)
	}
	var o hnsw.Originals
	if qs.disk {
		if qs.ref.Rows != uint64(c.graph.Len()) {
			return fmt.Errorf("%w: the vectors file reference covers %d rows, the graph has %d nodes", errState, qs.ref.Rows, c.graph.Len())
		}
		if env.openVectors == nil {
			return fmt.Errorf("%w: the originals are on disk, and this reader has no vectors directory", errState)
		}
		vf, err := env.openVectors(qs.ref, c.cfg.Dimension)
		if err != nil {
			return err
		}
		c.q.vectors = vf
		o = vf
	}
	var spaces [2]hnsw.Space
	for i, qz := range qs.spaces {
		if qz != nil {
			spaces[i] = qz
		}
	}
	if err := c.graph.RestoreQuantization(spaces, qs.cur, qs.encode, qs.traverse, o); err != nil {
		if c.q.vectors != nil {
			_ = c.q.vectors.Close()
			c.q.vectors = nil
		}
		return fmt.Errorf("%w: %w", errState, err)
	}
	c.q.spaces = qs.spaces
	return nil
}

// stateEnv is what decoding a state needs besides its bytes.
type stateEnv struct {
	// openVectors opens the vectors file a state with originals on disk
	// names; nil refuses such a state.
	openVectors func(ref vecfile.Ref, dim int) (*vecfile.File, error)
	// alloc is the Allocator of the graph's lists and codes (nil: the
	// heap).
	alloc hnsw.Allocator
}

// vectorsEnv opens vectors files from dir (read-only: checks only, no
// cutting back).
func vectorsEnv(fsys wal.FS, dir string, readOnly bool) stateEnv {
	return stateEnv{openVectors: func(ref vecfile.Ref, dim int) (*vecfile.File, error) {
		if readOnly {
			return vecfile.OpenReadOnly(fsys, dir, dim, ref)
		}
		return vecfile.Open(fsys, dir, dim, ref)
	}}
}

// snapshotVectorsGen returns the vectors file generation the snapshot
// names (ok false when its originals are in it), reading only as far as
// the quantization section.
func snapshotVectorsGen(fsys wal.FS, dir string, seq uint64) (gen uint64, ok bool, err error) {
	r, err := snapshot.Open(fsys, dir, seq)
	if err != nil {
		return 0, false, err
	}
	defer r.Close()
	br := bufio.NewReaderSize(r, 64<<10)
	cfg, version, err := decodeStateHeader(br)
	if err != nil || version < 2 {
		return 0, false, err
	}
	qs, err := decodeQuantSection(br, cfg)
	if err != nil || !qs.disk {
		return 0, false, err
	}
	return qs.ref.Gen, true, nil
}
