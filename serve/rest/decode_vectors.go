package rest

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/engine/filter"
	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/jsonread"
)

// The stream decoders of the vector routes. Each walks its body with a
// jsonread.Reader and stops at the first field that breaks a limit or has
// the wrong type, naming it (vectors[3].vector[17]); unknown fields are
// refused as by encoding/json's DisallowUnknownFields.

// maxKeyLen bounds a field name of a request object (not of metadata):
// every known field is short, so a longer key is unknown anyway.
const maxKeyLen = 64

// decoding carries what a stream decoder needs to explain an error, and
// a buffer for the strings it reads.
type decoding struct {
	s     *server
	r     *jsonread.Reader
	limit int64
	buf   *[]byte
}

func newDecoding(s *server, r *jsonread.Reader) decoding {
	return decoding{s: s, r: r, limit: s.maxBody, buf: new([]byte)}
}

// fail explains an error of the reader met while reading field.
func (d decoding) fail(err error, field string) *api.Error {
	var je *jsonread.Error
	if errors.As(err, &je) {
		switch je.Kind {
		case jsonread.InvalidUTF8:
			return utf8Error(field, je.Offset)
		case jsonread.Syntax:
			return badJSON("malformed JSON: "+je.Msg, je.Offset)
		}
	}
	return d.s.jsonError(err, d.limit)
}

// expect checks the kind of the next value, naming field and what it
// wants when it is another.
func (d decoding) expect(field string, want jsonread.Kind) *api.Error {
	k, err := d.r.Peek()
	if err != nil {
		return d.fail(err, field)
	}
	if k != want {
		return d.wrongType(field, k, want.String())
	}
	return nil
}

func (d decoding) wrongType(field string, got jsonread.Kind, want string) *api.Error {
	e := badJSON(fmt.Sprintf("%s: cannot use %s, want %s", field, got, want), d.r.Offset())
	e.Details["field"] = field
	return e
}

// isNull consumes a null and reports whether there was one.
func (d decoding) isNull(field string) (bool, *api.Error) {
	k, err := d.r.Peek()
	if err != nil {
		return false, d.fail(err, field)
	}
	if k != jsonread.Null {
		return false, nil
	}
	if err := d.r.Null(); err != nil {
		return false, d.fail(err, field)
	}
	return true, nil
}

// object walks an object's members, calling member with each key (and
// the path of the member) until the closing brace.
func (d decoding) object(path string, member func(key, field string) *api.Error) *api.Error {
	if e := d.expect(pathOr(path, "body"), jsonread.Object); e != nil {
		return e
	}
	if err := d.r.BeginObject(); err != nil {
		return d.fail(err, pathOr(path, "body"))
	}
	for {
		key, more, err := d.r.Key(maxKeyLen)
		if err != nil {
			var je *jsonread.Error
			if errors.As(err, &je) && je.Kind == jsonread.TooLong {
				return unknownField(join(path, "(a key longer than "+strconv.Itoa(maxKeyLen)+" bytes)"))
			}
			return d.fail(err, pathOr(path, "body"))
		}
		if !more {
			return nil
		}
		if e := member(key, join(path, key)); e != nil {
			return e
		}
	}
}

func pathOr(path, def string) string {
	if path == "" {
		return def
	}
	return path
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func unknownField(field string) *api.Error {
	return &api.Error{Code: api.CodeInvalidArgument, Message: fmt.Sprintf("unknown field %q", field), Details: map[string]any{"field": field}}
}

func duplicateField(field string) *api.Error {
	return api.InvalidField(field, "is given more than once")
}

// once refuses a field given twice in one object.
type once map[string]bool

func (o once) first(key, field string) *api.Error {
	if o[key] {
		return duplicateField(field)
	}
	o[key] = true
	return nil
}

// float32s reads an array of at most maxLen numbers, each within float32
// range, appending them to dst; tooMany is the error for one more.
func (d decoding) float32s(field string, dst []float32, maxLen int, tooMany func() *api.Error) ([]float32, *api.Error) {
	if e := d.expect(field, jsonread.Array); e != nil {
		return dst, e
	}
	if err := d.r.BeginArray(); err != nil {
		return dst, d.fail(err, field)
	}
	for {
		more, err := d.r.More()
		if err != nil {
			return dst, d.fail(err, field)
		}
		if !more {
			return dst, nil
		}
		// The element's name is only made for an error: building it for
		// every value would allocate more than the values themselves.
		elem := func() string { return field + "[" + strconv.Itoa(len(dst)) + "]" }
		if len(dst) >= maxLen {
			return dst, tooMany()
		}
		k, err := d.r.Peek()
		if err != nil {
			return dst, d.fail(err, elem())
		}
		if k != jsonread.Number {
			return dst, d.wrongType(elem(), k, "a number")
		}
		f, err := d.r.Float(32)
		if err != nil {
			var je *jsonread.Error
			if errors.As(err, &je) && je.Kind == jsonread.Range {
				return dst, api.InvalidField(elem(), "must be a finite number within float32 range (about ±3.4e38)")
			}
			return dst, d.fail(err, elem())
		}
		dst = append(dst, float32(f))
	}
}

// str reads a string of at most maxLen bytes.
func (d decoding) str(field string, dst []byte, maxLen int) ([]byte, *api.Error) {
	if e := d.expect(field, jsonread.String); e != nil {
		return dst, e
	}
	b, err := d.r.AppendString(dst, maxLen)
	if err != nil {
		var je *jsonread.Error
		if errors.As(err, &je) && je.Kind == jsonread.TooLong {
			return b, api.InvalidField(field, "is more than %d bytes, the limit", maxLen)
		}
		return b, d.fail(err, field)
	}
	return b, nil
}

// integer reads an integer within int32 (k, ef).
func (d decoding) integer(field string) (int, *api.Error) {
	if e := d.expect(field, jsonread.Number); e != nil {
		return 0, e
	}
	n, err := d.r.Int()
	var je *jsonread.Error
	if err != nil && !(errors.As(err, &je) && je.Kind == jsonread.Range) {
		return 0, d.fail(err, field)
	}
	if err != nil || n < math.MinInt32 || n > math.MaxInt32 {
		e := badJSON(fmt.Sprintf("%s: want an integer within range", field), d.r.Offset())
		e.Details["field"] = field
		return 0, e
	}
	return int(n), nil
}

func (d decoding) boolean(field string) (bool, *api.Error) {
	if e := d.expect(field, jsonread.Bool); e != nil {
		return false, e
	}
	b, err := d.r.Bool()
	if err != nil {
		return false, d.fail(err, field)
	}
	return b, nil
}

// filterDoc reads a filter document as compact JSON (null: none); the
// service parses it.
func (d decoding) filterDoc(field string) ([]byte, *api.Error) {
	if null, e := d.isNull(field); null || e != nil {
		return nil, e
	}
	raw, err := d.r.AppendCompact(nil, int(d.limit), 2*filter.MaxDepth+3)
	if err != nil {
		var je *jsonread.Error
		if errors.As(err, &je) {
			switch je.Kind {
			case jsonread.InvalidUTF8:
				return nil, utf8Error(join(field, je.Field()), je.Offset)
			case jsonread.TooLong:
				return nil, tooLarge(d.limit)
			}
			if je.Path != "" {
				return nil, api.InvalidField(field, "nesting depth exceeds limit of %d", filter.MaxDepth)
			}
		}
		return nil, d.fail(err, field)
	}
	return raw, nil
}

// decodeUpsert decodes POST .../insert into an *api.UpsertBatch. The
// collection is looked up first, so each vector's dimension is checked as
// its values arrive.
func decodeUpsert(s *server, c *gin.Context, r *jsonread.Reader) (any, *api.Error) {
	name, e := pathParam(c, "name")
	if e != nil {
		return nil, e
	}
	b, err := s.svc.BeginUpsert(c.Request.Context(), name, r.Offset)
	if err != nil {
		return nil, api.AsError(err)
	}
	if held, ok := c.Get(heldKey); ok {
		b.HoldWith(held.(*heldBody).growTo)
	}
	d := newDecoding(s, r)
	seen := once{}
	e = d.object("", func(key, field string) *api.Error {
		if key != "vectors" {
			return unknownField(field)
		}
		if e := seen.first(key, field); e != nil {
			return e
		}
		return d.records(b)
	})
	if e != nil {
		return nil, e
	}
	if e := b.Finish(); e != nil {
		return nil, e
	}
	return b, nil
}

// records reads the vectors array into b.
func (d decoding) records(b *api.UpsertBatch) *api.Error {
	if e := d.expect("vectors", jsonread.Array); e != nil {
		return e
	}
	if err := d.r.BeginArray(); err != nil {
		return d.fail(err, "vectors")
	}
	for {
		more, err := d.r.More()
		if err != nil {
			return d.fail(err, "vectors")
		}
		if !more {
			return nil
		}
		if e := b.Next(); e != nil {
			return e
		}
		rec := b.Field()
		e := d.object(rec, func(key, field string) *api.Error {
			switch key {
			case "id":
				id, e := d.str(field, (*d.buf)[:0], b.MaxIDBytes())
				*d.buf = id
				if e != nil {
					return e
				}
				return b.ID(id)
			case "vector":
				v, e := d.float32s(field, b.VectorBuffer(), b.Dimension(), b.TooManyDimensions)
				if e != nil {
					return e
				}
				return b.Vector(v)
			case "metadata":
				if null, e := d.isNull(field); null || e != nil {
					return e
				}
				if e := d.expect(field, jsonread.Object); e != nil {
					return api.InvalidField(field, "must be a JSON object")
				}
				w, e := b.Metadata()
				if e != nil {
					return e
				}
				if e := d.metadata(w); e != nil {
					return e
				}
				return b.EndMetadata()
			}
			return unknownField(field)
		})
		if e != nil {
			return e
		}
		if e := b.End(); e != nil {
			return e
		}
	}
}

// metadata copies one metadata value from the reader to w.
func (d decoding) metadata(w *api.MetadataWriter) *api.Error {
	k, err := d.r.Peek()
	if err != nil {
		return d.fail(err, w.Path())
	}
	switch k {
	case jsonread.Object:
		if e := w.BeginObject(); e != nil {
			return e
		}
		if err := d.r.BeginObject(); err != nil {
			return d.fail(err, w.Path())
		}
		for {
			key, more, err := d.r.Key(engine.MaxMetadataBytes)
			if err != nil {
				return d.metaFail(err, w.Path())
			}
			if !more {
				return w.End()
			}
			if e := w.Key([]byte(key)); e != nil {
				return e
			}
			if e := d.metadata(w); e != nil {
				return e
			}
		}
	case jsonread.Array:
		if e := w.BeginArray(); e != nil {
			return e
		}
		if err := d.r.BeginArray(); err != nil {
			return d.fail(err, w.Path())
		}
		for {
			more, err := d.r.More()
			if err != nil {
				return d.fail(err, w.Path())
			}
			if !more {
				return w.End()
			}
			if e := d.metadata(w); e != nil {
				return e
			}
		}
	case jsonread.String:
		s, err := d.r.AppendString((*d.buf)[:0], engine.MaxMetadataBytes)
		*d.buf = s
		if err != nil {
			return d.metaFail(err, w.NextPath())
		}
		return w.String(s)
	case jsonread.Number:
		tok, err := d.r.NumberToken()
		if err != nil {
			return d.fail(err, w.NextPath())
		}
		return w.NumberText(tok)
	case jsonread.Bool:
		b, err := d.r.Bool()
		if err != nil {
			return d.fail(err, w.Path())
		}
		return w.Bool(b)
	}
	if err := d.r.Null(); err != nil {
		return d.fail(err, w.Path())
	}
	return w.Null()
}

func (d decoding) metaFail(err error, path string) *api.Error {
	var je *jsonread.Error
	if errors.As(err, &je) && je.Kind == jsonread.TooLong {
		return api.InvalidField(path, "is more than %d bytes, the limit of a record's metadata", engine.MaxMetadataBytes)
	}
	return d.fail(err, path)
}

// decodeQuery decodes POST .../query into an api.QueryRequest; the vector
// may have at most engine.MaxDimension values.
func decodeQuery(s *server, _ *gin.Context, r *jsonread.Reader) (any, *api.Error) {
	d := newDecoding(s, r)
	var q api.QueryRequest
	seen := once{}
	e := d.object("", func(key, field string) *api.Error {
		if e := seen.first(key, field); e != nil {
			return e
		}
		var e *api.Error
		switch key {
		case "vector":
			q.Vector, e = d.float32s(field, nil, engine.MaxDimension, func() *api.Error {
				return api.InvalidField(field, "has more than %d dimensions, the most a collection can have", engine.MaxDimension)
			})
		case "k":
			q.K, e = d.integer(field)
		case "ef":
			q.Ef, e = d.integer(field)
		case "rerank":
			q.Rerank, e = d.integer(field)
		case "filter":
			q.Filter, e = d.filterDoc(field)
		case "exact":
			q.Exact, e = d.boolean(field)
		case "include_vector":
			q.IncludeVector, e = d.boolean(field)
		case "explain":
			q.Explain, e = d.boolean(field)
		case "include_metadata":
			var null bool
			if null, e = d.isNull(field); !null && e == nil {
				var b bool
				b, e = d.boolean(field)
				q.IncludeMetadata = &b
			}
		default:
			e = unknownField(field)
		}
		return e
	})
	if e != nil {
		return nil, e
	}
	return q, nil
}

// decodeDelete decodes POST .../delete into an api.DeleteRequest: at most
// MaxDeleteIDs ids of at most MaxIDBytes, or a filter.
func decodeDelete(s *server, _ *gin.Context, r *jsonread.Reader) (any, *api.Error) {
	d := newDecoding(s, r)
	lim := s.svc.Limits()
	var req api.DeleteRequest
	seen := once{}
	e := d.object("", func(key, field string) *api.Error {
		if e := seen.first(key, field); e != nil {
			return e
		}
		switch key {
		case "ids":
			if null, e := d.isNull(field); null || e != nil {
				return e
			}
			return d.ids(&req, lim)
		case "filter":
			var e *api.Error
			req.Filter, e = d.filterDoc(field)
			return e
		}
		return unknownField(field)
	})
	if e != nil {
		return nil, e
	}
	return req, nil
}

func (d decoding) ids(req *api.DeleteRequest, lim api.Limits) *api.Error {
	if e := d.expect("ids", jsonread.Array); e != nil {
		return e
	}
	if err := d.r.BeginArray(); err != nil {
		return d.fail(err, "ids")
	}
	var buf []byte
	for {
		more, err := d.r.More()
		if err != nil {
			return d.fail(err, "ids")
		}
		if !more {
			return nil
		}
		if len(req.IDs) >= lim.MaxDeleteIDs {
			return &api.Error{Code: api.CodeTooLarge, Message: fmt.Sprintf("more than %d ids, the limit", lim.MaxDeleteIDs),
				Details: map[string]any{"field": "ids", "limit": lim.MaxDeleteIDs}}
		}
		field := "ids[" + strconv.Itoa(len(req.IDs)) + "]"
		var e *api.Error
		if buf, e = d.str(field, buf[:0], lim.MaxIDBytes); e != nil {
			return e
		}
		req.IDs = append(req.IDs, string(buf))
	}
}
