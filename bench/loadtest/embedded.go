package loadtest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/akidb/akidb/serve"
)

// BootstrapKeyFile is where a server writes its bootstrap admin API key,
// relative to its data directory.
const BootstrapKeyFile = "secrets/bootstrap-admin.key"

// embeddedServer is `akidb serve` in this process, on loopback ports
// chosen by the kernel, with a temporary data directory removed at close.
type embeddedServer struct {
	srv *serve.Server
	dir string
	// URL is the REST root, http://127.0.0.1:<port>.
	URL string
	// APIKey is the bootstrap admin key, "" when the server wrote none
	// (no authentication).
	APIKey string
}

// startEmbedded starts the server and waits until it is ready.
func startEmbedded(ctx context.Context, version string, logger *slog.Logger) (*embeddedServer, error) {
	dir, err := os.MkdirTemp("", "akidb-loadtest-")
	if err != nil {
		return nil, fmt.Errorf("embedded server: temporary data dir: %w", err)
	}
	cfg := serve.DefaultConfig()
	cfg.DataDir = dir
	cfg.RESTAddr = "127.0.0.1:0"
	cfg.GRPCAddr = "127.0.0.1:0"
	cfg.Version = version
	// One tenant sends the whole load: it may use the whole in-flight
	// bound (the default share is half), so the load measures capacity.
	cfg.Limiting.TenantShare = 1
	srv, err := serve.Start(cfg, serverLogger(logger))
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("embedded server: %w", err)
	}
	e := &embeddedServer{srv: srv, dir: dir, URL: "http://" + srv.RESTAddr().String()}
	wait := time.NewTimer(2 * time.Minute)
	defer wait.Stop()
	select {
	case <-srv.Ready():
	case err = <-srv.Errors():
	case <-ctx.Done():
		err = ctx.Err()
	case <-wait.C:
		err = errors.New("not ready after 2 minutes")
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("embedded server: %w", err), e.close(context.WithoutCancel(ctx)))
	}
	key, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(BootstrapKeyFile)))
	switch {
	case err == nil:
		e.APIKey = strings.TrimSpace(string(key))
	case !errors.Is(err, os.ErrNotExist):
		return nil, errors.Join(fmt.Errorf("embedded server: read bootstrap key: %w", err), e.close(context.WithoutCancel(ctx)))
	}
	return e, nil
}

// embeddedStopTimeout bounds the embedded server's shutdown (drain,
// checkpoint of every collection, close): a run must end with an error
// rather than hang if the server does not stop.
const embeddedStopTimeout = 5 * time.Minute

// close shuts the server down and removes its data directory.
func (e *embeddedServer) close(ctx context.Context) error {
	stopped := make(chan error, 1)
	go func() { stopped <- e.srv.Shutdown(ctx) }()
	timer := time.NewTimer(embeddedStopTimeout)
	defer timer.Stop()
	var err error
	select {
	case err = <-stopped:
	case <-timer.C:
		// The directory stays: the server may still be writing to it.
		return fmt.Errorf("embedded server: did not stop within %s; its data dir %s is left behind", embeddedStopTimeout, e.dir)
	}
	if rmErr := os.RemoveAll(e.dir); rmErr != nil {
		err = errors.Join(err, fmt.Errorf("remove %s: %w", e.dir, rmErr))
	}
	if err != nil {
		return fmt.Errorf("embedded server: %w", err)
	}
	return nil
}

// serverLogger quiets the embedded server: its per-request audit and
// recovery lines at info level would bury the progress lines, so only
// warnings and errors pass, unless the logger was asked for debug output,
// in which case everything does.
func serverLogger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	if l.Enabled(context.Background(), slog.LevelDebug) {
		return l
	}
	return slog.New(minLevelHandler{Handler: l.Handler(), min: slog.LevelWarn})
}

type minLevelHandler struct {
	slog.Handler
	min slog.Level
}

func (h minLevelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevelHandler{Handler: h.Handler.WithAttrs(attrs), min: h.min}
}

func (h minLevelHandler) WithGroup(name string) slog.Handler {
	return minLevelHandler{Handler: h.Handler.WithGroup(name), min: h.min}
}

// rateLimitOffNote is the report's note when the embedded server's rate
// limiting was switched off.
const rateLimitOffNote = "rate limiting was switched off on the embedded server (POST /admin/config/rate-limit), and its one tenant may use the whole in-flight bound, so the load measures capacity, not the default per-tenant limits; a --target server keeps its own limits"

// disableRateLimit switches off the embedded server's per-tenant rate
// limit through the admin API, with the bootstrap admin key. The limit is
// a policy (100 qps per tenant by default), not a capacity, and an
// out-of-the-box capacity test must not measure it. A server without
// runtime rate limits (404) needs nothing; then the note is empty.
func disableRateLimit(ctx context.Context, c *apiClient) (note string, err error) {
	err = c.do(ctx, http.MethodPost, "/admin/config/rate-limit", []byte(`{"enabled":false}`), nil)
	var ae *APIError
	switch {
	case err == nil:
		return rateLimitOffNote, nil
	case errors.As(err, &ae) && (ae.Status == http.StatusNotFound || ae.Status == http.StatusMethodNotAllowed):
		return "", nil
	}
	return "", fmt.Errorf("embedded server: switch off rate limiting: %w", err)
}
