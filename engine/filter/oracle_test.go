package filter

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// This file checks Match against a deliberately naive interpreter that walks
// the filter as plain decoded JSON, sharing no code with the package.

var (
	oracleFields  = []string{"a", "b", "s", "t", "n.x", "n.y", "n.z.w", "missing", "arr"}
	oracleNumbers = []float64{-1, 0, 1, 2, 2.5, 10}
	oracleStrings = []string{"", "a", "b", "red", "z"}
)

func randScalar(r *rand.Rand) any {
	switch r.IntN(3) {
	case 0:
		return oracleNumbers[r.IntN(len(oracleNumbers))]
	case 1:
		return oracleStrings[r.IntN(len(oracleStrings))]
	}
	return r.IntN(2) == 0
}

func randNumber(r *rand.Rand) any { return oracleNumbers[r.IntN(len(oracleNumbers))] }
func randString(r *rand.Rand) any { return oracleStrings[r.IntN(len(oracleStrings))] }

func randOrderable(r *rand.Rand) any {
	if r.IntN(2) == 0 {
		return oracleNumbers[r.IntN(len(oracleNumbers))]
	}
	return oracleStrings[r.IntN(len(oracleStrings))]
}

func randFieldCond(r *rand.Rand) any {
	if r.IntN(4) == 0 {
		return randScalar(r) // shorthand
	}
	ops := map[string]any{}
	n := 1
	if r.IntN(4) == 0 {
		n = 2
	}
	for len(ops) < n {
		switch op := []string{"$eq", "$ne", "$in", "$nin", "$gt", "$gte", "$lt", "$lte", "$exists"}[r.IntN(9)]; op {
		case "$eq", "$ne":
			ops[op] = randScalar(r)
		case "$in", "$nin":
			// Lists of one type, sometimes longer than inSetAt, exercise the
			// hashed lookups; mixed lists the scans.
			list := make([]any, r.IntN(15))
			gen := []func(*rand.Rand) any{randScalar, randNumber, randString}[r.IntN(3)]
			for i := range list {
				list[i] = gen(r)
			}
			ops[op] = list
		case "$exists":
			ops[op] = r.IntN(2) == 0
		default:
			ops[op] = randOrderable(r)
		}
	}
	return ops
}

func randFilter(r *rand.Rand, depth int) map[string]any {
	f := map[string]any{}
	n := 1 // mostly one member: ANDing many makes nearly every filter false
	if r.IntN(3) == 0 {
		n = 2 + r.IntN(2)
	}
	for len(f) < n {
		if depth < 4 && r.IntN(4) == 0 {
			switch r.IntN(3) {
			case 0, 1:
				op := []string{"$and", "$or"}[r.IntN(2)]
				kids := make([]any, 1+r.IntN(3))
				for i := range kids {
					kids[i] = randFilter(r, depth+1)
				}
				f[op] = kids
			default:
				f["$not"] = randFilter(r, depth+1)
			}
			continue
		}
		f[oracleFields[r.IntN(len(oracleFields))]] = randFieldCond(r)
	}
	return f
}

// randValue returns a metadata value, sometimes in the Go types a caller
// might build by hand rather than decode.
func randValue(r *rand.Rand) any {
	switch r.IntN(12) {
	case 0:
		return nil
	case 1, 2:
		arr := make([]any, r.IntN(4))
		for i := range arr {
			if r.IntN(8) == 0 {
				arr[i] = []any{randScalar(r)} // nested arrays are not looked into
			} else {
				arr[i] = randScalar(r)
			}
		}
		return arr
	case 3:
		return []string{oracleStrings[r.IntN(len(oracleStrings))], oracleStrings[r.IntN(len(oracleStrings))]}
	case 4:
		return []float64{oracleNumbers[r.IntN(len(oracleNumbers))]}
	case 5:
		n := int(oracleNumbers[r.IntN(3)]) // -1, 0, 1
		return []any{int64(n), n, json.Number(strconv.Itoa(n))}[r.IntN(3)]
	}
	return randScalar(r)
}

func randDoc(r *rand.Rand) map[string]any {
	d := map[string]any{}
	for _, k := range []string{"a", "b", "s", "t", "arr"} {
		if r.IntN(5) > 0 {
			d[k] = randValue(r)
		}
	}
	switch r.IntN(4) {
	case 0: // no "n"
	case 1:
		d["n"] = randValue(r) // not an object: n.x is missing
	default:
		n := map[string]any{"x": randValue(r)}
		if r.IntN(2) == 0 {
			n["y"] = randValue(r)
		}
		if r.IntN(2) == 0 {
			n["z"] = map[string]any{"w": randValue(r)}
		}
		d["n"] = n
	}
	return d
}

func oracleMatch(f map[string]any, d map[string]any) bool {
	for k, v := range f {
		switch k {
		case "$and":
			for _, e := range v.([]any) {
				if !oracleMatch(e.(map[string]any), d) {
					return false
				}
			}
		case "$or":
			hit := false
			for _, e := range v.([]any) {
				if oracleMatch(e.(map[string]any), d) {
					hit = true
				}
			}
			if !hit {
				return false
			}
		case "$not":
			if oracleMatch(v.(map[string]any), d) {
				return false
			}
		default:
			val, present := oracleLookup(d, k)
			ops, ok := v.(map[string]any)
			if !ok {
				ops = map[string]any{"$eq": v}
			}
			for op, arg := range ops {
				if !oracleOp(op, arg, val, present) {
					return false
				}
			}
		}
	}
	return true
}

func oracleLookup(d map[string]any, name string) (any, bool) {
	var cur any = d
	for _, p := range strings.Split(name, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func oracleOp(op string, arg, val any, present bool) bool {
	switch op {
	case "$exists":
		return present == arg.(bool)
	case "$ne":
		return !oracleOp("$eq", arg, val, present)
	case "$nin":
		return !oracleOp("$in", arg, val, present)
	}
	if !present {
		return false
	}
	elems := []any{val}
	switch a := val.(type) {
	case []any:
		elems = a
	case []string:
		elems = nil
		for _, s := range a {
			elems = append(elems, s)
		}
	case []float64:
		elems = nil
		for _, f := range a {
			elems = append(elems, f)
		}
	}
	for _, e := range elems {
		if oracleScalar(op, arg, e) {
			return true
		}
	}
	return false
}

func oracleScalar(op string, arg, x any) bool {
	switch op {
	case "$eq":
		return oracleEqual(arg, x)
	case "$in":
		for _, a := range arg.([]any) {
			if oracleEqual(a, x) {
				return true
			}
		}
		return false
	}
	c, ok := oracleCompare(x, arg)
	if !ok {
		return false
	}
	switch op {
	case "$gt":
		return c > 0
	case "$gte":
		return c >= 0
	case "$lt":
		return c < 0
	case "$lte":
		return c <= 0
	}
	panic("oracle: unknown operator " + op)
}

func oracleEqual(a, x any) bool {
	if c, ok := oracleCompare(x, a); ok {
		return c == 0
	}
	ab, ok1 := a.(bool)
	xb, ok2 := x.(bool)
	return ok1 && ok2 && ab == xb
}

// oracleCompare orders x against a when both are numbers or both strings.
func oracleCompare(x, a any) (int, bool) {
	if xf, ok := oracleNumber(x); ok {
		if af, ok := oracleNumber(a); ok {
			switch {
			case xf < af:
				return -1, true
			case xf > af:
				return 1, true
			}
			return 0, true
		}
		return 0, false
	}
	xs, ok1 := x.(string)
	as, ok2 := a.(string)
	if !ok1 || !ok2 {
		return 0, false
	}
	return strings.Compare(xs, as), true
}

func oracleNumber(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

func TestMatchAgainstOracle(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	docs := make([]map[string]any, 40)
	docJSON := make([][]byte, len(docs))
	for i := range docs {
		docs[i] = randDoc(r)
		var err error
		if docJSON[i], err = json.Marshal(docs[i]); err != nil {
			t.Fatal(err)
		}
	}
	var matched, total int
	for i := 0; i < 3000; i++ {
		raw, err := json.Marshal(randFilter(r, 1))
		if err != nil {
			t.Fatal(err)
		}
		f, err := Parse(raw)
		if err != nil {
			t.Fatalf("Parse(%s): %v", raw, err)
		}
		// The oracle reads the filter exactly as sent.
		var tree map[string]any
		if err := json.Unmarshal(raw, &tree); err != nil {
			t.Fatal(err)
		}
		back := mustParse(t, f.String())
		for di, d := range docs {
			want := oracleMatch(tree, d)
			if got := f.MatchJSON(docJSON[di]); got != want {
				t.Fatalf("filter %s\ndoc %s\nMatchJSON = %v, oracle = %v", raw, docJSON[di], got, want)
			}
			if got := treeMatch(f, d); got != want {
				t.Fatalf("filter %s\ndoc %s\nthe tree view says %v, oracle = %v", raw, docJSON[di], got, want)
			}
			if got := f.Match(d); got != want {
				dj, _ := json.Marshal(d)
				t.Fatalf("filter %s\ndoc %s (%#v)\nMatch = %v, oracle = %v", raw, dj, d, got, want)
			}
			if got := back.Match(d); got != want {
				t.Fatalf("canonical %s of %s: Match = %v, oracle = %v", f, raw, got, want)
			}
			total++
			if want {
				matched++
			}
		}
	}
	// Guard against a generator that makes the comparison trivial.
	if matched < total/10 || matched > total*9/10 {
		t.Errorf("%d of %d random matches were true; the generator needs rebalancing", matched, total)
	}
	t.Logf("%d of %d matched", matched, total)
}
