package loadtest

import (
	"strings"
	"testing"
)

func TestParseFailOn(t *testing.T) {
	ts, err := ParseFailOn("p99>10ms, success<99.9%,recall<0.95,throughput<=500,insert.p95>=1.5s,errors>0,query.mean>3")
	if err != nil {
		t.Fatal(err)
	}
	want := []Threshold{
		{Expr: "p99>10ms", Metric: "p99", Cmp: ">", Value: 10},
		{Expr: "success<99.9%", Metric: "success", Cmp: "<", Value: 99.9},
		{Expr: "recall<0.95", Metric: "recall", Cmp: "<", Value: 0.95},
		{Expr: "throughput<=500", Metric: "throughput", Cmp: "<=", Value: 500},
		{Expr: "insert.p95>=1.5s", Op: OpInsert, Metric: "p95", Cmp: ">=", Value: 1500},
		{Expr: "errors>0", Metric: "errors", Cmp: ">", Value: 0},
		{Expr: "query.mean>3", Op: OpQuery, Metric: "mean", Cmp: ">", Value: 3},
	}
	if len(ts) != len(want) {
		t.Fatalf("got %d thresholds: %+v", len(ts), ts)
	}
	for i := range want {
		if ts[i] != want[i] {
			t.Errorf("threshold %d = %+v, want %+v", i, ts[i], want[i])
		}
	}
	if ts, err := ParseFailOn(""); err != nil || len(ts) != 0 {
		t.Fatalf("empty: %v %v", ts, err)
	}
	for _, tc := range []struct{ in, want string }{
		{"p99", "no comparison"},
		{"p99>", "no value"},
		{">10ms", "no metric"},
		{"p99>>10ms", "more than one comparison"},
		{"p99=10ms", "no comparison"},
		{"p98>10ms", "unknown metric"},
		{"p99>fast", "not a duration"},
		{"p99>-1ms", "must not be negative"},
		{"success<101", "percentage"},
		{"recall<2", "fraction"},
		{"query.recall<0.9", "queries only"},
		{"upsert.p99>1ms", "unknown operation"},
		{"throughput<-1", "must not be negative"},
		{"p99>NaN", "not a finite number"},
	} {
		_, err := ParseFailOn(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseFailOn(%q) = %v, want an error containing %q", tc.in, err, tc.want)
		}
	}
}

func TestThresholdCheck(t *testing.T) {
	recall := 0.9
	r := &Report{
		Summary: Summary{Requests: 1000, Successes: 990, SuccessRatio: 0.99, Throughput: 480,
			LatenciesMS: Latencies{Min: 0.1, Mean: 1, P50: 0.8, P90: 2, P95: 3, P99: 12, Max: 40}},
		ByOperation: map[string]Summary{
			"insert": {Requests: 100, Successes: 100, SuccessRatio: 1, LatenciesMS: Latencies{P99: 60}},
		},
		RecallAtK: &recall,
	}
	for _, tc := range []struct {
		expr   string
		failed bool
		reason string
	}{
		{"p99>10ms", true, "p99 is 12.000ms"},
		{"p99>12ms", false, ""},
		{"p99>=12ms", true, ""},
		{"success<99.9", true, "success is 99.000%"},
		{"success<99", false, ""},
		{"success<=99", true, ""},
		{"recall<0.95", true, "recall is 0.9000"},
		{"recall<0.9", false, ""},
		{"throughput<500", true, "throughput is 480.0/s"},
		{"errors>0", true, "errors is 10"},
		{"errors>10", false, ""},
		{"insert.p99>50ms", true, "insert.p99 is 60.000ms"},
		{"insert.success<100", false, ""},
		{"get.p99>1ms", true, "not measured"},
		{"max>1s", false, ""},
	} {
		ts, err := ParseFailOn(tc.expr)
		if err != nil {
			t.Fatal(err)
		}
		res := ts[0].check(r)
		if res.Failed != tc.failed || !strings.Contains(res.Reason, tc.reason) {
			t.Errorf("%s: failed=%v reason=%q, want failed=%v reason containing %q", tc.expr, res.Failed, res.Reason, tc.failed, tc.reason)
		}
	}
	r.RecallAtK = nil
	ts, _ := ParseFailOn("recall<0.5")
	if res := ts[0].check(r); !res.Failed || res.Reason != "not measured" || res.Actual != nil {
		t.Fatalf("recall not measured must fail: %+v", res)
	}
	err := &ThresholdError{Failed: []ThresholdResult{{Expr: "p99>1ms", Reason: "p99 is 2.000ms"}}}
	if !strings.Contains(err.Error(), "p99>1ms (p99 is 2.000ms)") {
		t.Fatalf("error text %q", err)
	}
}
