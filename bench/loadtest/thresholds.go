package loadtest

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Threshold is one --fail-on condition: the run fails when Metric (of Op,
// or of the whole load when Op is empty) compares to Value as Cmp says.
// "p99>10ms" fails the run when the overall p99 exceeds 10ms.
type Threshold struct {
	Expr   string // as written
	Op     Op     // "" for the whole load
	Metric string // p50 p90 p95 p99 max mean min success throughput errors recall
	Cmp    string // > >= < <=
	// Value in the metric's unit: milliseconds for latencies, percent for
	// success, requests/s for throughput, a count for errors, 0..1 for recall.
	Value float64
}

var latencyMetrics = map[string]bool{"min": true, "mean": true, "p50": true, "p90": true, "p95": true, "p99": true, "max": true}

// ParseFailOn parses a comma-separated list of conditions such as
// "p99>10ms,success<99.9,recall<0.95,throughput<500,query.p95>=5ms".
//
// Metrics: min mean p50 p90 p95 p99 max (a duration like 10ms or 1.5s; a
// bare number is milliseconds), success (percent, 0..100, an optional %
// sign), throughput (successful requests per second), errors (failed
// requests), recall (recall@k, 0..1). A latency, success, throughput or
// errors metric may be prefixed by an operation ("insert.p99>50ms").
// Comparisons: > >= < <=.
func ParseFailOn(s string) ([]Threshold, error) {
	var out []Threshold
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		t, err := parseThreshold(part)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", part, err)
		}
		out = append(out, t)
	}
	return out, nil
}

func parseThreshold(expr string) (Threshold, error) {
	i := strings.IndexAny(expr, "<>")
	if i < 0 {
		return Threshold{}, fmt.Errorf("no comparison: want metric>value or metric<value, like p99>10ms")
	}
	t := Threshold{Expr: expr, Cmp: expr[i : i+1]}
	lhs, rhs := strings.TrimSpace(expr[:i]), expr[i+1:]
	if strings.HasPrefix(rhs, "=") {
		t.Cmp += "="
		rhs = rhs[1:]
	}
	rhs = strings.TrimSpace(rhs)
	if strings.ContainsAny(rhs, "<>=") {
		return Threshold{}, fmt.Errorf("more than one comparison")
	}
	if rhs == "" {
		return Threshold{}, fmt.Errorf("no value after %s", t.Cmp)
	}
	t.Metric = lhs
	if opName, metric, ok := strings.Cut(lhs, "."); ok {
		op, known := knownOp(opName)
		if !known {
			return Threshold{}, fmt.Errorf("unknown operation %q (want one of %s)", opName, opNames())
		}
		t.Op, t.Metric = op, metric
	}
	var err error
	switch {
	case latencyMetrics[t.Metric]:
		t.Value, err = parseMillis(rhs)
	case t.Metric == "success":
		t.Value, err = strconv.ParseFloat(strings.TrimSuffix(rhs, "%"), 64)
		if err == nil && (t.Value < 0 || t.Value > 100) {
			err = fmt.Errorf("success is a percentage, 0 to 100")
		}
	case t.Metric == "throughput", t.Metric == "errors":
		t.Value, err = strconv.ParseFloat(rhs, 64)
		if err == nil && t.Value < 0 {
			err = fmt.Errorf("%s must not be negative", t.Metric)
		}
	case t.Metric == "recall":
		if t.Op != "" {
			return Threshold{}, fmt.Errorf("recall is measured for queries only; write recall<0.95")
		}
		t.Value, err = strconv.ParseFloat(rhs, 64)
		if err == nil && (t.Value < 0 || t.Value > 1) {
			err = fmt.Errorf("recall is a fraction, 0 to 1")
		}
	case t.Metric == "":
		return Threshold{}, fmt.Errorf("no metric before %s", t.Cmp)
	default:
		return Threshold{}, fmt.Errorf("unknown metric %q (want min, mean, p50, p90, p95, p99, max, success, throughput, errors or recall)", t.Metric)
	}
	if err != nil {
		return Threshold{}, fmt.Errorf("value %q: %w", rhs, err)
	}
	if math.IsNaN(t.Value) || math.IsInf(t.Value, 0) {
		return Threshold{}, fmt.Errorf("value %q is not a finite number", rhs)
	}
	return t, nil
}

// parseMillis reads a duration ("10ms", "1.5s") or a bare number of
// milliseconds.
func parseMillis(s string) (float64, error) {
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		if v < 0 {
			return 0, fmt.Errorf("a latency must not be negative")
		}
		return v, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("not a duration (like 10ms)")
	}
	if d < 0 {
		return 0, fmt.Errorf("a latency must not be negative")
	}
	return float64(d) / float64(time.Millisecond), nil
}

// ThresholdResult is a threshold checked against a report.
type ThresholdResult struct {
	Expr   string   `json:"expr"`
	Actual *float64 `json:"actual"` // nil: the figure was not measured
	Failed bool     `json:"failed"`
	Reason string   `json:"reason,omitempty"`
}

// check evaluates t against r. A figure that was not measured (recall
// with --recall-sample 0, an operation that sent no request) fails the
// threshold: CI must not pass on a number that does not exist.
func (t Threshold) check(r *Report) ThresholdResult {
	res := ThresholdResult{Expr: t.Expr}
	actual, ok := t.actual(r)
	if !ok {
		res.Failed = true
		res.Reason = "not measured"
		return res
	}
	res.Actual = &actual
	switch t.Cmp {
	case ">":
		res.Failed = actual > t.Value
	case ">=":
		res.Failed = actual >= t.Value
	case "<":
		res.Failed = actual < t.Value
	case "<=":
		res.Failed = actual <= t.Value
	}
	if res.Failed {
		res.Reason = fmt.Sprintf("%s is %s", t.label(), t.format(actual))
	}
	return res
}

func (t Threshold) label() string {
	if t.Op != "" {
		return string(t.Op) + "." + t.Metric
	}
	return t.Metric
}

func (t Threshold) format(v float64) string {
	switch {
	case latencyMetrics[t.Metric]:
		return fmt.Sprintf("%.3fms", v)
	case t.Metric == "success":
		return fmt.Sprintf("%.3f%%", v)
	case t.Metric == "recall":
		return fmt.Sprintf("%.4f", v)
	case t.Metric == "errors":
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f/s", v)
}

func (t Threshold) actual(r *Report) (float64, bool) {
	if t.Metric == "recall" {
		if r.RecallAtK == nil {
			return 0, false
		}
		return *r.RecallAtK, true
	}
	s := r.Summary
	if t.Op != "" {
		op, ok := r.ByOperation[string(t.Op)]
		if !ok {
			return 0, false
		}
		s = op
	}
	if s.Requests == 0 {
		return 0, false
	}
	l := s.LatenciesMS
	switch t.Metric {
	case "min":
		return l.Min, true
	case "mean":
		return l.Mean, true
	case "p50":
		return l.P50, true
	case "p90":
		return l.P90, true
	case "p95":
		return l.P95, true
	case "p99":
		return l.P99, true
	case "max":
		return l.Max, true
	case "success":
		return s.SuccessRatio * 100, true
	case "throughput":
		return s.Throughput, true
	case "errors":
		return float64(s.Requests - s.Successes), true
	}
	return 0, false
}

// ThresholdError is returned by Run when a --fail-on condition held; the
// report was still written.
type ThresholdError struct {
	Failed []ThresholdResult
}

func (e *ThresholdError) Error() string {
	parts := make([]string, len(e.Failed))
	for i, f := range e.Failed {
		parts[i] = fmt.Sprintf("%s (%s)", f.Expr, f.Reason)
	}
	return "fail-on: " + strings.Join(parts, "; ")
}
