package rest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/akidb/akidb/serve/api"
)

// TestReadyzWarnings: the operator's configuration warnings are in the
// body of /readyz and /healthz, and nowhere else among the probes.
func TestReadyzWarnings(t *testing.T) {
	h := NewHandler(api.New(api.Options{}), Options{ReadyWarnings: []string{"serving without TLS"}})
	for path, want := range map[string]bool{"/readyz": true, "/healthz": true, "/livez": false, "/startupz": false} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		var body probeStatus
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if got := len(body.Warnings) == 1 && body.Warnings[0] == "serving without TLS"; got != want {
			t.Errorf("%s: body %s, want the warning: %v", path, rec.Body, want)
		}
	}
}
