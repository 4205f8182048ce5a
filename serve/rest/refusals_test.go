package rest

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/akidb/akidb/serve/api"
)

// TestRecoveryRefusalsLoggedOncePerInterval: while the engine recovers,
// refused requests make one warning per interval with their count, not
// one each.
func TestRecoveryRefusalsLoggedOncePerInterval(t *testing.T) {
	var (
		logs bytes.Buffer
		mu   sync.Mutex
		now  = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	// No database: the service is still recovering.
	h := NewHandler(api.New(api.Options{}), Options{Logger: logger, Now: clock,
		Authenticate: func(*http.Request) (api.Caller, *api.Error) { return api.Caller{TenantID: "default"}, nil }})
	get := func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/collections", nil))
		if rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("while recovering: %d %s", rec.Code, rec.Body)
		}
	}
	warnings := func() []map[string]any {
		var out []map[string]any
		for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			var m map[string]any
			if line == "" || json.Unmarshal([]byte(line), &m) != nil || m["level"] != "WARN" {
				continue
			}
			out = append(out, m)
		}
		return out
	}
	for range 50 {
		get()
	}
	w := warnings()
	if len(w) != 1 || w[0]["count"] != 1.0 || !strings.Contains(w[0]["last_reason"].(string), "recovering") {
		t.Fatalf("after 50 refusals in one interval, warnings %v; want one, counting the first", w)
	}
	mu.Lock()
	now = now.Add(refusalLogInterval)
	mu.Unlock()
	get()
	if w = warnings(); len(w) != 2 || w[1]["count"] != 50.0 {
		t.Fatalf("after the interval, warnings %v; want a second counting the 49 held back and this one", w)
	}
}
