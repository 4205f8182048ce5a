package filter

import (
	"encoding/json"
	"strconv"
	"unsafe"
)

// Matching metadata held as JSON text. The engine keeps each record's
// metadata as the compact JSON encoding/json.Marshal writes (see
// engine/metadata.go): a fraction of the memory of a decoded map. MatchJSON
// answers exactly what Match answers on the decoded map, by walking the text
// once per condition without decoding it and without allocating (only keys
// and strings that contain escapes are unescaped, which allocates).
//
// The text must be one valid JSON object (or empty: no metadata). Objects
// must not repeat a key: encoding/json would keep the last value and
// MatchJSON finds the first. encoding/json.Marshal of a map never writes
// either, which is the only way the engine makes the text.

// MatchJSON reports whether metadata given as a JSON object satisfies the
// filter, with the same answer as Match on the object decoded by
// encoding/json. Empty doc means no metadata (every field missing).
func (f *Filter) MatchJSON(doc []byte) bool {
	if f == nil || f.root == nil {
		return true
	}
	return f.root.matchJSON(doc)
}

// MatchJSONString is MatchJSON for metadata held in a string.
func (f *Filter) MatchJSONString(doc string) bool {
	return f.MatchJSON(unsafe.Slice(unsafe.StringData(doc), len(doc)))
}

func (matchAll) matchJSON([]byte) bool { return true }

func (a andMatcher) matchJSON(doc []byte) bool {
	for _, m := range a {
		if !m.matchJSON(doc) {
			return false
		}
	}
	return true
}

func (o orMatcher) matchJSON(doc []byte) bool {
	for _, m := range o {
		if m.matchJSON(doc) {
			return true
		}
	}
	return false
}

func (n notMatcher) matchJSON(doc []byte) bool { return !n.m.matchJSON(doc) }

func (f *fieldMatcher) matchJSON(doc []byte) bool {
	v, present := LookupJSON(doc, f.path)
	if present && len(f.ops) > 1 && len(v) > 0 && v[0] != '[' {
		// Several conditions on one scalar ($gte and $lt): read it once.
		sc := scalarOf(v)
		for i := range f.ops {
			o := &f.ops[i]
			if o.exists {
				if !o.want {
					return false
				}
				continue
			}
			if sc.test(o.c) == o.negate {
				return false
			}
		}
		return true
	}
	for i := range f.ops {
		if !f.ops[i].testJSON(v, present) {
			return false
		}
	}
	return true
}

// jsonScalar is a JSON scalar read once, for several conditions.
type jsonScalar struct {
	kind byte // 'n' number, 's' string, 'b' bool, 0 none (null, object, bad)
	f    float64
	s    string
	b    bool
}

func scalarOf(v []byte) jsonScalar {
	switch v[0] {
	case '"':
		if s, ok := StringJSON(v); ok {
			return jsonScalar{kind: 's', s: s}
		}
	case 't':
		return jsonScalar{kind: 'b', b: true}
	case 'f':
		return jsonScalar{kind: 'b'}
	case 'n', '{', '[':
	default:
		if f, ok := NumberJSON(v); ok {
			return jsonScalar{kind: 'n', f: f}
		}
	}
	return jsonScalar{}
}

// test is scalarJSON on the value read.
func (sc *jsonScalar) test(c cond) bool {
	switch sc.kind {
	case 'n':
		return c.num(sc.f)
	case 's':
		return c.str(sc.s)
	case 'b':
		return c.boolean(sc.b)
	}
	return false
}

func (o *fieldOp) testJSON(v []byte, present bool) bool {
	if o.exists {
		return present == o.want
	}
	if !present {
		return o.negate
	}
	return anyElementJSON(o.c, v) != o.negate
}

// anyElementJSON is anyElement for a value given as JSON text.
func anyElementJSON(c cond, v []byte) bool {
	if len(v) == 0 || v[0] != '[' {
		return scalarJSON(c, v)
	}
	found := false
	EachElementJSON(v, func(e []byte) bool {
		found = scalarJSON(c, e)
		return !found
	})
	return found
}

// scalarJSON is scalar for a value given as JSON text: null, objects and
// arrays satisfy no condition.
func scalarJSON(c cond, v []byte) bool {
	if len(v) == 0 {
		return false
	}
	switch v[0] {
	case '"':
		s, ok := StringJSON(v)
		return ok && c.str(s)
	case 't':
		return c.boolean(true)
	case 'f':
		return c.boolean(false)
	case 'n', '{', '[':
		return false
	}
	f, ok := NumberJSON(v)
	return ok && c.num(f)
}

// LookupJSON follows path through nested objects of doc, as lookup does on
// a decoded map, and returns the value's JSON text. Any step that is absent
// or not an object makes the field missing.
func LookupJSON(doc []byte, path []string) ([]byte, bool) {
	cur := doc
	for _, seg := range path {
		i := skipSpace(cur, 0)
		if i >= len(cur) || cur[i] != '{' {
			return nil, false
		}
		v, ok := memberJSON(cur[i:], seg)
		if !ok {
			return nil, false
		}
		cur = v
	}
	return cur, true
}

// memberJSON returns the value of key in obj (which starts with '{').
func memberJSON(obj []byte, key string) ([]byte, bool) {
	i := skipSpace(obj, 1)
	if i < len(obj) && obj[i] == '}' {
		return nil, false
	}
	for i < len(obj) {
		if obj[i] != '"' {
			return nil, false
		}
		kEnd, escaped := scanString(obj, i)
		if kEnd < 0 {
			return nil, false
		}
		rawKey := obj[i+1 : kEnd-1]
		var match bool
		if escaped {
			k, ok := unquote(obj[i:kEnd])
			match = ok && k == key
		} else {
			match = string(rawKey) == key
		}
		i = skipSpace(obj, kEnd)
		if i >= len(obj) || obj[i] != ':' {
			return nil, false
		}
		vStart := skipSpace(obj, i+1)
		vEnd := skipValue(obj, vStart)
		if vEnd < 0 {
			return nil, false
		}
		if match {
			return obj[vStart:vEnd], true
		}
		i = skipSpace(obj, vEnd)
		if i >= len(obj) || obj[i] != ',' {
			return nil, false
		}
		i = skipSpace(obj, i+1)
	}
	return nil, false
}

// EachElementJSON calls fn for each element of the JSON array arr (which
// starts with '['), in order, until fn returns false.
func EachElementJSON(arr []byte, fn func(elem []byte) bool) {
	i := skipSpace(arr, 1)
	if i < len(arr) && arr[i] == ']' {
		return
	}
	for i < len(arr) {
		end := skipValue(arr, i)
		if end < 0 || !fn(arr[i:end]) {
			return
		}
		i = skipSpace(arr, end)
		if i >= len(arr) || arr[i] != ',' {
			return
		}
		i = skipSpace(arr, i+1)
	}
}

// EachMemberJSON calls fn for each member of the JSON object obj (which
// starts with '{'), in order, until fn returns false. Keys with escapes are
// unescaped (which allocates).
func EachMemberJSON(obj []byte, fn func(key string, val []byte) bool) {
	i := skipSpace(obj, 1)
	if i < len(obj) && obj[i] == '}' {
		return
	}
	for i < len(obj) && obj[i] == '"' {
		kEnd, escaped := scanString(obj, i)
		if kEnd < 0 {
			return
		}
		var key string
		if escaped {
			k, ok := unquote(obj[i:kEnd])
			if !ok {
				return
			}
			key = k
		} else {
			key = unsafe.String(unsafe.SliceData(obj[i+1:]), kEnd-1-(i+1))
		}
		i = skipSpace(obj, kEnd)
		if i >= len(obj) || obj[i] != ':' {
			return
		}
		vStart := skipSpace(obj, i+1)
		vEnd := skipValue(obj, vStart)
		if vEnd < 0 || !fn(key, obj[vStart:vEnd]) {
			return
		}
		i = skipSpace(obj, vEnd)
		if i >= len(obj) || obj[i] != ',' {
			return
		}
		i = skipSpace(obj, i+1)
	}
}

// StringJSON returns the string a JSON string literal v holds. Without
// escapes the result aliases v (valid only while v is); with them it is
// unescaped into a new string.
func StringJSON(v []byte) (string, bool) {
	end, escaped := scanString(v, 0)
	if end != len(v) {
		return "", false
	}
	if escaped {
		return unquote(v)
	}
	return unsafe.String(unsafe.SliceData(v[1:]), len(v)-2), true
}

// NumberJSON parses a JSON number literal as encoding/json does into an
// interface (float64). A number beyond float64's range is not a number, as
// encoding/json refuses it.
func NumberJSON(v []byte) (float64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	if f, ok := smallInt(v); ok {
		return f, true
	}
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(v), len(v)), 64)
	return f, err == nil
}

// smallInt reads an integer literal of at most 15 digits (optionally
// negative), the common case, without strconv: every such integer is
// exactly a float64, so the result is ParseFloat's. ok is false for
// anything else.
func smallInt(v []byte) (float64, bool) {
	neg := v[0] == '-'
	digits := v
	if neg {
		digits = v[1:]
	}
	if len(digits) == 0 || len(digits) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		return -float64(n), true // -0 too, as ParseFloat("-0")
	}
	return float64(n), true
}

// unquote decodes a JSON string literal with escapes as encoding/json does
// (including its replacement of invalid surrogates).
func unquote(lit []byte) (string, bool) {
	var s string
	if err := json.Unmarshal(lit, &s); err != nil {
		return "", false
	}
	return s, true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanString returns the index just past the string literal starting at
// b[i] (a '"'), and whether it holds escapes; -1 if it does not end.
func scanString(b []byte, i int) (int, bool) {
	escaped := false
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '"':
			return j + 1, escaped
		case '\\':
			escaped = true
			j++
		}
	}
	return -1, escaped
}

// skipValue returns the index just past the JSON value starting at b[i],
// or -1 if the text ends inside it. It trusts the text to be valid JSON and
// only finds where the value ends.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		end, _ := scanString(b, i)
		return end
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, _ := scanString(b, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	// A number or a literal: up to the next delimiter.
	j := i
	for j < len(b) {
		switch b[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return j
		}
		j++
	}
	return j
}
