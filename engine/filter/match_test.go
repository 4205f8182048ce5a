package filter

import (
	"encoding/json"
	"math"
	"testing"
)

func mustParse(t testing.TB, s string) *Filter {
	t.Helper()
	f, err := Parse([]byte(s))
	if err != nil {
		t.Fatalf("Parse(%s): %v", s, err)
	}
	return f
}

// doc decodes metadata the way the collection layer does.
func doc(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("bad test doc %s: %v", s, err)
	}
	return m
}

func TestMatchOperators(t *testing.T) {
	const d = `{"color":"red","price":15,"stock":0,"ok":true,"name":"beta","n":null,
		"tags":["a","b"],"nums":[1,5,9],"mixed":["x",2,true,null,{"k":1},[3]],"empty":[],
		"dim":{"w":2,"h":{"d":3},"s":"str"}}`
	cases := []struct {
		filter string
		want   bool
	}{
		// shorthand and $eq
		{`{"color":"red"}`, true},
		{`{"color":"blue"}`, false},
		{`{"color":{"$eq":"red"}}`, true},
		{`{"price":15}`, true},
		{`{"price":15.0}`, true},
		{`{"price":1.5e1}`, true},
		{`{"price":16}`, false},
		{`{"stock":0}`, true},
		{`{"stock":-0}`, true},
		{`{"ok":true}`, true},
		{`{"ok":false}`, false},
		// $eq across types is false, never an error
		{`{"price":"15"}`, false},
		{`{"color":1}`, false},
		{`{"ok":1}`, false},
		{`{"ok":"true"}`, false},
		{`{"n":"null"}`, false},
		{`{"dim":2}`, false},
		// $ne
		{`{"color":{"$ne":"red"}}`, false},
		{`{"color":{"$ne":"blue"}}`, true},
		{`{"price":{"$ne":"15"}}`, true},
		{`{"n":{"$ne":1}}`, true},
		// $in / $nin
		{`{"color":{"$in":["blue","red"]}}`, true},
		{`{"color":{"$in":["blue","green"]}}`, false},
		{`{"color":{"$in":[]}}`, false},
		{`{"price":{"$in":[1,15,"x"]}}`, true},
		{`{"ok":{"$in":[false]}}`, false},
		{`{"ok":{"$in":[true]}}`, true},
		{`{"color":{"$nin":["blue","red"]}}`, false},
		{`{"color":{"$nin":["blue"]}}`, true},
		{`{"color":{"$nin":[]}}`, true},
		// long $in lists take the hashed path
		{`{"color":{"$in":["a","b","c","d","e","f","g","h","i","red"]}}`, true},
		{`{"color":{"$in":["a","b","c","d","e","f","g","h","i","j"]}}`, false},
		{`{"price":{"$in":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15]}}`, true},
		{`{"price":{"$in":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,16]}}`, false},
		{`{"price":{"$nin":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15]}}`, false},
		// ranges on numbers
		{`{"price":{"$gt":10}}`, true},
		{`{"price":{"$gt":15}}`, false},
		{`{"price":{"$gte":15}}`, true},
		{`{"price":{"$lt":15}}`, false},
		{`{"price":{"$lt":15.5}}`, true},
		{`{"price":{"$lte":15}}`, true},
		{`{"price":{"$gte":10,"$lt":20}}`, true},
		{`{"price":{"$gte":10,"$lt":15}}`, false},
		// ranges on strings are lexicographic
		{`{"name":{"$gt":"alpha"}}`, true},
		{`{"name":{"$gt":"beta"}}`, false},
		{`{"name":{"$gte":"beta"}}`, true},
		{`{"name":{"$lt":"c"}}`, true},
		{`{"name":{"$lte":"b"}}`, false},
		// ranges across types are false
		{`{"price":{"$gt":"1"}}`, false},
		{`{"name":{"$gt":0}}`, false},
		{`{"ok":{"$gt":0}}`, false},
		{`{"n":{"$lt":1}}`, false},
		{`{"dim":{"$gt":0}}`, false},
		// $exists
		{`{"color":{"$exists":true}}`, true},
		{`{"color":{"$exists":false}}`, false},
		{`{"n":{"$exists":true}}`, true},
		{`{"nope":{"$exists":false}}`, true},
		{`{"dim.h.d":{"$exists":true}}`, true},
		{`{"dim.h.x":{"$exists":true}}`, false},
		// missing fields
		{`{"nope":1}`, false},
		{`{"nope":{"$ne":1}}`, true},
		{`{"nope":{"$in":[1]}}`, false},
		{`{"nope":{"$nin":[1]}}`, true},
		{`{"nope":{"$gt":0}}`, false},
		{`{"nope":{"$lte":0}}`, false},
		{`{"nope":{"$ne":1,"$exists":true}}`, false},
		// arrays: any element for positive operators, negation for $ne/$nin
		{`{"tags":"a"}`, true},
		{`{"tags":"c"}`, false},
		{`{"tags":{"$ne":"a"}}`, false},
		{`{"tags":{"$ne":"c"}}`, true},
		{`{"tags":{"$in":["c","b"]}}`, true},
		{`{"tags":{"$nin":["c","b"]}}`, false},
		{`{"tags":{"$nin":["c","d"]}}`, true},
		{`{"nums":{"$gt":8}}`, true},
		{`{"nums":{"$gt":9}}`, false},
		{`{"nums":{"$gt":6,"$lt":4}}`, true}, // different elements may satisfy each operator
		{`{"mixed":2}`, true},
		{`{"mixed":true}`, true},
		{`{"mixed":3}`, false},          // nested arrays are not looked into
		{`{"mixed":{"$gt":1}}`, true},   // 2
		{`{"mixed":{"$lt":"y"}}`, true}, // "x"
		{`{"empty":1}`, false},
		{`{"empty":{"$ne":1}}`, true},
		{`{"empty":{"$exists":true}}`, true},
		// nested paths
		{`{"dim.w":2}`, true},
		{`{"dim.h.d":{"$gte":3}}`, true},
		{`{"dim.s.x":{"$exists":true}}`, false}, // through a string: missing
		{`{"dim.s.x":{"$ne":1}}`, true},
		{`{"tags.0":"a"}`, false}, // arrays are not traversed
		{`{"color.x":{"$exists":false}}`, true},
		// combinations
		{`{"color":"red","price":15}`, true},
		{`{"color":"red","price":16}`, false},
		{`{"$and":[{"color":"red"},{"price":{"$gt":10}}]}`, true},
		{`{"$and":[{"color":"red"},{"price":{"$gt":20}}]}`, false},
		{`{"$or":[{"color":"blue"},{"price":{"$gt":10}}]}`, true},
		{`{"$or":[{"color":"blue"},{"price":{"$gt":20}}]}`, false},
		{`{"$or":[{"color":"red"}]}`, true},
		{`{"$not":{"color":"red"}}`, false},
		{`{"$not":{"color":"blue"}}`, true},
		{`{"$not":{"$not":{"color":"red"}}}`, true},
		{`{"$not":{"nope":1}}`, true},
		{`{"$not":{}}`, false},
		{`{"$or":[{}, {"color":"blue"}]}`, true},
		{`{"$and":[{}]}`, true},
		{`{"color":"red","$or":[{"tags":"z"},{"dim.w":2}],"$not":{"ok":false}}`, true},
		{`{"color":"red","$or":[{"tags":"z"},{"dim.w":3}]}`, false},
		{`{}`, true},
	}
	meta := doc(t, d)
	for _, tc := range cases {
		f := mustParse(t, tc.filter)
		if got := f.Match(meta); got != tc.want {
			t.Errorf("%s: Match = %v, want %v", tc.filter, got, tc.want)
		}
	}
}

func TestMatchAllForms(t *testing.T) {
	for _, in := range []string{"", "  \n", "null", " null ", "{}", " { } "} {
		f := mustParse(t, in)
		if f == nil {
			t.Fatalf("Parse(%q) returned a nil filter", in)
		}
		if !f.Match(nil) || !f.Match(map[string]any{"a": 1.0}) {
			t.Errorf("Parse(%q) does not match everything", in)
		}
		if f.String() != "{}" {
			t.Errorf("Parse(%q).String() = %q, want {}", in, f.String())
		}
	}
	var nilF *Filter
	if !nilF.Match(nil) || nilF.String() != "{}" {
		t.Error("nil *Filter must match everything and print {}")
	}
	if b, err := nilF.MarshalJSON(); err != nil || string(b) != "{}" {
		t.Errorf("nil MarshalJSON = %s, %v", b, err)
	}
}

// Metadata built in Go rather than decoded from JSON may hold other number
// and slice types; they must compare as the numbers and arrays they are.
func TestMatchGoTypes(t *testing.T) {
	cases := []struct {
		filter string
		meta   map[string]any
		want   bool
	}{
		{`{"a":3}`, map[string]any{"a": 3}, true},
		{`{"a":3}`, map[string]any{"a": int64(3)}, true},
		{`{"a":3}`, map[string]any{"a": int32(3)}, true},
		{`{"a":3}`, map[string]any{"a": uint8(3)}, true},
		{`{"a":3}`, map[string]any{"a": uint64(3)}, true},
		{`{"a":1.5}`, map[string]any{"a": float32(1.5)}, true},
		{`{"a":3}`, map[string]any{"a": json.Number("3.0")}, true},
		{`{"a":{"$gt":1e300}}`, map[string]any{"a": json.Number("1e400")}, true}, // +Inf
		{`{"a":3}`, map[string]any{"a": json.Number("junk")}, false},
		{`{"a":{"$ne":3}}`, map[string]any{"a": json.Number("junk")}, true},
		{`{"a":{"$gt":2}}`, map[string]any{"a": int64(3)}, true},
		{`{"a":"x"}`, map[string]any{"a": []string{"w", "x"}}, true},
		{`{"a":2}`, map[string]any{"a": []float64{1, 2}}, true},
		{`{"a":2}`, map[string]any{"a": []int{1, 2}}, true},
		{`{"a":{"$in":[7,2]}}`, map[string]any{"a": []int64{1, 2}}, true},
		{`{"a":false}`, map[string]any{"a": []bool{true}}, false},
		{`{"a":1}`, map[string]any{"a": math.NaN()}, false},
		{`{"a":{"$ne":1}}`, map[string]any{"a": math.NaN()}, true},
		{`{"a":{"$gte":0}}`, map[string]any{"a": math.NaN()}, false},
		{`{"a":1}`, map[string]any{"a": struct{}{}}, false},
		{`{"a.b":1}`, map[string]any{"a": map[string]any{"b": 1}}, true},
		{`{"a.b":1}`, map[string]any{"a": map[string]int{"b": 1}}, false}, // only map[string]any is an object
		{`{"a":1}`, nil, false},
		{`{"a":{"$nin":[1]}}`, nil, true},
	}
	for _, tc := range cases {
		if got := mustParse(t, tc.filter).Match(tc.meta); got != tc.want {
			t.Errorf("%s on %#v: Match = %v, want %v", tc.filter, tc.meta, got, tc.want)
		}
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	f := mustParse(t, benchFilter)
	meta := doc(t, benchDoc)
	if !f.Match(meta) {
		t.Fatal("benchmark filter should match the benchmark doc")
	}
	big := mustParse(t, `{"$or":[{"tags":{"$in":["q","r","s","t","u","v","w","x","y","z"]}},{"n.x":{"$nin":[1,2,3,4,5,6,7,8,9,10]}},{"$not":{"price":{"$lte":"a"}}}]}`)
	if allocs := testing.AllocsPerRun(100, func() {
		f.Match(meta)
		big.Match(meta)
	}); allocs != 0 {
		t.Errorf("Match allocates %v times per call, want 0", allocs)
	}
}

func TestConcurrentMatch(t *testing.T) {
	f := mustParse(t, `{"$or":[{"a":{"$in":["a","b","c","d","e","f","g","h","i","j"]}},{"b.c":{"$gt":5}}]}`)
	metas := []map[string]any{
		doc(t, `{"a":"c"}`), doc(t, `{"b":{"c":6}}`), doc(t, `{"a":"z","b":{"c":1}}`),
	}
	want := []bool{true, true, false}
	done := make(chan bool)
	for g := 0; g < 4; g++ {
		go func() {
			ok := true
			for i := 0; i < 1000; i++ {
				if f.Match(metas[i%3]) != want[i%3] {
					ok = false
				}
			}
			done <- ok
		}()
	}
	for g := 0; g < 4; g++ {
		if !<-done {
			t.Error("concurrent Match gave a wrong answer")
		}
	}
}

func TestNonJSONWhitespaceIsNotEmpty(t *testing.T) {
	if _, err := Parse([]byte("\u00a0")); err == nil {
		t.Error("a no-break space is not JSON whitespace and must not parse as the empty filter")
	}
}
