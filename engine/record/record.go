package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Record types, stored as the WAL record's type byte.
const (
	TypeUpsert byte = 1
	TypeDelete byte = 2
)

// Limits shared with the engine's validation.
const (
	MaxIDBytes       = 256
	MaxMetadataBytes = 64 << 10
	MaxDimension     = 1 << 16
)

// ErrCorrupt is wrapped by every decoding error.
var ErrCorrupt = errors.New("corrupt record")

// Upsert is a batch of records to insert or replace. Vectors holds the
// vectors back to back, Dim floats each.
type Upsert struct {
	Dim      int
	IDs      []string
	Vectors  []float32
	Metadata [][]byte // raw JSON objects; nil or empty for none
}

// Delete is a batch of ids to delete.
type Delete struct {
	IDs []string
}

// EncodeUpsert appends the encoding of u to dst.
func EncodeUpsert(dst []byte, u Upsert) ([]byte, error) {
	n := len(u.IDs)
	if u.Dim < 1 || u.Dim > MaxDimension || len(u.Vectors) != n*u.Dim || len(u.Metadata) != n {
		return nil, fmt.Errorf("encode upsert: inconsistent batch (dim %d, %d ids, %d floats, %d metadata)", u.Dim, n, len(u.Vectors), len(u.Metadata))
	}
	return EncodeUpsertRows(dst, u.Dim, n, func(i int) (string, []float32, []byte) {
		return u.IDs[i], u.Vectors[i*u.Dim : (i+1)*u.Dim], u.Metadata[i]
	})
}

// UpsertSize is the encoded size of an upsert of records whose ids and
// metadata have these lengths, n records of dim dimensions in all.
func UpsertSize(dim, n, idBytes, metadataBytes int) int {
	return 8 + n*(2+4*dim+4) + idBytes + metadataBytes
}

// EncodeUpsertRows appends the encoding of an upsert of n records of dim
// dimensions given one by one by row (called twice per record: once to
// size the output, once to write it), so a caller that holds its records
// apart need not gather them into an Upsert first. dst grows once, to the
// exact size.
func EncodeUpsertRows(dst []byte, dim, n int, row func(i int) (id string, vector []float32, metadata []byte)) ([]byte, error) {
	if dim < 1 || dim > MaxDimension {
		return nil, fmt.Errorf("encode upsert: dimension %d", dim)
	}
	idBytes, metaBytes := 0, 0
	for i := range n {
		id, vec, meta := row(i)
		if len(vec) != dim {
			return nil, fmt.Errorf("encode upsert: vector of %q has %d dimensions, want %d", id, len(vec), dim)
		}
		if len(meta) > MaxMetadataBytes {
			return nil, fmt.Errorf("encode upsert: metadata of %q is %d bytes, limit %d", id, len(meta), MaxMetadataBytes)
		}
		idBytes += len(id)
		metaBytes += len(meta)
	}
	dst = growCap(dst, UpsertSize(dim, n, idBytes, metaBytes))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(dim))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(n))
	for i := range n {
		id, vec, meta := row(i)
		var err error
		if dst, err = appendID(dst, id); err != nil {
			return nil, err
		}
		for _, f := range vec {
			dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(f))
		}
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(meta)))
		dst = append(dst, meta...)
	}
	return dst, nil
}

// EncodeDelete appends the encoding of d to dst.
func EncodeDelete(dst []byte, d Delete) ([]byte, error) {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(d.IDs)))
	for _, id := range d.IDs {
		var err error
		if dst, err = appendID(dst, id); err != nil {
			return nil, err
		}
	}
	return dst, nil
}

func appendID(dst []byte, id string) ([]byte, error) {
	if len(id) == 0 || len(id) > MaxIDBytes {
		return nil, fmt.Errorf("encode: id of %d bytes (want 1..%d)", len(id), MaxIDBytes)
	}
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(id)))
	return append(dst, id...), nil
}

func growCap(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := make([]byte, len(b), len(b)+n)
	copy(nb, b)
	return nb
}

// decoder reads from a byte slice and remembers the first error.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w at byte %d: %s", ErrCorrupt, d.off, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b)-d.off {
		d.fail("need %d bytes, %d remain", n, len(d.b)-d.off)
		return nil
	}
	out := d.b[d.off : d.off+n]
	d.off += n
	return out
}

func (d *decoder) u16() int {
	b := d.take(2)
	if b == nil {
		return 0
	}
	return int(binary.LittleEndian.Uint16(b))
}

func (d *decoder) u32() int {
	b := d.take(4)
	if b == nil {
		return 0
	}
	return int(binary.LittleEndian.Uint32(b))
}

func (d *decoder) id() string {
	n := d.u16()
	if d.err == nil && (n == 0 || n > MaxIDBytes) {
		d.fail("id length %d", n)
		return ""
	}
	return string(d.take(n))
}

func (d *decoder) finish() error {
	if d.err == nil && d.off != len(d.b) {
		d.fail("%d trailing bytes", len(d.b)-d.off)
	}
	return d.err
}

// DecodeUpsert decodes a TypeUpsert payload. The result does not alias b.
func DecodeUpsert(b []byte) (Upsert, error) {
	d := &decoder{b: b}
	dim := d.u32()
	n := d.u32()
	if d.err == nil && (dim < 1 || dim > MaxDimension) {
		d.fail("dimension %d", dim)
	}
	// Each record takes at least 2+1+4*dim+4 bytes: bound n by the input
	// before allocating anything proportional to it.
	if d.err == nil && n > (len(b)-d.off)/(7+4*dim) {
		d.fail("count %d does not fit in %d bytes", n, len(b)-d.off)
	}
	if d.err != nil {
		return Upsert{}, d.err
	}
	u := Upsert{Dim: dim, IDs: make([]string, n), Vectors: make([]float32, n*dim), Metadata: make([][]byte, n)}
	for i := 0; i < n && d.err == nil; i++ {
		u.IDs[i] = d.id()
		raw := d.take(4 * dim)
		if raw == nil {
			break
		}
		vec := u.Vectors[i*dim : (i+1)*dim]
		for j := range vec {
			vec[j] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*j:]))
		}
		ml := d.u32()
		if d.err == nil && ml > MaxMetadataBytes {
			d.fail("metadata length %d", ml)
		}
		if m := d.take(ml); len(m) > 0 {
			u.Metadata[i] = append([]byte(nil), m...)
		}
	}
	if err := d.finish(); err != nil {
		return Upsert{}, err
	}
	return u, nil
}

// DecodeDelete decodes a TypeDelete payload.
func DecodeDelete(b []byte) (Delete, error) {
	d := &decoder{b: b}
	n := d.u32()
	if d.err == nil && n > (len(b)-d.off)/3 {
		d.fail("count %d does not fit in %d bytes", n, len(b)-d.off)
	}
	if d.err != nil {
		return Delete{}, d.err
	}
	out := Delete{IDs: make([]string, n)}
	for i := 0; i < n && d.err == nil; i++ {
		out.IDs[i] = d.id()
	}
	if err := d.finish(); err != nil {
		return Delete{}, err
	}
	return out, nil
}
