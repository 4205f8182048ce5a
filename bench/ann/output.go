package ann

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
)

// WriteTable writes a one-line summary of the run and an aligned table with
// one row per ef and a last row for exact search (if it was measured).
func WriteTable(w io.Writer, r Report) error {
	s := r.Setup
	var extra string
	if s.Label != "" {
		extra += " config=" + strconv.Quote(s.Label)
	}
	if s.RSSBytes != 0 {
		extra += fmt.Sprintf(" rss=%.1fMiB", float64(s.RSSBytes)/(1<<20))
		if s.RSSAnonBytes != 0 || s.RSSFileBytes != 0 {
			extra += fmt.Sprintf(" (anon=%.1fMiB file=%.1fMiB)", float64(s.RSSAnonBytes)/(1<<20), float64(s.RSSFileBytes)/(1<<20))
		}
	}
	if _, err := fmt.Fprintf(w, "n=%d dim=%d queries=%d metric=%s k=%d M=%d efConstruction=%d build=%.2fs threads=%d mem=%.1fMiB%s\n",
		s.N, s.Dim, s.Queries, s.Metric, s.K, s.M, s.EfConstruction, s.BuildS, s.BuildThreads, float64(s.MemBytes)/(1<<20), extra); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "ef\trecall\tqps\tp50_us\tp99_us\t\n")
	for _, res := range r.Results {
		fmt.Fprintf(tw, "%d\t%.4f\t%.1f\t%.1f\t%.1f\t\n", res.Ef, res.Recall, res.QPS, res.P50us, res.P99us)
	}
	if e := r.Exact; e.Queries > 0 {
		fmt.Fprintf(tw, "exact\t%.4f\t%.1f\t%.1f\t%.1f\t\n", e.Recall, e.QPS, e.P50us, e.P99us)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

// exactLine is the JSON shape of the exact-search line.
type exactLine struct {
	Exact  bool   `json:"exact"`
	K      int    `json:"k"`
	N      int    `json:"n"`
	Dim    int    `json:"dim"`
	Metric string `json:"metric"`
	ExactResult
}

// WriteJSON writes one JSON object per ef, one per line, then one line
// {"exact":true,...} for exact search if it was measured.
func WriteJSON(w io.Writer, r Report) error {
	enc := json.NewEncoder(w)
	for _, res := range r.Results {
		if err := enc.Encode(res); err != nil {
			return fmt.Errorf("write json ef=%d: %w", res.Ef, err)
		}
	}
	if r.Exact.Queries > 0 {
		line := exactLine{Exact: true, K: r.K, N: r.N, Dim: r.Dim, Metric: r.Metric, ExactResult: r.Exact}
		if err := enc.Encode(line); err != nil {
			return fmt.Errorf("write json exact: %w", err)
		}
	}
	return nil
}
