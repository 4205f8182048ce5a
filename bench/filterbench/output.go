package filterbench

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
)

// WriteTable writes the setup, the unfiltered baseline and one row per
// mode and filter.
func WriteTable(w io.Writer, r Report) error {
	if _, err := fmt.Fprintf(w, "n=%d dim=%d queries=%d k=%d ef=%d build=%.1fs\n", r.N, r.Dim, r.Queries, r.K, r.Ef, r.BuildS); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "mode\tfilter\tselectivity\trecall\tqps\tp50_us\tp99_us\tunfiltered_p50_us\tp50/unfiltered\tcpu_p50_us\tcpu_p50/unfiltered\tunder\tstrategies\t\n")
	line := func(row Row) {
		fmt.Fprintf(tw, "%s\t%s\t%.2f%%\t%.4f\t%.0f\t%.0f\t%.0f\t%.0f\t%.2f\t%.0f\t%.2f\t%d\t%s\t\n", row.Mode, orNone(row.Filter), 100*row.Selectivity,
			row.Recall, row.QPS, row.P50us, row.P99us, row.UnfilteredP50us, row.P50Ratio, row.CPUP50us, row.CPUP50Ratio, row.UnderReturns, strategies(row.Strategies))
	}
	line(r.Unfiltered)
	for _, row := range r.Rows {
		line(row)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

// WriteJSON writes one JSON object per row (the unfiltered baseline first),
// each with the setup.
func WriteJSON(w io.Writer, r Report) error {
	enc := json.NewEncoder(w)
	for _, row := range append([]Row{r.Unfiltered}, r.Rows...) {
		line := struct {
			Setup
			Row
		}{r.Setup, row}
		if err := enc.Encode(line); err != nil {
			return fmt.Errorf("write json: %w", err)
		}
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func strategies(m map[string]int) string {
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s:%d", k, m[k])
	}
	return strings.Join(parts, ",")
}
