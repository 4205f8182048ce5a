package filter

import (
	"errors"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	cases := []struct {
		in, want string
	}{
		// not JSON, or not one JSON value
		{`{`, `filter: invalid JSON: unexpected end of input`},
		{`{"a":}`, `filter: invalid JSON at byte 6: missing value after object key`},
		{`{} {}`, `filter: invalid JSON: unexpected data after the filter at byte 4`},
		{`{"a":1,"a":2}`, `filter: invalid JSON: duplicate key "a" at byte 10`},
		// the top level
		{`[]`, `filter: a filter must be an object, got array`},
		{`"red"`, `filter: a filter must be an object, got string`},
		{`5`, `filter: a filter must be an object, got number`},
		// field names
		{`{"":1}`, `filter: empty field name`},
		{`{"a..b":1}`, `filter: field name "a..b" has an empty segment`},
		{`{".a":1}`, `filter: field name ".a" has an empty segment`},
		{`{"a.":1}`, `filter: field name "a." has an empty segment`},
		{`{"a.$b":1}`, `filter: field name "a.$b" has a segment starting with "$"`},
		{`{"$color":1}`, `filter: unknown operator "$color" (field names cannot start with "$")`},
		{`{"$eq":1}`, `filter: $eq applies to a field: write {"field": {"$eq": ...}}`},
		// field values
		{`{"a":null}`, `filter.a: needs a value or an object of operators, got null (to match a missing field use {"$exists": false})`},
		{`{"a":[1,2]}`, `filter.a: needs a value or an object of operators, got array (to match any of several values use {"$in": [...]})`},
		{`{"a":{}}`, `filter.a: needs at least one operator, got an empty object`},
		{`{"a":{"b":1}}`, `filter.a: operator names start with "$", got "b" (for a nested field write the dot path "a.b")`},
		{`{"a":{"$foo":1}}`, `filter.a: unknown operator "$foo"`},
		{`{"a":{"$not":{"$eq":1}}}`, `filter.a: $not combines whole filters and cannot be applied to a field's value`},
		{`{"a":{"$or":[]}}`, `filter.a: $or combines whole filters and cannot be applied to a field's value`},
		{`{"odd name":{"$foo":1}}`, `filter["odd name"]: unknown operator "$foo"`},
		// operand types
		{`{"a":{"$eq":null}}`, `filter.a: $eq needs a string, number or bool, got null`},
		{`{"a":{"$eq":[1]}}`, `filter.a: $eq needs a string, number or bool, got array`},
		{`{"a":{"$ne":{}}}`, `filter.a: $ne needs a string, number or bool, got object`},
		{`{"a":{"$gt":true}}`, `filter.a: $gt needs a number or string, got bool`},
		{`{"a":{"$gte":null}}`, `filter.a: $gte needs a number or string, got null`},
		{`{"a":{"$lt":[1]}}`, `filter.a: $lt needs a number or string, got array`},
		{`{"a":{"$lte":{}}}`, `filter.a: $lte needs a number or string, got object`},
		{`{"a":{"$in":1}}`, `filter.a: $in needs an array, got number`},
		{`{"a":{"$nin":"x"}}`, `filter.a: $nin needs an array, got string`},
		{`{"a":{"$in":[1,"x",null]}}`, `filter.a: $in[2] needs a string, number or bool, got null`},
		{`{"a":{"$nin":[[1]]}}`, `filter.a: $nin[0] needs a string, number or bool, got array`},
		{`{"a":{"$exists":1}}`, `filter.a: $exists needs true or false, got number`},
		{`{"a":{"$exists":"true"}}`, `filter.a: $exists needs true or false, got string`},
		// numbers that do not fit a float64
		{`{"a":1e400}`, `filter.a: number 1e400 is out of range for float64`},
		{`{"a":{"$gt":-1e999}}`, `filter.a: $gt: number -1e999 is out of range for float64`},
		{`{"a":{"$in":[1,2e308]}}`, `filter.a: $in[1]: number 2e308 is out of range for float64`},
		// logical operators
		{`{"$and":[]}`, `filter: $and needs at least one filter, got an empty array`},
		{`{"$or":[]}`, `filter: $or needs at least one filter, got an empty array`},
		{`{"$and":{}}`, `filter: $and needs an array of filters, got object`},
		{`{"$or":null}`, `filter: $or needs an array of filters, got null`},
		{`{"$and":[{"a":1},5]}`, `filter.$and[1]: a filter must be an object, got number`},
		{`{"$not":[]}`, `filter.$not: a filter must be an object, got array`},
		{`{"$nor":[]}`, `filter: unknown operator "$nor" (field names cannot start with "$")`},
		// paths through nesting
		{`{"$and":[{"a":1},{"price":{"$gt":true}}]}`, `filter.$and[1].price: $gt needs a number or string, got bool`},
		{`{"$or":[{"$not":{"x.y":{"$in":[{}]}}}]}`, `filter.$or[0].$not.x.y: $in[0] needs a string, number or bool, got object`},
		// the first error in input order is the one reported
		{`{"b":{"$gt":true},"a":{"$gt":null}}`, `filter.b: $gt needs a number or string, got bool`},
	}
	for _, tc := range cases {
		f, err := Parse([]byte(tc.in))
		if err == nil {
			t.Errorf("Parse(%s) = %s, want error %q", tc.in, f, tc.want)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("Parse(%s) error\n got: %s\nwant: %s", tc.in, err, tc.want)
		}
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("Parse(%s) error %T is not a *ParseError", tc.in, err)
		}
		if f != nil {
			t.Errorf("Parse(%s) returned a filter with its error", tc.in)
		}
	}
}

func TestParseErrorFields(t *testing.T) {
	_, err := Parse([]byte(`{"$and":[{"a":1},{"price":{"$gt":true}}]}`))
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v is not a *ParseError", err)
	}
	if pe.Path != "filter.$and[1].price" || pe.Msg != "$gt needs a number or string, got bool" {
		t.Errorf("ParseError = %+v", *pe)
	}
}

// nest wraps inner in n levels of $not.
func nest(n int, inner string) string {
	return strings.Repeat(`{"$not":`, n) + inner + strings.Repeat(`}`, n)
}

func TestParseLimits(t *testing.T) {
	// Depth: the top object is depth 1, so MaxDepth-1 nested $not fit.
	mustParse(t, nest(MaxDepth-1, `{"a":1}`))
	_, err := Parse([]byte(nest(MaxDepth, `{"a":1}`)))
	wantPath := "filter" + strings.Repeat(".$not", MaxDepth)
	if err == nil || err.Error() != wantPath+": nesting depth exceeds limit of 32" {
		t.Errorf("depth %d: err = %v", MaxDepth+1, err)
	}
	// $and arrays nest the same way.
	deepAnd := strings.Repeat(`{"$and":[`, MaxDepth) + `{"a":1}` + strings.Repeat(`]}`, MaxDepth)
	if _, err := Parse([]byte(deepAnd)); err == nil || !strings.HasSuffix(err.Error(), ": nesting depth exceeds limit of 32") {
		t.Errorf("deep $and: err = %v", err)
	}
	// Deep JSON that is no filter at all is stopped while decoding.
	deepJSON := `{"a":{"$in":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}}`
	if _, err := Parse([]byte(deepJSON)); err == nil || err.Error() != "filter: nesting depth exceeds limit of 32" {
		t.Errorf("deep JSON: err = %v", err)
	}

	// Nodes: MaxNodes field conditions fit, one more does not.
	conds := func(n int) string {
		var b strings.Builder
		b.WriteString(`{"$or":[`)
		for i := 0; i < n-1; i++ { // the $or itself is one node
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`{"a":1}`)
		}
		b.WriteString(`]}`)
		return b.String()
	}
	mustParse(t, conds(MaxNodes))
	if _, err := Parse([]byte(conds(MaxNodes + 1))); err == nil || err.Error() != "filter.$or[1023].a: filter has more than 1024 conditions" {
		t.Errorf("too many nodes: err = %v", err)
	}
	if _, err := Parse([]byte(`{"a":{"$gt":1,"$lt":2},"b":3}`)); err != nil {
		t.Errorf("small filter: %v", err)
	}

	// $in lists.
	list := func(n int) string {
		return `{"a":{"$in":[` + strings.TrimSuffix(strings.Repeat(`1,`, n), ",") + `]}}`
	}
	mustParse(t, list(MaxInValues))
	if _, err := Parse([]byte(list(MaxInValues + 1))); err == nil || err.Error() != "filter.a: $in has 1025 values, limit is 1024" {
		t.Errorf("long $in: err = %v", err)
	}

	// Input size: padding with whitespace keeps the JSON valid.
	pad := func(n int) []byte {
		return []byte(`{"a":1}` + strings.Repeat(" ", n-len(`{"a":1}`)))
	}
	if _, err := Parse(pad(MaxInputBytes)); err != nil {
		t.Errorf("input of exactly %d bytes: %v", MaxInputBytes, err)
	}
	if _, err := Parse(pad(MaxInputBytes + 1)); err == nil || err.Error() != "filter: filter is 65537 bytes, limit is 65536" {
		t.Errorf("oversized input: err = %v", err)
	}
}

func TestWideObjectDuplicateKeys(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i < 20; i++ {
		b.WriteString(`"f` + string(rune('a'+i)) + `":1,`)
	}
	b.WriteString(`"fc":2}`)
	_, err := Parse([]byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), `duplicate key "fc"`) {
		t.Errorf("duplicate in a wide object: err = %v", err)
	}
}

func TestCanonicalForm(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{"color":"red"}`, `{"color":{"$eq":"red"}}`},
		{` { "b" : 2 , "a" : 1 } `, `{"a":{"$eq":1},"b":{"$eq":2}}`},
		{`{"p":{"$lt":20,"$gte":1.0e1}}`, `{"p":{"$gte":10,"$lt":20}}`},
		{`{"p":123456789012345678901234567890}`, `{"p":{"$eq":1.2345678901234568e+29}}`},
		{`{"p":1e21}`, `{"p":{"$eq":1e+21}}`},
		{`{"p":-0.0000001}`, `{"p":{"$eq":-1e-7}}`},
		{`{"t":{"$in":["b","a",1,true]}}`, `{"t":{"$in":["b","a",1,true]}}`},
		{`{"s":"<&>\u00e9"}`, `{"s":{"$eq":"<&>é"}}`},
		{`{"$or":[{"a":1},{"$not":{"b":{"$exists":false}}}],"c":{"$nin":[]}}`,
			`{"$or":[{"a":{"$eq":1}},{"$not":{"b":{"$exists":false}}}],"c":{"$nin":[]}}`},
		{`{"$and":[{}]}`, `{"$and":[{}]}`},
		{`{"$not":{}}`, `{"$not":{}}`},
	}
	for _, tc := range cases {
		f := mustParse(t, tc.in)
		if got := f.String(); got != tc.want {
			t.Errorf("String(%s)\n got: %s\nwant: %s", tc.in, got, tc.want)
		}
		b, err := f.MarshalJSON()
		if err != nil || string(b) != tc.want {
			t.Errorf("MarshalJSON(%s) = %s, %v", tc.in, b, err)
		}
		// The canonical form is a fixed point.
		if again := mustParse(t, tc.want).String(); again != tc.want {
			t.Errorf("canonical form of %s is not stable: %s", tc.want, again)
		}
	}
}

func TestCanonicalFormSizeLimit(t *testing.T) {
	// 1e22 is written 1e+22 in canonical form, so twelve lists of a
	// thousand of them fit the limit as sent but not once expanded.
	list := `{"a":{"$in":[` + strings.TrimSuffix(strings.Repeat(`1e22,`, 1000), ",") + `]}}`
	in := `{"$or":[` + strings.TrimSuffix(strings.Repeat(list+",", 12), ",") + `]}`
	if len(in) > MaxInputBytes {
		t.Fatalf("test input is %d bytes, meant to be under the limit", len(in))
	}
	_, err := Parse([]byte(in))
	want := "filter: filter is 72201 bytes in canonical form, limit is 65536"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}
