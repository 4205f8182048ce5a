package migrate

import (
	"bytes"
	"encoding/json"
)

// splitLine is the fast path of parseLine's first step: it cuts a plain
// v1 line ({"id": "...", "vector": [numbers], "metadata": {...},
// "deleted": bool} in any order, other keys ignored) into the same raw
// values json.Unmarshal into v1Line would give, in one pass and without
// decoding the vector twice. Profiling `akidb migrate` showed the full
// json.Unmarshal of each line (which validates every number of the vector
// before parseVector reads them again) as the largest single cost of a
// migration, paid in each of its passes.
//
// It returns ok=false for anything that is not plainly well formed: keys
// with escapes or in another case (encoding/json matches field names
// case-insensitively), repeated keys (encoding/json keeps the last), a
// vector that is not an array of JSON numbers, values that do not pass
// json.Valid, trailing data. The caller then takes the
// json.Unmarshal path, which gives the exact answer and the exact error
// message, so this function only has to be right about the lines it
// accepts (FuzzSplitLine checks that against json.Unmarshal).
func splitLine(text []byte) (l v1Line, ok bool) {
	i := skipSpace(text, 0)
	if i >= len(text) || text[i] != '{' {
		return l, false
	}
	i = skipSpace(text, i+1)
	if i < len(text) && text[i] == '}' {
		return l, skipSpace(text, i+1) == len(text)
	}
	for {
		key, next, ok := plainString(text, i)
		if !ok {
			return l, false
		}
		i = skipSpace(text, next)
		if i >= len(text) || text[i] != ':' {
			return l, false
		}
		i = skipSpace(text, i+1)
		var end int
		if string(key) == "vector" {
			end, ok = numberArrayEnd(text, i)
		} else {
			end, ok = valueEnd(text, i)
			ok = ok && json.Valid(text[i:end])
		}
		if !ok {
			return l, false
		}
		val := text[i:end]
		var slot *[]byte
		switch string(key) {
		case "id":
			slot = (*[]byte)(&l.ID)
		case "vector":
			slot = (*[]byte)(&l.Vector)
		case "metadata":
			slot = (*[]byte)(&l.Metadata)
		case "deleted":
			slot = (*[]byte)(&l.Deleted)
		default:
			if foldsToField(key) {
				return l, false
			}
		}
		if slot != nil {
			if *slot != nil {
				return l, false // a repeated key
			}
			*slot = val
		}
		i = skipSpace(text, end)
		if i >= len(text) {
			return l, false
		}
		switch text[i] {
		case ',':
			i = skipSpace(text, i+1)
		case '}':
			return l, skipSpace(text, i+1) == len(text)
		default:
			return l, false
		}
	}
}

// foldsToField reports whether encoding/json would match key to one of
// v1Line's fields although it is not spelled exactly like it.
func foldsToField(key []byte) bool {
	for _, f := range [...]string{"id", "vector", "metadata", "deleted"} {
		if bytes.EqualFold(key, []byte(f)) {
			return true
		}
	}
	return false
}

// plainString reads a JSON string at text[i] that has no escapes and no
// control characters, returning its contents and the index after it.
func plainString(text []byte, i int) (s []byte, next int, ok bool) {
	if i >= len(text) || text[i] != '"' {
		return nil, 0, false
	}
	for j := i + 1; j < len(text); j++ {
		switch c := text[j]; {
		case c == '"':
			return text[i+1 : j], j + 1, true
		case c == '\\' || c < 0x20:
			return nil, 0, false
		}
	}
	return nil, 0, false
}

// numberArrayEnd returns the index after a JSON array of JSON numbers
// starting at text[i] (whitespace allowed between elements).
func numberArrayEnd(text []byte, i int) (int, bool) {
	if i >= len(text) || text[i] != '[' {
		return 0, false
	}
	i = skipSpace(text, i+1)
	if i < len(text) && text[i] == ']' {
		return i + 1, true
	}
	for {
		end, ok := numberEnd(text, i)
		if !ok {
			return 0, false
		}
		i = skipSpace(text, end)
		if i >= len(text) {
			return 0, false
		}
		switch text[i] {
		case ',':
			i = skipSpace(text, i+1)
		case ']':
			return i + 1, true
		default:
			return 0, false
		}
	}
}

// numberEnd returns the index after a JSON number starting at text[i]:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func numberEnd(text []byte, i int) (int, bool) {
	n := len(text)
	if i < n && text[i] == '-' {
		i++
	}
	switch {
	case i >= n:
		return 0, false
	case text[i] == '0':
		i++
	case text[i] >= '1' && text[i] <= '9':
		i++
		for i < n && text[i]-'0' < 10 { // a byte below '0' wraps round
			i++
		}
	default:
		return 0, false
	}
	if i < n && text[i] == '.' {
		i++
		first := i
		for i < n && text[i]-'0' < 10 {
			i++
		}
		if i == first {
			return 0, false
		}
	}
	if i < n && (text[i] == 'e' || text[i] == 'E') {
		i++
		if i < n && (text[i] == '+' || text[i] == '-') {
			i++
		}
		first := i
		for i < n && text[i]-'0' < 10 {
			i++
		}
		if i == first {
			return 0, false
		}
	}
	return i, true
}

// valueEnd returns the index after the JSON value starting at text[i],
// finding only its extent (strings, nesting); the caller validates it.
func valueEnd(text []byte, i int) (int, bool) {
	if i >= len(text) {
		return 0, false
	}
	switch text[i] {
	case '"':
		for j := i + 1; j < len(text); j++ {
			switch text[j] {
			case '\\':
				j++
			case '"':
				return j + 1, true
			}
		}
		return 0, false
	case '{', '[':
		depth := 0
		for j := i; j < len(text); j++ {
			switch text[j] {
			case '"':
				end, ok := valueEnd(text, j)
				if !ok {
					return 0, false
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1, true
				}
			}
		}
		return 0, false
	default:
		// A number or a literal: up to the next delimiter.
		j := i
		for j < len(text) {
			switch text[j] {
			case ',', '}', ']', ' ', '\t', '\r', '\n':
				return j, j > i
			}
			j++
		}
		return j, j > i
	}
}
