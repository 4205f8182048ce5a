package ann

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"strings"
)

// The recall/QPS plot (`akidb bench ann --plot FILE.html`): QPS on a log
// axis against recall@K, one series per configuration, as ann-benchmarks
// draws it. The file is one self-contained HTML page (inline SVG and CSS,
// no script, nothing fetched when it is viewed), with a table of the best
// QPS each series reaches at recall >= 0.95 and >= 0.99 under the plot.

// Point is one measurement of a series.
type Point struct {
	Ef     int     `json:"ef"`
	Recall float64 `json:"recall"`
	QPS    float64 `json:"qps"`
}

// Series is one configuration's curve, points in sweep order.
type Series struct {
	Name   string
	Points []Point
}

// SeriesOf is the curve of one report, named name.
func SeriesOf(name string, r Report) Series {
	s := Series{Name: name}
	for _, res := range r.Results {
		s.Points = append(s.Points, Point{Ef: res.Ef, Recall: res.Recall, QPS: res.QPS})
	}
	return s
}

// maxCompareLine bounds one line of a --compare file.
const maxCompareLine = 1 << 20

// ReadCurves reads JSON lines as `akidb bench ann --json` and the hnswlib
// runner (../shared/peer/run.sh bench) write them: every line with "ef",
// "recall" and "qps" is a point; its series is named by "lib" (hnswlib's
// lines), else "label" (AkiDB's), else the file's name. Lines without an
// ef (exact search, brute force, "prepared") and blank lines are skipped;
// a line that is not a JSON object, or a point with a recall outside
// [0, 1] or a QPS that is not positive, is an error naming the line.
func ReadCurves(path string) ([]Series, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--compare: %w", err)
	}
	defer f.Close()
	return readCurves(f, path)
}

func readCurves(r io.Reader, path string) ([]Series, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxCompareLine)
	var out []Series
	index := map[string]int{}
	for line := 1; sc.Scan(); line++ {
		b := strings.TrimSpace(sc.Text())
		if b == "" {
			continue
		}
		var l struct {
			Lib    string   `json:"lib"`
			Label  string   `json:"label"`
			Ef     *int     `json:"ef"`
			Recall *float64 `json:"recall"`
			QPS    *float64 `json:"qps"`
		}
		if err := json.Unmarshal([]byte(b), &l); err != nil {
			return nil, fmt.Errorf("%s:%d: not a JSON object: %w", path, line, err)
		}
		if l.Ef == nil || l.Recall == nil || l.QPS == nil {
			continue
		}
		if !(*l.Recall >= 0 && *l.Recall <= 1) || !(*l.QPS > 0) || math.IsInf(*l.QPS, 0) {
			return nil, fmt.Errorf("%s:%d: recall %v and qps %v: want a recall in [0, 1] and a positive qps", path, line, *l.Recall, *l.QPS)
		}
		name := l.Lib
		if name == "" {
			name = l.Label
		}
		if name == "" {
			name = path
		}
		i, ok := index[name]
		if !ok {
			i = len(out)
			index[name] = i
			out = append(out, Series{Name: name})
		}
		out[i].Points = append(out[i].Points, Point{Ef: *l.Ef, Recall: *l.Recall, QPS: *l.QPS})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// BestQPS is the highest QPS among the series' points with recall >= at
// (false when none reaches it).
func (s Series) BestQPS(at float64) (Point, bool) {
	var best Point
	found := false
	for _, p := range s.Points {
		if p.Recall >= at && (!found || p.QPS > best.QPS) {
			best, found = p, true
		}
	}
	return best, found
}

// plot geometry, in SVG user units.
const (
	plotW, plotH                    = 960, 600
	marginL, marginR, marginT, marB = 80, 230, 40, 60
)

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"}

// WritePlot writes the HTML page: title, the plot and the table.
func WritePlot(w io.Writer, title string, series []Series) error {
	var pts []Point
	for _, s := range series {
		pts = append(pts, s.Points...)
	}
	if len(pts) == 0 {
		return errors.New("plot: no points to draw")
	}
	minR, maxQ, minQ := 1.0, 0.0, math.Inf(1)
	for _, p := range pts {
		minR = min(minR, p.Recall)
		maxQ = max(maxQ, p.QPS)
		minQ = min(minQ, p.QPS)
	}
	x0 := math.Min(math.Floor(minR*20)/20, 0.9) // recall axis from a multiple of 0.05
	y0, y1 := math.Floor(math.Log10(minQ)), math.Ceil(math.Log10(maxQ))
	if y1 == y0 {
		y1++
	}
	iw, ih := float64(plotW-marginL-marginR), float64(plotH-marginT-marB)
	sx := func(r float64) float64 { return marginL + (r-x0)/(1-x0)*iw }
	sy := func(q float64) float64 { return marginT + ih - (math.Log10(q)-y0)/(y1-y0)*ih }

	var b strings.Builder
	esc := html.EscapeString
	fmt.Fprintf(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%s</title>\n", esc(title))
	b.WriteString(`<style>body{font:14px sans-serif;margin:20px;color:#222}svg text{font:12px sans-serif}` +
		`table{border-collapse:collapse;margin-top:16px}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}` +
		`th:first-child,td:first-child{text-align:left}.grid{stroke:#e4e4e4}.axis{stroke:#444}.mark{stroke:#999;stroke-dasharray:4 3}</style>` + "\n")
	fmt.Fprintf(&b, "</head><body><h2>%s</h2>\n", esc(title))
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">`+"\n", plotW, plotH, plotW, plotH)
	// Grid and ticks: recall every 0.01 (labelled every 0.05, or 0.01 on a
	// short axis), QPS at 1, 2 and 5 of each decade.
	step := 0.05
	if 1-x0 <= 0.1 {
		step = 0.01
	}
	for i := 0; ; i++ {
		r := x0 + float64(i)*0.01
		if r > 1+1e-9 {
			break
		}
		x := sx(r)
		fmt.Fprintf(&b, `<line class="grid" x1="%.1f" y1="%d" x2="%.1f" y2="%d"/>`, x, marginT, x, plotH-marB)
		if k := math.Round(r / step); math.Abs(r-k*step) < 1e-9 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%.2f</text>`, x, plotH-marB+18, r)
		}
	}
	for d := y0; d < y1; d++ {
		for _, m := range []float64{1, 2, 5} {
			q := m * math.Pow(10, d)
			y := sy(q)
			fmt.Fprintf(&b, `<line class="grid" x1="%d" y1="%.1f" x2="%d" y2="%.1f"/>`, marginL, y, plotW-marginR, y)
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`, marginL-6, y+4, humanQPS(q))
		}
	}
	fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`, marginL-6, sy(math.Pow(10, y1))+4, humanQPS(math.Pow(10, y1)))
	for _, at := range []float64{0.95, 0.99} {
		if at > x0 {
			x := sx(at)
			fmt.Fprintf(&b, `<line class="mark" x1="%.1f" y1="%d" x2="%.1f" y2="%d"/>`, x, marginT, x, plotH-marB)
		}
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.0f" height="%.0f" fill="none" class="axis"/>`, marginL, marginT, iw, ih)
	fmt.Fprintf(&b, `<text x="%.0f" y="%d" text-anchor="middle">recall@k</text>`, marginL+iw/2, plotH-18)
	fmt.Fprintf(&b, `<text transform="translate(20 %.0f) rotate(-90)" text-anchor="middle">queries per second (log scale)</text>`, marginT+ih/2)
	for i, s := range series {
		color := palette[i%len(palette)]
		var path []string
		for _, p := range s.Points {
			path = append(path, fmt.Sprintf("%.1f,%.1f", sx(p.Recall), sy(p.QPS)))
		}
		fmt.Fprintf(&b, "\n"+`<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, color, strings.Join(path, " "))
		for _, p := range s.Points {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%s ef=%d recall=%.4f qps=%.1f</title></circle>`,
				sx(p.Recall), sy(p.QPS), color, esc(s.Name), p.Ef, p.Recall, p.QPS)
		}
		ly := marginT + 10 + i*20
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>`, plotW-marginR+15, ly, plotW-marginR+40, ly, color)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`, plotW-marginR+46, ly+4, esc(s.Name))
	}
	b.WriteString("\n</svg>\n<table><tr><th>series</th><th>best QPS at recall &ge; 0.95 (ef)</th><th>best QPS at recall &ge; 0.99 (ef)</th></tr>\n")
	for _, s := range series {
		fmt.Fprintf(&b, "<tr><td>%s</td>", esc(s.Name))
		for _, at := range []float64{0.95, 0.99} {
			if p, ok := s.BestQPS(at); ok {
				fmt.Fprintf(&b, "<td>%.1f (%d)</td>", p.QPS, p.Ef)
			} else {
				b.WriteString("<td>not reached</td>")
			}
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</table>\n</body></html>\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write plot: %w", err)
	}
	return nil
}

// humanQPS labels a tick: 500, 2k, 10k, 1M.
func humanQPS(q float64) string {
	switch {
	case q >= 1e6:
		return trimZero(q/1e6) + "M"
	case q >= 1e3:
		return trimZero(q/1e3) + "k"
	}
	return trimZero(q)
}

func trimZero(v float64) string {
	s := fmt.Sprintf("%.1f", v)
	return strings.TrimSuffix(s, ".0")
}
