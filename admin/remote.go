package admin

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/akidb/akidb/serve/access"
	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/auth"
	"github.com/akidb/akidb/serve/limits"
)

// RemoteConfig configures Dial.
type RemoteConfig struct {
	// Server is the REST base URL, e.g. https://db.example:8080.
	Server string
	// APIKey authenticates every request (Authorization: Bearer); a JWT
	// works too.
	APIKey string
	// CAFile, if set, is a PEM bundle trusted for the server's
	// certificate instead of the system roots (a dev CA, say).
	CAFile string
	// CertFile and KeyFile, if set, are the client certificate for a
	// server that requires mutual TLS.
	CertFile, KeyFile string
	// Timeout bounds each request (default 30s).
	Timeout time.Duration
	// HTTPClient replaces the client built from the fields above (tests).
	HTTPClient *http.Client
	// AllowNoKey accepts an empty APIKey: requests then carry no
	// credential, so only the public endpoints (the probes, /metrics)
	// answer (`akidb top` without a key).
	AllowNoKey bool
}

// Remote administers a running server through its /admin endpoints.
type Remote struct {
	base   *url.URL
	key    string
	client *http.Client
	// certAsked: a TLS handshake found the server asking for a client
	// certificate, and none is configured.
	certAsked *atomic.Bool
}

// ErrClientCertificateRequired is wrapped into the error of a request that
// failed after the server asked, in the TLS handshake, for a client
// certificate that was not configured. Under TLS 1.3 the server refuses
// the certificate only after the client has finished its handshake, so
// its "certificate required" alert races the request: the client may see
// it, or only a reset connection or a broken pipe.
var ErrClientCertificateRequired = errors.New("the server asked for a client certificate (mutual TLS) and none is configured: pass --client-cert and --client-key")

var _ Admin = (*Remote)(nil)

// maxResponse bounds a response body read.
const maxResponse = 64 << 20

// Dial checks the configuration and returns a client; it does not
// connect until the first call.
func Dial(cfg RemoteConfig) (*Remote, error) {
	u, err := url.Parse(strings.TrimRight(cfg.Server, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--server %q: want a URL such as http://127.0.0.1:8080", cfg.Server)
	}
	if cfg.APIKey == "" && !cfg.AllowNoKey {
		return nil, errors.New("an API key is required with --server: pass --api-key or set AKIDB_API_KEY")
	}
	client := cfg.HTTPClient
	certAsked := new(atomic.Bool)
	if client == nil {
		tc, err := clientTLS(cfg)
		if err != nil {
			return nil, err
		}
		timeout := cfg.Timeout
		if timeout <= 0 {
			timeout = 30 * time.Second
		}
		if len(tc.Certificates) == 0 {
			// Note the request, and answer it with no certificate (as
			// crypto/tls does when none is configured): a server for which
			// one is optional still lets us in.
			tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				certAsked.Store(true)
				return &tls.Certificate{}, nil
			}
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = tc
		tr.Proxy = nil // an admin credential does not go through a proxy picked up from the environment
		client = &http.Client{Transport: tr, Timeout: timeout}
	}
	return &Remote{base: u, key: cfg.APIKey, client: client, certAsked: certAsked}, nil
}

// do sends req; a failure after the server asked for a client certificate
// that is not configured says so (ErrClientCertificateRequired).
func (r *Remote) do(req *http.Request) (*http.Response, error) {
	resp, err := r.client.Do(req)
	if err != nil && r.certAsked.Load() {
		err = fmt.Errorf("%w (%w)", ErrClientCertificateRequired, err)
	}
	return resp, err
}

func clientTLS(cfg RemoteConfig) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read CA bundle: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA bundle %s holds no PEM certificate", cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	if cfg.CertFile != "" || cfg.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// Close releases idle connections.
func (r *Remote) Close() error {
	r.client.CloseIdleConnections()
	return nil
}

// HTTPError is an answer of 300 or more without the API's error envelope
// (a proxy's page, a server too old to know the route).
type HTTPError struct {
	Method, Path string
	Status       int
	Body         string // the start of the body
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.Path, e.Status, e.Body)
}

// call sends one request and decodes the answer into out, or returns the
// server's error as an *api.Error.
func (r *Remote) call(ctx context.Context, method, path string, query url.Values, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	hdr := http.Header{"Accept": {"application/json"}}
	if body != nil {
		hdr.Set("Content-Type", "application/json")
	}
	data, _, err := r.send(ctx, method, path, query, rd, hdr)
	if err != nil || out == nil {
		return err
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode response: %w", method, path, err)
	}
	return nil
}

// send sends one request with the credential (if any) and returns the
// body of a 2xx answer, or the server's error as an *api.Error (else an
// *HTTPError).
func (r *Remote) send(ctx context.Context, method, path string, query url.Values, body io.Reader, hdr http.Header) ([]byte, http.Header, error) {
	u := *r.base
	u.Path = r.base.Path + path
	u.RawQuery = query.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if r.key != "" {
		req.Header.Set("Authorization", "Bearer "+r.key)
	}
	resp, err := r.do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: read response: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		var env struct {
			Error *api.Error `json:"error"`
		}
		if json.Unmarshal(data, &env) == nil && env.Error != nil && env.Error.Code != "" {
			if s := resp.Header.Get("Retry-After"); s != "" {
				env.Error.RetryAfterSeconds, _ = strconv.Atoi(s)
			}
			return nil, nil, env.Error
		}
		return nil, nil, &HTTPError{Method: method, Path: path, Status: resp.StatusCode, Body: clip(string(data), 200)}
	}
	return data, resp.Header, nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func esc(s string) string { return url.PathEscape(s) }

func (r *Remote) CreateTenant(ctx context.Context, name string) (access.Tenant, error) {
	var t access.Tenant
	err := r.call(ctx, http.MethodPost, "/admin/tenants", nil, access.CreateTenantRequest{Name: name}, &t)
	return t, err
}

func (r *Remote) ListTenants(ctx context.Context) ([]access.Tenant, error) {
	var list access.TenantList
	err := r.call(ctx, http.MethodGet, "/admin/tenants", nil, nil, &list)
	return list.Tenants, err
}

func (r *Remote) DeleteTenant(ctx context.Context, id string, force bool) (access.TenantDeleted, error) {
	var res access.TenantDeleted
	q := url.Values{}
	if force {
		q.Set("force", "true")
	}
	err := r.call(ctx, http.MethodDelete, "/admin/tenants/"+esc(id), q, nil, &res)
	return res, err
}

func (r *Remote) CreateKey(ctx context.Context, req access.CreateKeyRequest) (access.CreatedKey, error) {
	var k access.CreatedKey
	err := r.call(ctx, http.MethodPost, "/admin/api-keys", nil, req, &k)
	return k, err
}

func (r *Remote) ListKeys(ctx context.Context, tenant string) ([]auth.KeyInfo, error) {
	var list access.KeyList
	q := url.Values{}
	if tenant != "" {
		q.Set("tenant", tenant)
	}
	err := r.call(ctx, http.MethodGet, "/admin/api-keys", q, nil, &list)
	return list.Keys, err
}

func (r *Remote) RevokeKey(ctx context.Context, id string) (auth.KeyInfo, error) {
	var k auth.KeyInfo
	err := r.call(ctx, http.MethodDelete, "/admin/api-keys/"+esc(id), nil, nil, &k)
	return k, err
}

func (r *Remote) RotateKey(ctx context.Context, id string, overlap time.Duration) (access.RotatedKey, error) {
	var res access.RotatedKey
	err := r.call(ctx, http.MethodPost, "/admin/api-keys/"+esc(id)+"/rotate", nil, access.RotateKeyRequest{Overlap: overlapString(overlap)}, &res)
	return res, err
}

func (r *Remote) ListAudit(ctx context.Context, tenant, cursor string, limit int) (auth.EventPage, error) {
	var page auth.EventPage
	q := url.Values{}
	if tenant != "" {
		q.Set("tenant", tenant)
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	err := r.call(ctx, http.MethodGet, "/admin/audit", q, nil, &page)
	return page, err
}

func (r *Remote) GetQuota(ctx context.Context, tenant string) (access.TenantQuota, error) {
	var q access.TenantQuota
	err := r.call(ctx, http.MethodGet, "/admin/tenants/"+esc(tenant)+"/quota", nil, nil, &q)
	return q, err
}

func (r *Remote) SetQuota(ctx context.Context, tenant string, u limits.QuotaUpdate) (access.TenantQuota, error) {
	var q access.TenantQuota
	err := r.call(ctx, http.MethodPost, "/admin/tenants/"+esc(tenant)+"/quota", nil, u, &q)
	return q, err
}

func (r *Remote) GetKeyRate(ctx context.Context, id string) (access.KeyRateLimit, error) {
	var k access.KeyRateLimit
	err := r.call(ctx, http.MethodGet, "/admin/api-keys/"+esc(id)+"/rate-limit", nil, nil, &k)
	return k, err
}

func (r *Remote) SetKeyRate(ctx context.Context, id string, u limits.KeyRateUpdate) (access.KeyRateLimit, error) {
	var k access.KeyRateLimit
	err := r.call(ctx, http.MethodPost, "/admin/api-keys/"+esc(id)+"/rate-limit", nil, u, &k)
	return k, err
}

func (r *Remote) ClearKeyRate(ctx context.Context, id string) (access.KeyRateLimitCleared, error) {
	var res access.KeyRateLimitCleared
	err := r.call(ctx, http.MethodDelete, "/admin/api-keys/"+esc(id)+"/rate-limit", nil, nil, &res)
	return res, err
}

func (r *Remote) GetConfig(ctx context.Context) (access.RuntimeConfig, error) {
	var c access.RuntimeConfig
	err := r.call(ctx, http.MethodGet, "/admin/config", nil, nil, &c)
	return c, err
}

func (r *Remote) SetRateLimit(ctx context.Context, u limits.RateLimitUpdate) (access.RuntimeConfig, error) {
	var c access.RuntimeConfig
	err := r.call(ctx, http.MethodPost, "/admin/config/rate-limit", nil, u, &c)
	return c, err
}
