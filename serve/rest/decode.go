package rest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/akidb/akidb/serve/api"
)

// decodeBody reads the request body as exactly one JSON object into v:
// unknown fields, trailing data and bodies over maxBody bytes are refused.
func (s *server) decodeBody(c *gin.Context, v any) *api.Error {
	r := c.Request
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	if r.ContentLength > s.maxBody {
		return tooLarge(s.maxBody)
	}
	return decodeJSON(http.MaxBytesReader(c.Writer, r.Body, s.maxBody), s.maxBody, v)
}

// checkContentType accepts application/json and application/*+json.
func checkContentType(ct string) *api.Error {
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))) {
		return nil
	}
	return &api.Error{Code: api.CodeInvalidArgument, Message: fmt.Sprintf("Content-Type must be application/json, got %q", clip(ct, 100)), Details: map[string]any{"header": "Content-Type"}}
}

// decodeJSON is decodeBody without the HTTP parts (and the fuzz target's
// entry point). limit is only used in the too_large message.
func decodeJSON(body io.Reader, limit int64, v any) *api.Error {
	br := bufio.NewReader(body)
	skipped, err := skipSpace(br)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return badJSON("the request body is empty; a JSON object is required", -1)
		}
		return readError(err, limit)
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

func readError(err error, limit int64) *api.Error {
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
	return readError(err, limit)
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
