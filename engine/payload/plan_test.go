package payload

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

var allIndexes = map[string]Type{"k": Keyword, "i": Integer, "f": Float, "n.x": Keyword}

// TestPlanAgainstOracle runs random filters over random docs with every
// combination of indexes, from none to all, and checks each plan against
// brute force: same results with and without indexes.
func TestPlanAgainstOracle(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	m := &model{}
	for range 300 {
		m.docs = append(m.docs, randDoc(r))
		m.live = append(m.live, r.IntN(10) > 0)
	}
	fields := []string{"k", "i", "f", "n.x"}
	var narrowed, exact, total int
	for mask := 0; mask < 1<<len(fields); mask++ {
		idx := map[string]Type{}
		for i, f := range fields {
			if mask&(1<<i) != 0 {
				idx[f] = allIndexes[f]
			}
		}
		s := m.build(t, idx)
		for range 250 {
			f := parse(t, randFilter(r, 1))
			p := s.Plan(f, r.IntN(4) == 0)
			checkPlan(t, m, f, p)
			total++
			if p.Narrowed {
				narrowed++
			}
			if p.Exact() {
				exact++
			}
		}
	}
	// The generator must exercise the indexes, not just fall back.
	if narrowed < total/4 || exact < total/8 {
		t.Errorf("%d of %d plans narrowed, %d exact: the generator needs rebalancing", narrowed, total, exact)
	}
	t.Logf("%d plans, %d narrowed, %d exact", total, narrowed, exact)
}

// With every field of the filter indexed and well-typed data, the plan is
// exact: no record needs reading.
func TestPlanExactWhenIndexed(t *testing.T) {
	m := &model{}
	for n := range 100 {
		m.docs = append(m.docs, []byte(`{"cat":"`+string(rune('a'+n%5))+`","price":`+itoa(n)+`,"tags":["x","`+string(rune('a'+n%3))+`"]}`))
		m.live = append(m.live, true)
	}
	s := m.build(t, map[string]Type{"cat": Keyword, "price": Integer, "tags": Keyword})
	for _, fs := range []string{
		`{"cat":"a"}`, `{"cat":{"$ne":"a"}}`, `{"price":{"$gte":10,"$lt":20}}`, `{"tags":"b"}`,
		`{"$or":[{"cat":"a"},{"price":{"$gt":90}}]}`, `{"$not":{"cat":{"$in":["a","b"]}}}`,
		`{"cat":"a","tags":{"$nin":["c"]},"price":{"$lte":50}}`, `{"cat":{"$exists":false}}`, `{}`,
		`{"cat":{"$gt":"b"}}`, `{"$and":[{"$or":[{},{"cat":"a"}]}]}`,
	} {
		f := parseString(t, fs)
		p := s.Plan(f, true)
		if !p.Exact() {
			t.Errorf("%s: plan not exact (maybe %d)", fs, p.Maybe.GetCardinality())
		}
		checkPlan(t, m, f, p)
		if p.Explain == nil || p.Explain.Candidates != p.Sure.GetCardinality() {
			t.Errorf("%s: explain %+v", fs, p.Explain)
		}
	}
	// A number in a keyword field is beyond the index: its record is a
	// "maybe" for a numeric condition, and only then.
	m.docs = append(m.docs, []byte(`{"cat":5}`))
	m.live = append(m.live, true)
	s = m.build(t, map[string]Type{"cat": Keyword})
	p := s.Plan(parseString(t, `{"cat":5}`), false)
	if p.Sure.GetCardinality() != 0 || p.Maybe.GetCardinality() != 1 {
		t.Errorf("sure %v maybe %v", p.Sure.ToArray(), p.Maybe.ToArray())
	}
	if p := s.Plan(parseString(t, `{"cat":"a"}`), false); !p.Exact() || p.Sure.GetCardinality() != 20 {
		t.Errorf("string condition: exact %v, sure %d", p.Exact(), p.Sure.GetCardinality())
	}
	// An unindexed field narrows nothing unless ANDed with an indexed one.
	if p := s.Plan(parseString(t, `{"price":3}`), false); p.Narrowed || p.Unindexed[0] != "price" {
		t.Errorf("unindexed plan narrowed: %+v", p)
	}
	if p := s.Plan(parseString(t, `{"price":3,"cat":"b"}`), false); !p.Narrowed || p.Maybe.GetCardinality() != 20 || p.Indexed[0] != "cat" {
		t.Errorf("mixed plan: %+v", p)
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}

// Ranges over many distinct single values take the complement path (the
// valued nodes minus the values outside the range) and the flat-bitset
// union; a node with several values turns the complement off until it is
// gone. Every answer is checked against brute force, also after a
// renumbering and a snapshot round trip, which derive the valued nodes
// again.
func TestNumericRangeComplement(t *testing.T) {
	m := &model{}
	for n := range 400 {
		doc := `{"p":` + itoa(n%97) + `}`
		switch n % 50 {
		case 7:
			doc = `{"q":1}` // no value
		case 8:
			doc = `{"p":"x"}` // beyond the index
		}
		m.docs = append(m.docs, []byte(doc))
		m.live = append(m.live, true)
	}
	var ops []string
	for _, op := range []string{"$gt", "$gte", "$lt", "$lte"} {
		for _, v := range []string{"-1", "0", "3", "48", "48.5", "90", "96", "97", "1000"} {
			ops = append(ops, `{"p":{"`+op+`":`+v+`}}`, `{"$not":{"p":{"`+op+`":`+v+`}}}`)
		}
	}
	ops = append(ops, `{"p":{"$gte":10,"$lt":90}}`, `{"p":{"$in":[1,2,3,4,5,6,7,8,9,10,11,12]}}`,
		// Several ranges on the field: one walk between the tightest
		// bounds while no node has several values.
		`{"p":{"$gt":3,"$lt":2}}`, `{"p":{"$gte":48,"$lte":48}}`, `{"p":{"$gt":48,"$lte":48}}`, `{"p":{"$gte":2,"$lt":96}}`,
		`{"p":{"$gt":1,"$lt":90,"$lte":50}}`, `{"p":{"$gte":10,"$lt":90,"$ne":50}}`, `{"p":{"$gte":10,"$lt":"z"}}`,
		`{"p":{"$gt":-5,"$gte":-5,"$lt":1000}}`, `{"$not":{"p":{"$gte":5,"$lt":60}}}`)
	check := func(s *Set, when string) {
		t.Helper()
		for _, fs := range ops {
			f := parseString(t, fs)
			checkPlan(t, m, f, s.Plan(f, false))
			if t.Failed() {
				t.Fatalf("%s: %s", when, fs)
			}
		}
	}
	s := m.build(t, map[string]Type{"p": Integer})
	check(s, "single values")

	// A node with two values: the complement would drop it from $gt 3
	// although its 5 satisfies it.
	multi := uint32(len(m.docs))
	m.docs = append(m.docs, []byte(`{"p":[1,5]}`))
	m.live = append(m.live, true)
	s.Update(func(tx Tx) { tx.Publish(multi, m.docs[multi]) })
	check(s, "with a multi-valued node")
	s.Update(func(tx Tx) { tx.Unpublish(multi, m.docs[multi]) })
	m.live[multi] = false
	check(s, "after it is gone")

	// Renumber (drop the dead node and every tenth) and round-trip.
	oldToNew := make([]uint32, len(m.docs))
	nm := &model{}
	for n := range m.docs {
		if !m.live[n] || n%10 == 0 {
			oldToNew[n] = NoNode
			continue
		}
		oldToNew[n] = uint32(len(nm.docs))
		nm.docs = append(nm.docs, m.docs[n])
		nm.live = append(nm.live, true)
	}
	s.Update(func(tx Tx) {
		for n := range m.docs {
			if m.live[n] && n%10 == 0 {
				tx.Unpublish(uint32(n), m.docs[n])
			}
		}
	})
	s.Renumber(oldToNew)
	m = nm
	check(s, "renumbered")
	if err := sameSet(s, m.build(t, map[string]Type{"p": Integer})); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := s.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	d, err := Decode(bytes.NewReader(buf.Bytes()), s.live.Clone())
	if err != nil {
		t.Fatal(err)
	}
	check(d, "decoded")
}
