package top

import (
	"math"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

func protoHist(count uint64, buckets ...[2]float64) *dto.Histogram {
	h := &dto.Histogram{SampleCount: proto.Uint64(count)}
	for _, b := range buckets {
		h.Bucket = append(h.Bucket, &dto.Bucket{UpperBound: proto.Float64(b[0]), CumulativeCount: proto.Uint64(uint64(b[1]))})
	}
	return h
}

func TestHistogramQuantile(t *testing.T) {
	var h hist
	h.add(protoHist(10, [2]float64{.001, 2}, [2]float64{.01, 8}, [2]float64{.1, 10}, [2]float64{math.Inf(1), 10}))
	h.add(protoHist(10, [2]float64{.001, 0}, [2]float64{.01, 10}, [2]float64{.1, 10}))
	for _, c := range []struct{ q, want float64 }{
		{0, 0}, {0.1, .001}, {0.5, .001 + .009*8/16}, {0.9, .01}, {0.95, .01 + .09*0.5}, {1, .1},
	} {
		if got, ok := h.quantile(c.q); !ok || math.Abs(got-c.want) > 1e-12 {
			t.Errorf("q%.2f = %v, want %v", c.q, got, c.want)
		}
	}
	// The +Inf bucket answers the highest finite bound.
	var inf hist
	inf.add(protoHist(4, [2]float64{.1, 1}, [2]float64{math.Inf(1), 4}))
	if got, _ := inf.quantile(0.99); got != .1 {
		t.Errorf("rank in +Inf: %v", got)
	}
	if _, ok := (hist{}).quantile(.5); ok {
		t.Error("an empty histogram has a quantile")
	}
	// Deltas: the observations between two scrapes only.
	var later hist
	later.add(protoHist(30, [2]float64{.001, 2}, [2]float64{.01, 18}, [2]float64{.1, 30}))
	d := later.sub(h)
	if d.count != 10 || d.cum[0] != 0 || d.cum[1] != 0 || d.cum[2] != 10 {
		t.Fatalf("delta %+v", d)
	}
	if got, _ := d.quantile(.5); math.Abs(got-.055) > 1e-12 {
		t.Errorf("delta p50 %v", got)
	}
	var other hist
	other.add(protoHist(1, [2]float64{.5, 1}))
	if d := other.sub(h); d.count != 0 {
		t.Errorf("delta across other buckets: %+v", d)
	}
	// A bound one side lacks starts from the other's count below it.
	var a hist
	a.add(protoHist(2, [2]float64{.001, 1}, [2]float64{.1, 2}))
	a.add(protoHist(1, [2]float64{.01, 1}))
	if a.bounds[1] != .01 || a.cum[1] != 2 || a.count != 3 {
		t.Errorf("merged %+v", a)
	}
}

func TestSparkline(t *testing.T) {
	vals := make([]*float64, 6)
	for i := range vals {
		vals[i] = fp(float64(i))
	}
	vals[0] = nil
	if got := sparkline(vals, 6); got != " ▂▄▅▇█" {
		t.Errorf("6 in 6: %q", got)
	}
	// Pairs averaged to fit 3 cells: (nil,1) (2,3) (4,5).
	if got := sparkline(vals, 3); got != "▃▅█" {
		t.Errorf("6 in 3: %q", got)
	}
	if got := sparkline([]*float64{fp(0), fp(0)}, 4); got != "▁▁" {
		t.Errorf("zeros: %q", got)
	}
	if got := sparkline([]*float64{nil, nil}, 2); got != "  " {
		t.Errorf("no data: %q", got)
	}
}

func TestFormats(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{fmtAge(0), "0s"}, {fmtAge(250 * time.Millisecond), "250ms"}, {fmtAge(42 * time.Second), "42s"},
		{fmtAge(184 * time.Second), "3m04s"}, {fmtAge(5 * time.Minute), "5m"}, {fmtAge(3*time.Hour + 12*time.Minute), "3h12m"},
		{fmtAge(50 * time.Hour), "2d02h"}, {fmtSeconds(fp(0.00075)), "750µs"}, {fmtSeconds(fp(0.0021)), "2.1ms"},
		{fmtSeconds(fp(0.25)), "250ms"}, {fmtSeconds(fp(2.5)), "2.50s"}, {fmtSeconds(nil), "-"},
		{fmtBytes(512), "512 B"}, {fmtBytes(18.2 * 1024 * 1024), "18.2 MiB"}, {fmtBytes(3 << 30), "3.0 GiB"},
		{fmtCount(1204331), "1,204,331"}, {fmtCount(999), "999"}, {fmtRate(fp(812.4)), "812"}, {fmtRate(fp(12345)), "12.3k"},
		{fmtRate(fp(0.25)), "0.2"}, {tail("edge/box1/c/5e1/manifest.json", 10), "…fest.json"},
		{readiness(200, ""), "ready"}, {readiness(503, `{"status":"stopping"}`), "stopping"}, {readiness(502, "<html>"), "HTTP 502"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestOperations(t *testing.T) {
	for _, c := range []struct {
		route, method string
		op            int
		ok            bool
	}{
		{"/api/v1/collections/:name/query", "POST", opQuery, true},
		{"/api/v1/collections/:name/insert", "POST", opInsert, true},
		{"/api/v1/collections/:name/vectors", "GET", opGet, true},
		{"/api/v1/collections/:name/vectors/:id", "DELETE", opDelete, true},
		{"/api/v1/collections", "POST", opAdmin, true},
		{"/admin/dlq/retry", "POST", opAdmin, true},
		{"/admin/dlq", "GET", 0, false},
		{"/metrics", "GET", 0, false},
		{"unmatched", "GET", 0, false},
	} {
		if op, ok := restOp(c.route, c.method); op != c.op || ok != c.ok {
			t.Errorf("%s %s: %d %v", c.method, c.route, op, ok)
		}
	}
	for _, c := range []struct {
		method string
		op     int
		ok     bool
	}{
		{"/akidb.v1.CollectionService/Query", opQuery, true},
		{"/akidb.v1.CollectionService/Scroll", opGet, true},
		{"/akidb.v1.ManagementService/CreateTenant", opAdmin, true},
		{"/akidb.v1.ManagementService/GetStorageStatus", 0, false},
		{"/grpc.health.v1.Health/Check", 0, false},
	} {
		if op, ok := grpcOp(c.method); op != c.op || ok != c.ok {
			t.Errorf("%s: %d %v", c.method, op, ok)
		}
	}
}
