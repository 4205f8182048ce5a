package ann

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// hnswlib's runner writes these lines (../shared/peer/hnsw_peer.cpp).
const hnswlibLines = `{"lib":"hnswlib","M":16,"efc":200,"build_threads":1,"ef":10,"build_s":23.67,"recall":0.9284,"qps":20871.0}
{"lib":"hnswlib","M":16,"efc":200,"build_threads":1,"ef":16,"build_s":23.67,"recall":0.9688,"qps":15551.0}

{"lib":"hnswlib","M":16,"efc":200,"build_threads":1,"ef":32,"build_s":23.67,"recall":0.9927,"qps":9358.0}
{"lib":"hnswlib-bruteforce","recall":1.0,"qps":167.0}
`

func TestReadCurves(t *testing.T) {
	dir := t.TempDir()
	var ours bytes.Buffer
	rep := Report{Setup: Setup{K: 10, Tags: Tags{Label: "akidb int8"}}, Results: []Result{
		{Ef: 10, Recall: 0.93, QPS: 30000}, {Ef: 32, Recall: 0.995, QPS: 14000},
	}, Exact: ExactResult{Queries: 5, Recall: 1, QPS: 200}}
	for i := range rep.Results {
		rep.Results[i].Setup = rep.Setup
	}
	if err := WriteJSON(&ours, rep); err != nil {
		t.Fatal(err)
	}
	unlabelled := `{"ef":20,"recall":0.97,"qps":100}` + "\n"
	files := map[string]string{"hnswlib.jsonl": hnswlibLines, "ours.jsonl": ours.String(), "plain.jsonl": unlabelled}
	got := map[string]Series{}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		series, err := ReadCurves(p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, s := range series {
			got[s.Name] = s
		}
	}
	// Lines without ef (brute force, exact search) are not points.
	if len(got) != 3 {
		t.Fatalf("series %v", got)
	}
	if h := got["hnswlib"]; len(h.Points) != 3 || h.Points[2] != (Point{Ef: 32, Recall: 0.9927, QPS: 9358}) {
		t.Fatalf("hnswlib %+v", h)
	}
	if a := got["akidb int8"]; len(a.Points) != 2 || a.Points[1].Ef != 32 {
		t.Fatalf("ours %+v", a)
	}
	if p := got[filepath.Join(dir, "plain.jsonl")]; len(p.Points) != 1 {
		t.Fatalf("a line without lib or label is named by its file: %v", got)
	}
	if best, ok := got["hnswlib"].BestQPS(0.95); !ok || best.Ef != 16 {
		t.Fatalf("best at 0.95: %+v %v", best, ok)
	}
	if _, ok := got["hnswlib"].BestQPS(0.999); ok {
		t.Fatal("0.999 is not reached")
	}

	for _, bad := range []string{
		`{"ef":10,"recall":0.9,"qps":1` + "\n",    // cut short
		`[1,2]` + "\n",                            // not an object
		`{"ef":10,"recall":1.5,"qps":100}` + "\n", // recall outside [0, 1]
		`{"ef":10,"recall":0.9,"qps":0}` + "\n",   // no qps
		`{"ef":10,"recall":0.9,"qps":-3}` + "\n",
	} {
		if _, err := readCurves(strings.NewReader(hnswlibLines+bad), "f.jsonl"); err == nil || !strings.Contains(err.Error(), "f.jsonl:6") {
			t.Errorf("%q: %v, want an error at line 6", bad, err)
		}
	}
	if _, err := ReadCurves(filepath.Join(dir, "absent.jsonl")); err == nil {
		t.Fatal("a missing file reads")
	}
}

// TestWritePlot: one polyline and legend entry per series, every point
// where the axes put it, the table's best QPS, nothing fetched from
// elsewhere, and names escaped.
func TestWritePlot(t *testing.T) {
	series := []Series{
		{Name: "akidb <int8>", Points: []Point{{10, 0.93, 30000}, {16, 0.96, 22000}, {32, 0.995, 14000}}},
		{Name: "hnswlib", Points: []Point{{10, 0.9284, 20871}, {16, 0.9688, 15551}, {32, 0.9927, 9358}}},
	}
	var b bytes.Buffer
	if err := WritePlot(&b, "MNIST & co", series); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if !strings.HasPrefix(page, "<!DOCTYPE html>") || !strings.Contains(page, "<title>MNIST &amp; co</title>") {
		t.Fatalf("page head: %.200s", page)
	}
	if strings.Contains(page, "<int8>") || !strings.Contains(page, "akidb &lt;int8&gt;") {
		t.Fatal("series names are not escaped")
	}
	for _, ref := range []string{"<script", "src=", "href=", "@import", "url("} {
		if strings.Contains(page, ref) {
			t.Fatalf("the page refers to something outside it (%s)", ref)
		}
	}
	if n := strings.Count(page, "<polyline"); n != 2 {
		t.Fatalf("%d polylines", n)
	}
	if n := strings.Count(page, "<circle"); n != 6 {
		t.Fatalf("%d points", n)
	}
	// Points sit where the axes say: recall from 0.90 (the lowest recall
	// rounded down to 0.05) to 1, QPS on a log axis from 10^3 to 10^5.
	re := regexp.MustCompile(`<circle cx="([0-9.]+)" cy="([0-9.]+)"[^>]*><title>([^<]*) ef=(\d+) recall=([0-9.]+) qps=([0-9.]+)</title>`)
	ms := re.FindAllStringSubmatch(page, -1)
	if len(ms) != 6 {
		t.Fatalf("%d titled points", len(ms))
	}
	iw, ih := float64(plotW-marginL-marginR), float64(plotH-marginT-marB)
	for _, m := range ms {
		cx, _ := strconv.ParseFloat(m[1], 64)
		cy, _ := strconv.ParseFloat(m[2], 64)
		r, _ := strconv.ParseFloat(m[5], 64)
		q, _ := strconv.ParseFloat(m[6], 64)
		wantX := marginL + (r-0.9)/0.1*iw
		wantY := marginT + ih - (math.Log10(q)-3)/2*ih
		if math.Abs(cx-wantX) > 0.06 || math.Abs(cy-wantY) > 0.06 {
			t.Errorf("%s at (%v, %v), want (%.1f, %.1f)", m[0], cx, cy, wantX, wantY)
		}
	}
	if !strings.Contains(page, "<td>hnswlib</td><td>15551.0 (16)</td><td>9358.0 (32)</td>") {
		t.Fatalf("table row for hnswlib missing:\n%s", page[strings.Index(page, "<table>"):])
	}
	if err := WritePlot(&b, "empty", nil); err == nil {
		t.Fatal("a plot of nothing")
	}
}

// TestProgressLine: the build line has the rate and the time left; in
// lines mode each update is a line of its own.
func TestProgressLine(t *testing.T) {
	var b bytes.Buffer
	p := &progress{w: &b, total: 1000, lines: true}
	p.draw(250, 2*time.Second, "")
	p.draw(500, 4*time.Second, "")
	want := "build: 250/1000 vectors (25.0%) 125 vectors/s elapsed 2.0s ETA 6s\n" +
		"build: 500/1000 vectors (50.0%) 125 vectors/s elapsed 4.0s ETA 4s\n"
	if b.String() != want {
		t.Fatalf("got %q, want %q", b.String(), want)
	}
	b.Reset()
	p = &progress{w: &b, total: 1000}
	p.draw(500, 4*time.Second, "")
	p.draw(1000, 5*time.Second, "\n")
	if got := b.String(); got != "\rbuild: 500/1000 vectors (50.0%) 125 vectors/s elapsed 4.0s ETA 4s"+
		"\rbuild: 1000/1000 vectors (100.0%) 200 vectors/s elapsed 5.0s     \n" {
		t.Fatalf("terminal line %q", got)
	}
}
