package api

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/akidb/akidb/engine"
)

// The memory one request may hold, as a multiple of its body: decoding
// stops with too_large (413) as soon as what the request holds passes
// RequestMemoryFactor times the bytes of body read so far, or
// RequestMemoryFactor times RequestMemoryFloor while the body is smaller
// (so one record with the largest metadata always fits). What is counted
// is what the decoded batch holds (ids, vectors at 4 bytes a value, the
// metadata as JSON) and what its metadata will take decoded in the
// engine's memory (see the mem* estimates in metadata.go). docs/limits.md
// gives the worst case of a whole server.
const (
	RequestMemoryFactor = 3
	RequestMemoryFloor  = 4 << 20
)

// recordOverhead is what a record costs beyond its id, vector and
// metadata: the record struct and slice headers.
const recordOverhead = 80

// maxSquaredNorm bounds a vector's squared norm: a quarter of the largest
// float32, so that every score between two accepted vectors is finite
// (|a-b|² ≤ (|a|+|b|)² ≤ 4·max(|a|²,|b|²), and |a·b| ≤ |a|·|b|). A larger
// one would make l2 and dot scores overflow to infinity, which JSON cannot
// carry and which breaks the ordering of neighbours.
const maxSquaredNorm = math.MaxFloat32 / 4

// checkVector refuses NaN, infinities and vectors whose squared norm is
// beyond maxSquaredNorm, naming field (or field[i]).
func checkVector(field string, v []float32) *Error {
	var sum float64
	for i, x := range v {
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return invalidField(field+"["+strconv.Itoa(i)+"]", "must be a finite number within float32 range")
		}
		sum += f * f
	}
	if sum > maxSquaredNorm {
		return &Error{Code: CodeInvalidArgument,
			Message: fmt.Sprintf("%s: its squared norm %.3g is beyond %.3g; scale the vector down so that every distance stays a finite float32", field, sum, float64(maxSquaredNorm)),
			Details: map[string]any{"field": field}}
	}
	return nil
}

// UpsertBatch is an upsert being decoded by a transport, record by record:
// every limit is checked as each part arrives (the batch size at each new
// record, the dimension at each value, the id and metadata as they are
// read, and the memory the request holds), so a body that breaks one is
// refused at that point, without decoding the rest. Get one from
// Service.BeginUpsert, feed it, and write it with Service.WriteUpsert.
//
// For each record: Next, then ID, Vector and Metadata/EndMetadata in any
// order (each at most once), then End.
type UpsertBatch struct {
	h    *engine.Handle
	name string
	lim  Limits
	dim  int
	recs []engine.Record
	// mem is what the batch holds (see RequestMemoryFactor); bodyRead
	// reports the bytes of body read so far.
	mem      int64
	bodyRead func() int64
	hold     func(mem int64) *Error

	field            string // "vectors[i]"
	hasID, hasVector bool
	hasMeta          bool
	meta             MetadataWriter
}

// BeginUpsert starts an upsert into the caller's collection name.
// bodyRead reports how many bytes of the request body have been read (a
// transport that has the whole message passes its size); nil means the
// batch comes as Go values, and the memory bound does not apply.
func (s *Service) BeginUpsert(ctx context.Context, name string, bodyRead func() int64) (*UpsertBatch, error) {
	h, err := s.handle(ctx, name)
	if err != nil {
		return nil, err
	}
	return &UpsertBatch{h: h, name: name, lim: s.opts.Limits, dim: h.Info().Config.Dimension, bodyRead: bodyRead}, nil
}

// HoldWith makes the batch report what it holds (see RequestMemoryFactor)
// to hold each time it grows, so that the transport counts it toward the
// server's bound of the memory requests hold: hold refuses with the error
// to answer.
func (b *UpsertBatch) HoldWith(hold func(mem int64) *Error) { b.hold = hold }

// Dimension is the collection's: every vector must have it.
func (b *UpsertBatch) Dimension() int { return b.dim }

// Len is the number of records begun.
func (b *UpsertBatch) Len() int { return len(b.recs) }

// Field names the current record ("vectors[3]").
func (b *UpsertBatch) Field() string { return b.field }

// Next begins a record; past the batch limit it is too_large.
func (b *UpsertBatch) Next() *Error {
	if len(b.recs) >= b.lim.MaxBatch {
		return &Error{Code: CodeTooLarge, Message: fmt.Sprintf("the batch has more than %d vectors, the limit", b.lim.MaxBatch),
			Details: map[string]any{"field": "vectors", "limit": b.lim.MaxBatch}}
	}
	b.recs = append(b.recs, engine.Record{})
	b.field = "vectors[" + strconv.Itoa(len(b.recs)-1) + "]"
	b.hasID, b.hasVector, b.hasMeta = false, false, false
	return nil
}

func (b *UpsertBatch) duplicate(name string) *Error {
	return invalidField(b.field+"."+name, "is given more than once")
}

// MaxIDBytes is the longest id (a transport reads no more of one).
func (b *UpsertBatch) MaxIDBytes() int { return b.lim.MaxIDBytes }

// ID sets the current record's id.
func (b *UpsertBatch) ID(id []byte) *Error {
	field := b.field + ".id"
	switch {
	case b.hasID:
		return b.duplicate("id")
	case len(id) == 0:
		return invalidField(field, "must not be empty")
	case len(id) > b.lim.MaxIDBytes:
		return invalidField(field, "is %d bytes, the limit is %d", len(id), b.lim.MaxIDBytes)
	case !utf8.Valid(id):
		return invalidField(field, "must be valid UTF-8")
	}
	b.hasID = true
	b.recs[len(b.recs)-1].ID = string(id)
	return nil
}

// VectorBuffer returns room for the current record's vector: append at
// most Dimension values to it (TooManyDimensions past that), then pass it
// to Vector.
func (b *UpsertBatch) VectorBuffer() []float32 { return make([]float32, 0, b.dim) }

// TooManyDimensions is the error for a vector longer than the dimension,
// found at its extra value.
func (b *UpsertBatch) TooManyDimensions() *Error {
	return invalidField(b.field+".vector", "has more than %d dimensions, the collection has %d", b.dim, b.dim)
}

// Vector sets the current record's vector.
func (b *UpsertBatch) Vector(v []float32) *Error {
	field := b.field + ".vector"
	switch {
	case b.hasVector:
		return b.duplicate("vector")
	case len(v) == 0:
		return invalidField(field, "must not be empty")
	case len(v) != b.dim:
		return invalidField(field, "has %d dimensions, the collection has %d", len(v), b.dim)
	}
	if err := checkVector(field, v); err != nil {
		return err
	}
	b.hasVector = true
	b.recs[len(b.recs)-1].Vector = v
	return nil
}

// Metadata returns the writer of the current record's metadata; call
// EndMetadata when its object is complete. A record without metadata
// (absent or null) never calls it.
func (b *UpsertBatch) Metadata() (*MetadataWriter, *Error) {
	if b.hasMeta {
		return nil, b.duplicate("metadata")
	}
	b.hasMeta = true
	b.meta.reset(b.field+".metadata", b.lim.MaxMetadataBytes)
	return &b.meta, nil
}

// EndMetadata takes the metadata written since Metadata.
func (b *UpsertBatch) EndMetadata() *Error {
	raw, mem, err := b.meta.finish()
	if err != nil {
		return err
	}
	b.recs[len(b.recs)-1].MetadataJSON = raw
	b.mem += mem
	return nil
}

// End completes the current record: it must have an id and a vector; the
// memory the request holds is checked.
func (b *UpsertBatch) End() *Error {
	r := &b.recs[len(b.recs)-1]
	switch {
	case !b.hasID:
		return invalidField(b.field+".id", "is required")
	case !b.hasVector:
		return invalidField(b.field+".vector", "is required")
	}
	b.mem += recordOverhead + int64(len(r.ID)) + 4*int64(len(r.Vector)) + int64(len(r.MetadataJSON))
	return b.checkMemory()
}

// checkMemory refuses the request once it holds more than
// RequestMemoryFactor times its body (or the floor). A batch given as Go
// values (no body) is not bounded: its caller holds it already.
func (b *UpsertBatch) checkMemory() *Error {
	if b.bodyRead == nil {
		return nil
	}
	base := b.bodyRead()
	limit := RequestMemoryFactor * max(base, RequestMemoryFloor)
	if b.mem <= limit {
		if b.hold != nil {
			return b.hold(b.mem)
		}
		return nil
	}
	return &Error{Code: CodeTooLarge,
		Message: fmt.Sprintf("the batch would take more than %s of memory at %s (%d× its body of %s, or of %s for a smaller body); metadata of many small values takes far more memory than its JSON: send fewer records per request",
			fmtBytes(b.mem), b.field, RequestMemoryFactor, fmtBytes(base), fmtBytes(RequestMemoryFloor)),
		Details: map[string]any{"field": "vectors", "limit": limit}}
}

// Finish checks the batch as a whole once the transport has decoded it.
func (b *UpsertBatch) Finish() *Error {
	if len(b.recs) == 0 {
		return invalidField("vectors", "at least one vector is required")
	}
	return nil
}

// WriteUpsert writes a decoded batch, all or nothing.
func (s *Service) WriteUpsert(ctx context.Context, b *UpsertBatch) (UpsertResponse, error) {
	if err := b.Finish(); err != nil {
		return UpsertResponse{}, err
	}
	// The batch was decoded without the collection in memory; it must be
	// from here on (the quota check reads it).
	release, err := b.h.Acquire(ctx)
	if err != nil {
		return UpsertResponse{}, AsError(err)
	}
	defer release()
	// The quota check comes after validation (a bad batch is 400 whatever
	// the quota) and before anything is written (a batch over the quota
	// is refused whole).
	if g := s.quotaGuard(); g != nil && g.StorageLimited(tenant(ctx)) {
		done, err := g.BeginUpsert(tenant(ctx), upsertGrowth(b.h, b.recs))
		if err != nil {
			compactAfterRefusal(b.h, err)
			return UpsertResponse{}, err
		}
		defer done()
	}
	// The batch was decoded for this write alone: the engine takes it, so
	// that it writes from these records rather than from copies of them.
	n := len(b.recs)
	recs := b.recs
	b.recs = nil
	if err := b.h.UpsertOwned(ctx, recs); err != nil {
		return UpsertResponse{}, AsError(err)
	}
	return UpsertResponse{Upserted: n}, nil
}

// Upsert inserts or replaces a batch of records given as Go values, all
// or nothing: the same checks as a decoded batch.
func (s *Service) Upsert(ctx context.Context, name string, req UpsertRequest) (UpsertResponse, error) {
	b, err := s.BeginUpsert(ctx, name, nil)
	if err != nil {
		return UpsertResponse{}, err
	}
	if e := b.AddAll(req.Vectors); e != nil {
		return UpsertResponse{}, e
	}
	return s.WriteUpsert(ctx, b)
}

// AddAll feeds records given as Go values.
func (b *UpsertBatch) AddAll(vs []Vector) *Error {
	for _, v := range vs {
		if e := b.addValue(v); e != nil {
			return e
		}
	}
	return nil
}

// addValue feeds one record given as Go values.
func (b *UpsertBatch) addValue(v Vector) *Error {
	if e := b.Next(); e != nil {
		return e
	}
	if e := b.ID([]byte(v.ID)); e != nil {
		return e
	}
	if len(v.Vector) > b.dim {
		return b.TooManyDimensions()
	}
	if e := b.Vector(append(b.VectorBuffer(), v.Vector...)); e != nil {
		return e
	}
	if v.Metadata != nil {
		w, e := b.Metadata()
		if e != nil {
			return e
		}
		if e := writeMetadataValue(w, map[string]any(v.Metadata)); e != nil {
			return e
		}
		if e := b.EndMetadata(); e != nil {
			return e
		}
	}
	return b.End()
}
