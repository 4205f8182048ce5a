package admin

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/akidb/akidb/serve/api"
)

func TestDialChecksConfig(t *testing.T) {
	for _, c := range []RemoteConfig{
		{Server: "127.0.0.1:8080", APIKey: "k"},
		{Server: "ftp://host", APIKey: "k"},
		{Server: "http://", APIKey: "k"},
		{Server: "http://127.0.0.1:8080"},
		{Server: "https://127.0.0.1:8080", APIKey: "k", CAFile: "/nonexistent/ca.pem"},
		{Server: "https://127.0.0.1:8080", APIKey: "k", CertFile: "/nonexistent/c.pem", KeyFile: "/nonexistent/k.pem"},
	} {
		if _, err := Dial(c); err == nil {
			t.Errorf("Dial(%+v) succeeded", c)
		}
	}
}

// TestRemoteErrors: the server's error envelope comes back as *api.Error
// with Retry-After; anything else is a plain error naming the status.
func TestRemoteErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer sekrit" {
			t.Errorf("credential %q", r.Header.Get("Authorization"))
		}
		switch r.URL.Path {
		case "/admin/tenants":
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"error":{"code":"rate_limited","message":"slow down"}}`))
		default:
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte("<html>proxy error</html>"))
		}
	}))
	defer srv.Close()
	r, err := Dial(RemoteConfig{Server: srv.URL + "/", APIKey: "sekrit"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, err = r.ListTenants(context.Background())
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != api.CodeRateLimited || ae.RetryAfterSeconds != 7 {
		t.Fatalf("ListTenants: %v", err)
	}
	_, err = r.ListKeys(context.Background(), "acme")
	if err == nil || errors.As(err, &ae) || !strings.Contains(err.Error(), "502") {
		t.Fatalf("ListKeys: %v", err)
	}
}
