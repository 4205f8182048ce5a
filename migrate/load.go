package migrate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/engine/meta"
)

// migration is one run.
type migration struct {
	opts    Options
	rep     *Report
	plan    *Plan
	st      *state
	db      *engine.DB
	tenants map[string]string // v2 tenant name -> v2 tenant id
	// v1 holds the v1 side of the verification of each collection this
	// run loaded from its first record, computed while loading.
	v1      map[string]*v1Side
	batches int
	saves   int
	saved   time.Time
}

// stateSaveInterval is how often, at most, the state file is rewritten
// while loading (and always at the end of a collection).
const stateSaveInterval = 500 * time.Millisecond

func (m *migration) run(ctx context.Context) error {
	o := m.opts
	plan, err := BuildPlan(ctx, o)
	if err != nil {
		return err
	}
	m.plan = plan
	m.rep.setPlan(plan)
	o.Hook("plan")
	if plan.HasProblems() && o.OnInvalid == OnInvalidFail {
		m.rep.Status = StatusPlanProblems
		return nil
	}
	if o.DryRun {
		m.rep.Status = StatusPlanned
		return nil
	}
	if err := m.prepareTarget(); err != nil {
		return err
	}
	o.Hook("state-created")
	db, err := engine.Open(o.DataDir, o.Engine)
	if err != nil {
		return fmt.Errorf("open target %s: %w", o.DataDir, err)
	}
	m.db = db
	closed := false
	defer func() {
		if !closed {
			_ = db.Close()
		}
	}()
	if err := m.ensureTenants(ctx); err != nil {
		return err
	}
	o.Hook("tenants")
	if m.st.Phase == phaseLoading {
		if err := m.load(ctx); err != nil {
			return err
		}
		m.st.Phase = phaseVerifying
		if err := m.saveState(); err != nil {
			return err
		}
	}
	o.Hook("loaded")
	v, err := m.verify(ctx)
	if err != nil {
		return err
	}
	m.rep.Verification = v
	m.quotaWarnings()
	o.Hook("verified")
	closed = true
	if err := db.Close(); err != nil {
		return fmt.Errorf("close target %s: %w", o.DataDir, err)
	}
	m.rep.Status = StatusMigrated
	if !v.OK {
		m.rep.Status = StatusVerificationFailed
	}
	m.rep.finish(o.Now())
	data, err := m.rep.JSON()
	if err != nil {
		return err
	}
	if err := writeFileAtomic(o.DataDir, ReportFile, data); err != nil {
		return err
	}
	if v.OK {
		m.st.Phase = phaseDone
	}
	return m.saveState()
}

// prepareTarget refuses a target that holds anything but an interrupted
// migration of this v1 directory (with --resume), and creates the state
// file before anything else is written, so that whatever a crash leaves
// in the target can be resumed.
func (m *migration) prepareTarget() error {
	o := m.opts
	if err := checkSeparate(o.V1Dir, o.DataDir); err != nil {
		return err
	}
	entries, err := os.ReadDir(o.DataDir)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("target %s: %w", o.DataDir, err)
	}
	empty := len(entries) == 0
	if o.Resume && !empty {
		removeStaleTemps(o.DataDir)
		st, err := readState(o.DataDir)
		if os.IsNotExist(err) {
			return fmt.Errorf("target %s holds data but no %s: it is not a migration this command started, so --resume will not write into it", o.DataDir, StateFile)
		}
		if err != nil {
			return err
		}
		if err := checkResumable(st, m.plan, o); err != nil {
			return fmt.Errorf("cannot resume into %s: %w", o.DataDir, err)
		}
		m.st = st
		m.rep.Resumed = true
		return nil
	}
	if !empty {
		return fmt.Errorf("target %s is not empty: migrate into a new or empty directory, or pass --resume to continue a migration that was interrupted", o.DataDir)
	}
	if o.Resume {
		m.rep.Notes = append(m.rep.Notes, "--resume: the target was empty, so the migration started from the beginning")
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return fmt.Errorf("create target %s: %w", o.DataDir, err)
	}
	now := o.Now().UTC()
	m.st = &state{Format: stateFormat, V1Dir: absPath(o.V1Dir), Fingerprint: m.plan.fp.sum(), Files: m.plan.fp.files,
		OnInvalid: o.OnInvalid, IncludeDeletedTenants: o.IncludeDeletedTenants, MaxDimension: o.MaxDimension,
		Phase: phaseLoading, Loaded: map[string]int64{}, StartedAt: now}
	return m.saveState()
}

// checkSeparate refuses a target inside the v1 directory (or the other way
// round): the v1 directory is never written to.
func checkSeparate(v1, target string) error {
	a, b := absPath(v1), absPath(target)
	inside := func(child, parent string) bool {
		rel, err := filepath.Rel(parent, child)
		return err == nil && (rel == "." || (rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))))
	}
	if inside(b, a) || inside(a, b) {
		return fmt.Errorf("the target %s and the v1 directory %s overlap: the v1 directory is never written to, so choose a target outside it", target, v1)
	}
	return nil
}

func absPath(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	if r, err := filepath.EvalSymlinks(a); err == nil {
		return r
	}
	return a
}

func (m *migration) saveState() error {
	m.st.UpdatedAt = m.opts.Now().UTC()
	m.saved = m.opts.Now()
	return writeState(m.opts.DataDir, m.st)
}

// ensureTenants creates the v2 tenants (or finds them, resuming) and sets
// their quotas.
func (m *migration) ensureTenants(ctx context.Context) error {
	store := m.db.Meta()
	m.tenants = map[string]string{}
	for _, t := range m.plan.Tenants {
		if !t.Migrate {
			continue
		}
		id := engine.DefaultTenant
		if !t.IsDefault {
			tn, err := store.GetTenantByName(ctx, t.V2Name)
			if errors.Is(err, meta.ErrNotFound) {
				tn, err = store.CreateTenant(ctx, t.V2Name)
			}
			if err != nil {
				return fmt.Errorf("tenant %s: %w", t.V2Name, err)
			}
			id = tn.ID
		}
		m.tenants[t.V2Name] = id
		if t.Quota.Empty() {
			continue
		}
		var u meta.QuotaUpdate
		if q := t.Quota.QPSLimit; q != nil {
			u.QPSLimit = meta.SetTo(*q)
		}
		for _, f := range []struct {
			v   *int64
			dst *meta.Patch[int64]
		}{{t.Quota.MaxCollections, &u.MaxCollections}, {t.Quota.MaxVectors, &u.MaxVectors}, {t.Quota.MaxStorageBytes, &u.MaxStorageBytes}} {
			if f.v != nil {
				*f.dst = meta.SetTo(*f.v)
			}
		}
		if _, err := store.UpdateQuota(ctx, id, u); err != nil {
			return fmt.Errorf("quota of tenant %s: %w", t.V2Name, err)
		}
	}
	return nil
}

// load streams every collection's records into the engine.
func (m *migration) load(ctx context.Context) error {
	var total, done int64
	for _, c := range m.plan.Collections {
		if c.Migrate {
			total += c.Records
			done += min(m.st.Loaded[c.Key()], c.Records)
		}
	}
	start := m.opts.Now()
	m.rep.Load = &LoadStats{}
	p := m.opts.Progress
	p.Start(total, done)
	defer p.Finish()
	defer func() {
		m.rep.Load.Seconds = m.opts.Now().Sub(start).Seconds()
		if m.rep.Load.Seconds > 0 {
			m.rep.Load.RecordsPerSecond = float64(m.rep.Load.Records) / m.rep.Load.Seconds
		}
	}()
	for _, c := range m.plan.Collections {
		if !c.Migrate {
			continue
		}
		h, err := m.ensureCollection(ctx, c)
		if err != nil {
			return err
		}
		if m.st.Loaded[c.Key()] >= c.Records {
			continue
		}
		p.Collection(c.Key())
		if err := m.loadCollection(ctx, h, c); err != nil {
			if ctx.Err() != nil {
				_ = m.saveState()
				return fmt.Errorf("%w: %d of %d records of %s are in; run the same command with --resume to continue", ErrInterrupted, m.st.Loaded[c.Key()], c.Records, c.Key())
			}
			return err
		}
	}
	return nil
}

func (m *migration) ensureCollection(ctx context.Context, c *CollectionPlan) (*engine.Handle, error) {
	tid := m.tenants[c.Tenant]
	h, err := m.db.Collection(tid, c.V2Name)
	if err == nil {
		cfg := h.Info().Config
		if cfg.Dimension != c.Dimension || cfg.Metric != c.metric {
			return nil, fmt.Errorf("collection %s in the target is %d-d %s, the plan says %d-d %s", c.Key(), cfg.Dimension, cfg.Metric, c.Dimension, c.metric)
		}
		return h, nil
	}
	if !errors.Is(err, engine.ErrNotFound) {
		return nil, err
	}
	if _, err := m.db.CreateCollection(ctx, tid, engine.CollectionConfig{Name: c.V2Name, Dimension: c.Dimension, Metric: c.metric}); err != nil {
		return nil, fmt.Errorf("create collection %s: %w", c.Key(), err)
	}
	m.opts.Hook("collection:" + c.Key())
	return m.db.Collection(tid, c.V2Name)
}

type loadResult struct {
	to int
	// once counts the records taken from the plan's cache.
	once int64
	recs []engine.Record
	part v1Part
	err  error
}

// loadCollection writes c's records from where the state says, in
// batches: one goroutine reads the file, the workers parse, and batches are
// written in file order with UpsertBulk (which links each batch into the
// graph on every core). A resumed collection may already hold records past
// the saved count (acknowledged after the last save): they are skipped by
// id, which is safe because every id is written exactly once, with its
// final v1 value.
func (m *migration) loadCollection(ctx context.Context, h *engine.Handle, c *CollectionPlan) error {
	key := c.Key()
	start := int(m.st.Loaded[key])
	resumed := h.Count() > 0
	sh := c.shape()
	perRecord := 4*c.Dimension + 16
	// A run that loads the whole collection computes the v1 side of its
	// verification from the records as they are parsed for loading, so
	// verification does not read and parse the v1 file a third time. A
	// resumed run did not see the records loaded before it: verification
	// reads them again.
	var side *v1Side
	if start == 0 && !resumed {
		queries, err := m.sampleQueries(c)
		if err != nil {
			return err
		}
		side = newV1Side(c.metric, queries)
	}
	// The reader asks before the workers take an entry (a group is
	// emitted after its lines are chosen), so both see the same answer.
	cached := func(i int) bool { return i < len(c.cached) && c.cached[i] != nil }
	err := runOrdered(ctx, m.opts.Workers,
		func(emit func(lineGroup) error) error {
			return readLive(c, start, func(count, size int, next span) bool {
				return count == m.opts.Batch || (count+1)*perRecord+size+int(next.n) > maxBatchBytes
			}, cached, emit)
		},
		func(b lineGroup) loadResult {
			out := loadResult{to: b.from + len(b.lines), recs: make([]engine.Record, 0, len(b.lines))}
			for j, line := range b.lines {
				i := b.from + j
				s := c.live[i]
				var pl parsed
				if cached(i) {
					// Taken once: the entry goes, so its memory does as the
					// load moves on.
					rec := c.cached[i]
					c.cached[i] = nil
					pl = parsed{kind: lineUpsert, id: rec.id, vector: rec.vector, metadata: rec.metadata}
					out.once++
				} else {
					pl = parseLine(line, s.n, c.DataFile, s.line, sh, parseOptions{metadata: true})
				}
				if pl.kind != lineUpsert {
					out.err = fmt.Errorf("%s:%d changed since it was planned (the v1 data must not change during a migration)", c.DataFile, s.line)
					return out
				}
				out.recs = append(out.recs, engine.Record{ID: pl.id, Vector: pl.vector, Metadata: pl.metadata})
				if side != nil {
					if err := side.measure(&out.part, pl.id, pl.vector, pl.metadata); err != nil {
						out.err = fmt.Errorf("%s:%d: %w", c.DataFile, s.line, err)
						return out
					}
				}
			}
			return out
		},
		func(r loadResult) error {
			if r.err != nil {
				return r.err
			}
			recs := r.recs
			n := len(recs)
			if resumed {
				recs = recs[:0:0]
				for _, rec := range r.recs {
					if _, err := h.Get(rec.ID); err == nil {
						m.rep.Load.AlreadyThere++
						continue
					}
					recs = append(recs, rec)
				}
			}
			if len(recs) > 0 {
				if err := h.UpsertBulk(ctx, recs, m.opts.Workers); err != nil {
					return fmt.Errorf("write %s: %w", key, err)
				}
			}
			if side != nil {
				side.merge(r.part)
			}
			m.batches++
			m.rep.Load.Records += int64(len(recs))
			m.rep.Load.ParsedOnce += r.once
			m.rep.Load.Batches++
			m.opts.Hook(fmt.Sprintf("batch:%d", m.batches))
			m.opts.Progress.Add(n)
			m.st.Loaded[key] = int64(r.to)
			if r.to == len(c.live) || m.opts.Now().Sub(m.saved) >= stateSaveInterval {
				if err := m.saveState(); err != nil {
					return err
				}
				m.saves++
				m.opts.Hook(fmt.Sprintf("saved:%d", m.saves))
			}
			return nil
		})
	if err != nil {
		return err
	}
	if side != nil {
		if m.v1 == nil {
			m.v1 = map[string]*v1Side{}
		}
		m.v1[key] = side
	}
	return nil
}
