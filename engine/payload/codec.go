package payload

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"unicode/utf8"

	"github.com/RoaringBitmap/roaring/v2"
)

// The Set's encoding, a section of the collection snapshot (docs/snapshot.md).
// Little-endian; only Ready indexes are written (a Building one is rebuilt
// from the records when the collection opens). The live set is not written:
// the snapshot's slots define it.
//
//	u32 index count (<= MaxIndexes)
//	per index, by field name:
//	  u16 field length | field (UTF-8, ValidateField)
//	  u8  type (1 keyword, 2 integer, 3 float)
//	  bitmap present | bitmap other
//	  keyword: bitmap false | bitmap true
//	           u32 value count | per value, ascending: u32 length | bytes | bitmap
//	  integer, float: u32 value count | per value, ascending: f64 | bitmap
//	bitmap: u32 length (<= maxBitmapBytes) | the roaring portable serialization
//
// Decode checks everything it can without the metadata: the layout and
// limits, that every bitmap is valid and holds only live nodes, values in
// strictly ascending order with non-empty bitmaps inside present, finite
// numbers (whole ones within 2^53 for an integer index), other inside
// present. That the bitmaps agree with the metadata is the snapshot's
// checksums' business.

// ErrCorrupt wraps every decoding error.
var ErrCorrupt = errors.New("corrupt payload index section")

// maxBitmapBytes bounds one serialized bitmap: 2^32 nodes as a full bitmap
// is 512 MiB, far beyond any collection; the bound keeps a lying length
// from making Decode allocate ahead of its input (it reads in pieces).
const maxBitmapBytes = 1 << 30

// Encode writes the Set's ready indexes.
func (s *Set) Encode(w io.Writer) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var ready []*Index
	for _, ix := range s.indexes {
		if ix.state == Ready {
			ready = append(ready, ix)
		}
	}
	sort.Slice(ready, func(i, j int) bool { return ready[i].field < ready[j].field })
	e := &encoder{w: w}
	e.u32(uint32(len(ready)))
	for _, ix := range ready {
		e.u16(uint16(len(ix.field)))
		e.bytes([]byte(ix.field))
		e.bytes([]byte{byte(ix.typ)})
		e.bitmap(ix.present)
		e.bitmap(ix.other)
		if ix.typ == Keyword {
			e.bitmap(ix.bools[0])
			e.bitmap(ix.bools[1])
			e.u32(uint32(ix.strs.len()))
			ix.strs.each(func(k string, b *roaring.Bitmap) bool {
				e.u32(uint32(len(k)))
				e.bytes([]byte(k))
				e.bitmap(b)
				return e.err == nil
			})
		} else {
			e.u32(uint32(ix.nums.len()))
			ix.nums.each(func(k float64, b *roaring.Bitmap) bool {
				e.u64(math.Float64bits(k))
				e.bitmap(b)
				return e.err == nil
			})
		}
	}
	return e.err
}

type encoder struct {
	w   io.Writer
	buf []byte
	err error
}

func (e *encoder) bytes(b []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
}

func (e *encoder) u16(v uint16) { e.bytes(binary.LittleEndian.AppendUint16(e.buf[:0], v)) }
func (e *encoder) u32(v uint32) { e.bytes(binary.LittleEndian.AppendUint32(e.buf[:0], v)) }
func (e *encoder) u64(v uint64) { e.bytes(binary.LittleEndian.AppendUint64(e.buf[:0], v)) }

func (e *encoder) bitmap(b *roaring.Bitmap) {
	if e.err != nil {
		return
	}
	var buf bytes.Buffer
	if _, err := b.WriteTo(&buf); err != nil {
		e.err = fmt.Errorf("encode bitmap: %w", err)
		return
	}
	e.u32(uint32(buf.Len()))
	e.bytes(buf.Bytes())
}

// Decode reads an encoded Set. live holds the nodes with a record (it
// becomes the Set's live set); every index's nodes must be among them.
func Decode(r io.Reader, live *roaring.Bitmap) (*Set, error) {
	d := &decoder{r: r, live: live}
	s := &Set{live: live, indexes: map[string]*Index{}}
	n := d.u32("index count")
	if d.err == nil && n > MaxIndexes {
		d.fail("%d indexes, the limit is %d", n, MaxIndexes)
	}
	prev := ""
	for i := uint32(0); i < n && d.err == nil; i++ {
		ix := d.index()
		if d.err != nil {
			break
		}
		if i > 0 && ix.field <= prev {
			d.fail("index %q is out of order or repeated", ix.field)
			break
		}
		prev = ix.field
		s.indexes[ix.field] = ix
	}
	if d.err != nil {
		return nil, d.err
	}
	return s, nil
}

type decoder struct {
	r    io.Reader
	off  int64
	live *roaring.Bitmap
	err  error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w at byte %d: %s", ErrCorrupt, d.off, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) read(n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	// Read in pieces so that a lying length costs no more memory than the
	// input holds.
	out := make([]byte, 0, min(n, 1<<20))
	for len(out) < n {
		k := min(n-len(out), 1<<20)
		out = append(out, make([]byte, k)...)
		got, err := io.ReadFull(d.r, out[len(out)-k:])
		d.off += int64(got)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				d.fail("truncated in %s", what)
			} else {
				d.err = fmt.Errorf("read payload index %s: %w", what, err)
			}
			return nil
		}
	}
	return out
}

func (d *decoder) u16(what string) uint16 {
	if b := d.read(2, what); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

func (d *decoder) u32(what string) uint32 {
	if b := d.read(4, what); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (d *decoder) bitmap(what string) *roaring.Bitmap {
	n := d.u32(what + " length")
	if d.err == nil && n > maxBitmapBytes {
		d.fail("%s: bitmap of %d bytes", what, n)
	}
	raw := d.read(int(n), what)
	if d.err != nil {
		return nil
	}
	b, err := unmarshalBitmap(raw)
	if err != nil {
		d.fail("%s: %v", what, err)
		return nil
	}
	if !roaring.AndNot(b, d.live).IsEmpty() {
		d.fail("%s holds nodes without a record", what)
		return nil
	}
	return b
}

// unmarshalBitmap decodes and validates a serialized bitmap. The roaring
// reader checks lengths as it goes, but it was not written for hostile
// input; a panic in it is turned into an error here so that a damaged
// snapshot is refused rather than crashing the server.
func unmarshalBitmap(raw []byte) (b *roaring.Bitmap, err error) {
	defer func() {
		if r := recover(); r != nil {
			b, err = nil, fmt.Errorf("undecodable bitmap: %v", r)
		}
	}()
	b = roaring.New()
	n, err := b.ReadFrom(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("undecodable bitmap: %w", err)
	}
	if n != int64(len(raw)) {
		return nil, fmt.Errorf("bitmap of %d bytes is followed by %d more", n, int64(len(raw))-n)
	}
	if err := b.Validate(); err != nil {
		return nil, fmt.Errorf("invalid bitmap: %w", err)
	}
	return b, nil
}

func (d *decoder) index() *Index {
	fl := d.u16("field length")
	field := string(d.read(int(fl), "field"))
	if d.err != nil {
		return nil
	}
	if err := ValidateField(field); err != nil {
		d.fail("%v", err)
		return nil
	}
	tb := d.read(1, "type")
	if d.err != nil {
		return nil
	}
	t := Type(tb[0])
	if !t.Valid() {
		d.fail("index %q has unknown type %d", field, tb[0])
		return nil
	}
	ix := newIndex(field, t, Ready)
	ix.present = d.bitmap(field + " present")
	ix.other = d.bitmap(field + " other")
	if d.err != nil {
		return nil
	}
	if !ix.other.IsEmpty() && !roaring.AndNot(ix.other, ix.present).IsEmpty() {
		d.fail("index %q: other nodes outside present", field)
		return nil
	}
	inPresent := func(b *roaring.Bitmap, what string) bool {
		if b.IsEmpty() && what != "" {
			d.fail("index %q: %s has no node", field, what)
			return false
		}
		if !roaring.AndNot(b, ix.present).IsEmpty() {
			d.fail("index %q: nodes of %s outside present", field, what)
			return false
		}
		return true
	}
	if t == Keyword {
		ix.bools[0] = d.bitmap(field + " false")
		ix.bools[1] = d.bitmap(field + " true")
		if d.err != nil || !inPresent(ix.bools[0], "") || !inPresent(ix.bools[1], "") {
			return nil
		}
		count := d.u32("value count")
		prev := ""
		for i := uint32(0); i < count && d.err == nil; i++ {
			kl := d.u32("value length")
			if d.err == nil && kl > maxBitmapBytes {
				d.fail("value of %d bytes", kl)
			}
			k := string(d.read(int(kl), "value"))
			b := d.bitmap(field + " value")
			if d.err != nil {
				return nil
			}
			if !utf8.ValidString(k) {
				// encoding/json decodes metadata into valid UTF-8 only.
				d.fail("index %q: value is not valid UTF-8", field)
				return nil
			}
			if i > 0 && k <= prev {
				d.fail("index %q: values out of order", field)
				return nil
			}
			if !inPresent(b, "a value") {
				return nil
			}
			prev = k
			ix.strs.t.ReplaceOrInsert(entry[string]{key: k, nodes: b})
		}
	} else {
		count := d.u32("value count")
		prev := math.Inf(-1)
		for i := uint32(0); i < count && d.err == nil; i++ {
			raw := d.read(8, "value")
			b := d.bitmap(field + " value")
			if d.err != nil {
				return nil
			}
			k := math.Float64frombits(binary.LittleEndian.Uint64(raw))
			switch {
			case math.IsNaN(k) || math.IsInf(k, 0):
				d.fail("index %q: value %v is not finite", field, k)
			case t == Integer && (k != math.Trunc(k) || math.Abs(k) > maxExactInt):
				d.fail("index %q: value %v is not a whole number within 2^53", field, k)
			case i > 0 && k <= prev:
				d.fail("index %q: values out of order", field)
			}
			if d.err != nil || !inPresent(b, "a value") {
				return nil
			}
			prev = k
			ix.nums.t.ReplaceOrInsert(entry[float64]{key: k, nodes: b})
		}
	}
	if d.err != nil {
		return nil
	}
	ix.deriveValued()
	return ix
}
