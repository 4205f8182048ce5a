package filter

import (
	"encoding/json"
	"errors"
	"testing"
)

// fuzzDocs are the sample records a parsed filter and its re-parsed
// canonical form must agree on.
var fuzzDocs = []string{
	`{}`,
	`{"a":1,"b":"x","c":true,"d":null}`,
	`{"a":[1,"x",false],"b":{"c":{"d":2}},"tags":["red","blue"]}`,
	`{"color":"red","price":15,"n":{"x":3},"a":"1","b":-0.5}`,
	`{"a":{"b":"c"},"price":"cheap","color":["red"],"": 1}`,
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		// valid
		`{"color":"red"}`,
		`{"price":{"$gte":10,"$lt":20}}`,
		`{"tags":{"$in":["a","b","c","d","e","f","g","h","i","j"]}}`,
		`{"a":{"$nin":[1,"x",true]},"b":{"$ne":null}}`,
		`{"$and":[{"a":1},{"$or":[{"b":{"$exists":false}},{"$not":{"c":"x"}}]}]}`,
		`{"a.b.c":{"$gt":"m","$lte":"z"}}`,
		`{"n":1e308,"m":-5e-324,"k":-0}`,
		`{"s":"\u2028<&>\ud800"}`,
		`{}`,
		`null`,
		``,
		// invalid
		`{"a":{"$gt":true}}`,
		`{"$and":[]}`,
		`{"a":1,"a":2}`,
		`{"a":1e999}`,
		`{"":1}`,
		`{"a":{"$in":1}}`,
		`[{"a":1}]`,
		`{"$not":{"$not":{"$not":{"a":{"$regex":"x"}}}}}`,
		`{"a":{"$eq":1}`,
		"{\"a\":\"\xff\"}",
	} {
		f.Add([]byte(s))
	}
	docs := make([]map[string]any, len(fuzzDocs))
	for i, s := range fuzzDocs {
		if err := json.Unmarshal([]byte(s), &docs[i]); err != nil {
			f.Fatalf("bad fuzz doc %s: %v", s, err)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		flt, err := Parse(data)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse error %T %v is not a *ParseError", err, err)
			}
			if flt != nil {
				t.Fatal("Parse returned a filter and an error")
			}
			return
		}
		canon, err := flt.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON: %v", err)
		}
		back, err := Parse(canon)
		if err != nil {
			t.Fatalf("canonical form %s of %q does not parse: %v", canon, data, err)
		}
		if back.String() != string(canon) {
			t.Fatalf("canonical form is not stable: %s -> %s", canon, back)
		}
		for _, d := range docs {
			if flt.Match(d) != back.Match(d) {
				t.Fatalf("filter %q and its canonical form %s disagree on %v", data, canon, d)
			}
		}
	})
}
