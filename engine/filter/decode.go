package filter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// jsonKind is the type of a decoded JSON value.
type jsonKind uint8

const (
	kindNull jsonKind = iota
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

func (k jsonKind) String() string {
	switch k {
	case kindNull:
		return "null"
	case kindBool:
		return "bool"
	case kindNumber:
		return "number"
	case kindString:
		return "string"
	case kindArray:
		return "array"
	default:
		return "object"
	}
}

// jsonValue is a decoded JSON value that, unlike map[string]any, keeps object
// members in input order (so the first error in a filter is the one reported,
// every time) and keeps numbers as their text (so range checks happen in one
// place, with the filter path at hand).
type jsonValue struct {
	kind jsonKind
	b    bool
	num  json.Number
	str  string
	arr  []jsonValue
	obj  []jsonMember
}

type jsonMember struct {
	key string
	val jsonValue
}

// decodeJSON decodes exactly one JSON value from data. Duplicate object keys
// are rejected: encoding/json would silently keep the last one, and a filter
// such as {"price": 1, "price": 2} almost certainly does not mean that.
func decodeJSON(data []byte) (jsonValue, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec, 1)
	if err != nil {
		return jsonValue{}, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return jsonValue{}, errorf(rootPath, "invalid JSON: unexpected data after the filter at byte %d", dec.InputOffset())
	}
	return v, nil
}

func decodeValue(dec *json.Decoder, depth int) (jsonValue, error) {
	tok, err := dec.Token()
	if err != nil {
		return jsonValue{}, syntaxError(dec, err)
	}
	switch t := tok.(type) {
	case nil:
		return jsonValue{kind: kindNull}, nil
	case bool:
		return jsonValue{kind: kindBool, b: t}, nil
	case json.Number:
		return jsonValue{kind: kindNumber, num: t}, nil
	case string:
		return jsonValue{kind: kindString, str: t}, nil
	case json.Delim:
		if depth > maxJSONDepth {
			return jsonValue{}, errorf(rootPath, "nesting depth exceeds limit of %d", MaxDepth)
		}
		if t == '[' {
			return decodeArray(dec, depth)
		}
		if t == '{' {
			return decodeObject(dec, depth)
		}
	}
	// Token only returns a closing delimiter where the syntax allows one,
	// which decodeArray and decodeObject consume themselves.
	return jsonValue{}, errorf(rootPath, "invalid JSON: unexpected %v at byte %d", tok, dec.InputOffset())
}

func decodeArray(dec *json.Decoder, depth int) (jsonValue, error) {
	v := jsonValue{kind: kindArray}
	for dec.More() {
		elem, err := decodeValue(dec, depth+1)
		if err != nil {
			return jsonValue{}, err
		}
		v.arr = append(v.arr, elem)
	}
	if _, err := dec.Token(); err != nil { // the closing ']'
		return jsonValue{}, syntaxError(dec, err)
	}
	return v, nil
}

// dupCheckMapAt is the member count above which duplicate keys are found with
// a map rather than a linear scan, keeping wide objects from costing O(n²).
const dupCheckMapAt = 8

func decodeObject(dec *json.Decoder, depth int) (jsonValue, error) {
	v := jsonValue{kind: kindObject}
	var seen map[string]struct{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return jsonValue{}, syntaxError(dec, err)
		}
		key, ok := tok.(string)
		if !ok { // More and Token enforce string keys; guard anyway
			return jsonValue{}, errorf(rootPath, "invalid JSON: object key is not a string at byte %d", dec.InputOffset())
		}
		if len(v.obj) == dupCheckMapAt {
			seen = make(map[string]struct{}, 2*dupCheckMapAt)
			for _, m := range v.obj {
				seen[m.key] = struct{}{}
			}
		}
		dup := false
		if seen != nil {
			_, dup = seen[key]
			seen[key] = struct{}{}
		} else {
			for _, m := range v.obj {
				if m.key == key {
					dup = true
					break
				}
			}
		}
		if dup {
			return jsonValue{}, errorf(rootPath, "invalid JSON: duplicate key %q at byte %d", key, dec.InputOffset())
		}
		val, err := decodeValue(dec, depth+1)
		if err != nil {
			return jsonValue{}, err
		}
		v.obj = append(v.obj, jsonMember{key: key, val: val})
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return jsonValue{}, syntaxError(dec, err)
	}
	return v, nil
}

func syntaxError(dec *json.Decoder, err error) *ParseError {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errorf(rootPath, "invalid JSON: unexpected end of input")
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		// Go 1.27's decoder reports a truncated input as a syntax error.
		if strings.Contains(se.Error(), "unexpected end of JSON input") {
			return errorf(rootPath, "invalid JSON: unexpected end of input")
		}
		return errorf(rootPath, "invalid JSON at byte %d: %v", se.Offset, se)
	}
	return errorf(rootPath, "invalid JSON at byte %d: %v", dec.InputOffset(), fmt.Sprint(err))
}
