package top

import (
	"math"
	"slices"

	dto "github.com/prometheus/client_model/go"
)

// hist is a cumulative histogram: cum[i] observations were at most
// bounds[i] (ascending, +Inf excluded); count is every observation.
type hist struct {
	bounds []float64
	cum    []float64
	count  float64
}

// add merges o into h. Histograms with the same buckets (AkiDB's latency
// histograms share theirs) add bucket by bucket exactly; a bound only o
// has starts from h's count at the bound below it, which is right for h
// and approximate for o.
func (h *hist) add(o *dto.Histogram) {
	if o == nil {
		return
	}
	h.count += float64(o.GetSampleCount())
	// First the bounds h lacks, at h's count below them (h's counts are a
	// step function), then o's counts.
	for _, b := range o.GetBucket() {
		ub := b.GetUpperBound()
		if i, found := slices.BinarySearch(h.bounds, ub); !found && !math.IsInf(ub, 1) {
			below := 0.0
			if i > 0 {
				below = h.cum[i-1]
			}
			h.bounds = slices.Insert(h.bounds, i, ub)
			h.cum = slices.Insert(h.cum, i, below)
		}
	}
	for _, b := range o.GetBucket() {
		if i, found := slices.BinarySearch(h.bounds, b.GetUpperBound()); found {
			h.cum[i] += float64(b.GetCumulativeCount())
		}
	}
}

// sub returns h - old: the observations between two scrapes. Buckets that
// differ (a restarted server with other buckets) give the empty histogram.
func (h hist) sub(old hist) hist {
	if !slices.Equal(h.bounds, old.bounds) {
		if len(old.bounds) == 0 {
			return h
		}
		return hist{}
	}
	out := hist{bounds: h.bounds, cum: make([]float64, len(h.cum)), count: h.count - old.count}
	for i := range h.cum {
		out.cum[i] = h.cum[i] - old.cum[i]
	}
	return out
}

// quantile estimates the q-quantile as histogram_quantile does: linear
// within the bucket the rank falls in; the highest finite bound when it
// falls in +Inf. ok is false without observations.
func (h hist) quantile(q float64) (v float64, ok bool) {
	if h.count <= 0 || len(h.bounds) == 0 {
		return 0, false
	}
	rank := q * h.count
	lower, below := 0.0, 0.0
	for i, ub := range h.bounds {
		if h.cum[i] >= rank {
			in := h.cum[i] - below
			if in <= 0 {
				return ub, true
			}
			return lower + (ub-lower)*(rank-below)/in, true
		}
		lower, below = ub, h.cum[i]
	}
	return h.bounds[len(h.bounds)-1], true
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// value is a counter's, gauge's or untyped metric's value.
func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Untyped != nil:
		return m.GetUntyped().GetValue()
	}
	return math.NaN()
}

// families is one scrape's metric families by name.
type families map[string]*dto.MetricFamily

// scalar is the value of an unlabelled metric; ok is false when absent.
func (f families) scalar(name string) (float64, bool) {
	mf := f[name]
	if mf == nil || len(mf.GetMetric()) == 0 {
		return 0, false
	}
	v := value(mf.GetMetric()[0])
	return v, !math.IsNaN(v)
}

// sum adds the values of name's series that keep accepts (nil: all);
// ok is false when the family is absent.
func (f families) sum(name string, keep func(*dto.Metric) bool) (float64, bool) {
	mf := f[name]
	if mf == nil {
		return 0, false
	}
	total := 0.0
	for _, m := range mf.GetMetric() {
		if keep == nil || keep(m) {
			if v := value(m); !math.IsNaN(v) {
				total += v
			}
		}
	}
	return total, true
}

// byLabel adds name's values by the value of label.
func (f families) byLabel(name, label string) map[string]float64 {
	out := map[string]float64{}
	for _, m := range f[name].GetMetric() {
		if v := value(m); !math.IsNaN(v) {
			out[labelValue(m, label)] += v
		}
	}
	return out
}

// histogram merges name's histograms that keep accepts (nil: all).
func (f families) histogram(name string, keep func(*dto.Metric) bool) hist {
	var h hist
	for _, m := range f[name].GetMetric() {
		if keep == nil || keep(m) {
			h.add(m.GetHistogram())
		}
	}
	return h
}
