package engine

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/tier"
)

// A quantized collection that the tier evicts comes back with its codes
// and ranges from its snapshot: the load does not train or encode again,
// searches traverse the codes at once and answer as before.
func TestEvictedQuantizedCollectionReloadsWithItsCodes(t *testing.T) {
	db := openTestDB(t, t.TempDir(), residencyConfig(tier.NewMemStore(), newClock(), 0))
	defer db.Close()
	const dim = 16
	if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "q", Dimension: dim, Metric: distance.L2, TierPolicy: TierMemoryS3,
		Quantization: Quantization{Type: QuantInt8}}); err != nil {
		t.Fatal(err)
	}
	h, err := db.Collection(DefaultTenant, "q")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	all := quantRecords(rng, "a", 1500, dim)
	for s := 0; s < len(all); s += 250 {
		if err := h.Upsert(bg, all[s:s+250]); err != nil {
			t.Fatal(err)
		}
	}
	before := h.WaitQuantization()
	if before.State != QuantStateReady || !before.Traversing {
		t.Fatalf("before the eviction: %+v", before)
	}
	// Until its background indexing is done, a search also scans the
	// nodes not linked yet, exactly; after the reload every node is
	// linked, so the answers compared are the graph's on both sides.
	// (Under -race on the loaded build VM, 1 run in a full suite
	// compared a scan's answer with the graph's.)
	h.WaitIndexed()
	queries := clustered(rng, 20, dim)
	search := func() [][]string {
		t.Helper()
		var out [][]string
		for _, q := range queries {
			res, err := h.Search(bg, SearchRequest{Vector: q, K: 10, Ef: 64})
			if err != nil {
				t.Fatal(err)
			}
			ids := make([]string, len(res.Hits))
			for i, hit := range res.Hits {
				ids[i] = hit.ID
			}
			out = append(out, ids)
		}
		return out
	}
	want := search()

	if _, err := db.EvictCollection(bg, DefaultTenant, "q"); err != nil {
		t.Fatal(err)
	}
	if state(h) != LoadEvicted {
		t.Fatalf("state %v", state(h))
	}
	// Info and stats answer without a load: the settings, and the state
	// the collection had when it left.
	if q := h.Info().Config.Quantization; q.Type != QuantInt8 || q.Originals != OriginalsMemory {
		t.Fatalf("settings of an evicted collection: %+v", q)
	}
	if st := h.Stats().Quantization; st.State != QuantStateReady || !st.Traversing || st.RangesInUse != before.RangesInUse {
		t.Fatalf("status of an evicted collection: %+v", st)
	}
	if state(h) != LoadEvicted {
		t.Fatal("reading info and stats loaded the collection")
	}

	got := search() // loads it
	if res := h.Residency(); res.State != LoadResident || res.Loads != 1 {
		t.Fatalf("after the search: %+v", res)
	}
	if st := h.c.QuantizationStatus(); !st.Traversing {
		t.Fatalf("right after the load: %+v", st)
	}
	if st := h.WaitQuantization(); st.State != QuantStateReady || h.c.q.trainings != 0 {
		t.Fatalf("the load re-encoded: %+v, %d trainings", st, h.c.q.trainings)
	}
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Fatalf("query %d: %v after the reload, %v before", i, got[i], want[i])
		}
	}

	// A settings change while the collection is out of memory is stored
	// and applied by the next load.
	if _, err := db.EvictCollection(bg, DefaultTenant, "q"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SetQuantization(bg, DefaultTenant, "q", Quantization{Type: QuantNone}); err != nil {
		t.Fatal(err)
	}
	if state(h) != LoadEvicted || h.Info().Config.Quantization.Type != QuantNone {
		t.Fatalf("after the change: %v, %+v", state(h), h.Info().Config.Quantization)
	}
	if _, err := h.Get(all[7].ID); err != nil {
		t.Fatal(err)
	}
	if st := h.WaitQuantization(); st.State != QuantStateOff || st.Traversing {
		t.Fatalf("after the load with quantization off: %+v", st)
	}
}

// Originals on disk live in a vectors file, which the object storage tier
// does not ship: the two are refused together, whichever comes second.
func TestOriginalsOnDiskAndATieredPolicyExcludeEachOther(t *testing.T) {
	db := openTestDB(t, t.TempDir(), residencyConfig(tier.NewMemStore(), newClock(), 0))
	defer db.Close()
	disk := Quantization{Type: QuantInt8, Originals: OriginalsDisk}
	isOriginals := func(err error) bool {
		var ve *ValidationError
		return errors.As(err, &ve) && ve.Field == "quantization.originals"
	}
	for _, p := range []string{TierMemoryS3, TierS3Only} {
		_, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "d", Dimension: 4, Metric: distance.L2, TierPolicy: p, Quantization: disk})
		if !isOriginals(err) {
			t.Fatalf("create with disk originals and %s: %v", p, err)
		}
	}
	if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "d", Dimension: 4, Metric: distance.L2, TierPolicy: TierMemory, Quantization: disk}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SetTierPolicy(bg, DefaultTenant, "d", TierMemoryS3); !isOriginals(err) {
		t.Fatalf("tiering a collection with disk originals: %v", err)
	}
	if h, _ := db.Collection(DefaultTenant, "d"); h.TierPolicy() != TierMemory {
		t.Fatalf("policy changed anyway: %s", h.TierPolicy())
	}
	createWithPolicy(t, db, "t", TierS3Only)
	if _, err := db.SetQuantization(bg, DefaultTenant, "t", disk); !isOriginals(err) {
		t.Fatalf("disk originals on an s3-only collection: %v", err)
	}
	if _, err := db.SetQuantization(bg, DefaultTenant, "t", Quantization{Type: QuantInt8}); err != nil {
		t.Fatalf("int8 with memory originals on an s3-only collection: %v", err)
	}
}
