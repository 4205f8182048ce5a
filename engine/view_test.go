package engine

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/akidb/akidb/engine/distance"
)

func viewRecords(t *testing.T, v *RecordView) []Record {
	t.Helper()
	var out []Record
	for r, err := range v.Records() {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if len(out) != v.Info().Count {
		t.Fatalf("view yielded %d records, its info says %d", len(out), v.Info().Count)
	}
	return out
}

// Views taken while writers upsert, replace and delete are each one
// consistent state: ids are unique, untouched records are all there, and
// every record's vector and metadata come from the same write.
func TestViewUnderConcurrentWrites(t *testing.T) {
	const dim, stable, writers, rounds = 4, 300, 4, 150
	c := newTestCollection(t, dim, distance.L2)
	var base []Record
	for i := range stable {
		base = append(base, Record{ID: fmt.Sprintf("stable-%d", i), Vector: []float32{-1, float32(i), 0, 1}, Metadata: map[string]any{"stable": true}})
	}
	mustUpsert(t, c, base)

	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				id := fmt.Sprintf("w%d-%d", w, r%10)
				// The version is in both the vector and the metadata.
				ver := float64(r + 1)
				if err := c.Upsert([]Record{{ID: id, Vector: []float32{float32(ver), float32(w), float32(r), 1}, Metadata: map[string]any{"ver": ver}}}); err != nil {
					errs <- err
					return
				}
				if r%3 == 2 {
					if _, err := c.Delete([]string{fmt.Sprintf("w%d-%d", w, (r+5)%10)}); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	var lastSeq uint64
	for range 30 {
		v := c.View()
		if v.Info().Seq < lastSeq {
			t.Fatalf("view seq went back from %d to %d", lastSeq, v.Info().Seq)
		}
		lastSeq = v.Info().Seq
		seen := map[string]bool{}
		stableSeen := 0
		for _, r := range viewRecords(t, v) {
			if seen[r.ID] {
				t.Fatalf("id %s twice in one view", r.ID)
			}
			seen[r.ID] = true
			if r.Metadata["stable"] == true {
				stableSeen++
				continue
			}
			if ver, _ := r.Metadata["ver"].(float64); float32(ver) != r.Vector[0] {
				t.Fatalf("%s: vector from version %v, metadata from version %v", r.ID, r.Vector[0], ver)
			}
		}
		if stableSeen != stable {
			t.Fatalf("view has %d of the %d untouched records", stableSeen, stable)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Quiet now: a view is exactly the collection.
	got := viewRecords(t, c.View())
	if len(got) != c.Count() {
		t.Fatalf("final view has %d records, collection %d", len(got), c.Count())
	}
	for _, r := range got {
		want, err := c.Get(r.ID)
		if err != nil {
			t.Fatal(err)
		}
		for j := range want.Vector {
			if want.Vector[j] != r.Vector[j] {
				t.Fatalf("%s: view vector %v, stored %v", r.ID, r.Vector, want.Vector)
			}
		}
	}
}

func TestViewExpiresAtVacuumAndStopsEarly(t *testing.T) {
	c := newTestCollection(t, 4, distance.L2)
	mustUpsert(t, c, recs("r", 0, 1000, 4))
	v := c.View()
	// Stopping early is allowed.
	n := 0
	for range v.Records() {
		if n++; n == 10 {
			break
		}
	}
	if _, err := c.Delete([]string{"r-1", "r-2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Vacuum(); err != nil {
		t.Fatal(err)
	}
	var last error
	count := 0
	for _, err := range v.Records() {
		if err != nil {
			last = err
			break
		}
		count++
	}
	if !errors.Is(last, ErrViewExpired) || count != 0 {
		t.Fatalf("after a vacuum: %d records then %v, want ErrViewExpired at once", count, last)
	}
	// A new view reads the vacuumed collection.
	if got := viewRecords(t, c.View()); len(got) != 998 {
		t.Fatalf("new view: %d records", len(got))
	}
}

func TestHandleViewLabelsAndClosed(t *testing.T) {
	db := openTestDB(t, t.TempDir(), Config{})
	if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "docs", Dimension: 4, Metric: distance.Cosine}); err != nil {
		t.Fatal(err)
	}
	h, err := db.Collection(DefaultTenant, "docs")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Upsert(bg, recs("d", 0, 20, 4)); err != nil {
		t.Fatal(err)
	}
	v, err := h.View()
	if err != nil {
		t.Fatal(err)
	}
	if info := v.Info(); info.Tenant != DefaultTenant || info.Name != "docs" || info.Count != 20 || info.Seq != 1 || info.Metric != distance.Cosine || info.Dimension != 4 {
		t.Fatalf("view info %+v", info)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := h.View(); !errors.Is(err, ErrClosed) {
		t.Fatalf("view of a closed collection: %v", err)
	}
}

// Each yields what Records yields, reusing its vector buffer, and stops at
// the callback's first error.
func TestViewEachMatchesRecords(t *testing.T) {
	c := newTestCollection(t, 8, distance.L2)
	mustUpsert(t, c, recs("r", 0, 700, 8))
	if _, err := c.Delete([]string{"r-5", "r-300", "r-699"}); err != nil {
		t.Fatal(err)
	}
	v := c.View()
	want := viewRecords(t, v)
	var got []Record
	if err := v.Each(func(r Record) error {
		r.Vector = append([]float32(nil), r.Vector...) // only valid during the call
		got = append(got, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || len(got) != 697 {
		t.Fatalf("Each: %d records, Records: %d", len(got), len(want))
	}
	for i := range want {
		if got[i].ID != want[i].ID || fmt.Sprint(got[i].Vector) != fmt.Sprint(want[i].Vector) || got[i].Metadata["i"] != want[i].Metadata["i"] {
			t.Fatalf("record %d: Each %+v, Records %+v", i, got[i], want[i])
		}
	}
	stop := errors.New("enough")
	calls := 0
	if err := v.Each(func(Record) error {
		if calls++; calls == 300 {
			return stop
		}
		return nil
	}); !errors.Is(err, stop) || calls != 300 {
		t.Fatalf("after %d calls: %v", calls, err)
	}
	if _, err := c.Vacuum(); err != nil {
		t.Fatal(err)
	}
	if err := v.Each(func(Record) error { return nil }); !errors.Is(err, ErrViewExpired) {
		t.Fatalf("Each after a vacuum: %v", err)
	}
}

// A view taken in the same write pause as a checkpoint's state capture
// (what the tier does to export beside a snapshot) holds exactly the
// snapshot's records at the snapshot's sequence number.
func TestViewGatedMatchesCapturedState(t *testing.T) {
	c := newTestCollection(t, 8, distance.L2)
	mustUpsert(t, c, recs("a", 0, 400, 8))
	if _, err := c.Delete([]string{"a-1", "a-2"}); err != nil {
		t.Fatal(err)
	}
	c.lockWrites()
	st, err := c.captureState()
	if err != nil {
		t.Fatal(err)
	}
	v := c.viewGated()
	c.writeGate.Unlock()
	mustUpsert(t, c, recs("b", 0, 100, 8))
	mustUpsert(t, c, recs("a", 10, 20, 8)) // replacements after the pause
	if _, err := c.Delete([]string{"a-30"}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := st.encode(&buf); err != nil {
		t.Fatal(err)
	}
	snap, err := DecodeState(&buf)
	if err != nil {
		t.Fatal(err)
	}
	got := viewRecords(t, v)
	if v.Info().Seq != snap.applied || len(got) != snap.Count() {
		t.Fatalf("view: %d records at seq %d; snapshot: %d at %d", len(got), v.Info().Seq, snap.Count(), snap.applied)
	}
	page, err := snap.Scroll("", MaxK, true)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range page.Records {
		if got[i].ID != r.ID || fmt.Sprint(got[i].Vector) != fmt.Sprint(r.Vector) {
			t.Fatalf("record %d: view %s %v, snapshot %s %v", i, got[i].ID, got[i].Vector, r.ID, r.Vector)
		}
	}
}
