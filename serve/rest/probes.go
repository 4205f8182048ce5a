package rest

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/akidb/akidb/serve/api"
)

// openAPIDocument is docs/openapi.yaml (this directory holds a copy; a
// test keeps the two identical).
//
//go:embed openapi.yaml
var openAPIDocument []byte

// probeStatus is the whole body of a probe answer: no data, ever.
// Warnings (readyz and healthz only) are the operator's configuration
// risks, such as plaintext on a reachable address.
type probeStatus struct {
	Status   string   `json:"status"`
	Warnings []string `json:"warnings,omitempty"`
}

// livez: the process is up and serving HTTP.
func (s *server) livez(c *gin.Context) {
	writeJSON(c, http.StatusOK, probeStatus{Status: "ok"})
}

// readyz (and healthz): requests are accepted.
func (s *server) readyz(c *gin.Context) {
	switch {
	case s.svc.Ready():
		writeJSON(c, http.StatusOK, probeStatus{Status: "ok", Warnings: s.warnings})
	case !s.svc.Started():
		writeJSON(c, http.StatusServiceUnavailable, probeStatus{Status: "starting", Warnings: s.warnings})
	default:
		writeJSON(c, http.StatusServiceUnavailable, probeStatus{Status: "stopping", Warnings: s.warnings})
	}
}

// startupz: the engine has finished recovering.
func (s *server) startupz(c *gin.Context) {
	if s.svc.Started() {
		writeJSON(c, http.StatusOK, probeStatus{Status: "ok"})
		return
	}
	writeJSON(c, http.StatusServiceUnavailable, probeStatus{Status: "starting"})
}

func (s *server) serveMetrics(c *gin.Context) {
	if s.metricsH == nil {
		writeError(c, api.Errorf(api.CodeNotFound, "metrics are not enabled on this server"))
		return
	}
	s.metricsH.ServeHTTP(c.Writer, c.Request)
}

// serveTenantMetrics is GET /admin/metrics: the whole exposition, the
// tenant-labelled series included, for the operator.
func (s *server) serveTenantMetrics(c *gin.Context) {
	h := s.tenantH
	if h == nil {
		h = s.metricsH
	}
	if h == nil {
		writeError(c, api.Errorf(api.CodeNotFound, "metrics are not enabled on this server"))
		return
	}
	h.ServeHTTP(c.Writer, c.Request)
}

func (s *server) status(c *gin.Context) {
	st, err := s.svc.Status(c.Request.Context())
	ok(c, st, err)
}

func (s *server) openAPI(c *gin.Context) {
	c.Header("X-Content-Type-Options", "nosniff")
	c.Data(http.StatusOK, "application/yaml", openAPIDocument)
}
