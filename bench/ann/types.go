package ann

import (
	"context"
	"io"
	"time"

	"github.com/akidb/akidb/bench/dataset"
)

// Index is the thing under measurement. Row index = id everywhere.
type Index interface {
	// Add inserts rows [from, to) of base. It is called concurrently from
	// Config.Threads goroutines with disjoint ranges.
	Add(base dataset.Matrix, from, to int) error
	// Search returns up to k row indices, best first. The returned slice may
	// be reused by the index after the next call; Run does not keep it.
	Search(q []float32, k, ef int) ([]int32, error)
	// ExactSearch is a brute-force search over everything added.
	ExactSearch(q []float32, k int) ([]int32, error)
	// MemoryBytes is the index's own account of its vectors + graph.
	MemoryBytes() int64
}

// Settler is an Index with background work to finish after the build
// (a quantized collection training and encoding): Run calls Settle after
// the build, outside the build time, and before measuring memory.
type Settler interface {
	Settle(ctx context.Context) error
}

// Config says what to measure and how.
type Config struct {
	K       int   // neighbours per query (recall@K); required
	Efs     []int // search ef values to sweep, in order; required
	Threads int   // build goroutines; <= 0 means 1
	Metric  string
	// M, EfConstruction and Tags are only recorded in the results: the
	// caller built the Index with them.
	M, EfConstruction int
	Tags              Tags

	Progress io.Writer // build progress and one line per ef; nil = silent
	// ProgressLines writes each build progress update as a line of its
	// own instead of redrawing one line with '\r' (for a log, not a
	// terminal).
	ProgressLines bool
	// ResidentBytes, when set, reads the process's resident memory; Run
	// calls it before the build and after it (and Settle), and reports the
	// difference as the index's resident memory (Setup.RSSBytes and its
	// anonymous and file-backed parts). It should collect garbage first.
	ResidentBytes func() Resident
	Clock         func() time.Time // nil = time.Now; must be safe for concurrent use

	ExactQueries  int // queries to time exact search on; 0 = min(1000, queries); < 0 = skip
	WarmupQueries int // untimed searches before the sweep; 0 = min(300, queries); < 0 = none

	ChunkRows        int           // rows per Add call; 0 = 1000
	ProgressInterval time.Duration // progress refresh period; 0 = 200ms (5s with ProgressLines)
}

// Resident is a reading of the process's resident memory (VmRSS and its
// RssAnon, RssFile and RssShmem parts on Linux; only Total elsewhere).
type Resident struct {
	Total, Anon, File, Shmem int64
}

// Metric names understood by Run.
const (
	MetricL2     = "l2"     // squared Euclidean
	MetricDot    = "dot"    // 1 - dot product
	MetricCosine = "cosine" // 1 - dot product of unit vectors
)

// Setup describes the run a result belongs to; it is repeated on every JSON
// line so each line stands alone.
type Setup struct {
	K              int     `json:"k"`
	M              int     `json:"m"`
	EfConstruction int     `json:"ef_construction"`
	N              int     `json:"n"`
	Dim            int     `json:"dim"`
	Queries        int     `json:"queries"`
	Metric         string  `json:"metric"`
	BuildS         float64 `json:"build_s"`
	BuildThreads   int     `json:"build_threads"`
	MemBytes       int64   `json:"mem_bytes"`
	// RSSBytes is the growth of the process's resident memory over the
	// build (Config.ResidentBytes); 0 when not measured. RSSAnonBytes is
	// the part in anonymous memory (the heap: what the process needs),
	// RSSFileBytes the part in file-backed pages (page cache mapped into
	// the process, which the kernel can drop under memory pressure).
	RSSBytes     int64 `json:"rss_bytes,omitempty"`
	RSSAnonBytes int64 `json:"rss_anon_bytes,omitempty"`
	RSSFileBytes int64 `json:"rss_file_bytes,omitempty"`
	Tags
}

// Tags describe the configuration measured; they are only recorded.
type Tags struct {
	// Label names the configuration: the plot's series, and the series of
	// these JSON lines when a later run compares against them.
	Label        string `json:"label,omitempty"`
	Engine       string `json:"engine,omitempty"`
	Quantization string `json:"quantization,omitempty"`
	Originals    string `json:"originals,omitempty"`
	Rerank       int    `json:"rerank,omitempty"`
}

// Result is the measurement at one search ef.
type Result struct {
	Ef     int     `json:"ef"`
	Recall float64 `json:"recall"`
	QPS    float64 `json:"qps"`
	P50us  float64 `json:"p50_us"`
	P99us  float64 `json:"p99_us"`
	Setup
}

// ExactResult is the measurement of ExactSearch.
type ExactResult struct {
	Queries int     `json:"queries"` // how many queries were timed; 0 = not measured
	Recall  float64 `json:"recall"`  // vs ground truth; should be 1.0
	QPS     float64 `json:"qps"`
	P50us   float64 `json:"p50_us"`
	P99us   float64 `json:"p99_us"`
}

// Report is everything Run measured.
type Report struct {
	Setup
	Results []Result
	Exact   ExactResult
}
