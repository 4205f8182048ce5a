package serve

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// madeByPrometheus are series Prometheus itself makes for every target;
// no server registers them.
var madeByPrometheus = map[string]bool{"up": true}

// metricName finds the metric names in a PromQL expression: the server's
// namespaces (akidb_, and the Go and process collectors' go_ and
// process_), or a series Prometheus makes. Label names and functions never
// start with these.
var metricName = regexp.MustCompile(`\b(akidb_[a-z0-9_]+|go_[a-z0-9_]+|process_[a-z0-9_]+|up)\b`)

// unknownMetrics lists the metrics in expr that the server does not
// register (or says there is none). A histogram's series (_bucket, _sum,
// _count) count as its name.
func unknownMetrics(expr string, registered map[string]bool) []string {
	names := metricName.FindAllString(expr, -1)
	if len(names) == 0 {
		return []string{"(no metric)"}
	}
	var unknown []string
	for _, n := range names {
		if registered[n] || madeByPrometheus[n] {
			continue
		}
		base := n
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			base = strings.TrimSuffix(base, suffix)
		}
		if base == n || !registered[base] {
			unknown = append(unknown, n)
		}
	}
	return unknown
}

func checkExpr(t *testing.T, where, expr string, registered map[string]bool) {
	t.Helper()
	if u := unknownMetrics(expr, registered); len(u) > 0 {
		t.Errorf("%s: %v: not metrics the server registers (expr %q)", where, u, expr)
	}
}

// TestDashboardAndAlertsUseRegisteredMetrics: every metric the Grafana
// dashboard and the Prometheus alert rules in packaging/ query is one the
// server registers, read from the collectors' descriptors (a vector with
// no series yet does not show in a scrape).
func TestDashboardAndAlertsUseRegisteredMetrics(t *testing.T) {
	s := startServer(t, testConfig(t))
	registered := map[string]bool{}
	for _, n := range s.MetricNames() {
		registered[n] = true
	}
	for _, n := range []string{"akidb_http_requests_total", "akidb_ratelimit_limited_total", "akidb_index_backlog_vectors", "go_goroutines"} {
		if !registered[n] {
			t.Fatalf("MetricNames lacks %s: %v", n, s.MetricNames())
		}
	}

	raw, err := os.ReadFile("../packaging/grafana/akidb.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash map[string]any
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	exprs := 0
	dashMetrics := map[string]bool{}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				if s, ok := c.(string); ok && (k == "expr" || k == "definition") {
					exprs++
					checkExpr(t, "dashboard "+path, s, registered)
					metricsIn(s, dashMetrics)
				}
				walk(path+"."+k, c)
			}
		case []any:
			for _, c := range v {
				walk(path, c)
			}
		}
	}
	walk("", dash)
	if exprs < 20 {
		t.Fatalf("found %d queries in the dashboard", exprs)
	}

	raw, err = os.ReadFile("../packaging/prometheus/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&rules); err != nil {
		t.Fatalf("alerts.yaml: %v", err)
	}
	var alerts []string
	alertMetrics := map[string]bool{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			checkExpr(t, "alert "+r.Alert, r.Expr, registered)
			metricsIn(r.Expr, alertMetrics)
			if !slices.Contains([]string{"critical", "warning", "info"}, r.Labels["severity"]) || r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("alert %s: want a severity label, a summary and a description", r.Alert)
			}
		}
	}
	for _, want := range []string{"AkiDBShedding", "AkiDBWALFsyncSlow", "AkiDBCheckpointFailing",
		"AkiDBObjectStoreBreakerOpen", "AkiDBDLQPermanentEntries", "AkiDBShipLagHigh"} {
		if !slices.Contains(alerts, want) {
			t.Errorf("no alert %s in %v", want, alerts)
		}
	}
	// The object storage tier: every one of its metrics is on the
	// dashboard, and the ones an operator must act on are alerted on.
	for _, m := range tierMetrics {
		if !registered[m] {
			t.Errorf("the server does not register %s", m)
		}
		if !dashMetrics[m] {
			t.Errorf("the dashboard has no panel with %s", m)
		}
	}
	for _, m := range []string{"akidb_circuit_breaker_state", "akidb_dlq_entries", "akidb_tier_ship_lag_seconds"} {
		if !alertMetrics[m] {
			t.Errorf("no alert on %s", m)
		}
	}
}

// tierMetrics are the object storage tier's metrics (docs/tiering.md).
var tierMetrics = []string{"akidb_tier_uploads_total", "akidb_tier_upload_duration_seconds", "akidb_tier_bytes_shipped_total",
	"akidb_tier_ship_lag_seconds", "akidb_dlq_entries", "akidb_dlq_retry_attempts_total", "akidb_circuit_breaker_state"}

// metricsIn adds the metric names expr queries to into, histogram
// series under their histogram's name.
func metricsIn(expr string, into map[string]bool) {
	for _, n := range metricName.FindAllString(expr, -1) {
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			n = strings.TrimSuffix(n, suffix)
		}
		into[n] = true
	}
}

// The check itself: a name the server does not register, or a histogram
// suffix on a name that is not there, is reported.
func TestCheckExprCatchesUnknownMetrics(t *testing.T) {
	registered := map[string]bool{"akidb_wal_fsync_duration_seconds": true}
	for expr, bad := range map[string]bool{
		`rate(akidb_wal_fsync_duration_seconds_bucket[5m])`: false,
		`rate(akidb_wal_fsync_duration_seconds_count[5m])`:  false,
		`up == 0`: false,
		`rate(akidb_wal_fsnyc_duration_seconds_bucket[5m])`: true,
		`akidb_dlq_entries{status="permanent"} > 0`:         true,
		`sum(rate(foo[5m]))`:                                true, // no metric at all
	} {
		if u := unknownMetrics(expr, registered); (len(u) > 0) != bad {
			t.Errorf("unknownMetrics(%q) = %v, want some: %v", expr, u, bad)
		}
	}
}
