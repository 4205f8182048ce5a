package serve

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/akidb/akidb/engine/wal"
	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/grpc/akidbv1"
)

// TestFullDiskIsInsufficientStorage runs a server whose collections live
// on a small disk (a MemFS with a capacity). Once it is full, an insert is
// 507 insufficient_storage over REST and RESOURCE_EXHAUSTED (reason
// insufficient_storage) over gRPC, queries still answer, and once space is
// freed inserts succeed again with no restart.
func TestFullDiskIsInsufficientStorage(t *testing.T) {
	cfg := testConfig(t)
	disk := wal.NewMemFS()
	cfg.Engine.FS = disk
	s := startServer(t, cfg)
	key := bootstrapKey(t, s.cfg.DataDir)
	disableRateLimit(t, s, key)
	client := &http.Client{}
	col, _ := s.grpcClients(t)
	ctx := rpcCtx(t, key)
	if r := do(t, client, "POST", s.restURL("/api/v1/collections"), key, map[string]any{"name": "docs", "dimension": 8, "metric": "l2"}); r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	disk.SetCapacity(disk.Used())
	batch := func(prefix string, i int) []api.Vector {
		var vs []api.Vector
		for j := 0; j < 20; j++ {
			vs = append(vs, api.Vector{ID: fmt.Sprintf("%s%d-%d", prefix, i, j), Vector: []float32{float32(i), float32(j), 1, 2, 3, 4, 5, 6}})
		}
		return vs
	}
	insert := func(i int) httpResult {
		return do(t, client, "POST", s.restURL("/api/v1/collections/docs/insert"), key, api.UpsertRequest{Vectors: batch("v", i)})
	}
	var full httpResult
	i := 0
	for ; ; i++ {
		if i > 1000 {
			t.Fatal("the disk never filled")
		}
		if full = insert(i); full.status != 200 {
			break
		}
	}
	var body struct{ Error api.Error }
	if full.status != http.StatusInsufficientStorage || json.Unmarshal(full.body, &body) != nil || body.Error.Code != api.CodeInsufficientStorage {
		t.Fatalf("insert on a full disk: %d %s", full.status, full.body)
	}
	// The same batch over gRPC (ids of the same length): it fits no better.
	var gv []*akidbv1.Vector
	for _, v := range batch("g", i) {
		gv = append(gv, &akidbv1.Vector{Id: v.ID, Vector: v.Vector})
	}
	_, err := col.Upsert(ctx, &akidbv1.UpsertRequest{Collection: "docs", Vectors: gv})
	if st, _ := status.FromError(err); st.Code() != codes.ResourceExhausted || errorReason(st) != string(api.CodeInsufficientStorage) {
		t.Fatalf("gRPC upsert on a full disk: %v", err)
	}
	if r := do(t, client, "POST", s.restURL("/api/v1/collections/docs/query"), key, map[string]any{"vector": []float32{0, 0, 1, 2, 3, 4, 5, 6}, "k": 3}); r.status != 200 {
		t.Fatalf("query on a full disk: %d %s", r.status, r.body)
	}
	disk.SetCapacity(0)
	if r := insert(-1); r.status != 200 {
		t.Fatalf("insert after space was freed: %d %s", r.status, r.body)
	}
}

// errorReason is the ErrorInfo reason of a gRPC status ("" without one).
func errorReason(st *status.Status) string {
	for _, d := range st.Details() {
		if info, ok := d.(interface{ GetReason() string }); ok {
			return info.GetReason()
		}
	}
	return ""
}
