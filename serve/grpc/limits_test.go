package grpc

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/grpc/akidbv1"
)

// smallLimits keeps messages to 64 KiB so the size tests stay cheap.
func smallLimits() api.Limits {
	l := api.DefaultLimits()
	l.MaxBodyBytes = 64 << 10
	return l
}

// TestMessageTooLarge: a request over Limits.MaxBodyBytes is refused by
// grpc-go itself, before any AkiDB code, with RESOURCE_EXHAUSTED and no
// ErrorInfo (REST answers the same body with 413 too_large).
func TestMessageTooLarge(t *testing.T) {
	// The server takes its limits from the service (Options.Limits zero).
	e := newEnv(t, api.Options{Limits: smallLimits()}, Options{}, true)
	e.mustCreate("c", 64, "l2")

	// 300 vectors * 64 dims * 4 bytes = 76.8 KB of floats alone.
	_, err := e.col.Upsert(ctxT(t), &akidbv1.UpsertRequest{Collection: "c", Vectors: batch(300, 64)})
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted {
		t.Fatalf("oversize request = %v %q, want ResourceExhausted", st.Code(), st.Message())
	}
	if errorInfo(st) != nil {
		t.Fatalf("oversize request carries ErrorInfo %v; grpc-go refuses it before AkiDB code runs", errorInfo(st))
	}
	// Just under the limit goes through: 200 * 64 * 4 = 51.2 KB.
	if _, err := e.col.Upsert(ctxT(t), &akidbv1.UpsertRequest{Collection: "c", Vectors: batch(200, 64)}); err != nil {
		t.Fatalf("request under the limit: %v", err)
	}
	// And the connection still works after the refusal.
	if _, err := e.col.GetCollection(ctxT(t), &akidbv1.GetCollectionRequest{Name: "c"}); err != nil {
		t.Fatalf("after oversize request: %v", err)
	}
}

// TestResponseTooLarge: an answer over Limits.MaxResponseBytes fails with
// RESOURCE_EXHAUSTED response_too_large naming the bound; the caller asks
// for a smaller page.
func TestResponseTooLarge(t *testing.T) {
	lim := smallLimits()
	lim.MaxResponseBytes = 64 << 10
	e := newEnv(t, api.Options{Limits: lim}, Options{}, true)
	e.mustCreate("c", 64, "l2")
	for i := range 2 {
		vs := batch(200, 64)
		for _, v := range vs {
			v.Id = strings.Repeat("p", i+1) + v.Id
		}
		if _, err := e.col.Upsert(ctxT(t), &akidbv1.UpsertRequest{Collection: "c", Vectors: vs}); err != nil {
			t.Fatalf("Upsert: %v", err)
		}
	}
	_, err := e.col.Scroll(ctxT(t), &akidbv1.ScrollRequest{Collection: "c", Limit: 400, IncludeVector: true})
	info := wantCode(t, err, codes.ResourceExhausted, api.CodeResponseTooLarge)
	if info.GetMetadata()["limit"] != "65536" {
		t.Fatalf("ErrorInfo metadata = %v, want limit 65536", info.GetMetadata())
	}
	page, err := e.col.Scroll(ctxT(t), &akidbv1.ScrollRequest{Collection: "c", Limit: 100, IncludeVector: true})
	if err != nil || len(page.GetVectors()) != 100 {
		t.Fatalf("smaller page: %d, %v", len(page.GetVectors()), err)
	}
}

// TestOptionsLimitsOverride: Options.Limits, when set, sets the message
// limits instead of the service's.
func TestOptionsLimitsOverride(t *testing.T) {
	e := newEnv(t, api.Options{}, Options{Limits: smallLimits()}, true)
	e.mustCreate("c", 64, "l2")
	_, err := e.col.Upsert(ctxT(t), &akidbv1.UpsertRequest{Collection: "c", Vectors: batch(300, 64)})
	if st := status.Convert(err); st.Code() != codes.ResourceExhausted {
		t.Fatalf("oversize request = %v %q, want ResourceExhausted", st.Code(), st.Message())
	}
}
