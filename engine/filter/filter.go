package filter

import (
	"bytes"
	"encoding/json"
)

// Filter is a compiled metadata filter. It is immutable once Parse returns
// it and safe for concurrent use. A nil *Filter matches every record.
type Filter struct {
	root  matcher // nil: matches everything
	canon string  // canonical JSON, computed once at parse time
}

// matchAllJSON is the canonical form of a filter that matches everything.
const matchAllJSON = "{}"

// Parse validates and compiles a filter given as JSON.
//
// Empty input (nil, or only whitespace), "null" and "{}" all give a Filter
// that matches every record; a query without a filter and a query with an
// empty one behave the same. Parse never returns (nil, nil).
//
// Any error is a *ParseError naming the place in the filter that is wrong.
func Parse(data []byte) (*Filter, error) {
	if len(data) > MaxInputBytes {
		return nil, errorf(rootPath, "filter is %d bytes, limit is %d", len(data), MaxInputBytes)
	}
	// Only JSON's own whitespace counts as empty; anything else is for the
	// decoder to accept or refuse.
	if len(bytes.Trim(data, " \t\r\n")) == 0 {
		return &Filter{canon: matchAllJSON}, nil
	}
	v, err := decodeJSON(data)
	if err != nil {
		return nil, err
	}
	if v.kind == kindNull {
		return &Filter{canon: matchAllJSON}, nil
	}
	var c compiler
	m, canon, err := c.filter(v, rootPath, 1)
	if err != nil {
		return nil, err
	}
	text, err := encodeCanonical(canon)
	if err != nil {
		return nil, errorf(rootPath, "encode canonical form: %v", err)
	}
	// The canonical form spells out shorthand and may write some numbers
	// longer (1e22 -> 1e+22), so a filter near the size limit could grow past
	// it. Refusing that here keeps the promise that String always re-parses.
	if len(text) > MaxInputBytes {
		return nil, errorf(rootPath, "filter is %d bytes in canonical form, limit is %d", len(text), MaxInputBytes)
	}
	if _, all := m.(matchAll); all {
		m = nil
	}
	return &Filter{root: m, canon: text}, nil
}

// Match reports whether a record's metadata satisfies the filter. meta may be
// nil (a record without metadata: every field is missing). Match does not
// allocate for metadata made of the types encoding/json produces.
func (f *Filter) Match(meta map[string]any) bool {
	if f == nil || f.root == nil {
		return true
	}
	return f.root.match(meta)
}

// String returns the filter's canonical JSON: shorthand expanded to $eq, keys
// sorted, numbers in shortest round-trip form. Equivalent spellings of the
// same filter print the same, which suits logs and cache keys.
func (f *Filter) String() string {
	if f == nil {
		return matchAllJSON
	}
	return f.canon
}

// MarshalJSON returns the canonical JSON (see String). Parsing it gives a
// filter that matches exactly the same records and prints the same.
func (f *Filter) MarshalJSON() ([]byte, error) {
	return []byte(f.String()), nil
}

// encodeCanonical writes the canonical tree (maps, slices, float64, string,
// bool) as compact JSON. encoding/json sorts map keys, which is what makes
// the form canonical; HTML escaping is off so logs read naturally.
func encodeCanonical(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return string(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))), nil
}
