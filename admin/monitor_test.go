package admin

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/akidb/akidb/serve/api"
)

// TestMetricsScrape: Metrics reads a real promhttp handler's exposition,
// negotiated as protocol buffers and uncompressed, and a text-only answer
// too; the public path goes without a credential when none is given.
func TestMetricsScrape(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "akidb_ratelimit_allowed_total", Help: "h"}, []string{"tenant"})
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "akidb_wal_fsync_duration_seconds", Help: "h", Buckets: []float64{.001, .01}})
	reg.MustRegister(c, h)
	c.WithLabelValues("t1").Add(3)
	h.Observe(.005)
	prom := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	var sawType, sawEncoding, sawAuth string
	textOnly := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawAuth = r.Header.Get("Authorization")
		switch r.URL.Path {
		case "/metrics":
			sawEncoding = r.Header.Get("Accept-Encoding")
			if textOnly {
				r.Header.Set("Accept", "text/plain")
			}
			rec := httptest.NewRecorder()
			prom.ServeHTTP(rec, r)
			sawType = rec.Header().Get("Content-Type")
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
		case "/readyz":
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"status":"starting"}` + "\n"))
		case "/admin/storage/status":
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte("404 page not found"))
		default:
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"error":{"code":"permission_denied","message":"no"}}`))
		}
	}))
	defer srv.Close()
	anon, err := Dial(RemoteConfig{Server: srv.URL, AllowNoKey: true})
	if err != nil {
		t.Fatal(err)
	}
	defer anon.Close()
	ctx := context.Background()
	for _, text := range []bool{false, true} {
		textOnly = text
		fams, err := anon.Metrics(ctx, false)
		if err != nil {
			t.Fatalf("text=%v: %v", text, err)
		}
		// name[] asks for some families only (promhttp filters).
		only, err := anon.Metrics(ctx, false, "akidb_wal_fsync_duration_seconds")
		if err != nil || len(only) != 1 || only["akidb_wal_fsync_duration_seconds"] == nil {
			t.Fatalf("text=%v: filtered: %v %v", text, only, err)
		}
		if err != nil {
			t.Fatalf("text=%v: %v", text, err)
		}
		if m := fams["akidb_ratelimit_allowed_total"].GetMetric(); len(m) != 1 || m[0].GetCounter().GetValue() != 3 || m[0].GetLabel()[0].GetValue() != "t1" {
			t.Fatalf("text=%v: counter %v", text, m)
		}
		if hist := fams["akidb_wal_fsync_duration_seconds"].GetMetric()[0].GetHistogram(); hist.GetSampleCount() != 1 || hist.GetBucket()[1].GetCumulativeCount() != 1 {
			t.Fatalf("text=%v: histogram %v", text, hist)
		}
		if sawEncoding != "identity" || sawAuth != "" {
			t.Fatalf("Accept-Encoding %q, Authorization %q", sawEncoding, sawAuth)
		}
		wantProto := !text
		if gotProto := sawType != "" && sawType[:len("application/vnd.google.protobuf")] == "application/vnd.google.protobuf"; gotProto != wantProto {
			t.Fatalf("text=%v: answered %q", text, sawType)
		}
	}
	ready, err := anon.Ready(ctx)
	if err != nil || ready.Status != http.StatusServiceUnavailable || ready.Body != `{"status":"starting"}` {
		t.Fatalf("Ready: %+v %v", ready, err)
	}

	keyed, err := Dial(RemoteConfig{Server: srv.URL, APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	defer keyed.Close()
	_, err = keyed.Metrics(ctx, true)
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != api.CodePermissionDenied || sawAuth != "Bearer k" {
		t.Fatalf("admin metrics: %v (Authorization %q)", err, sawAuth)
	}
	_, err = keyed.StorageStatus(ctx)
	var he *HTTPError
	if !errors.As(err, &he) || he.Status != http.StatusNotFound || he.Path != "/admin/storage/status" {
		t.Fatalf("storage status of an old server: %v", err)
	}
}
