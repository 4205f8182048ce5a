package migrate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/engine/distance"
)

// v1Line is one line of vectors.jsonl as stored by AkiDB 1.x.
type v1Line struct {
	ID       json.RawMessage `json:"id"`
	Vector   json.RawMessage `json:"vector"`
	Metadata json.RawMessage `json:"metadata"`
	Deleted  json.RawMessage `json:"deleted"`
}

// lineKind is what a line does.
type lineKind uint8

const (
	lineBlank lineKind = iota
	lineUpsert
	lineDelete
	lineInvalid
)

// parsed is a line as the migrator understands it.
type parsed struct {
	kind lineKind
	id   string
	// vector as written in v1 (the engine normalises cosine vectors).
	vector []float32
	// metadata decoded the way the engine stores it (numbers as float64);
	// nil for none. Only filled when parseOptions.metadata is set.
	metadata map[string]any
	// metaLen is the length of the metadata's JSON in the line.
	metaLen int
	problem *Problem
}

// shape is what a collection's lines are checked against.
type shape struct {
	dim    int
	metric distance.Metric
}

type parseOptions struct {
	// metadata: decode the metadata (the load and verify passes); the
	// plan pass only checks it.
	metadata bool
}

// parseLine checks one line against every v2 rule that applies to a
// record, exactly as the engine would, so the plan finds every record the
// engine would refuse. file and ln are for the problem's position.
func parseLine(text []byte, n int32, file string, ln int32, sh shape, opt parseOptions) parsed {
	bad := func(kind Kind, format string, args ...any) parsed {
		return parsed{kind: lineInvalid, problem: &Problem{File: file, Line: int(ln), Kind: kind, Scope: ScopeRecord, Message: fmt.Sprintf(format, args...)}}
	}
	if text == nil && n > maxLineBytes {
		return bad(KindInvalidRecord, "the line is longer than %d MiB", maxLineBytes>>20)
	}
	if len(bytes.TrimSpace(text)) == 0 {
		return parsed{kind: lineBlank}
	}
	if !utf8.Valid(text) {
		return bad(KindInvalidUTF8, "the line is not valid UTF-8 (byte %d)", invalidUTF8At(text)+1)
	}
	l, ok := splitLine(text)
	if !ok {
		l = v1Line{}
		if err := json.Unmarshal(text, &l); err != nil {
			var se *json.SyntaxError
			if errors.As(err, &se) {
				if tok := nonFiniteToken(text, se.Offset); tok != "" {
					return bad(KindNotFinite, "column %d: %s is not a number v2 can store (values must be finite)", se.Offset, tok)
				}
				return bad(KindMalformedJSON, "column %d: malformed JSON: %v", se.Offset, err)
			}
			return bad(KindMalformedJSON, "a line must be a JSON object {\"id\", \"vector\", \"metadata\"}: %v", err)
		}
	}
	var p parsed
	if len(l.ID) == 0 || string(l.ID) == "null" {
		return bad(KindInvalidID, "the record has no id")
	}
	if err := json.Unmarshal(l.ID, &p.id); err != nil {
		return bad(KindInvalidID, "the id must be a string, got %s", clip(l.ID))
	}
	switch {
	case p.id == "":
		return bad(KindInvalidID, "the id is empty")
	case len(p.id) > engine.MaxIDBytes:
		return bad(KindIDTooLong, "the id is %d bytes; v2 allows %d", len(p.id), engine.MaxIDBytes)
	}
	if len(l.Deleted) > 0 && string(l.Deleted) != "null" {
		var del bool
		if err := json.Unmarshal(l.Deleted, &del); err != nil {
			return bad(KindInvalidRecord, "\"deleted\" must be true or false, got %s", clip(l.Deleted))
		}
		if del {
			p.kind = lineDelete
			return p
		}
	}
	if len(l.Vector) == 0 || string(l.Vector) == "null" {
		return bad(KindInvalidRecord, "record %q has no vector", p.id)
	}
	vec, count, verr := parseVector(l.Vector, sh.dim)
	switch {
	case verr != nil:
		return bad(verr.kind, "record %q: %s", p.id, verr.msg)
	case count != sh.dim:
		return bad(KindWrongDimension, "record %q: the vector has %d numbers; the collection's dimension is %d", p.id, count, sh.dim)
	}
	if sh.metric == distance.Cosine {
		tmp := append([]float32(nil), vec...)
		if !distance.Normalize(tmp) {
			return bad(KindZeroVector, "record %q: a cosine collection cannot store a zero vector", p.id)
		}
	}
	p.vector = vec
	p.metaLen = len(l.Metadata)
	if len(l.Metadata) > 0 && string(l.Metadata) != "null" {
		if l.Metadata[0] != '{' {
			return bad(KindInvalidMetadata, "record %q: metadata must be a JSON object or null, got %s", p.id, clip(l.Metadata))
		}
		// v2 measures metadata as compact JSON, which can be up to six
		// times the input (escapes): only large inputs need measuring.
		if opt.metadata || len(l.Metadata) > engine.MaxMetadataBytes/6 {
			var m map[string]any
			if err := json.Unmarshal(l.Metadata, &m); err != nil {
				return bad(KindInvalidMetadata, "record %q: metadata: %v", p.id, err)
			}
			if len(m) > 0 {
				raw, err := json.Marshal(m)
				if err != nil {
					return bad(KindInvalidMetadata, "record %q: metadata: %v", p.id, err)
				}
				if len(raw) > engine.MaxMetadataBytes {
					return bad(KindMetadataTooLarge, "record %q: the metadata is %d bytes as compact JSON; v2 allows %d", p.id, len(raw), engine.MaxMetadataBytes)
				}
				p.metadata = m
			}
		}
	}
	p.kind = lineUpsert
	return p
}

type vectorError struct {
	kind Kind
	msg  string
}

// parseVector reads a JSON array of numbers (already validated as JSON)
// into float32s, as the REST API does, and counts its elements. It keeps
// at most dim values.
func parseVector(raw []byte, dim int) ([]float32, int, *vectorError) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '[' {
		return nil, 0, &vectorError{KindInvalidRecord, fmt.Sprintf("the vector must be an array of numbers, got %s", clip(raw))}
	}
	out := make([]float32, 0, dim)
	count := 0
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == ']' {
		return out, 0, nil
	}
	for i < len(raw) {
		start := i
		c := raw[i]
		if c != '-' && (c < '0' || c > '9') {
			return nil, count, &vectorError{KindInvalidRecord, fmt.Sprintf("vector[%d] is not a number: %s", count, clip(raw[i:]))}
		}
		if f, n, ok := fastFloat32Prefix(raw[i:]); ok && (i+n == len(raw) || isDelimiter(raw[i+n])) {
			if count < dim {
				out = append(out, f)
			}
			count++
			i = skipSpace(raw, i+n)
			if i < len(raw) && raw[i] == ',' {
				i = skipSpace(raw, i+1)
				continue
			}
			break
		}
		for i < len(raw) && !isDelimiter(raw[i]) {
			i++
		}
		tok := raw[start:i]
		f, err := strconv.ParseFloat(string(tok), 32)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return nil, count, &vectorError{KindInvalidRecord, fmt.Sprintf("vector[%d] is not a number: %s", count, tok)}
		}
		if math.IsInf(f, 0) {
			return nil, count, &vectorError{KindNotFinite, fmt.Sprintf("vector[%d] = %s is outside the range of a 32-bit float", count, tok)}
		}
		if count < dim {
			out = append(out, float32(f))
		}
		count++
		i = skipSpace(raw, i)
		if i < len(raw) && raw[i] == ',' {
			i = skipSpace(raw, i+1)
			continue
		}
		break
	}
	return out, count, nil
}

// isDelimiter ends a number in a vector.
func isDelimiter(c byte) bool {
	return c == ',' || c == ']' || c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// nonFiniteToken names the NaN or Infinity literal (as Python's json
// module writes them) at a syntax error's offset, or "".
func nonFiniteToken(text []byte, off int64) string {
	at := int(off) - 1 // the offending character
	if at < 0 || at >= len(text) {
		return ""
	}
	rest := text[at:]
	if bytes.HasPrefix(rest, []byte("Infinity")) && at > 0 && text[at-1] == '-' {
		return "-Infinity" // the '-' was read as the start of a number
	}
	for _, tok := range []string{"NaN", "Infinity"} {
		if bytes.HasPrefix(rest, []byte(tok)) {
			return tok
		}
	}
	return ""
}

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(b)
}

// clip shortens raw JSON for a message.
func clip(b []byte) string {
	const limit = 40
	if len(b) > limit {
		return string(b[:limit]) + "..."
	}
	return string(b)
}
