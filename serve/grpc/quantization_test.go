package grpc

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/grpc/akidbv1"
)

// TestQuantizationRPCs: CreateCollection with quantization, the status in
// GetCollection's stats, Query's rerank, UpdateCollection (fields given
// change), and bad settings as INVALID_ARGUMENT.
func TestQuantizationRPCs(t *testing.T) {
	e := newDefaultEnv(t)
	ctx := ctxT(t)
	created, err := e.col.CreateCollection(ctx, &akidbv1.CreateCollectionRequest{
		Name: "q", Dimension: 8, Metric: "l2", Quantization: &akidbv1.Quantization{Type: "int8"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if q := created.GetQuantization(); q.GetType() != "int8" || q.GetOriginals() != "memory" || q.GetRanges() != "auto" ||
		created.GetStats().GetQuantization().GetState() != "waiting" {
		t.Fatalf("created %v", created)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	var vecs [][]float32
	for s := 0; s < 1200; s += 400 {
		req := &akidbv1.UpsertRequest{Collection: "q"}
		for i := s; i < s+400; i++ {
			v := make([]float32, 8)
			for j := range v {
				v[j] = float32(rng.NormFloat64())
			}
			vecs = append(vecs, v)
			req.Vectors = append(req.Vectors, &akidbv1.Vector{Id: fmt.Sprintf("v%d", i), Vector: v})
		}
		if _, err := e.col.Upsert(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	h, err := e.db.Collection(engine.DefaultTenant, "q")
	if err != nil {
		t.Fatal(err)
	}
	h.WaitQuantization()
	got, err := e.col.GetCollection(ctx, &akidbv1.GetCollectionRequest{Name: "q"})
	if err != nil {
		t.Fatal(err)
	}
	if st := got.GetStats().GetQuantization(); st.GetState() != "ready" || !st.GetTraversing() || st.GetOriginalsOnDisk() ||
		st.GetTrainedOn() < 1000 || st.GetTrainedAt() == nil || st.GetRangesInUse() == "" {
		t.Fatalf("stats.quantization %v", st)
	}
	for _, rerank := range []int32{0, 1, 50} {
		res, err := e.col.Query(ctx, &akidbv1.QueryRequest{Collection: "q", Vector: vecs[11], K: 2, Rerank: rerank})
		if err != nil {
			t.Fatal(err)
		}
		if r := res.GetResults(); len(r) != 2 || r[0].GetId() != "v11" || r[0].GetScore() != 0 {
			t.Fatalf("rerank %d: %v", rerank, res)
		}
	}
	_, err = e.col.Query(ctx, &akidbv1.QueryRequest{Collection: "q", Vector: vecs[0], K: 1, Rerank: -3})
	if info := wantCode(t, err, codes.InvalidArgument, api.CodeInvalidArgument); info.GetMetadata()["field"] != "rerank" {
		t.Fatalf("negative rerank: %v", info)
	}

	up, err := e.col.UpdateCollection(ctx, &akidbv1.UpdateCollectionRequest{Name: "q", Quantization: &akidbv1.Quantization{Ranges: "collection"}})
	if err != nil {
		t.Fatal(err)
	}
	if q := up.GetQuantization(); q.GetType() != "int8" || q.GetRanges() != "collection" || up.GetStats() == nil {
		t.Fatalf("UpdateCollection = %v", up)
	}
	if st := h.WaitQuantization(); st.RangesInUse != "collection" || st.State != engine.QuantStateReady {
		t.Fatalf("after the update: %+v", st)
	}
	_, err = e.col.UpdateCollection(ctx, &akidbv1.UpdateCollectionRequest{Name: "q", Quantization: &akidbv1.Quantization{Type: "int2"}})
	wantCode(t, err, codes.InvalidArgument, api.CodeInvalidArgument)
	_, err = e.col.UpdateCollection(ctx, &akidbv1.UpdateCollectionRequest{Name: "absent", Quantization: &akidbv1.Quantization{Type: "int8"}})
	wantCode(t, err, codes.NotFound, api.CodeNotFound)
	// No quantization field: nothing changes.
	same, err := e.col.UpdateCollection(ctx, &akidbv1.UpdateCollectionRequest{Name: "q"})
	if err != nil || same.GetQuantization().GetType() != "int8" {
		t.Fatalf("empty update: %v %v", same, err)
	}
}
