package loadtest

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"time"
)

// Config is everything `akidb loadtest` can be told. Field comments name
// the flag each comes from.
type Config struct {
	// Target is a running server's root URL (--target); empty starts an
	// embedded server on loopback with a temporary data directory.
	Target string
	// APIKey is sent as "Authorization: Bearer" to Target (--api-key,
	// AKIDB_API_KEY). The embedded server's bootstrap admin key is used
	// instead when there is no Target.
	APIKey string
	// Insecure skips TLS certificate checks (--insecure); CAFile trusts
	// the PEM certificates in the file (--ca).
	Insecure bool
	CAFile   string

	// QPS and Duration describe a constant-rate load (--qps, --duration);
	// Ramp, when not nil, replaces them with an SLO search (--ramp).
	QPS      int
	Duration time.Duration
	Ramp     *Ramp
	// SLO is what a ramp step must meet; a constant load reports whether
	// it met it (--slo-p99, --slo-success).
	SLO SLO

	// The collection and its data (--dim, --preload, --metric, --m,
	// --ef-construction, --clusters, --vectors, --collection, --keep).
	Dim            int // 0 with VectorsFile: the file's dimension
	Preload        int
	PreloadBatch   int
	PreloadWorkers int
	Metric         string
	M              int
	EfConstruction int
	Clusters       int
	VectorsFile    string
	// Collection is the load's collection; empty picks a fresh name. With
	// a Target it is dropped after the run unless Keep.
	Collection string
	Keep       bool
	// Quantization, Originals and Rerank make the load's collection
	// quantized (--quantization none|int8, --originals memory|disk) and
	// set each query's rerank (--rerank, 0: ef); the load starts once the
	// server reports the collection's quantization ready.
	Quantization string
	Originals    string
	Rerank       int

	// The requests (--mix, --k, --ef, --filter-selectivity, --insert-batch,
	// --seed).
	Mix               Mix
	K                 int
	Ef                int
	FilterSelectivity float64
	// FilterIndex declares an integer payload index on the bucket field
	// when the collection is created, so that filters are answered from
	// it (--filter-index; false: filters read every record's metadata).
	FilterIndex bool
	InsertBatch int
	Seed        uint64

	// RecallSample queries are checked against exact search after the
	// load (--recall-sample); 0 skips the check.
	RecallSample int
	// Timeout bounds each request (--timeout); MaxWorkers bounds the
	// requests in flight (--max-workers).
	Timeout    time.Duration
	MaxWorkers int

	// Output is "text" or "json" for stdout (--output); OutFile also gets
	// the JSON report (--out); PlotFile gets vegeta's HTML latency plot
	// (--plot). Quiet drops the progress lines (--quiet).
	Output   string
	OutFile  string
	PlotFile string
	Quiet    bool
	// FailOn conditions make Run return a *ThresholdError (--fail-on).
	FailOn []Threshold

	// Version is the embedded server's version string.
	Version string
}

// SLO is a latency and success objective.
type SLO struct {
	P99        time.Duration // 0: no latency objective
	SuccessPct float64       // 0..100
}

// Defaults are the flag defaults.
const (
	DefaultQPS            = 100
	DefaultDuration       = 30 * time.Second
	DefaultDim            = 128
	DefaultPreload        = 10000
	DefaultPreloadBatch   = 500
	DefaultPreloadWorkers = 4
	DefaultK              = 10
	DefaultClusters       = 32
	DefaultRecallSample   = 200
	DefaultTimeout        = 30 * time.Second
	DefaultMaxWorkers     = 1000
	DefaultSLOSuccess     = 99.9
	DefaultRampRefine     = 3
	// MaxBatch is the server's default limit of records per insert.
	MaxBatch = 1000
)

// DefaultConfig is a constant 100 qps for 30s on an embedded server.
func DefaultConfig() Config {
	mix, _ := ParseMix(DefaultMix)
	return Config{
		QPS: DefaultQPS, Duration: DefaultDuration,
		SLO: SLO{SuccessPct: DefaultSLOSuccess},
		Dim: DefaultDim, Preload: DefaultPreload, PreloadBatch: DefaultPreloadBatch, PreloadWorkers: DefaultPreloadWorkers,
		Metric: "cosine", M: 16, EfConstruction: 200, Clusters: DefaultClusters,
		Mix: mix, K: DefaultK, FilterIndex: true, InsertBatch: 1, Seed: 1,
		RecallSample: DefaultRecallSample, Timeout: DefaultTimeout, MaxWorkers: DefaultMaxWorkers,
		Output: "text",
	}
}

// filterIndexed says whether the load's collection has a payload index on
// the field its filters use.
func (c Config) filterIndexed() bool { return c.FilterIndex && c.FilterSelectivity > 0 }

var collectionName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,40}$`)

// Validate checks every field and says which flag is wrong.
func (c Config) Validate() error {
	if c.Target != "" {
		u, err := url.Parse(c.Target)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--target %q: want an http:// or https:// URL such as http://127.0.0.1:8080", c.Target)
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("--target %q: give the server's root URL without a query or fragment", c.Target)
		}
		if (c.Insecure || c.CAFile != "") && u.Scheme != "https" {
			return fmt.Errorf("--insecure and --ca need an https:// --target")
		}
	} else if c.Insecure || c.CAFile != "" {
		return fmt.Errorf("--insecure and --ca need an https:// --target (the embedded server speaks plain HTTP on loopback)")
	}
	if c.Ramp != nil {
		if err := c.Ramp.validate(); err != nil {
			return fmt.Errorf("--ramp: %w", err)
		}
	} else {
		if c.QPS <= 0 {
			return fmt.Errorf("--qps must be positive, got %d", c.QPS)
		}
		if c.Duration <= 0 {
			return fmt.Errorf("--duration must be positive, got %s", c.Duration)
		}
	}
	switch {
	case c.SLO.P99 < 0:
		return fmt.Errorf("--slo-p99 must not be negative")
	case c.SLO.SuccessPct < 0 || c.SLO.SuccessPct > 100:
		return fmt.Errorf("--slo-success is a percentage between 0 and 100, got %g", c.SLO.SuccessPct)
	case c.VectorsFile == "" && (c.Dim < 1 || c.Dim > 8192):
		return fmt.Errorf("--dim must be between 1 and 8192, got %d", c.Dim)
	case c.Dim < 0 || c.Dim > 8192:
		return fmt.Errorf("--dim must be between 1 and 8192, got %d", c.Dim)
	case c.Preload < 0:
		return fmt.Errorf("--preload must not be negative")
	case c.PreloadBatch < 1 || c.PreloadBatch > MaxBatch:
		return fmt.Errorf("--preload-batch must be between 1 and %d, got %d", MaxBatch, c.PreloadBatch)
	case c.PreloadWorkers < 1:
		return fmt.Errorf("--preload-workers must be at least 1")
	case c.Metric != "cosine" && c.Metric != "l2" && c.Metric != "dot":
		return fmt.Errorf("--metric %q: want cosine, l2 or dot", c.Metric)
	case c.M < 2 || c.M > 100:
		return fmt.Errorf("--m must be between 2 and 100, got %d", c.M)
	case c.EfConstruction < 1 || c.EfConstruction > 5000:
		return fmt.Errorf("--ef-construction must be between 1 and 5000, got %d", c.EfConstruction)
	case c.Clusters < 1:
		return fmt.Errorf("--clusters must be at least 1")
	case c.Collection != "" && !collectionName.MatchString(c.Collection):
		return fmt.Errorf("--collection %q: 1 to 40 characters from A-Z a-z 0-9 _ - (churn collections append a suffix)", c.Collection)
	case len(c.Mix) == 0:
		return fmt.Errorf("--mix is empty")
	case c.K < 1 || c.K > 1000:
		return fmt.Errorf("--k must be between 1 and 1000, got %d", c.K)
	case c.Ef < 0 || c.Ef > 10000:
		return fmt.Errorf("--ef must be between 0 (server default) and 10000, got %d", c.Ef)
	case c.Quantization != "" && c.Quantization != "none" && c.Quantization != "int8":
		return fmt.Errorf("--quantization %q: want none or int8", c.Quantization)
	case c.Originals != "" && c.Originals != "memory" && c.Originals != "disk":
		return fmt.Errorf("--originals %q: want memory or disk", c.Originals)
	case c.Originals == "disk" && c.Quantization != "int8":
		return fmt.Errorf("--originals disk needs --quantization int8")
	case c.Rerank < 0 || c.Rerank > 10000:
		return fmt.Errorf("--rerank must be between 0 (ef) and 10000, got %d", c.Rerank)
	case c.FilterSelectivity < 0 || c.FilterSelectivity > 1 || math.IsNaN(c.FilterSelectivity):
		return fmt.Errorf("--filter-selectivity must be between 0 (no filter) and 1, got %g", c.FilterSelectivity)
	case c.FilterSelectivity > 0 && c.FilterSelectivity < 1.0/BucketCount:
		return fmt.Errorf("--filter-selectivity must be 0 or at least %g", 1.0/BucketCount)
	case c.InsertBatch < 1 || c.InsertBatch > MaxBatch:
		return fmt.Errorf("--insert-batch must be between 1 and %d, got %d", MaxBatch, c.InsertBatch)
	case c.RecallSample < 0:
		return fmt.Errorf("--recall-sample must not be negative")
	case c.Timeout <= 0:
		return fmt.Errorf("--timeout must be positive")
	case c.MaxWorkers < 1:
		return fmt.Errorf("--max-workers must be at least 1")
	case c.Output != "text" && c.Output != "json":
		return fmt.Errorf("--output %q: want text or json", c.Output)
	}
	for _, op := range []Op{OpGet, OpDelete} {
		if c.Mix.Share(op) > 0 && c.Preload == 0 {
			return fmt.Errorf("--mix has %s, which needs preloaded records: set --preload", op)
		}
	}
	if d := c.maxDeletes(); d > c.Preload/2 {
		return fmt.Errorf("--mix delete=%g may delete up to %d records over up to %d requests, but only half of --preload (%d) is set aside for deletes: raise --preload to at least %d or lower the delete share",
			c.mixWeight(OpDelete), d, c.maxRequests(), c.Preload, 2*d)
	}
	for _, t := range c.FailOn {
		if t.Metric == "recall" && c.RecallSample == 0 {
			return fmt.Errorf("--fail-on %s needs the recall check: --recall-sample must be positive", t.Expr)
		}
		if t.Op != "" && c.Mix.Share(t.Op) == 0 {
			return fmt.Errorf("--fail-on %s: the mix sends no %s requests", t.Expr, t.Op)
		}
	}
	return nil
}

func (c Config) mixWeight(op Op) float64 {
	for _, e := range c.Mix {
		if e.Op == op {
			return e.Weight
		}
	}
	return 0
}

// maxRequests bounds the requests the load can send: the pacer never runs
// ahead of its rate, and a ramp runs at most MaxSteps steps at rates up to
// its end rate.
func (c Config) maxRequests() int {
	if c.Ramp != nil {
		return c.Ramp.MaxSteps() * (int(math.Ceil(float64(c.Ramp.End)*c.Ramp.Step.Seconds())) + 1)
	}
	return int(math.Ceil(float64(c.QPS)*c.Duration.Seconds())) + 1
}

// maxDeletes is how many preloaded ids to set aside for deletes: the
// expected count over maxRequests plus six standard deviations, so the
// binomial draw exceeds it with negligible probability.
func (c Config) maxDeletes() int {
	p := c.Mix.Share(OpDelete)
	if p == 0 {
		return 0
	}
	n := float64(c.maxRequests())
	return int(math.Ceil(n*p+6*math.Sqrt(n*p*(1-p)))) + 16
}
