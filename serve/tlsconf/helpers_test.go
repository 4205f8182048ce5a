package tlsconf

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitTimeout bounds every wait for background work; it is a deadline for
// failure, not a sleep.
const waitTimeout = 10 * time.Second

func writeDev(t *testing.T) DevCerts {
	t.Helper()
	dc, err := WriteDevCerts(filepath.Join(t.TempDir(), "certs"), time.Now(), nil)
	if err != nil {
		t.Fatalf("WriteDevCerts: %v", err)
	}
	return dc
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func newReloader(t *testing.T, cfg Config, logger *slog.Logger) *Reloader {
	t.Helper()
	if logger == nil {
		logger = testLogger(t)
	}
	r, err := New(cfg, logger)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(r.Close)
	return r
}

// serveHTTPS starts an http.Server on 127.0.0.1:0 using r.TLSConfig() the
// way the REST layer does, and returns its address. The handler answers
// with the client certificate's CN, if any.
func serveHTTPS(t *testing.T, r *Reloader) string {
	addr, _ := serveHTTPSLog(t, r)
	return addr
}

// serveHTTPSLog is serveHTTPS that also returns the server's error log, where
// net/http reports why it refused a handshake. (In TLS 1.3 the client may
// see only a broken pipe when the server rejects its certificate, so the
// server's side is the reliable place to check the reason.)
func serveHTTPSLog(t *testing.T, r *Reloader) (string, *lockedBuffer) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errLog := newLockedBuffer()
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if len(req.TLS.PeerCertificates) > 0 {
				io.WriteString(w, req.TLS.PeerCertificates[0].Subject.CommonName)
			}
		}),
		TLSConfig: r.TLSConfig(),
		ErrorLog:  log.New(errLog, "", 0),
	}
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("ServeTLS: %v", err)
		}
	})
	return ln.Addr().String(), errLog
}

// clientTLS trusts the CAs in caFiles and, if certFile is set, presents that
// client certificate.
func clientTLS(t *testing.T, caFiles []string, certFile, keyFile string) *tls.Config {
	t.Helper()
	pool := x509.NewCertPool()
	for _, f := range caFiles {
		pemData, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !pool.AppendCertsFromPEM(pemData) {
			t.Fatalf("no certificates in %s", f)
		}
	}
	c := &tls.Config{RootCAs: pool}
	if certFile != "" {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		c.Certificates = []tls.Certificate{pair}
	}
	return c
}

type fetched struct {
	serial  *big.Int
	cn      string // server certificate CN
	version uint16
	proto   string
	body    string
	resumed bool
}

// fetchWith makes one GET over tr and reports what the connection saw.
func fetchWith(tr *http.Transport, addr string) (fetched, error) {
	c := &http.Client{Transport: tr, Timeout: waitTimeout}
	resp, err := c.Get("https://" + addr + "/")
	if err != nil {
		return fetched{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fetched{}, err
	}
	leaf := resp.TLS.PeerCertificates[0]
	return fetched{serial: leaf.SerialNumber, cn: leaf.Subject.CommonName, version: resp.TLS.Version, proto: resp.Proto, body: string(body), resumed: resp.TLS.DidResume}, nil
}

// fetchNew makes one GET over a brand-new connection (no keep-alive, no
// session resumption), so it sees the material current at its handshake.
func fetchNew(addr string, cfg *tls.Config) (fetched, error) {
	// A clone, because the transport adds "h2" to the config's NextProtos in
	// place; the clone shares ClientSessionCache, so resumption still works.
	tr := &http.Transport{TLSClientConfig: cfg.Clone(), ForceAttemptHTTP2: true, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	return fetchWith(tr, addr)
}

func mustFetch(t *testing.T, addr string, cfg *tls.Config) fetched {
	t.Helper()
	f, err := fetchNew(addr, cfg)
	if err != nil {
		t.Fatalf("request over TLS: %v", err)
	}
	return f
}

func leafSerial(t *testing.T, certFile string) *big.Int {
	t.Helper()
	data, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := parseCertificates(data)
	if err != nil {
		t.Fatal(err)
	}
	return certs[0].SerialNumber
}

// replaceFile swaps dst's contents by writing a temp file beside it and
// renaming it over dst, as editors, cert-manager and `mv` do.
func replaceFile(t *testing.T, dst string, data []byte) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(dst), ".tmp-"+filepath.Base(dst))
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	replaceFile(t, dst, data)
}

// startWatch runs r.Watch until the test ends and returns once its watches
// are in place.
func startWatch(t *testing.T, r *Reloader) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Watch(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Watch: %v", err)
			}
		case <-time.After(waitTimeout):
			t.Errorf("Watch did not return after cancel")
		}
	})
	select {
	case <-r.armed:
	case err := <-done:
		t.Fatalf("Watch returned early: %v", err)
	case <-time.After(waitTimeout):
		t.Fatal("Watch did not arm")
	}
}

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// lockedBuffer collects log output written from several goroutines and lets
// a test wait for a line without sleeping.
type lockedBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	written chan struct{} // closed and replaced on every Write
}

func newLockedBuffer() *lockedBuffer { return &lockedBuffer{written: make(chan struct{})} }

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	close(b.written)
	b.written = make(chan struct{})
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor waits until the collected output contains substr.
func (b *lockedBuffer) waitFor(t *testing.T, substr string) {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		b.mu.Lock()
		ok, ch := strings.Contains(b.buf.String(), substr), b.written
		b.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("no %q in log:\n%s", substr, b.String())
		}
	}
}

// testLoggerTo logs at debug level into w.
func testLoggerTo(t *testing.T, w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
