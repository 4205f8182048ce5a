package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/akidb/akidb/engine/wal"
	"github.com/akidb/akidb/serve/auth"
	"github.com/akidb/akidb/serve/grpc/akidbv1"
)

// waitTimeout bounds every wait for the server; a deadline for failure,
// not a sleep.
const waitTimeout = 20 * time.Second

// lockedBuffer collects logs and notices written by the server's
// goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// testConfig is a server on loopback ports chosen by the kernel, over a
// fresh data directory.
func testConfig(t testing.TB) Config {
	cfg := DefaultConfig()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.RESTAddr = "127.0.0.1:0"
	cfg.GRPCAddr = "127.0.0.1:0"
	cfg.Version = "test"
	cfg.Engine.Sync = wal.SyncNone
	cfg.ShutdownTimeout = 5 * time.Second
	return cfg
}

// started is a running server with what it wrote.
type started struct {
	*Server
	logs    *lockedBuffer
	notices *lockedBuffer
}

// startServer starts cfg, waits until it is ready and shuts it down at
// cleanup. Logs go to a buffer at debug level, shown if the test fails.
func startServer(t *testing.T, cfg Config) *started {
	t.Helper()
	st := &started{logs: &lockedBuffer{}, notices: &lockedBuffer{}}
	if cfg.Notices == nil {
		cfg.Notices = st.notices
	}
	logger := slog.New(slog.NewJSONHandler(st.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := Start(cfg, logger)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	st.Server = s
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		if err := s.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("server log:\n%s", st.logs.String())
		}
	})
	select {
	case <-s.Ready():
	case err := <-s.Errors():
		t.Fatalf("server failed: %v", err)
	case <-time.After(waitTimeout):
		t.Fatal("server not ready in time")
	}
	return st
}

// bootstrapKey reads the key the first start wrote.
func bootstrapKey(t testing.TB, dataDir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, auth.SecretsDir, auth.BootstrapKeyFile))
	if err != nil {
		t.Fatalf("read bootstrap key: %v", err)
	}
	return strings.TrimSpace(string(b))
}

// httpResult is one REST answer.
type httpResult struct {
	status int
	header http.Header
	body   []byte
}

// do sends a REST request with the credential (if any) to base.
func do(t testing.TB, client *http.Client, method, url, cred string, body any) httpResult {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cred != "" {
		req.Header.Set("Authorization", "Bearer "+cred)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return httpResult{status: resp.StatusCode, header: resp.Header, body: b}
}

func (s *started) restURL(path string) string { return "http://" + s.RESTAddr().String() + path }

// grpcClients dials the server's gRPC port without TLS.
func (s *started) grpcClients(t testing.TB) (akidbv1.CollectionServiceClient, akidbv1.ManagementServiceClient) {
	t.Helper()
	conn, err := grpc.NewClient(s.GRPCAddr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return akidbv1.NewCollectionServiceClient(conn), akidbv1.NewManagementServiceClient(conn)
}

// rpcCtx carries a credential in the gRPC metadata.
func rpcCtx(t *testing.T, cred string) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	if cred == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+cred)
}
