package payload

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"
)

// Indexes kept up to date through publishes, unpublishes and renumbering
// hold exactly what indexes built from scratch over the result hold.
func TestIncrementalEqualsRebuild(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	m := &model{}
	s := NewSet()
	for f, typ := range allIndexes {
		if err := s.Declare(f, typ); err != nil {
			t.Fatal(err)
		}
		s.MarkReady(f)
	}
	for round := range 20 {
		s.Update(func(tx Tx) {
			for range 50 {
				switch {
				case len(m.docs) > 0 && r.IntN(3) == 0:
					n := r.IntN(len(m.docs))
					if m.live[n] {
						tx.Unpublish(uint32(n), m.docs[n])
						m.live[n] = false
					}
				default:
					d := randDoc(r)
					tx.Publish(uint32(len(m.docs)), d)
					m.docs = append(m.docs, d)
					m.live = append(m.live, true)
				}
			}
		})
		if round%5 == 4 {
			// A vacuum: live nodes keep their order, dead ones go.
			oldToNew := make([]uint32, len(m.docs))
			nm := &model{}
			for n := range m.docs {
				if !m.live[n] {
					oldToNew[n] = NoNode
					continue
				}
				oldToNew[n] = uint32(len(nm.docs))
				nm.docs = append(nm.docs, m.docs[n])
				nm.live = append(nm.live, true)
			}
			s.Renumber(oldToNew)
			m = nm
		}
		if err := sameSet(s, m.build(t, allIndexes)); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		for range 20 {
			f := parse(t, randFilter(r, 1))
			checkPlan(t, m, f, s.Plan(f, false))
		}
	}
}

func TestDeclareDropAndErrors(t *testing.T) {
	s := NewSet()
	if err := s.Declare("a", Keyword); err != nil {
		t.Fatal(err)
	}
	if err := s.Declare("a", Float); !errors.Is(err, ErrExists) {
		t.Errorf("second declare: %v", err)
	}
	for _, bad := range []string{"", "a..b", "$a", "a.$b", ".a", string([]byte{0xff}), string(make([]byte, MaxFieldBytes+1))} {
		if err := s.Declare(bad, Keyword); !errors.Is(err, ErrInvalid) {
			t.Errorf("declare %q: %v", bad, err)
		}
	}
	if err := s.Declare("b", Type(9)); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad type: %v", err)
	}
	if _, st, ok := s.Has("a"); !ok || st != Building {
		t.Errorf("a is %v %v", st, ok)
	}
	// A building index is maintained but not planned with.
	s.Update(func(tx Tx) { tx.Publish(0, []byte(`{"a":"x"}`)) })
	if p := s.Plan(parseString(t, `{"a":"x"}`), false); p.Narrowed {
		t.Error("a building index was used")
	}
	s.MarkReady("a")
	if p := s.Plan(parseString(t, `{"a":"x"}`), false); !p.Exact() || p.Sure.GetCardinality() != 1 {
		t.Error("a ready index was not used")
	}
	if !s.Drop("a") || s.Drop("a") {
		t.Error("drop")
	}
	for i := range MaxIndexes {
		if err := s.Declare("f"+itoa(i), Integer); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Declare("one_more", Integer); !errors.Is(err, ErrInvalid) {
		t.Errorf("past the limit: %v", err)
	}
	if _, err := ParseType("text"); err == nil {
		t.Error("unknown type parsed")
	}
	for _, ty := range []Type{Keyword, Integer, Float} {
		if got, err := ParseType(ty.String()); err != nil || got != ty {
			t.Errorf("type %v round trip: %v %v", ty, got, err)
		}
	}
}

func TestInfo(t *testing.T) {
	m := &model{docs: [][]byte{
		[]byte(`{"k":"a","n":1}`), []byte(`{"k":["a","b",true],"n":2.5}`), []byte(`{"k":3,"n":"x"}`), []byte(`{}`),
	}, live: []bool{true, true, true, true}}
	s := m.build(t, map[string]Type{"k": Keyword, "n": Integer})
	infos := s.Infos()
	if len(infos) != 2 || infos[0].Field != "k" || infos[1].Field != "n" {
		t.Fatalf("infos %+v", infos)
	}
	k, n := infos[0], infos[1]
	if k.Values != 3 || k.Records != 3 || k.Unindexed != 1 || k.State != Ready || k.MemoryBytes <= 0 {
		t.Errorf("keyword info %+v", k)
	}
	if n.Values != 1 || n.Records != 3 || n.Unindexed != 2 {
		t.Errorf("integer info %+v (2.5 and \"x\" are outside an integer index)", n)
	}
	if s.LiveCount() != 4 || s.MemoryBytes() <= 0 {
		t.Errorf("live %d", s.LiveCount())
	}
}

func TestCodecRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	m := &model{}
	for range 500 {
		m.docs = append(m.docs, randDoc(r))
		m.live = append(m.live, r.IntN(8) > 0)
	}
	s := m.build(t, allIndexes)
	if err := s.Declare("building", Keyword); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := s.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	enc := buf.Bytes()
	back, err := Decode(bytes.NewReader(enc), s.live.Clone())
	if err != nil {
		t.Fatal(err)
	}
	s.Drop("building") // not written: rebuilt from the records on open
	if err := sameSet(s, back); err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	if err := back.Encode(&again); err != nil || !bytes.Equal(again.Bytes(), enc) {
		t.Fatalf("re-encoding differs (%v)", err)
	}
	// Every truncation is an error, never a panic or a short success.
	for n := 0; n < len(enc); n += 1 + n/50 {
		if _, err := Decode(bytes.NewReader(enc[:n]), s.live.Clone()); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
	// Nodes the snapshot has no record for are refused.
	fewer := s.live.Clone()
	fewer.Remove(fewer.Minimum())
	if _, err := Decode(bytes.NewReader(enc), fewer); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("index over a node without a record: %v", err)
	}
	empty := NewSet()
	buf.Reset()
	if err := empty.Encode(&buf); err != nil || buf.Len() != 4 {
		t.Fatalf("empty set encodes to %d bytes (%v)", buf.Len(), err)
	}
}

func FuzzDecode(f *testing.F) {
	m := &model{docs: [][]byte{[]byte(`{"k":"a","i":1,"f":2.5}`), []byte(`{"k":["b",true],"i":"x","f":-1}`), nil}, live: []bool{true, true, false}}
	s := m.build(f, map[string]Type{"k": Keyword, "i": Integer, "f": Float})
	var buf bytes.Buffer
	if err := s.Encode(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{1, 0, 0, 0, 1, 0, 'a', 1, 8, 0, 0, 0, 0x3a, 0x30, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		live := roaring.BitmapOf(0, 1, 2, 3)
		got, err := Decode(bytes.NewReader(data), live)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		// What decodes must plan and re-encode without trouble.
		got.Plan(parseString(t, `{"$or":[{"k":{"$gt":"a"}},{"i":{"$lt":3}},{"$not":{"f":{"$exists":true}}}]}`), true)
		var out bytes.Buffer
		if err := got.Encode(&out); err != nil {
			t.Fatal(err)
		}
		if _, err := Decode(bytes.NewReader(out.Bytes()), live.Clone()); err != nil {
			t.Fatalf("re-encoded set does not decode: %v", err)
		}
	})
}
