package api

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/akidb/akidb/serve/jsonread"
)

// Limits on a record's metadata besides its size (Limits.MaxMetadataBytes).
// A deeply nested document breaks clients (protobuf refuses more than 100
// levels, and a gRPC read of such a record failed for every client) and
// many small keys cost far more memory decoded than as JSON.
const (
	// MaxMetadataDepth bounds the nesting of objects and arrays; the
	// record's metadata object is level 1. The filter language has the
	// same bound.
	MaxMetadataDepth = 32
	// MaxMetadataKeys bounds the object keys of one record's metadata,
	// counted at every level.
	MaxMetadataKeys = 1024
)

// Estimated bytes that encoding/json's map[string]any form of a JSON value
// takes on the heap (measured on Go 1.27, amd64, rounded up): what the
// engine keeps in memory for a record's metadata. They make the memory
// bound of a request (requestMemory) count what its metadata will hold,
// which for many small values is far more than its JSON text (an array of
// small objects takes about 45 times its size).
const (
	memObject      = 56  // map header and its box in the parent
	memObjectGroup = 264 // the first group of slots of a non-empty map
	memMember      = 80  // per member: slot, control bytes, growth
	memKey         = 16  // per key: its string allocation, beyond its bytes
	memArray       = 24  // slice header box
	memElement     = 32  // per element: interface slot, growth
	memString      = 16  // string header box
	memNumber      = 8   // float64 box
)

// pathSeg is one step of the path to a metadata value, for error
// messages: an object key (kept as the offset of its JSON text in the
// output, so naming the path costs nothing until an error) or an index.
type pathSeg struct {
	keyAt, keyEnd int // offsets in MetadataWriter.buf of the quoted key; keyEnd == 0: an index
	index         int
}

// frame is an open object or array.
type frame struct {
	object  bool
	members int
}

// MetadataWriter checks a record's metadata as a transport decodes it,
// value by value, and writes it as compact JSON: the form the engine logs.
// It stops at the first value that breaks a limit: more than
// MaxMetadataBytes of JSON, nesting deeper than MaxMetadataDepth, more than
// MaxMetadataKeys keys, a string or key that is not UTF-8, a number that
// is not finite. Errors name the value's path (vectors[3].metadata.a[2]).
//
// Call BeginObject first: metadata is a JSON object.
type MetadataWriter struct {
	field    string // "vectors[3].metadata"
	maxBytes int
	buf      []byte
	stack    []frame
	path     []pathSeg
	keys     int
	mem      int64
}

// reset prepares w for a record's metadata named field.
func (w *MetadataWriter) reset(field string, maxBytes int) {
	*w = MetadataWriter{field: field, maxBytes: maxBytes, buf: w.buf[:0], stack: w.stack[:0], path: w.path[:0]}
}

// Path names the value being written.
func (w *MetadataWriter) Path() string {
	var b strings.Builder
	b.WriteString(w.field)
	for _, s := range w.path {
		if s.keyEnd == 0 {
			b.WriteString("[" + strconv.Itoa(s.index) + "]")
			continue
		}
		var key string
		if json.Unmarshal(w.buf[s.keyAt:s.keyEnd], &key) != nil {
			key = "?"
		}
		b.WriteString("." + key)
	}
	return b.String()
}

// NextPath names the value about to be written: in an array, its element
// (Path()[n]); in an object, the member whose key was written last.
func (w *MetadataWriter) NextPath() string {
	if n := len(w.stack); n > 0 && !w.stack[n-1].object {
		return w.Path() + "[" + strconv.Itoa(w.stack[n-1].members) + "]"
	}
	return w.Path()
}

func (w *MetadataWriter) fail(format string, args ...any) *Error {
	return invalidField(w.Path(), format, args...)
}

// value starts a value: the comma before it and, in an array, its index
// in the path.
func (w *MetadataWriter) value() *Error {
	if n := len(w.stack); n > 0 {
		top := &w.stack[n-1]
		if !top.object {
			if top.members > 0 {
				w.buf = append(w.buf, ',')
			}
			w.path = append(w.path, pathSeg{index: top.members})
			top.members++
			w.mem += memElement
		}
	} else if len(w.buf) > 0 {
		return w.fail("must be one JSON object")
	}
	return nil
}

// done ends a value: it leaves the path and checks the size.
func (w *MetadataWriter) done() *Error {
	if len(w.buf) > w.maxBytes {
		w.path = w.path[:0]
		return invalidField(w.field, "is more than %d bytes as JSON, the limit is %d", w.maxBytes, w.maxBytes)
	}
	if n := len(w.path); n > 0 {
		w.path = w.path[:n-1]
	}
	return nil
}

func (w *MetadataWriter) open(object bool) *Error {
	if err := w.value(); err != nil {
		return err
	}
	if len(w.stack) >= MaxMetadataDepth {
		return w.fail("is nested more than %d levels deep, the limit", MaxMetadataDepth)
	}
	if object {
		w.buf = append(w.buf, '{')
		w.mem += memObject
	} else {
		w.buf = append(w.buf, '[')
		w.mem += memArray
	}
	w.stack = append(w.stack, frame{object: object})
	return nil
}

// BeginObject opens an object (the metadata itself, or a value in it).
func (w *MetadataWriter) BeginObject() *Error { return w.open(true) }

// BeginArray opens an array.
func (w *MetadataWriter) BeginArray() *Error {
	if len(w.stack) == 0 {
		return invalidField(w.field, "must be a JSON object, got an array")
	}
	return w.open(false)
}

// Key starts the next member of the innermost object.
func (w *MetadataWriter) Key(key []byte) *Error {
	top := &w.stack[len(w.stack)-1]
	if top.members > 0 {
		w.buf = append(w.buf, ',')
	}
	top.members++
	w.keys++
	if !utf8.Valid(key) {
		return w.fail("has a key that is not valid UTF-8")
	}
	at := len(w.buf)
	w.buf = jsonread.AppendQuoted(w.buf, key)
	w.path = append(w.path, pathSeg{keyAt: at, keyEnd: len(w.buf)})
	if w.keys > MaxMetadataKeys {
		return w.fail("has more than %d keys, the limit", MaxMetadataKeys)
	}
	w.buf = append(w.buf, ':')
	w.mem += memMember + memKey + int64(len(key))
	return nil
}

// End closes the innermost object or array.
func (w *MetadataWriter) End() *Error {
	top := w.stack[len(w.stack)-1]
	w.stack = w.stack[:len(w.stack)-1]
	if top.object {
		w.buf = append(w.buf, '}')
		if top.members > 0 {
			w.mem += memObjectGroup
		}
	} else {
		w.buf = append(w.buf, ']')
	}
	return w.done()
}

// String writes a string value.
func (w *MetadataWriter) String(s []byte) *Error {
	if err := w.scalar(); err != nil {
		return err
	}
	if !utf8.Valid(s) {
		return w.fail("must be valid UTF-8")
	}
	w.buf = jsonread.AppendQuoted(w.buf, s)
	w.mem += memString + int64(len(s))
	return w.done()
}

// NumberText writes a number given as JSON text (checked by the caller to
// be a JSON number); it must be finite as a float64.
func (w *MetadataWriter) NumberText(tok []byte) *Error {
	if err := w.scalar(); err != nil {
		return err
	}
	if f, err := strconv.ParseFloat(string(tok), 64); err != nil || math.IsInf(f, 0) {
		return w.fail("%s is beyond the range of a float64", clip(string(tok), 40))
	}
	w.buf = append(w.buf, tok...)
	w.mem += memNumber
	return w.done()
}

// Number writes a number; NaN and infinities have no JSON form.
func (w *MetadataWriter) Number(f float64) *Error {
	if err := w.scalar(); err != nil {
		return err
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return w.fail("must be a finite number")
	}
	w.buf = appendJSONFloat(w.buf, f)
	w.mem += memNumber
	return w.done()
}

// Bool writes true or false.
func (w *MetadataWriter) Bool(b bool) *Error {
	if err := w.scalar(); err != nil {
		return err
	}
	w.buf = strconv.AppendBool(w.buf, b)
	return w.done()
}

// Null writes null.
func (w *MetadataWriter) Null() *Error {
	if err := w.scalar(); err != nil {
		return err
	}
	w.buf = append(w.buf, "null"...)
	return w.done()
}

func (w *MetadataWriter) scalar() *Error {
	if len(w.stack) == 0 {
		return invalidField(w.field, "must be a JSON object")
	}
	return w.value()
}

// finish returns the metadata as compact JSON (nil for an empty object)
// and the memory it will take decoded; the writer keeps no reference to
// the returned bytes.
func (w *MetadataWriter) finish() ([]byte, int64, *Error) {
	if len(w.stack) != 0 || len(w.buf) == 0 {
		return nil, 0, invalidField(w.field, "is not a complete JSON object")
	}
	if len(w.buf) == 2 { // {}
		return nil, 0, nil
	}
	out := append([]byte(nil), w.buf...)
	return out, w.mem, nil
}

// appendJSONFloat formats f as encoding/json does.
func appendJSONFloat(dst []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	return strconv.AppendFloat(dst, f, format, -1, 64)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// writeMetadataValue feeds a decoded JSON value (as encoding/json or
// structpb.AsMap produce it) to w: the path of callers that hand the
// service Go values rather than a stream.
func writeMetadataValue(w *MetadataWriter, v any) *Error {
	switch x := v.(type) {
	case nil:
		return w.Null()
	case bool:
		return w.Bool(x)
	case string:
		return w.String([]byte(x))
	case float64:
		return w.Number(x)
	case json.Number:
		return w.NumberText([]byte(x))
	case map[string]any:
		if err := w.BeginObject(); err != nil {
			return err
		}
		for k, e := range x {
			if err := w.Key([]byte(k)); err != nil {
				return err
			}
			if err := writeMetadataValue(w, e); err != nil {
				return err
			}
		}
		return w.End()
	case []any:
		if err := w.BeginArray(); err != nil {
			return err
		}
		for _, e := range x {
			if err := writeMetadataValue(w, e); err != nil {
				return err
			}
		}
		return w.End()
	}
	// Other Go values (ints, structs): through their JSON form.
	raw, err := json.Marshal(v)
	if err != nil {
		return w.fail("is not representable as JSON: %v", err)
	}
	var decoded any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&decoded); err != nil {
		return w.fail("is not representable as JSON: %v", err)
	}
	return writeMetadataValue(w, decoded)
}

// fmtBytes is n bytes in MiB with one decimal, for messages.
func fmtBytes(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
