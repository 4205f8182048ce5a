package grpc

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/akidb/akidb/serve/api"
)

func checkHealth(t *testing.T, e *env, want healthpb.HealthCheckResponse_ServingStatus) {
	t.Helper()
	hc := healthpb.NewHealthClient(e.conn)
	for _, svc := range healthServices {
		res, err := hc.Check(ctxT(t), &healthpb.HealthCheckRequest{Service: svc})
		if err != nil {
			t.Fatalf("Check(%q): %v", svc, err)
		}
		if res.GetStatus() != want {
			t.Fatalf("Check(%q) = %v, want %v", svc, res.GetStatus(), want)
		}
	}
}

// TestHealthFollowsReadiness drives readiness through its life: not ready
// before the database, ready after, not ready once shutdown begins.
func TestHealthFollowsReadiness(t *testing.T) {
	e := newEnv(t, api.Options{}, Options{}, false)
	checkHealth(t, e, healthpb.HealthCheckResponse_NOT_SERVING)

	// A watcher sees every change as it is made; no polling.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	watch, err := healthpb.NewHealthClient(e.conn).Watch(ctx, &healthpb.HealthCheckRequest{Service: "akidb.v1.CollectionService"})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	next := func(want healthpb.HealthCheckResponse_ServingStatus) {
		t.Helper()
		res, err := watch.Recv()
		if err != nil {
			t.Fatalf("Watch.Recv: %v", err)
		}
		if res.GetStatus() != want {
			t.Fatalf("Watch = %v, want %v", res.GetStatus(), want)
		}
	}
	next(healthpb.HealthCheckResponse_NOT_SERVING)

	e.svc.SetDB(openDB(t))
	checkHealth(t, e, healthpb.HealthCheckResponse_NOT_SERVING) // nothing changes until told
	e.srv.UpdateHealth()
	checkHealth(t, e, healthpb.HealthCheckResponse_SERVING)
	next(healthpb.HealthCheckResponse_SERVING)

	e.svc.BeginShutdown()
	e.srv.UpdateHealth()
	checkHealth(t, e, healthpb.HealthCheckResponse_NOT_SERVING)
	next(healthpb.HealthCheckResponse_NOT_SERVING)

	e.srv.SetServing(true)
	checkHealth(t, e, healthpb.HealthCheckResponse_SERVING)
	next(healthpb.HealthCheckResponse_SERVING)
	e.srv.SetServing(false)
	checkHealth(t, e, healthpb.HealthCheckResponse_NOT_SERVING)
	next(healthpb.HealthCheckResponse_NOT_SERVING)

	// Unknown services are NOT_FOUND, as the health protocol says.
	_, err = healthpb.NewHealthClient(e.conn).Check(ctxT(t), &healthpb.HealthCheckRequest{Service: "nope"})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("Check(nope) = %v, want NotFound", err)
	}
}

func TestHealthStartsServingWhenReady(t *testing.T) {
	e := newDefaultEnv(t)
	checkHealth(t, e, healthpb.HealthCheckResponse_SERVING)
}

// TestShutdown: Shutdown turns health NOT_SERVING for good and, when a
// stream outlives ctx (a health Watch lasts as long as its client wants),
// closes the connections and returns ctx's error.
func TestShutdown(t *testing.T) {
	e := newDefaultEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	watch, err := healthpb.NewHealthClient(e.conn).Watch(ctx, &healthpb.HealthCheckRequest{Service: ""})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	if res, err := watch.Recv(); err != nil || res.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Watch first = %v, %v", res, err)
	}

	stopCtx, stopCancel := context.WithCancel(context.Background())
	defer stopCancel()
	stopped := make(chan error, 1)
	go func() { stopped <- e.srv.Shutdown(stopCtx) }()
	// The watcher is told NOT_SERVING while the server drains.
	res, err := watch.Recv()
	if err != nil || res.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("Watch after Shutdown = %v, %v", res, err)
	}
	select {
	case err := <-stopped:
		t.Fatalf("Shutdown returned %v with a Watch still open", err)
	default:
	}
	stopCancel()
	if err := <-stopped; !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown after ctx ended = %v, want Canceled", err)
	}
	if _, err := watch.Recv(); err == nil {
		t.Fatalf("Watch still open after Shutdown")
	}
}

// TestShutdownGraceful: with nothing in flight Shutdown returns nil.
func TestShutdownGraceful(t *testing.T) {
	e := newDefaultEnv(t)
	checkHealth(t, e, healthpb.HealthCheckResponse_SERVING)
	if err := e.srv.Shutdown(ctxT(t)); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	e.srv.SetServing(true) // ignored after Shutdown
	if _, err := healthpb.NewHealthClient(e.conn).Check(ctxT(t), &healthpb.HealthCheckRequest{}); status.Code(err) != codes.Unavailable {
		t.Fatalf("Check after Shutdown = %v, want Unavailable (server gone)", err)
	}
}
