package filter

import (
	"encoding/json"
	"math"
	"strconv"
	"testing"
)

func TestMatchJSONOperators(t *testing.T) {
	// The operator table of TestMatchOperators, on the JSON text instead of
	// the decoded map, must give the same answers.
	const d = `{"color":"red","price":15,"stock":0,"ok":true,"name":"beta","n":null,
		"tags":["a","b"],"nums":[1,5,9],"mixed":["x",2,true,null,{"k":1},[3]],"empty":[],
		"dim":{"w":2,"h":{"d":3},"s":"str"}, "esc\u0061ped":"\u0041\"b", "obj":{}}`
	meta := doc(t, d)
	compact, err := json.Marshal(meta)
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range [][]byte{[]byte(d), compact} {
		for _, fs := range []string{
			`{"color":"red"}`, `{"color":"blue"}`, `{"price":15}`, `{"price":1.5e1}`, `{"stock":-0}`,
			`{"ok":true}`, `{"ok":false}`, `{"ok":1}`, `{"n":"null"}`, `{"n":{"$exists":true}}`,
			`{"n":{"$ne":1}}`, `{"dim":2}`, `{"tags":"a"}`, `{"tags":{"$ne":"a"}}`, `{"tags":{"$nin":["c","d"]}}`,
			`{"nums":{"$gt":8}}`, `{"nums":{"$gt":6,"$lt":4}}`, `{"mixed":2}`, `{"mixed":3}`, `{"mixed":{"$lt":"y"}}`,
			`{"mixed":1}`, `{"empty":1}`, `{"empty":{"$ne":1}}`, `{"dim.h.d":{"$gte":3}}`, `{"dim.s.x":{"$exists":true}}`,
			`{"tags.0":"a"}`, `{"escaped":"A\"b"}`, `{"escaped":{"$gt":"A"}}`, `{"obj":{"$exists":true}}`, `{"obj.x":{"$ne":1}}`,
			`{"name":{"$gt":"alpha","$lt":"c"}}`, `{"color":{"$in":["a","b","c","d","e","f","g","h","i","red"]}}`,
			`{"$or":[{"color":"blue"},{"price":{"$gt":10}}]}`, `{"$not":{"color":"red"}}`, `{"$not":{}}`,
			`{"nope":{"$nin":[1]}}`, `{"nope":{"$exists":false}}`, `{}`,
		} {
			f := mustParse(t, fs)
			if got, want := f.MatchJSON(text), f.Match(meta); got != want {
				t.Errorf("%s on %s: MatchJSON = %v, Match = %v", fs, text, got, want)
			}
		}
	}
	for _, empty := range [][]byte{nil, {}, []byte("{}"), []byte(" { } ")} {
		if mustParse(t, `{"a":1}`).MatchJSON(empty) || !mustParse(t, `{"a":{"$ne":1}}`).MatchJSON(empty) {
			t.Errorf("metadata %q must have no fields", empty)
		}
	}
}

func TestMatchJSONDoesNotAllocate(t *testing.T) {
	f := mustParse(t, benchFilter)
	text := []byte(benchDoc)
	if !f.MatchJSON(text) {
		t.Fatal("benchmark filter should match the benchmark doc")
	}
	if allocs := testing.AllocsPerRun(100, func() { f.MatchJSON(text) }); allocs != 0 {
		t.Errorf("MatchJSON allocates %v times per call, want 0", allocs)
	}
}

func BenchmarkMatchJSON(b *testing.B) {
	f := mustParse(b, benchFilter)
	text := []byte(benchDoc)
	b.ReportAllocs()
	for b.Loop() {
		if !f.MatchJSON(text) {
			b.Fatal("no match")
		}
	}
}

// FuzzMatchJSON checks that matching the JSON text answers what matching
// the decoded map answers, for any metadata object and filter.
func FuzzMatchJSON(f *testing.F) {
	for i, d := range fuzzDocs {
		f.Add([]byte(d), []byte([]string{`{"a":1}`, `{"a":{"$ne":"x"}}`, `{"tags":{"$in":["red","x"]}}`, `{"n.x":{"$gt":2}}`, `{"a.b":{"$exists":true}}`}[i%5]))
	}
	f.Add([]byte(`{"a":"\u00e9\ud800","b":[1,[2],{"c":3}],"c":-0.0e1}`), []byte(`{"$or":[{"a":{"$gte":"\u00e9"}},{"b":2},{"c":0}]}`))
	f.Fuzz(func(t *testing.T, docText, filterText []byte) {
		var meta map[string]any
		if json.Unmarshal(docText, &meta) != nil {
			return
		}
		flt, err := Parse(filterText)
		if err != nil {
			return
		}
		compact, err := json.Marshal(meta)
		if err != nil {
			t.Fatalf("re-marshal: %v", err)
		}
		if got, want := flt.MatchJSON(compact), flt.Match(meta); got != want {
			t.Fatalf("filter %s on %s: MatchJSON = %v, Match = %v", flt, compact, got, want)
		}
	})
}

// NumberJSON's integer fast path gives ParseFloat's answer, -0 included,
// and leaves everything else to it.
func TestNumberJSONFastPath(t *testing.T) {
	for _, lit := range []string{"0", "-0", "7", "-7", "123456789012345", "-999999999999999", "1234567890123456",
		"9007199254740993", "1.5", "-1e5", "1E400", "-", "", "12a", "0.0", "-0.0"} {
		got, ok := NumberJSON([]byte(lit))
		want, err := strconv.ParseFloat(lit, 64)
		if ok != (err == nil) || ok && (got != want || math.Signbit(got) != math.Signbit(want)) {
			t.Errorf("%q: %v %v, ParseFloat %v %v", lit, got, ok, want, err)
		}
	}
}
