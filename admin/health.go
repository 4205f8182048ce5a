package admin

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// HealthConfig configures Health.
type HealthConfig struct {
	// URL is the server's REST base URL (http://127.0.0.1:8080) or a
	// probe's full URL (…/readyz, …/livez, …/startupz). A URL without a
	// path asks /readyz.
	URL string
	// CAFile, CertFile and KeyFile are as in RemoteConfig: a CA bundle to
	// trust for the server's certificate, and a client certificate for a
	// server that requires mutual TLS.
	CAFile, CertFile, KeyFile string
	// ServerName, if set, is the name the server's certificate is checked
	// against, for a URL whose host the certificate does not name
	// (https://127.0.0.1:8080 inside a container).
	ServerName string
	// Timeout bounds the request (default 5s).
	Timeout time.Duration
}

// HealthResult is what a probe answered.
type HealthResult struct {
	URL    string `json:"url"`
	Status int    `json:"status"`
	Body   string `json:"body"`
}

// OK reports whether the probe answered 200.
func (r HealthResult) OK() bool { return r.Status == http.StatusOK }

// healthBody bounds the probe answer read; probes answer a few bytes.
const healthBody = 4 << 10

// Health asks a server's probe endpoint, without credentials (probes need
// none). It returns an error only when no answer came (refused, TLS
// failure, timeout); any HTTP answer is a result, for the caller to judge
// with OK.
func Health(ctx context.Context, cfg HealthConfig) (HealthResult, error) {
	u, err := healthURL(cfg.URL)
	if err != nil {
		return HealthResult{}, err
	}
	tc, err := clientTLS(RemoteConfig{CAFile: cfg.CAFile, CertFile: cfg.CertFile, KeyFile: cfg.KeyFile})
	if err != nil {
		return HealthResult{}, err
	}
	tc.ServerName = cfg.ServerName
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	tr.Proxy = nil // a health check asks this server, never a proxy from the environment
	client := &http.Client{Transport: tr, Timeout: timeout}
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return HealthResult{}, fmt.Errorf("health %s: %w", u, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return HealthResult{}, fmt.Errorf("health %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, healthBody))
	if err != nil {
		return HealthResult{}, fmt.Errorf("health %s: read answer: %w", u, err)
	}
	return HealthResult{URL: u, Status: resp.StatusCode, Body: strings.TrimSpace(string(body))}, nil
}

// healthURL checks raw and points a bare base URL at /readyz.
func healthURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("--url %q: want a URL such as http://127.0.0.1:8080 or https://db.example:8080/readyz", raw)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/readyz"
	}
	return u.String(), nil
}
