package tlsconf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is returned by WaitForGeneration and Watch once the Reloader is
// closed.
var ErrClosed = errors.New("tls: reloader closed")

// Reloader serves the current TLS material and replaces it on Reload.
// All methods are safe for concurrent use.
type Reloader struct {
	cfg        Config
	minVersion uint16
	logger     *slog.Logger
	now        func() time.Time

	cur atomic.Pointer[material]

	reloadMu sync.Mutex // one Reload at a time, so loads are not swapped in out of order

	mu      sync.Mutex // guards the fields below
	status  Status
	changed chan struct{} // closed and replaced whenever status changes

	watching  atomic.Bool
	armed     chan struct{} // closed once a Watch has its fsnotify watches in place
	armedOnce sync.Once

	closeOnce sync.Once
	closed    chan struct{}
}

// Status describes the reloader's state, for logs, metrics and tests.
type Status struct {
	// Generation is 1 after New and grows by one for every reload that
	// swapped in changed material.
	Generation uint64
	// Failures counts failed reloads; LastError is the error of the latest
	// reload attempt (nil if it succeeded).
	Failures  uint64
	LastError error
	// Leaf is the server certificate being served. Do not modify it.
	Leaf *x509.Certificate
}

// New loads the files named by cfg once and returns a Reloader serving them.
// It fails, naming the file at fault, if any file is missing or malformed or
// the key does not match the certificate. A nil logger discards logs.
func New(cfg Config, logger *slog.Logger) (*Reloader, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	minVersion, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	m, err := loadMaterial(cfg, minVersion)
	if err != nil {
		return nil, err
	}
	r := &Reloader{
		cfg:        cfg,
		minVersion: minVersion,
		logger:     logger,
		now:        time.Now,
		changed:    make(chan struct{}),
		armed:      make(chan struct{}),
		closed:     make(chan struct{}),
	}
	r.cur.Store(m)
	r.status = Status{Generation: 1, Leaf: m.leaf}
	r.logger.Info("tls certificate loaded", r.certAttrs(m)...)
	r.warnValidity(m)
	return r, nil
}

// TLSConfig returns a new server *tls.Config for one listener. It carries no
// certificate of its own: GetConfigForClient hands every handshake the
// material current at that moment, so reloads reach new connections without
// touching the listener. Give it to http.Server.TLSConfig and call
// ListenAndServeTLS("", "") / ServeTLS(ln, "", ""), or to
// google.golang.org/grpc/credentials.NewTLS.
//
// MinVersion, NextProtos and ClientAuth are also set on the returned config
// so it describes the policy truthfully, but changing them has no effect on
// handshakes; change Config instead.
func (r *Reloader) TLSConfig() *tls.Config {
	c := &tls.Config{
		MinVersion: r.minVersion,
		NextProtos: nextProtos(),
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return r.cur.Load().server, nil
		},
		// Unused while GetConfigForClient answers, but keeps the config
		// usable by code that copies only the certificate callback.
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return r.cur.Load().cert, nil
		},
	}
	if r.cfg.MutualTLS() {
		c.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return c
}

// Reload re-reads the certificate, key and client CA files. If all of them
// load and the key matches, the new material serves every later handshake;
// otherwise the previous material keeps serving and the error is logged and
// returned. Reloading byte-identical files succeeds without a new
// generation. Call it on SIGHUP.
func (r *Reloader) Reload() error {
	r.reloadMu.Lock()
	defer r.reloadMu.Unlock()

	m, err := loadMaterial(r.cfg, r.minVersion)
	if err != nil {
		r.logger.Error("tls reload failed; still serving the previous certificate", "err", err)
		r.update(func(s *Status) {
			s.Failures++
			s.LastError = err
		})
		return err
	}
	if r.cur.Load().sameFiles(m) {
		r.logger.Debug("tls reload: files unchanged")
		r.update(func(s *Status) { s.LastError = nil })
		return nil
	}
	r.cur.Store(m)
	r.update(func(s *Status) {
		s.Generation++
		s.LastError = nil
		s.Leaf = m.leaf
	})
	r.logger.Info("tls certificate reloaded", r.certAttrs(m)...)
	r.warnValidity(m)
	return nil
}

// Status returns a snapshot of the reloader's state.
func (r *Reloader) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status
}

// Generation returns Status().Generation.
func (r *Reloader) Generation() uint64 { return r.Status().Generation }

// WaitForGeneration blocks until Generation() >= n, ctx ends (returning
// ctx.Err()) or the Reloader is closed (returning ErrClosed).
func (r *Reloader) WaitForGeneration(ctx context.Context, n uint64) error {
	return r.waitFor(ctx, func(s Status) bool { return s.Generation >= n })
}

// Close stops any running Watch and wakes waiters. The TLS configs already
// handed out keep serving the last loaded material.
func (r *Reloader) Close() {
	r.closeOnce.Do(func() { close(r.closed) })
}

func (r *Reloader) waitFor(ctx context.Context, cond func(Status) bool) error {
	for {
		r.mu.Lock()
		ok, ch := cond(r.status), r.changed
		r.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-r.closed:
			return ErrClosed
		}
	}
}

func (r *Reloader) update(f func(*Status)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.status)
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *Reloader) certAttrs(m *material) []any {
	return []any{
		"cert_file", r.cfg.CertFile,
		"subject", m.leaf.Subject.String(),
		"serial", fmt.Sprintf("%x", m.leaf.SerialNumber),
		"not_after", m.leaf.NotAfter.UTC().Format(time.RFC3339),
		"min_version", tls.VersionName(r.minVersion),
		"mtls", m.clientCAs != nil,
	}
}

// warnValidity logs, but does not refuse, a certificate outside its validity
// window: refusing would turn an expired certificate into an outage of the
// whole server instead of a client-side error an operator can see.
func (r *Reloader) warnValidity(m *material) {
	now := r.now()
	switch {
	case now.After(m.leaf.NotAfter):
		r.logger.Warn("tls certificate has expired", "cert_file", r.cfg.CertFile, "not_after", m.leaf.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(m.leaf.NotBefore):
		r.logger.Warn("tls certificate is not valid yet", "cert_file", r.cfg.CertFile, "not_before", m.leaf.NotBefore.UTC().Format(time.RFC3339))
	}
}
