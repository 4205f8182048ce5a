package migrate

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Status is how a run ended.
type Status string

const (
	// StatusPlanned: a dry run whose plan is clean.
	StatusPlanned Status = "planned"
	// StatusPlanProblems: the plan has problems; with --on-invalid=fail
	// (or a dry run) nothing was written.
	StatusPlanProblems Status = "plan_has_problems"
	// StatusMigrated: migrated and verified.
	StatusMigrated Status = "migrated"
	// StatusVerificationFailed: migrated, but verification found a
	// mismatch.
	StatusVerificationFailed Status = "verification_failed"
	// StatusInterrupted: stopped part-way; --resume continues.
	StatusInterrupted Status = "interrupted"
	// StatusError: could not run.
	StatusError Status = "error"
)

// Report is what `akidb migrate v1-to-v2` prints (as text or JSON) and
// keeps in <data-dir>/migrate-v1-report.json.
type Report struct {
	Status    Status    `json:"status"`
	ExitCode  int       `json:"exit_code"`
	Error     string    `json:"error,omitempty"`
	V1Dir     string    `json:"v1_dir"`
	DataDir   string    `json:"data_dir,omitempty"`
	DryRun    bool      `json:"dry_run"`
	Resumed   bool      `json:"resumed"`
	OnInvalid OnInvalid `json:"on_invalid"`
	StartedAt time.Time `json:"started_at"`
	Finished  time.Time `json:"finished_at"`
	Seconds   float64   `json:"seconds"`

	SingleTenant bool              `json:"single_tenant"`
	Tenants      []*TenantPlan     `json:"tenants"`
	Collections  []*CollectionPlan `json:"collections"`
	Problems     Problems          `json:"problems"`
	Totals       PlanTotals        `json:"totals"`

	Load         *LoadStats    `json:"load,omitempty"`
	Verification *Verification `json:"verification,omitempty"`
	Notes        []string      `json:"notes"`
}

// LoadStats describes this run's writes.
type LoadStats struct {
	// Records written by this run; AlreadyThere records a resumed run
	// found written by the interrupted one after its last state save.
	Records      int64 `json:"records"`
	AlreadyThere int64 `json:"already_there"`
	// ParsedOnce counts the records the plan had parsed and kept
	// (Options.PlanCacheBytes), which the load did not read again.
	ParsedOnce       int64   `json:"parsed_once"`
	Batches          int     `json:"batches"`
	Seconds          float64 `json:"seconds"`
	RecordsPerSecond float64 `json:"records_per_second"`
}

func newReport(o Options) *Report {
	return &Report{V1Dir: o.V1Dir, DataDir: o.DataDir, DryRun: o.DryRun, OnInvalid: o.OnInvalid, StartedAt: o.Now().UTC(),
		Notes: []string{"API keys are not migrated (AkiDB 1.x had none): the first `akidb serve --data-dir` on the new directory creates the bootstrap admin key, and `akidb keys create --tenant NAME` makes keys for the migrated tenants."}}
}

func (r *Report) setPlan(p *Plan) {
	r.SingleTenant = p.SingleTenant
	r.Tenants = p.Tenants
	r.Collections = p.Collections
	r.Problems = p.Problems
	r.Totals = p.Totals
}

func (r *Report) finish(now time.Time) {
	r.Finished = now.UTC()
	r.Seconds = r.Finished.Sub(r.StartedAt).Seconds()
	switch r.Status {
	case StatusPlanned, StatusMigrated:
		r.ExitCode = ExitOK
		if r.DryRun && r.Problems.Count > 0 {
			r.ExitCode = ExitProblems
		}
	case StatusPlanProblems, StatusVerificationFailed:
		r.ExitCode = ExitProblems
	default:
		r.ExitCode = ExitError
	}
}

// JSON is the report as indented JSON.
func (r *Report) JSON() ([]byte, error) { return json.MarshalIndent(r, "", "  ") }

// maxTextProblems is how many problems the text report lists.
const maxTextProblems = 100

// WriteText writes the report for a person.
func (r *Report) WriteText(w io.Writer) error {
	b := &strings.Builder{}
	p := func(format string, args ...any) { fmt.Fprintf(b, format+"\n", args...) }
	target := r.DataDir
	if r.DryRun {
		target = "(dry run: nothing written)"
	}
	p("AkiDB 1.x -> 2.x migration: %s -> %s", r.V1Dir, target)
	if r.Tenants == nil && r.Error != "" {
		p("error: %s", r.Error)
		_, err := io.WriteString(w, b.String())
		return err
	}
	p("plan: %d tenant(s), %d collection(s), %d record(s) from %s of vector files; %d problem(s)%s",
		r.Totals.Tenants, r.Totals.Collections, r.Totals.Records, humanBytes(r.Totals.Bytes), r.Problems.Count, map[bool]string{true: " (single-tenant v1 directory)"}[r.SingleTenant])
	p("")
	p("tenants:")
	for _, t := range r.Tenants {
		if t.IsDefault {
			p("  default <- collections without a tenant")
			continue
		}
		line := fmt.Sprintf("  %s <- %q (%s, %s)", orDash(t.V2Name), t.V1Name, t.V1ID, t.Status)
		if !t.Migrate {
			line += ": skipped: " + t.SkipWhy
		}
		p("%s", line)
		if t.Renamed != "" {
			p("      renamed: %s", t.Renamed)
		}
		if t.Migrate {
			p("      quota: %s", quotaText(t.Quota))
		}
		for _, d := range t.Quota.Dropped {
			p("      dropped quota: %s", d)
		}
		for _, n := range append(append([]string(nil), t.Quota.Notes...), t.Notes...) {
			p("      note: %s", n)
		}
		if len(t.Metadata) > 0 {
			p("      metadata (v2 has no field for it; kept in this report): %s", t.Metadata)
		}
	}
	p("")
	p("collections:")
	for _, c := range r.Collections {
		target := c.Key()
		if !c.Migrate {
			target = "(not migrated)"
		}
		p("  %s <- %s (%s, %d-d): %d record(s) from %d line(s): %d deleted, %d superseded, %d skipped",
			target, c.Dir, orDash(c.Metric), c.Dimension, c.Records, c.Lines, c.Deletes, c.Superseded, c.Skipped)
		if c.Renamed != "" {
			p("      renamed from %q: %s", c.V1Name, c.Renamed)
		}
		if !c.Migrate {
			p("      skipped: %s", c.SkipWhy)
		}
	}
	if r.Problems.Count > 0 {
		p("")
		action := "nothing was written; fix them, or pass --on-invalid=skip to leave them out"
		switch {
		case r.DryRun:
			action = "a dry run; with --on-invalid=skip they would be left out"
		case r.OnInvalid == OnInvalidSkip:
			action = "--on-invalid=skip: left out"
		}
		p("problems: %d (%s):", r.Problems.Count, action)
		for i, pr := range r.Problems.List {
			if i == maxTextProblems {
				p("  ... and %d more (--output json lists up to %d)", r.Problems.Count-maxTextProblems, MaxListedProblems)
				break
			}
			p("  %s [%s; skips the %s]", pr, pr.Kind, pr.Scope)
		}
	}
	if r.Load != nil {
		p("")
		p("load: %d record(s) written in %d batch(es), %.1f s (%.0f records/s)", r.Load.Records, r.Load.Batches, r.Load.Seconds, r.Load.RecordsPerSecond)
		if r.Load.ParsedOnce > 0 {
			p("      %d record(s) were parsed once, by the plan (--plan-cache-bytes)", r.Load.ParsedOnce)
		}
		if r.Load.AlreadyThere > 0 {
			p("      %d record(s) were already written by the interrupted run", r.Load.AlreadyThere)
		}
	}
	if v := r.Verification; v != nil {
		p("")
		p("verification:")
		for _, c := range v.Collections {
			p("  %s: %s count %d/%d %s, checksum %s, exact search %d/%d %s, recall@10 %.3f (ef %d) %s",
				c.Collection, okText(c.OK), c.V2Records, c.V1Records, okText(c.CountOK), okText(c.ChecksumOK),
				c.Queries-c.ExactMismatches, c.Queries, okText(c.ExactOK), c.Recall, c.Ef, okText(c.RecallOK))
			if c.FirstMismatch != "" {
				p("      first exact-search mismatch: %s", c.FirstMismatch)
			}
			if !c.ChecksumOK {
				p("      checksum v1 %s, v2 %s", c.V1Checksum, c.V2Checksum)
			}
		}
		for _, t := range v.Tenants {
			p("  MISMATCH %s", t)
		}
		if len(v.V1Changed) > 0 {
			p("  MISMATCH: v1 files changed during the migration: %s", strings.Join(v.V1Changed, ", "))
		} else {
			p("  v1 files unchanged: ok")
		}
	}
	if len(r.Notes) > 0 {
		p("")
		p("notes:")
		for _, n := range r.Notes {
			p("  - %s", n)
		}
	}
	p("")
	p("result: %s (exit %d)%s", r.resultText(), r.ExitCode, errText(r.Error))
	_, err := io.WriteString(w, b.String())
	return err
}

func (r *Report) resultText() string {
	switch r.Status {
	case StatusPlanned:
		if r.Problems.Count > 0 {
			return "the plan has problems"
		}
		return "the plan is clean"
	case StatusPlanProblems:
		if r.DryRun {
			return "the plan has problems"
		}
		return "the plan has problems; nothing was written"
	case StatusMigrated:
		return fmt.Sprintf("migrated and verified; start the server with: akidb serve --data-dir %s", r.DataDir)
	case StatusVerificationFailed:
		return "migrated, but verification FAILED"
	case StatusInterrupted:
		return "interrupted; run the same command with --resume to continue"
	}
	return "failed"
}

func errText(e string) string {
	if e == "" {
		return ""
	}
	return ": " + e
}

func okText(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISMATCH"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func quotaText(q QuotaMapping) string {
	if q.Empty() {
		return "none set (server defaults)"
	}
	var parts []string
	if q.QPSLimit != nil {
		parts = append(parts, fmt.Sprintf("qps_limit=%v", *q.QPSLimit))
	}
	for _, f := range []struct {
		name string
		v    *int64
	}{{"max_collections", q.MaxCollections}, {"max_vectors", q.MaxVectors}, {"max_storage_bytes", q.MaxStorageBytes}} {
		if f.v != nil {
			parts = append(parts, fmt.Sprintf("%s=%d", f.name, *f.v))
		}
	}
	return strings.Join(parts, " ")
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
