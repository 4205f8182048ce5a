package grpc

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/grpc/akidbv1"
	"github.com/akidb/akidb/serve/ratelimit"
)

// retryDelay is the status's RetryInfo delay (0: none).
func retryDelay(st *status.Status) time.Duration {
	if r := retryInfo(st); r != nil {
		return r.GetRetryDelay().AsDuration()
	}
	return 0
}

func hasReason(st *status.Status, code api.Code) bool {
	info := errorInfo(st)
	return info != nil && info.GetReason() == string(code)
}

// TestShedUnary: past the in-flight bound an akidb.v1 RPC fails at once
// with UNAVAILABLE and a RetryInfo of 1 s; health is never shed; a freed
// slot admits again.
func TestShedUnary(t *testing.T) {
	sh := ratelimit.NewShedder(1)
	e := newEnv(t, api.Options{}, Options{Shedder: sh}, true)
	release, ok := sh.TryAcquire() // the one slot is taken
	if !ok {
		t.Fatal("no slot")
	}
	_, err := e.col.ListCollections(ctxT(t), &akidbv1.ListCollectionsRequest{})
	st := status.Convert(err)
	if st.Code() != codes.Unavailable || retryDelay(st) != time.Second || !hasReason(st, api.CodeUnavailable) {
		t.Fatalf("RPC past the bound: %v (retry %v)", err, retryDelay(st))
	}
	if _, err := healthpb.NewHealthClient(e.conn).Check(ctxT(t), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("health while full: %v", err)
	}
	if sh.Shed() != 1 {
		t.Fatalf("shed %d", sh.Shed())
	}
	release()
	if _, err := e.col.ListCollections(ctxT(t), &akidbv1.ListCollectionsRequest{}); err != nil {
		t.Fatalf("after release: %v", err)
	}
	if sh.InFlight() != 0 {
		t.Fatalf("%d in flight after the RPC", sh.InFlight())
	}
}

// TestRequestTimeoutUnavailable: an RPC stopped by the server's request
// timeout fails with UNAVAILABLE and a RetryInfo, not DEADLINE_EXCEEDED
// (the client set no deadline of its own).
func TestRequestTimeoutUnavailable(t *testing.T) {
	e := newEnv(t, api.Options{}, Options{Shedder: ratelimit.NewShedder(4), RequestTimeout: time.Nanosecond}, true)
	if _, err := e.db.CreateCollection(ctxT(t), engine.DefaultTenant, engine.CollectionConfig{Name: "c", Dimension: 2, Metric: distance.L2}); err != nil {
		t.Fatal(err)
	}
	_, err := e.col.Upsert(ctxT(t), &akidbv1.UpsertRequest{Collection: "c", Vectors: []*akidbv1.Vector{{Id: "a", Vector: []float32{1, 2}}}})
	st := status.Convert(err)
	if st.Code() != codes.Unavailable || retryDelay(st) != time.Second || !strings.Contains(st.Message(), "request timeout") {
		t.Fatalf("upsert past the server's timeout: %v", err)
	}
	if h, _ := e.db.Collection(engine.DefaultTenant, "c"); h.Count() != 0 {
		t.Fatal("the timed-out upsert was applied")
	}
}
