package loadtest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

// newHTTPClient is the one client the run uses for setup, the load and the
// checks. It never uses a proxy (a proxy in the path would be measured as
// the server), keeps up to maxConns connections alive so the load does not
// pay for a handshake per request, and speaks HTTP/1.1.
func newHTTPClient(cfg Config, maxConns int) (*http.Client, error) {
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.Insecure} //nolint:gosec // --insecure is the user's explicit choice
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("--ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca %s: no PEM certificate in the file", cfg.CAFile)
		}
		tlsCfg.RootCAs = pool
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         dialer.DialContext,
		TLSClientConfig:     tlsCfg,
		TLSHandshakeTimeout: 5 * time.Second,
		MaxIdleConns:        maxConns,
		MaxIdleConnsPerHost: maxConns,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   false,
	}
	return &http.Client{Transport: tr, Timeout: cfg.Timeout}, nil
}

// APIError is an error answer from the server.
type APIError struct {
	Method, Path string
	Status       int
	Code         string // the error envelope's code, if any
	Message      string
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("%s %s: HTTP %d", e.Method, e.Path, e.Status)
	if e.Code != "" {
		msg += " " + e.Code
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// errorEnvelope is the server's error body.
type errorEnvelope struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// parseErrorBody pulls code and message out of an error envelope; both are
// empty when the body is something else.
func parseErrorBody(body []byte) (code, message string) {
	var env errorEnvelope
	if json.Unmarshal(body, &env) != nil {
		return "", ""
	}
	return env.Error.Code, env.Error.Message
}

// apiClient makes the run's non-load requests: setup, preload, checks.
type apiClient struct {
	http   *http.Client
	base   string // server root, no trailing slash
	header http.Header
}

// do sends body (nil for none) and decodes a 2xx answer into out (nil to
// discard). A non-2xx answer is an *APIError.
func (c *apiClient) do(ctx context.Context, method, path string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &APIError{Method: method, Path: path, Status: resp.StatusCode}
		e.Code, e.Message = parseErrorBody(data)
		if e.Code == "" && e.Message == "" {
			e.Message = http.StatusText(resp.StatusCode)
		}
		return e
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}

// retryable says whether a setup request may be tried again: the server
// is shedding load (429) or briefly unavailable (503).
func retryable(err error) (time.Duration, bool) {
	var ae *APIError
	if !errors.As(err, &ae) {
		return 0, false
	}
	switch ae.Status {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return 200 * time.Millisecond, true
	}
	return 0, false
}

// doRetry is do with up to five retries of retryable answers, backing off.
func (c *apiClient) doRetry(ctx context.Context, method, path string, body []byte, out any) error {
	var err error
	for attempt := 0; attempt < 6; attempt++ {
		if err = c.do(ctx, method, path, body, out); err == nil {
			return nil
		}
		wait, ok := retryable(err)
		if !ok {
			return err
		}
		t := time.NewTimer(wait << attempt)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
	}
	return err
}

// checkReachable asks /readyz, which needs no credentials, so a wrong
// address or a server that is not ready is reported before anything else.
func (c *apiClient) checkReachable(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := c.do(ctx, http.MethodGet, "/readyz", nil, nil)
	var ae *APIError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ae) && ae.Status == http.StatusServiceUnavailable:
		return fmt.Errorf("server at %s is not ready (/readyz answered 503): it is still recovering or shutting down", c.base)
	case errors.As(err, &ae):
		return fmt.Errorf("server at %s answered /readyz with HTTP %d: is it an AkiDB server?", c.base, ae.Status)
	}
	return fmt.Errorf("server at %s is not reachable: %w", c.base, err)
}

// serverRate asks the server which rate limit binds the load's
// credential: one authenticated request (GET /api/v1/collections; it
// takes a token like any other) and its X-RateLimit-Limit (requests per
// second) and X-RateLimit-Burst headers. limited is false when the server
// sent none (rate limiting off, or a server that does not say).
func (c *apiClient) serverRate(ctx context.Context) (qps float64, burst int, limited bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/v1/collections", nil)
	if err != nil {
		return 0, 0, false, err
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, 0, false, fmt.Errorf("GET /api/v1/collections: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	qps, err = strconv.ParseFloat(resp.Header.Get("X-RateLimit-Limit"), 64)
	if err != nil || qps <= 0 {
		return 0, 0, false, nil
	}
	burst, _ = strconv.Atoi(resp.Header.Get("X-RateLimit-Burst"))
	return qps, burst, true, nil
}

// rateWarning is the warning for a load faster than the server lets the
// credential go, or "".
func rateWarning(qps float64, burst, want int) string {
	if qps >= float64(want) {
		return ""
	}
	return fmt.Sprintf("the server limits this credential's tenant (or key) to %s requests/s (burst %d; X-RateLimit-Limit), below the %d qps asked for: "+
		"requests past it will be answered 429 and the figures will be of the limit, not the server. "+
		"An operator can raise it: akidb quota set --tenant <tenant> --qps %d, or akidb config set --default-qps %d for every tenant (docs/limits.md)",
		strconv.FormatFloat(qps, 'g', -1, 64), burst, want, want, want)
}

// authHint explains a 401/403 during setup.
func authHint(err error) error {
	var ae *APIError
	if errors.As(err, &ae) {
		switch ae.Status {
		case http.StatusUnauthorized:
			return fmt.Errorf("%w (the server wants credentials: pass --api-key or set AKIDB_API_KEY)", err)
		case http.StatusForbidden:
			return fmt.Errorf("%w (the API key may not create collections and write; use a key with those rights)", err)
		}
	}
	return err
}
