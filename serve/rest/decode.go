package rest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/jsonread"
	"github.com/akidb/akidb/serve/ratelimit"
)

// Request bodies are read before a request takes its in-flight slot (see
// enter), within the body timeout, so a client that sends its body slowly
// holds nothing that other clients need, and then gets 408.
//
// The vector routes (insert, query, delete) decode their body as a stream
// (decode_vectors.go): every limit is checked as the values arrive, and
// the first value that breaks one ends the request without reading the
// rest. The other routes take small objects: their body is read whole (at
// most smallBodyLimit bytes) and decoded by the handler with decodeBody.

// smallBodyLimit bounds the bodies of the routes that take small objects
// (collection create, admin), whatever --max-body-bytes allows.
const smallBodyLimit = 1 << 20

// DefaultBodyTimeout is how long a client has to send a request body.
const DefaultBodyTimeout = ratelimit.DefaultBodyTimeout

// streamDecoder decodes a route's body from r (positioned at the opening
// '{' of the body); what it returns is the handler's bodyOf value.
type streamDecoder func(s *server, c *gin.Context, r *jsonread.Reader) (any, *api.Error)

// bodyKey holds the decoded body (or the raw bytes of a small one) in the
// Gin context.
const bodyKey = "akidb.body"

// readBody is the middleware of a route with a body: it reads the body
// within the body timeout, decoding it with spec.stream (or keeping the
// bytes for decodeBody), and aborts with the error if that fails. It runs
// after authentication and before enter; while it reads, the request
// holds one of the Bodies slots (per tenant and server), not an in-flight
// one. The body's bytes count toward the Budget from before the body is
// read until the request is answered.
func (s *server) readBody(spec bodySpec) gin.HandlerFunc {
	return func(c *gin.Context) {
		if spec.optional && c.Request.ContentLength == 0 {
			c.Next()
			return
		}
		v, held, e := s.readBodyOnce(c, spec.stream)
		defer held.Release()
		if e != nil {
			refuseUnreadBody(c)
			writeError(c, e)
			c.Abort()
			return
		}
		c.Set(bodyKey, v)
		c.Next()
	}
}

// readBodyOnce reads the body under one of the Bodies slots, released as
// soon as the body is read, and returns it with what it holds of the
// Budget (release that once the request is answered).
func (s *server) readBodyOnce(c *gin.Context, decode streamDecoder) (any, *ratelimit.Reservation, *api.Error) {
	if s.bodies != nil {
		release, e := s.bodies.Admit(tenantOf(c))
		if e != nil {
			return nil, nil, e
		}
		defer release()
	}
	held := &heldBody{budget: s.budget, tenant: tenantOf(c)}
	v, e := s.bodyOf(c, decode, held)
	if e != nil {
		held.res.Release()
		return nil, nil, e
	}
	return v, held.res, nil
}

// heldBody is what a body being read holds of the Budget: all of it at
// once when its length is declared, else as it arrives (budgetReader).
type heldBody struct {
	budget *ratelimit.Budget // nil: no budget
	tenant string
	res    *ratelimit.Reservation
}

// heldKey holds a body's *heldBody in the Gin context while its decoder
// runs.
const heldKey = "akidb.held"

// growTo makes the body hold total bytes if it holds less: what a decoder
// has made of it (UpsertBatch.HoldWith).
func (h *heldBody) growTo(total int64) *api.Error {
	return h.take(total - h.res.Held())
}

// take adds n bytes to what the body holds.
func (h *heldBody) take(n int64) *api.Error {
	if h.budget == nil || n <= 0 {
		return nil
	}
	if h.res == nil {
		var e *api.Error
		h.res, e = h.budget.Reserve(h.tenant, n)
		return e
	}
	return h.res.Grow(n)
}

// budgetStep is how much a body of undeclared length takes of the budget
// at a time as it arrives.
const budgetStep = 64 << 10

// budgetReader takes a body of undeclared length into the budget as it
// is read, a budgetStep (or the read) at a time beyond what the body
// holds already; a refusal ends the read with a *budgetError.
type budgetReader struct {
	r    io.Reader
	held *heldBody
	read int64
}

// budgetError is a budget refusal met while a body was read.
type budgetError struct{ e *api.Error }

func (b *budgetError) Error() string { return b.e.Message }

func (b *budgetReader) Read(p []byte) (int, error) {
	if need := b.read + int64(len(p)) - b.held.res.Held(); need > 0 {
		if e := b.held.take(max(need, budgetStep)); e != nil {
			return 0, &budgetError{e}
		}
	}
	n, err := b.r.Read(p)
	b.read += int64(n)
	return n, err
}

func (s *server) bodyOf(c *gin.Context, decode streamDecoder, held *heldBody) (any, *api.Error) {
	r := c.Request
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		return nil, err
	}
	limit := s.maxBody
	if decode == nil {
		limit = min(limit, smallBodyLimit)
	}
	if r.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	var in io.Reader = r.Body
	if r.ContentLength >= 0 {
		if e := held.take(r.ContentLength); e != nil {
			return nil, e
		}
	} else {
		in = &budgetReader{r: in, held: held}
	}
	// The body deadline replaces the connection's read deadline (the
	// server's ReadTimeout) for the body; it is lifted once the body is
	// read so a slow handler does not fail a keep-alive connection.
	rc := http.NewResponseController(c.Writer)
	if err := rc.SetReadDeadline(time.Now().Add(s.bodyTimeout)); err == nil {
		defer func() { _ = rc.SetReadDeadline(time.Time{}) }()
	}
	body := http.MaxBytesReader(c.Writer, io.NopCloser(in), limit)
	if decode == nil {
		raw, err := io.ReadAll(body)
		if err != nil {
			return nil, s.readError(err, limit)
		}
		return raw, checkUTF8(raw)
	}
	jr := jsonread.NewReader(body)
	k, err := jr.Peek()
	if err != nil {
		if jr.Offset() == 0 && isSyntax(err) {
			return nil, badJSON("the request body is empty; a JSON object is required", -1)
		}
		return nil, s.jsonError(err, limit)
	}
	if k != jsonread.Object {
		return nil, badJSON("the request body must be a JSON object", jr.Offset())
	}
	c.Set(heldKey, held)
	v, e := decode(s, c, jr)
	if e != nil {
		return nil, e
	}
	if err := jr.End(); err != nil {
		return nil, s.jsonError(err, limit)
	}
	return v, nil
}

// refuseUnreadBody closes the connection after an answer given before the
// body was read whole (a refusal, a body stopped at its first bad value, a
// read that timed out): net/http would otherwise read what is left of the
// body before answering, which is what a slow sender wants it to do.
func refuseUnreadBody(c *gin.Context) {
	if c.Request.ContentLength != 0 {
		c.Header("Connection", "close")
	}
}

func isSyntax(err error) bool {
	var je *jsonread.Error
	return errors.As(err, &je) && je.Kind == jsonread.Syntax
}

// checkUTF8 refuses a small body with bytes that are not UTF-8, naming
// the field they are in (encoding/json would turn them into U+FFFD).
func checkUTF8(raw []byte) *api.Error {
	if utf8.Valid(raw) {
		return nil
	}
	jr := jsonread.NewReader(bytes.NewReader(raw))
	if _, err := jr.AppendCompact(nil, len(raw)+1, 1<<20); err != nil {
		var je *jsonread.Error
		if errors.As(err, &je) && je.Kind == jsonread.InvalidUTF8 {
			field := je.Field()
			if field == "" {
				field = "body"
			}
			return utf8Error(field, je.Offset)
		}
	}
	// Outside any string: not JSON at all.
	return badJSON("the request body is not valid UTF-8", int64(firstInvalidUTF8(raw)))
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

func utf8Error(field string, offset int64) *api.Error {
	e := api.InvalidField(field, "must be valid UTF-8 (at byte %d)", offset)
	e.Details["offset"] = offset
	return e
}

// decodeBody decodes the body of a small-object route (read by readBody)
// as exactly one JSON object into v: unknown fields and trailing data are
// refused.
func (s *server) decodeBody(c *gin.Context, v any) *api.Error {
	raw, _ := c.Get(bodyKey)
	b, _ := raw.([]byte)
	return decodeJSON(bytes.NewReader(b), min(s.maxBody, smallBodyLimit), v)
}

// bodyValue is the value a stream decoder made of the request's body.
func bodyValue[T any](c *gin.Context) T {
	v, _ := c.Get(bodyKey)
	t, _ := v.(T)
	return t
}

// checkContentType accepts application/json and application/*+json.
func checkContentType(ct string) *api.Error {
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))) {
		return nil
	}
	return &api.Error{Code: api.CodeInvalidArgument, Message: fmt.Sprintf("Content-Type must be application/json, got %q", clip(ct, 100)), Details: map[string]any{"header": "Content-Type"}}
}

// readError explains a failed body read: too large (413), too slow (408),
// or cut off (400).
func (s *server) readError(err error, limit int64) *api.Error {
	var mbe *http.MaxBytesError
	var be *budgetError
	switch {
	case errors.As(err, &be):
		return be.e
	case errors.As(err, &mbe):
		return tooLarge(limit)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return &api.Error{Code: api.CodeRequestTimeout,
			Message: fmt.Sprintf("the request body did not arrive within %s (the server's body timeout)", s.bodyTimeout),
			Details: map[string]any{"body_timeout_seconds": s.bodyTimeout.Seconds()}}
	}
	return &api.Error{Code: api.CodeInvalidArgument, Message: "reading the request body failed: " + err.Error()}
}

// jsonError explains an error of the stream reader: malformed JSON, a
// string that is not UTF-8 (field unknown here), or a failed read.
func (s *server) jsonError(err error, limit int64) *api.Error {
	var je *jsonread.Error
	if !errors.As(err, &je) {
		return s.readError(err, limit)
	}
	switch je.Kind {
	case jsonread.InvalidUTF8:
		return utf8Error(fieldName(je.Field()), je.Offset)
	case jsonread.TooLong:
		return badJSON(je.Msg, je.Offset)
	}
	return badJSON("malformed JSON: "+je.Msg, je.Offset)
}

// decodeJSON reads exactly one JSON object from body into v with
// encoding/json (the small-object routes, and the fuzz target's entry
// point). limit is only used in the too_large message.
func decodeJSON(body io.Reader, limit int64, v any) *api.Error {
	br := bufio.NewReader(body)
	skipped, err := skipSpace(br)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return badJSON("the request body is empty; a JSON object is required", -1)
		}
		return genericReadError(err, limit)
	}
	if b, _ := br.Peek(1); b[0] != '{' {
		return badJSON("the request body must be a JSON object", skipped)
	}
	dec := json.NewDecoder(br)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err, skipped, limit)
	}
	// Exactly one value: only whitespace may follow.
	end := skipped + dec.InputOffset()
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge(limit)
		}
		return badJSON("unexpected data after the JSON object", end)
	}
	return nil
}

// skipSpace consumes leading JSON whitespace and returns how much.
func skipSpace(br *bufio.Reader) (int64, error) {
	var n int64
	for {
		b, err := br.Peek(1)
		if err != nil {
			return n, err
		}
		switch b[0] {
		case ' ', '\t', '\r', '\n':
			_, _ = br.ReadByte()
			n++
		default:
			return n, nil
		}
	}
}

func tooLarge(limit int64) *api.Error {
	return &api.Error{Code: api.CodeTooLarge, Message: fmt.Sprintf("the request body exceeds the limit of %d bytes", limit), Details: map[string]any{"limit": limit}}
}

// badJSON is a malformed body; offset < 0 means unknown.
func badJSON(msg string, offset int64) *api.Error {
	e := &api.Error{Code: api.CodeInvalidArgument, Message: msg}
	if offset >= 0 {
		e.Message = fmt.Sprintf("%s (at byte %d)", msg, offset)
		e.Details = map[string]any{"offset": offset}
	}
	return e
}

func genericReadError(err error, limit int64) *api.Error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return tooLarge(limit)
	}
	return &api.Error{Code: api.CodeInvalidArgument, Message: "reading the request body failed: " + err.Error()}
}

// decodeError explains a json.Decoder error to the client: what was wrong
// and where (offsets count from the start of the body).
func decodeError(err error, skipped, limit int64) *api.Error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
		mbe *http.MaxBytesError
	)
	switch {
	case errors.As(err, &mbe):
		return tooLarge(limit)
	case errors.As(err, &syn):
		return badJSON("malformed JSON: "+syn.Error(), skipped+syn.Offset)
	case errors.As(err, &typ):
		e := badJSON(fmt.Sprintf("%s: cannot use %s, want %s", fieldName(typ.Field), typ.Value, wantOf(typ.Type)), skipped+typ.Offset)
		e.Details["field"] = fieldName(typ.Field)
		return e
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badJSON("malformed JSON: the body ends before the JSON object does", -1)
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		field := strings.Trim(name, `"`)
		return &api.Error{Code: api.CodeInvalidArgument, Message: "unknown field " + name, Details: map[string]any{"field": field}}
	}
	return genericReadError(err, limit)
}

// fieldName turns encoding/json's dotted path ("vectors.0.vector.1") into
// the form the API's other messages use ("vectors[0].vector[1]").
func fieldName(f string) string {
	if f == "" {
		return "body"
	}
	var b strings.Builder
	for i, seg := range strings.Split(f, ".") {
		if _, err := strconv.Atoi(seg); err == nil && i > 0 {
			b.WriteString("[" + seg + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(seg)
	}
	return b.String()
}

// wantOf names the JSON a Go type accepts, for error messages.
func wantOf(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.Float32:
		return "a number within float32 range (about ±3.4e38)"
	case reflect.Float64:
		return "a finite number"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer within range"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return wantOf(t.Elem())
	}
	return "another type"
}
