package payload

import (
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/akidb/akidb/engine/filter"
)

// The tests model a collection as a slice of metadata docs by node (nil:
// no record) and check the Set against filter.MatchJSON on every doc.

var (
	testStrings = []string{"", "a", "b", "red", "z", "é"}
	testNumbers = []float64{-3, -1, 0, 1, 2, 2.5, 7, 10, 1e15}
)

func randScalar(r *rand.Rand) any {
	switch r.IntN(7) {
	case 0, 1:
		return testStrings[r.IntN(len(testStrings))]
	case 2, 3, 4:
		return testNumbers[r.IntN(len(testNumbers))]
	case 5:
		return r.IntN(2) == 0
	}
	return nil
}

func randValue(r *rand.Rand) any {
	switch r.IntN(10) {
	case 0, 1:
		arr := make([]any, r.IntN(4))
		for i := range arr {
			switch r.IntN(8) {
			case 0:
				arr[i] = []any{randScalar(r)}
			case 1:
				arr[i] = map[string]any{"x": randScalar(r)}
			default:
				arr[i] = randScalar(r)
			}
		}
		return arr
	case 2:
		return map[string]any{"x": randScalar(r)}
	}
	return randScalar(r)
}

// testFields are the fields docs and filters use; n.x is nested.
var testFields = []string{"k", "i", "f", "u", "n.x"}

func randDoc(r *rand.Rand) []byte {
	d := map[string]any{}
	for _, k := range []string{"k", "i", "f", "u"} {
		if r.IntN(6) > 0 {
			d[k] = randValue(r)
		}
	}
	// Mostly typed as the index on the field expects, so that indexes do
	// most of the work, with the rest mixed in.
	if r.IntN(3) > 0 {
		d["k"] = testStrings[r.IntN(len(testStrings))]
	}
	if r.IntN(3) > 0 {
		d["i"] = float64(r.IntN(12) - 2)
	}
	if r.IntN(3) > 0 {
		d["f"] = testNumbers[r.IntN(len(testNumbers))]
	}
	switch r.IntN(3) {
	case 0:
		d["n"] = randValue(r)
	case 1:
		d["n"] = map[string]any{"x": randValue(r)}
	}
	if r.IntN(20) == 0 {
		return nil
	}
	b, err := json.Marshal(d)
	if err != nil {
		panic(err)
	}
	return b
}

func randCond(r *rand.Rand) any {
	if r.IntN(4) == 0 {
		v := randScalar(r)
		if v == nil {
			v = "a"
		}
		return v
	}
	ops := map[string]any{}
	for n := 1 + r.IntN(2); len(ops) < n; {
		op := []string{"$eq", "$ne", "$in", "$nin", "$gt", "$gte", "$lt", "$lte", "$exists"}[r.IntN(9)]
		switch op {
		case "$exists":
			ops[op] = r.IntN(2) == 0
		case "$in", "$nin":
			list := make([]any, r.IntN(12))
			for i := range list {
				for list[i] == nil {
					list[i] = randScalar(r)
				}
			}
			ops[op] = list
		case "$eq", "$ne":
			v := randScalar(r)
			for v == nil {
				v = randScalar(r)
			}
			ops[op] = v
		default:
			if r.IntN(2) == 0 {
				ops[op] = testStrings[r.IntN(len(testStrings))]
			} else {
				ops[op] = testNumbers[r.IntN(len(testNumbers))]
			}
		}
	}
	return ops
}

func randFilter(r *rand.Rand, depth int) map[string]any {
	f := map[string]any{}
	n := 1
	if r.IntN(3) == 0 {
		n = 2
	}
	for len(f) < n {
		if depth < 3 && r.IntN(4) == 0 {
			switch r.IntN(4) {
			case 0:
				f["$not"] = randFilter(r, depth+1)
			case 1:
				f["$and"] = []any{randFilter(r, depth+1), randFilter(r, depth+1)}
			case 2:
				kids := []any{randFilter(r, depth+1), randFilter(r, depth+1)}
				if r.IntN(5) == 0 {
					kids = append(kids, map[string]any{})
				}
				f["$or"] = kids
			default:
				f["$or"] = []any{randFilter(r, depth+1)}
			}
			continue
		}
		f[testFields[r.IntN(len(testFields))]] = randCond(r)
	}
	return f
}

func parse(t testing.TB, v any) *filter.Filter {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	f, err := filter.Parse(raw)
	if err != nil {
		t.Fatalf("parse %s: %v", raw, err)
	}
	return f
}

// model is the brute-force truth: docs by node, nil for no record.
type model struct {
	docs [][]byte
	live []bool
}

func (m *model) matches(f *filter.Filter) *roaring.Bitmap {
	out := roaring.New()
	for n, d := range m.docs {
		if m.live[n] && f.MatchJSON(d) {
			out.Add(uint32(n))
		}
	}
	return out
}

// checkPlan verifies the plan's promise: the filter matches exactly Sure
// plus the nodes of Maybe that pass it.
func checkPlan(t *testing.T, m *model, f *filter.Filter, p *Plan) {
	t.Helper()
	want := m.matches(f)
	if !p.Narrowed {
		if p.Sure != nil || p.Maybe != nil {
			t.Fatalf("%s: a plan that did not narrow has bitmaps", f)
		}
		return
	}
	if roaring.And(p.Sure, p.Maybe).GetCardinality() != 0 {
		t.Fatalf("%s: Sure and Maybe overlap", f)
	}
	if d := roaring.AndNot(p.Sure, want); !d.IsEmpty() {
		t.Fatalf("%s: Sure holds non-matching nodes %v", f, d.ToArray())
	}
	if d := roaring.AndNot(want, roaring.Or(p.Sure, p.Maybe)); !d.IsEmpty() {
		t.Fatalf("%s: matching nodes %v are in neither Sure nor Maybe", f, d.ToArray())
	}
	var live uint64
	for _, l := range m.live {
		if l {
			live++
		}
	}
	if p.Live != live {
		t.Fatalf("plan says %d live, model has %d", p.Live, live)
	}
}

func (m *model) build(t testing.TB, indexes map[string]Type) *Set {
	t.Helper()
	s := NewSet()
	for f, typ := range indexes {
		if err := s.Declare(f, typ); err != nil {
			t.Fatal(err)
		}
	}
	s.Update(func(tx Tx) {
		for n, d := range m.docs {
			if m.live[n] {
				tx.Publish(uint32(n), d)
			}
		}
	})
	for f := range indexes {
		s.MarkReady(f)
	}
	return s
}

// sameSet compares two Sets by content.
func sameSet(a, b *Set) error { return a.Equal(b) }

func parseString(t testing.TB, s string) *filter.Filter {
	t.Helper()
	f, err := filter.Parse([]byte(s))
	if err != nil {
		t.Fatalf("parse %s: %v", s, err)
	}
	return f
}
