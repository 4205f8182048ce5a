package loadtest

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Report is the outcome of a load test. Its JSON field names are a
// contract (CI parses them); see docs/performance.md.
type Report struct {
	// Summary holds the headline figures (flattened into the top level of
	// the JSON): the whole load for a constant rate, the highest step that
	// met the SLO for a ramp (the first step if none did).
	Summary
	// ByOperation is the same figures per operation of the mix.
	ByOperation map[string]Summary `json:"by_operation"`
	// Errors are the first distinct errors (at most maxDistinctErrors) with
	// how often each happened; ErrorsOther counts failed requests whose
	// error was not among them.
	Errors      []ErrorCount `json:"errors"`
	ErrorsOther uint64       `json:"errors_other,omitempty"`
	// RecallAtK is the mean recall@k of RecallSample queries against the
	// server's exact search; null when the check was skipped or failed.
	RecallAtK *float64    `json:"recall_at_k"`
	Recall    *RecallInfo `json:"recall,omitempty"`
	// Server is the server process's CPU time and RSS over the load (from
	// its /metrics); Client is this process's. With an embedded server both
	// are one process: SameProcess is true, Server holds its figures and
	// Client is null.
	Server      *ProcessFigures `json:"server"`
	Client      *ProcessFigures `json:"client"`
	SameProcess bool            `json:"same_process"`

	Target     string            `json:"target"` // the server's URL
	Embedded   bool              `json:"embedded"`
	Mode       string            `json:"mode"` // "constant" or "ramp"
	TargetQPS  int               `json:"target_qps"`
	Workload   WorkloadInfo      `json:"workload"`
	Preload    PreloadInfo       `json:"preload"`
	SLO        SLOResult         `json:"slo"`
	Ramp       *RampReport       `json:"ramp,omitempty"`
	Thresholds []ThresholdResult `json:"thresholds,omitempty"`
	Machine    MachineInfo       `json:"machine"`
	// Notes are caveats a reader must see (the client fell behind, the
	// run was interrupted, a figure could not be measured).
	Notes []string `json:"notes,omitempty"`
}

// Summary is the figures of a set of requests.
type Summary struct {
	Requests     uint64  `json:"requests"`
	Successes    uint64  `json:"successes"`
	SuccessRatio float64 `json:"success_ratio"` // 0..1: 2xx and 3xx answers
	// Rate is requests sent per second; Throughput successful answers per
	// second, over the time from the first request to the last answer.
	Rate        float64        `json:"rate"`
	Throughput  float64        `json:"throughput"`
	DurationS   float64        `json:"duration_s"`
	LatenciesMS Latencies      `json:"latencies_ms"`
	StatusCodes map[string]int `json:"status_codes"` // "0": no HTTP answer
}

// Latencies are in milliseconds. Percentiles are t-digest estimates
// (vegeta's); min, mean and max are exact.
type Latencies struct {
	Min  float64 `json:"min"`
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
}

// ErrorCount is one distinct error: an HTTP status and error code, or a
// transport error.
type ErrorCount struct {
	Op      string `json:"op"`
	Error   string `json:"error"`
	Example string `json:"example,omitempty"` // the first message seen
	Count   uint64 `json:"count"`
}

// RecallInfo says how recall was measured.
type RecallInfo struct {
	K        int  `json:"k"`
	Queries  int  `json:"queries"`
	Filtered bool `json:"filtered"`
	// Min is the worst single query's recall.
	Min float64 `json:"min"`
}

// ProcessFigures are one process's resources over the load window.
type ProcessFigures struct {
	CPUSeconds float64 `json:"cpu_seconds"`
	// CPUCores is CPUSeconds over the wall time: average cores busy.
	CPUCores float64 `json:"cpu_cores"`
	// RSSBytes is the resident set after the load (the server's, from
	// process_resident_memory_bytes), or the peak (the client's, from
	// getrusage).
	RSSBytes       uint64 `json:"rss_bytes"`
	RSSBytesBefore uint64 `json:"rss_bytes_before,omitempty"`
	RSSIsPeak      bool   `json:"rss_is_peak,omitempty"`
}

// WorkloadInfo repeats the settings that shape the numbers.
type WorkloadInfo struct {
	Collection        string  `json:"collection"`
	Dim               int     `json:"dim"`
	Metric            string  `json:"metric"`
	Preload           int     `json:"preload"`
	Mix               string  `json:"mix"`
	K                 int     `json:"k"`
	Ef                int     `json:"ef,omitempty"`
	Quantization      string  `json:"quantization,omitempty"`
	Originals         string  `json:"originals,omitempty"`
	Rerank            int     `json:"rerank,omitempty"`
	FilterSelectivity float64 `json:"filter_selectivity"`
	// FilterIndexed: the filtered field has a payload index.
	FilterIndexed bool    `json:"filter_indexed,omitempty"`
	InsertBatch   int     `json:"insert_batch"`
	Vectors       string  `json:"vectors"` // "clustered(N)" or the file
	Seed          uint64  `json:"seed"`
	DurationS     float64 `json:"duration_s,omitempty"`
	MaxWorkers    int     `json:"max_workers"`
}

// PreloadInfo is the untimed preload.
type PreloadInfo struct {
	Records   int     `json:"records"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"per_second"`
}

// SLOResult is the objective and whether the headline figures met it.
type SLOResult struct {
	P99MS      float64  `json:"p99_ms"` // 0: no latency objective
	SuccessPct float64  `json:"success_pct"`
	Met        bool     `json:"met"`
	Missed     []string `json:"missed,omitempty"`
}

// RampReport is every step of a ramp.
type RampReport struct {
	Spec  string  `json:"spec"`
	Start int     `json:"start_qps"`
	End   int     `json:"end_qps"`
	StepS float64 `json:"step_s"`
	// Refine is the most bisection steps after the first missed step.
	Refine int        `json:"refine"`
	Steps  []RampStep `json:"steps"`
	// MaxQPS is the highest rate whose step met the SLO; 0 if none did.
	MaxQPS int `json:"max_qps_meeting_slo"`
}

// RampStep is one constant-rate step.
type RampStep struct {
	TargetQPS    int      `json:"target_qps"`
	Requests     uint64   `json:"requests"`
	Rate         float64  `json:"rate"`
	Throughput   float64  `json:"throughput"`
	SuccessRatio float64  `json:"success_ratio"`
	P99MS        float64  `json:"p99_ms"`
	Passed       bool     `json:"passed"`
	Missed       []string `json:"missed,omitempty"`
}

// MachineInfo identifies where the client ran.
type MachineInfo struct {
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	CPUModel   string `json:"cpu_model,omitempty"`
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

// summarize turns closed vegeta metrics into a Summary.
func summarize(m *vegeta.Metrics) Summary {
	s := Summary{
		Requests:     m.Requests,
		SuccessRatio: m.Success,
		Rate:         m.Rate,
		Throughput:   m.Throughput,
		DurationS:    m.Duration.Seconds(),
		StatusCodes:  map[string]int{},
	}
	s.Successes = uint64(math.Round(m.Success * float64(m.Requests)))
	for code, n := range m.StatusCodes {
		s.StatusCodes[code] = n
	}
	if m.Requests > 0 {
		l := m.Latencies
		s.LatenciesMS = Latencies{Min: ms(l.Min), Mean: ms(l.Mean), P50: ms(l.P50), P90: ms(l.P90), P95: ms(l.P95), P99: ms(l.P99), Max: ms(l.Max)}
	}
	return s
}

// evalSLO says whether s, a load at targetQPS, met slo, and if not why.
func evalSLO(s Summary, targetQPS int, slo SLO) (bool, []string) {
	var missed []string
	if s.Requests == 0 {
		return false, []string{"no requests completed"}
	}
	if pct := s.SuccessRatio * 100; pct < slo.SuccessPct {
		missed = append(missed, fmt.Sprintf("success %.3f%% < %g%%", pct, slo.SuccessPct))
	}
	if slo.P99 > 0 && s.LatenciesMS.P99 > ms(slo.P99) {
		missed = append(missed, fmt.Sprintf("p99 %.3fms > %s", s.LatenciesMS.P99, slo.P99))
	}
	if s.Rate < 0.95*float64(targetQPS) {
		missed = append(missed, fmt.Sprintf("sent only %.1f of %d qps (the client could not keep up: the server is saturated or --max-workers is too low)", s.Rate, targetQPS))
	}
	return len(missed) == 0, missed
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report for people.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	if r.Embedded {
		fmt.Fprintf(&b, "target     embedded server at %s (temporary data dir, same process as the load generator)\n", r.Target)
	} else {
		fmt.Fprintf(&b, "target     %s\n", r.Target)
	}
	wl := r.Workload
	fmt.Fprintf(&b, "workload   %s, dim %d, %s, %d preloaded, mix %s, k %d", wl.Vectors, wl.Dim, wl.Metric, wl.Preload, wl.Mix, wl.K)
	if wl.Quantization == "int8" {
		fmt.Fprintf(&b, ", int8 (originals %s)", wl.Originals)
		if wl.Rerank > 0 {
			fmt.Fprintf(&b, ", rerank %d", wl.Rerank)
		}
	}
	if wl.Ef > 0 {
		fmt.Fprintf(&b, ", ef %d", wl.Ef)
	}
	if wl.FilterSelectivity > 0 {
		fmt.Fprintf(&b, ", filter selectivity %g", wl.FilterSelectivity)
		if wl.FilterIndexed {
			b.WriteString(" (indexed)")
		} else {
			b.WriteString(" (no index)")
		}
	}
	if wl.InsertBatch > 1 {
		fmt.Fprintf(&b, ", %d records per insert", wl.InsertBatch)
	}
	fmt.Fprintf(&b, ", seed %d\n", wl.Seed)
	fmt.Fprintf(&b, "preload    %d records in %.1fs (%.0f/s), not timed\n", r.Preload.Records, r.Preload.Seconds, r.Preload.PerSecond)
	if r.Ramp != nil {
		fmt.Fprintf(&b, "ramp       %s, doubling then %d bisection steps; SLO %s\n", r.Ramp.Spec, r.Ramp.Refine, sloText(r.SLO))
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "  step\ttarget qps\tsent/s\tok/s\tsuccess\tp99 ms\tSLO\t")
		for i, s := range r.Ramp.Steps {
			verdict := "met"
			if !s.Passed {
				verdict = "missed"
			}
			fmt.Fprintf(tw, "  %d\t%d\t%.1f\t%.1f\t%.3f%%\t%.3f\t%s\t\n", i+1, s.TargetQPS, s.Rate, s.Throughput, s.SuccessRatio*100, s.P99MS, verdict)
		}
		_ = tw.Flush()
		for i, s := range r.Ramp.Steps {
			if len(s.Missed) > 0 {
				fmt.Fprintf(&b, "  step %d missed: %s\n", i+1, strings.Join(s.Missed, "; "))
			}
		}
		switch {
		case r.Ramp.MaxQPS > 0 && r.Ramp.MaxQPS >= r.Ramp.End:
			fmt.Fprintf(&b, "sustained  %d qps, the ramp's end rate, met the SLO (a higher end may find more); the figures below are that step's\n", r.Ramp.MaxQPS)
		case r.Ramp.MaxQPS > 0:
			fmt.Fprintf(&b, "sustained  %d qps is the highest rate that met the SLO; the figures below are that step's\n", r.Ramp.MaxQPS)
		default:
			fmt.Fprintf(&b, "sustained  no rate met the SLO, not even %d qps; the figures below are the first step's\n", r.Ramp.Steps[0].TargetQPS)
		}
	} else {
		fmt.Fprintf(&b, "load       constant %d qps for %s\n", r.TargetQPS, time.Duration(wl.DurationS*float64(time.Second)))
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "requests   %d sent at %.1f/s over %.1fs\n", r.Requests, r.Rate, r.DurationS)
	fmt.Fprintf(&b, "success    %.3f%% (%d of %d)\n", r.SuccessRatio*100, r.Successes, r.Requests)
	fmt.Fprintf(&b, "throughput %.1f successful requests/s\n", r.Throughput)
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "latency ms\trequests\tsuccess\tmin\tmean\tp50\tp90\tp95\tp99\tmax\t")
	row := func(name string, s Summary) {
		l := s.LatenciesMS
		fmt.Fprintf(tw, "%s\t%d\t%.2f%%\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t\n", name, s.Requests, s.SuccessRatio*100, l.Min, l.Mean, l.P50, l.P90, l.P95, l.P99, l.Max)
	}
	row("all", r.Summary)
	for _, op := range AllOps {
		if s, ok := r.ByOperation[string(op)]; ok {
			row(string(op), s)
		}
	}
	_ = tw.Flush()
	b.WriteString("\n")
	fmt.Fprintf(&b, "status     %s\n", statusText(r.StatusCodes))
	if len(r.Errors) == 0 {
		b.WriteString("errors     none\n")
	} else {
		b.WriteString("errors\n")
		for _, e := range r.Errors {
			fmt.Fprintf(&b, "  %6d  %s: %s", e.Count, e.Op, e.Error)
			if e.Example != "" {
				fmt.Fprintf(&b, " (%s)", e.Example)
			}
			b.WriteString("\n")
		}
		if r.ErrorsOther > 0 {
			fmt.Fprintf(&b, "  %6d  other errors\n", r.ErrorsOther)
		}
	}
	if r.RecallAtK != nil {
		filtered := ""
		if r.Recall.Filtered {
			filtered = " filtered"
		}
		fmt.Fprintf(&b, "recall@%d  %.4f (mean of %d%s queries against the server's exact search, after the load; worst query %.2f)\n", r.Recall.K, *r.RecallAtK, r.Recall.Queries, filtered, r.Recall.Min)
	} else {
		b.WriteString("recall     not measured\n")
	}
	switch {
	case r.SameProcess && r.Server != nil:
		fmt.Fprintf(&b, "process    %s (client and server are the same process)\n", procText(r.Server))
	default:
		if r.Server != nil {
			fmt.Fprintf(&b, "server     %s\n", procText(r.Server))
		} else {
			b.WriteString("server     not measured (no process metrics at /metrics)\n")
		}
		if r.Client != nil {
			fmt.Fprintf(&b, "client     %s\n", procText(r.Client))
		}
	}
	if r.Ramp == nil {
		verdict := "met"
		if !r.SLO.Met {
			verdict = "missed: " + strings.Join(r.SLO.Missed, "; ")
		}
		fmt.Fprintf(&b, "SLO        %s %s\n", sloText(r.SLO), verdict)
	}
	for _, t := range r.Thresholds {
		verdict := "ok"
		if t.Failed {
			verdict = "FAILED: " + t.Reason
		}
		fmt.Fprintf(&b, "fail-on    %s %s\n", t.Expr, verdict)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note       %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func sloText(s SLOResult) string {
	p99 := "any p99"
	if s.P99MS > 0 {
		p99 = fmt.Sprintf("p99 <= %gms", s.P99MS)
	}
	return fmt.Sprintf("%s, success >= %g%%", p99, s.SuccessPct)
}

func statusText(codes map[string]int) string {
	keys := make([]string, 0, len(codes))
	for k := range codes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		label := k
		if k == "0" {
			label = "no answer"
		}
		parts[i] = fmt.Sprintf("%s: %d", label, codes[k])
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func procText(p *ProcessFigures) string {
	rss := "RSS"
	if p.RSSIsPeak {
		rss = "peak RSS"
	}
	return fmt.Sprintf("CPU %.2fs (%.2f cores on average), %s %s", p.CPUSeconds, p.CPUCores, rss, mib(p.RSSBytes))
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
