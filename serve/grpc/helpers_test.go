package grpc

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/grpc/akidbv1"
)

// env is a real server over 127.0.0.1 on a real engine, and a client.
type env struct {
	t    *testing.T
	db   *engine.DB
	svc  *api.Service
	srv  *Server
	conn *grpc.ClientConn
	col  akidbv1.CollectionServiceClient
	mgmt akidbv1.ManagementServiceClient
}

// openDB opens an engine in a fresh directory, closed at cleanup.
func openDB(t testing.TB) *engine.DB {
	t.Helper()
	db, err := engine.Open(t.TempDir(), engine.Config{})
	if err != nil {
		t.Fatalf("engine.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("db.Close: %v", err)
		}
	})
	return db
}

// newEnv starts a server for svc (with a database unless withDB is false).
func newEnv(t *testing.T, svcOpts api.Options, opts Options, withDB bool) *env {
	t.Helper()
	e := &env{t: t, svc: api.New(svcOpts)}
	if withDB {
		e.db = openDB(t)
		e.svc.SetDB(e.db)
	}
	e.srv = NewServer(e.svc, opts)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- e.srv.Serve(lis) }()
	t.Cleanup(func() {
		e.srv.Stop()
		if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			t.Errorf("Serve: %v", err)
		}
	})
	e.conn, err = grpc.NewClient(lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20), grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	t.Cleanup(func() { _ = e.conn.Close() })
	e.col = akidbv1.NewCollectionServiceClient(e.conn)
	e.mgmt = akidbv1.NewManagementServiceClient(e.conn)
	return e
}

func newDefaultEnv(t *testing.T) *env {
	return newEnv(t, api.Options{}, Options{}, true)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// mustCreate creates a collection and fails the test on error.
func (e *env) mustCreate(name string, dim int, metric string) *akidbv1.Collection {
	e.t.Helper()
	c, err := e.col.CreateCollection(ctxT(e.t), &akidbv1.CreateCollectionRequest{Name: name, Dimension: int32(dim), Metric: metric})
	if err != nil {
		e.t.Fatalf("CreateCollection %s: %v", name, err)
	}
	return c
}

// wantCode checks err's status code and, for our own errors, that the
// ErrorInfo reason is the api code. It returns the ErrorInfo (nil when
// the error did not come from ErrorStatus).
func wantCode(t *testing.T, err error, code codes.Code, reason api.Code) *errdetails.ErrorInfo {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("not a status error: %v", err)
	}
	if st.Code() != code {
		t.Fatalf("code = %v (%q), want %v", st.Code(), st.Message(), code)
	}
	info := errorInfo(st)
	if reason == "" {
		return info
	}
	if info == nil {
		t.Fatalf("%v %q: no ErrorInfo in details %v", st.Code(), st.Message(), st.Details())
	}
	if info.GetReason() != string(reason) || info.GetDomain() != ErrorDomain {
		t.Fatalf("ErrorInfo = %v, want reason %q domain %q", info, reason, ErrorDomain)
	}
	return info
}

func errorInfo(st *status.Status) *errdetails.ErrorInfo {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info
		}
	}
	return nil
}

func retryInfo(st *status.Status) *errdetails.RetryInfo {
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return ri
		}
	}
	return nil
}

// structOrNil converts a map for a request; nil when it cannot.
func structOrNil(m map[string]any) *structpb.Struct {
	s, err := structpb.NewStruct(m)
	if err != nil {
		return nil
	}
	return s
}
