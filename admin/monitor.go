package admin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/akidb/akidb/serve/api"
)

// What a monitor (`akidb top`) reads of a running server besides the
// storage routes: the readiness probe, the status route and the metrics.

// Ready asks GET /readyz. Any HTTP answer is a result (503 while the
// server recovers or shuts down); only no answer is an error.
func (r *Remote) Ready(ctx context.Context) (HealthResult, error) {
	u := *r.base
	u.Path = r.base.Path + "/readyz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return HealthResult{}, fmt.Errorf("GET /readyz: %w", err)
	}
	resp, err := r.do(req)
	if err != nil {
		return HealthResult{}, fmt.Errorf("GET /readyz: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, healthBody))
	if err != nil {
		return HealthResult{}, fmt.Errorf("GET /readyz: read answer: %w", err)
	}
	return HealthResult{URL: u.String(), Status: resp.StatusCode, Body: string(bytes.TrimSpace(body))}, nil
}

// Status calls GET /api/v1/status.
func (r *Remote) Status(ctx context.Context) (api.StatusResponse, error) {
	var st api.StatusResponse
	err := r.call(ctx, http.MethodGet, "/api/v1/status", nil, nil, &st)
	return st, err
}

// metricsAccept asks for the protocol buffer exposition (cheaper for the
// server to write and for us to read than text), uncompressed: over the
// short links a monitor uses, gzip costs the server more CPU than it
// saves. A server or proxy that answers text is read too.
var metricsAccept = http.Header{
	"Accept":          {string(expfmt.NewFormat(expfmt.TypeProtoDelim)) + ";q=0.9,text/plain;version=0.0.4;q=0.5"},
	"Accept-Encoding": {"identity"},
}

// Metrics scrapes the server's metrics, parsed with expfmt: GET /metrics
// (public: totals, no tenant ids), or with tenants GET /admin/metrics
// (action metrics.read, the operator's: the series labelled with tenant
// ids too). With names, only those families are asked for (name[]; a
// server that does not filter sends them all). The families are keyed by
// name.
func (r *Remote) Metrics(ctx context.Context, tenants bool, names ...string) (map[string]*dto.MetricFamily, error) {
	path := "/metrics"
	if tenants {
		path = "/admin/metrics"
	}
	var q url.Values
	if len(names) > 0 {
		q = url.Values{"name[]": names}
	}
	data, hdr, err := r.send(ctx, http.MethodGet, path, q, nil, metricsAccept)
	if err != nil {
		return nil, err
	}
	return ParseMetrics(data, expfmt.ResponseFormat(hdr))
}

// ParseMetrics reads an exposition in format (FmtUnknown is read as
// text).
func ParseMetrics(data []byte, format expfmt.Format) (map[string]*dto.MetricFamily, error) {
	if format == expfmt.FmtUnknown {
		format = expfmt.NewFormat(expfmt.TypeTextPlain)
	}
	dec := expfmt.NewDecoder(bytes.NewReader(data), format)
	out := map[string]*dto.MetricFamily{}
	for {
		mf := &dto.MetricFamily{}
		err := dec.Decode(mf)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("parse metrics (%s): %w", format, err)
		}
		if prev, ok := out[mf.GetName()]; ok {
			prev.Metric = append(prev.Metric, mf.Metric...)
			continue
		}
		out[mf.GetName()] = mf
	}
}
