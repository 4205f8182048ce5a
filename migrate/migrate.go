package migrate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/serve/api"
)

// OnInvalid says what to do with invalid input.
type OnInvalid string

const (
	// OnInvalidFail stops before writing anything when the plan has any
	// problem (the default).
	OnInvalidFail OnInvalid = "fail"
	// OnInvalidSkip leaves out what is invalid (a record, a collection, a
	// tenant, a quota; see Scope) and lists it in the report.
	OnInvalidSkip OnInvalid = "skip"
)

// ParseOnInvalid accepts "fail" and "skip".
func ParseOnInvalid(s string) (OnInvalid, error) {
	switch OnInvalid(s) {
	case OnInvalidFail, OnInvalidSkip:
		return OnInvalid(s), nil
	}
	return "", fmt.Errorf("--on-invalid %q: want fail or skip", s)
}

// Defaults.
const (
	DefaultBatch = 1000
	// DefaultPlanCacheBytes: a collection of 100,000 384-d vectors is
	// parsed once.
	DefaultPlanCacheBytes = 256 << 20
	MaxBatch              = 100000
	// DefaultVerifyQueries is how many sample queries verification runs
	// per collection.
	DefaultVerifyQueries = 100
	// DefaultVerifyEf is the beam width of the recall check's graph
	// searches.
	DefaultVerifyEf = 200
	// MinRecall is the recall@10 the graph must reach on the sample.
	MinRecall = 0.95
	// VerifyK is the k of the sample queries.
	VerifyK = 10
	// maxBatchBytes bounds one batch's log record (the log takes up to
	// 64 MiB).
	maxBatchBytes = 32 << 20
)

// Options configures a migration. V1Dir and DataDir are required.
type Options struct {
	V1Dir   string
	DataDir string
	// DryRun plans and reports without writing anything.
	DryRun bool
	// Resume continues an interrupted migration into DataDir.
	Resume    bool
	OnInvalid OnInvalid
	// IncludeDeletedTenants migrates tenants whose v1 status is deleted.
	IncludeDeletedTenants bool
	// Batch is the most records per write (default DefaultBatch).
	Batch int
	// MaxDimension is the largest dimension the target server accepts
	// (akidb serve --max-dimension; default api.DefaultLimits()).
	MaxDimension int
	// VerifyQueries and VerifyEf tune verification (defaults above).
	VerifyQueries int
	VerifyEf      int
	// Workers parse lines and link vectors (default GOMAXPROCS).
	Workers int
	// PlanCacheBytes bounds the parsed records the plan keeps so that
	// loading does not read and parse their lines again (0: the default,
	// DefaultPlanCacheBytes; negative: keep none).
	PlanCacheBytes int64
	// Engine configures the target database (fsync policy, checkpoints);
	// its Logger defaults to Logger.
	Engine engine.Config
	Logger *slog.Logger
	// Progress is told how loading goes; nil reports nothing.
	Progress Progress
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Hook, when set, is called at named steps (tests stop the process
	// there): "plan", "state-created", "tenants", "collection:<key>",
	// "batch:<n>" (the n-th batch is acknowledged, before the state file
	// records it), "saved:<n>" (the n-th save of the state while
	// loading), "loaded", "verified".
	Hook func(step string)
}

func (o Options) withDefaults() Options {
	if o.OnInvalid == "" {
		o.OnInvalid = OnInvalidFail
	}
	if o.Batch == 0 {
		o.Batch = DefaultBatch
	}
	if o.MaxDimension == 0 {
		o.MaxDimension = api.DefaultLimits().MaxDimension
	}
	if o.VerifyQueries == 0 {
		o.VerifyQueries = DefaultVerifyQueries
	}
	if o.VerifyEf == 0 {
		o.VerifyEf = DefaultVerifyEf
	}
	if o.PlanCacheBytes == 0 {
		o.PlanCacheBytes = DefaultPlanCacheBytes
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Engine.Logger == nil {
		o.Engine.Logger = o.Logger
	}
	if o.Progress == nil {
		o.Progress = nopProgress{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Hook == nil {
		o.Hook = func(string) {}
	}
	return o
}

func (o Options) validate() error {
	switch {
	case o.V1Dir == "":
		return errors.New("--v1-data-dir is required")
	case o.DataDir == "" && !o.DryRun:
		return errors.New("--data-dir is required")
	case o.OnInvalid != OnInvalidFail && o.OnInvalid != OnInvalidSkip:
		return fmt.Errorf("--on-invalid %q: want fail or skip", o.OnInvalid)
	case o.Batch < 1 || o.Batch > MaxBatch:
		return fmt.Errorf("--batch %d: must be between 1 and %d", o.Batch, MaxBatch)
	case o.MaxDimension < 1 || o.MaxDimension > engine.MaxDimension:
		return fmt.Errorf("--max-dimension %d: must be between 1 and %d", o.MaxDimension, engine.MaxDimension)
	case o.VerifyQueries < 1 || o.VerifyQueries > 10000:
		return fmt.Errorf("--verify-queries %d: must be between 1 and 10000", o.VerifyQueries)
	case o.VerifyEf < VerifyK || o.VerifyEf > engine.MaxEf:
		return fmt.Errorf("--verify-ef %d: must be between %d and %d", o.VerifyEf, VerifyK, engine.MaxEf)
	}
	return nil
}

// Exit statuses of `akidb migrate v1-to-v2` (Report.ExitCode).
const (
	ExitOK = 0
	// ExitProblems: the plan has problems (fail mode or a dry run), or
	// verification found a mismatch.
	ExitProblems = 1
	// ExitError: the migration could not run or was interrupted.
	ExitError = 2
)

// ErrInterrupted wraps the error of a run stopped by its context (Ctrl-C):
// what was loaded is kept, and --resume continues.
var ErrInterrupted = errors.New("interrupted")

// Run plans, and unless it is a dry run or the plan stops it, migrates and
// verifies. It always returns a report (printable even with an error); the
// error is for failures to run, not for problems in the data or a failed
// verification, which the report carries (Report.ExitCode).
func Run(ctx context.Context, opts Options) (*Report, error) {
	opts = opts.withDefaults()
	rep := newReport(opts)
	m := &migration{opts: opts, rep: rep}
	err := opts.validate()
	if err == nil {
		err = m.run(ctx)
	}
	if err != nil && ctx.Err() != nil && !errors.Is(err, ErrInterrupted) {
		err = fmt.Errorf("%w (%v): run the same command with --resume to continue", ErrInterrupted, err)
	}
	rep.finish(opts.Now())
	if err != nil {
		rep.Status = StatusError
		rep.Error = err.Error()
		if errors.Is(err, ErrInterrupted) {
			rep.Status = StatusInterrupted
		}
	}
	return rep, err
}
