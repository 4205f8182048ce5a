package grpc

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/grpc/akidbv1"
)

func withToken(t *testing.T, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctxT(t), "authorization", "Bearer "+token)
}

// TestAuthenticate: the hook's caller picks the tenant, its errors are
// sent through ErrorStatus (RetryInfo included), and health is exempt.
func TestAuthenticate(t *testing.T) {
	tenants := map[string]string{} // token -> tenant id, filled once the DB is open
	var mu sync.Mutex
	authn := func(ctx context.Context) (api.Caller, *api.Error) {
		md, _ := metadata.FromIncomingContext(ctx)
		vals := md.Get("authorization")
		if len(vals) != 1 {
			return api.Caller{}, api.Errorf(api.CodeUnauthenticated, "missing credentials")
		}
		token := strings.TrimPrefix(vals[0], "Bearer ")
		if token == "slow" {
			return api.Caller{}, &api.Error{Code: api.CodeRateLimited, Message: "too many requests", RetryAfterSeconds: 2}
		}
		mu.Lock()
		defer mu.Unlock()
		tid, ok := tenants[token]
		if !ok {
			return api.Caller{}, api.Errorf(api.CodeUnauthenticated, "unknown key")
		}
		return api.Caller{TenantID: tid}, nil
	}
	e := newEnv(t, api.Options{}, Options{Authenticate: authn}, true)
	for _, name := range []string{"alpha", "beta"} {
		tn, err := e.db.Meta().CreateTenant(ctxT(t), name)
		if err != nil {
			t.Fatalf("CreateTenant: %v", err)
		}
		mu.Lock()
		tenants[name] = tn.ID
		mu.Unlock()
	}

	_, err := e.col.ListCollections(ctxT(t), &akidbv1.ListCollectionsRequest{})
	wantCode(t, err, codes.Unauthenticated, api.CodeUnauthenticated)
	_, err = e.mgmt.GetStatus(withToken(t, "nobody"), &akidbv1.GetStatusRequest{})
	wantCode(t, err, codes.Unauthenticated, api.CodeUnauthenticated)

	_, err = e.col.ListCollections(withToken(t, "slow"), &akidbv1.ListCollectionsRequest{})
	wantCode(t, err, codes.ResourceExhausted, api.CodeRateLimited)
	if ri := retryInfo(status.Convert(err)); ri == nil || ri.GetRetryDelay().AsDuration() != 2*time.Second {
		t.Fatalf("RetryInfo = %v", ri)
	}

	// Tenants are separate: beta cannot see alpha's collection.
	if _, err := e.col.CreateCollection(withToken(t, "alpha"), &akidbv1.CreateCollectionRequest{Name: "c", Dimension: 2}); err != nil {
		t.Fatalf("CreateCollection as alpha: %v", err)
	}
	_, err = e.col.GetCollection(withToken(t, "beta"), &akidbv1.GetCollectionRequest{Name: "c"})
	wantCode(t, err, codes.NotFound, api.CodeNotFound)
	if _, err := e.col.GetCollection(withToken(t, "alpha"), &akidbv1.GetCollectionRequest{Name: "c"}); err != nil {
		t.Fatalf("GetCollection as alpha: %v", err)
	}
	list, err := e.col.ListCollections(withToken(t, "beta"), &akidbv1.ListCollectionsRequest{})
	if err != nil || len(list.GetCollections()) != 0 {
		t.Fatalf("beta's list = %v, %v", list, err)
	}

	// Probes need no credentials.
	res, err := healthpb.NewHealthClient(e.conn).Check(ctxT(t), &healthpb.HealthCheckRequest{})
	if err != nil || res.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health without credentials = %v, %v", res, err)
	}
}

// TestInterceptorsSeeEverything: Options.UnaryInterceptors run outermost,
// so they see failed authentication and recovered panics as statuses.
func TestInterceptorsSeeEverything(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]codes.Code{}
	record := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		resp, err := h(ctx, req)
		mu.Lock()
		seen[info.FullMethod] = status.Code(err)
		mu.Unlock()
		return resp, err
	}
	authn := func(ctx context.Context) (api.Caller, *api.Error) {
		md, _ := metadata.FromIncomingContext(ctx)
		switch strings.Join(md.Get("authorization"), "") {
		case "Bearer panic":
			panic("authenticator bug")
		case "Bearer ok":
			return api.Caller{}, nil
		}
		return api.Caller{}, api.Errorf(api.CodeUnauthenticated, "no")
	}
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	e := newEnv(t, api.Options{}, Options{Logger: logger, UnaryInterceptors: []grpc.UnaryServerInterceptor{record}, Authenticate: authn}, true)

	_, err := e.col.ListCollections(ctxT(t), &akidbv1.ListCollectionsRequest{})
	wantCode(t, err, codes.Unauthenticated, api.CodeUnauthenticated)
	_, err = e.mgmt.GetStatus(withToken(t, "panic"), &akidbv1.GetStatusRequest{})
	if st := wantCode(t, err, codes.Internal, api.CodeInternal); st == nil {
		t.Fatal("no ErrorInfo on recovered panic")
	}
	if status.Convert(err).Message() != "internal error" {
		t.Fatalf("panic leaked: %v", err)
	}
	if out := logs.String(); !strings.Contains(out, "authenticator bug") || !strings.Contains(out, "GetStatus") {
		t.Fatalf("panic not logged with its method: %q", out)
	}
	// The server survived the panic.
	if _, err := e.col.ListCollections(withToken(t, "ok"), &akidbv1.ListCollectionsRequest{}); err != nil {
		t.Fatalf("after panic: %v", err)
	}

	mu.Lock()
	defer mu.Unlock()
	want := map[string]codes.Code{
		akidbv1.CollectionService_ListCollections_FullMethodName: codes.OK,
		akidbv1.ManagementService_GetStatus_FullMethodName:       codes.Internal,
	}
	for m, c := range want {
		if seen[m] != c {
			t.Errorf("interceptor saw %s = %v, want %v (all: %v)", m, seen[m], c, seen)
		}
	}
}

// lockedBuffer is a log sink safe for the server's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
