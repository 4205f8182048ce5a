package migrate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync/atomic"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/engine/distance"
)

// Plan is everything the migration will do, computed from the v1 files
// alone before anything is written.
type Plan struct {
	V1Dir string `json:"v1_dir"`
	// SingleTenant: the v1 directory has no tenants/ (everything goes to
	// v2's default tenant).
	SingleTenant bool              `json:"single_tenant"`
	Tenants      []*TenantPlan     `json:"tenants"`
	Collections  []*CollectionPlan `json:"collections"`
	Problems     Problems          `json:"problems"`
	Totals       PlanTotals        `json:"totals"`

	fp fingerprint
	// cacheLeft is what is left of Options.PlanCacheBytes for parsed
	// records kept for the load (0: keep nothing).
	cacheLeft int64
}

// PlanTotals sums what will be migrated.
type PlanTotals struct {
	Tenants     int   `json:"tenants"`
	Collections int   `json:"collections"`
	Records     int64 `json:"records"`
	Bytes       int64 `json:"bytes"`
	// SkippedRecords counts lines left out by --on-invalid=skip
	// (including those of skipped collections' files that were read).
	SkippedRecords int64 `json:"skipped_records"`
}

// CollectionPlan is what happens to one v1 collection.
type CollectionPlan struct {
	Dir        string `json:"v1_dir"`
	Manifest   string `json:"manifest"`
	DataFile   string `json:"data_file"`
	V1Name     string `json:"v1_name"`
	V1TenantID string `json:"v1_tenant_id,omitempty"`
	Tenant     string `json:"tenant"`
	V2Name     string `json:"v2_name"`
	Renamed    string `json:"renamed_because,omitempty"`
	Dimension  int    `json:"dimension"`
	Metric     string `json:"metric"`
	V1Created  string `json:"v1_created_at,omitempty"`
	Migrate    bool   `json:"migrate"`
	SkipWhy    string `json:"skipped_because,omitempty"`
	// Lines counts the file's non-blank lines; Records the records v2
	// will hold (the last line of each id, unless a delete); Deletes the
	// delete lines; Superseded the upsert lines a later line replaced or
	// deleted; Skipped the invalid lines left out.
	Lines      int64 `json:"lines"`
	Records    int64 `json:"records"`
	Deletes    int64 `json:"deletes"`
	Superseded int64 `json:"superseded"`
	Skipped    int64 `json:"skipped"`
	Bytes      int64 `json:"bytes"`

	metric distance.Metric
	// manifestOK: the manifest is valid, so the lines can be checked.
	manifestOK bool
	// live are the lines that become records, in file order.
	live []span
	// cached holds, aligned with live, the records the plan parsed and
	// kept for the load (nil: read the line again), within
	// Options.PlanCacheBytes. The load takes each entry once.
	cached []*cachedRecord
	// problems: this collection has problems (fail mode stops).
	problems int
}

// Key names the collection in v2: tenant/name.
func (c *CollectionPlan) Key() string { return c.Tenant + "/" + c.V2Name }

func (c *CollectionPlan) shape() shape { return shape{dim: c.Dimension, metric: c.metric} }

// v1Manifest is collections/<dir>/manifest.json.
type v1Manifest struct {
	Name      json.RawMessage `json:"name"`
	Dimension json.RawMessage `json:"dimension"`
	Metric    json.RawMessage `json:"metric"`
	TenantID  json.RawMessage `json:"tenant_id"`
	CreatedAt json.RawMessage `json:"created_at"`
}

// BuildPlan reads the v1 directory (never writing to it) and returns the
// plan with every problem found. An error means the directory could not
// be read at all; problems in its contents are in Plan.Problems.
func BuildPlan(ctx context.Context, opts Options) (*Plan, error) {
	opts = opts.withDefaults()
	fi, err := os.Stat(opts.V1Dir)
	switch {
	case err != nil:
		return nil, fmt.Errorf("v1 data dir: %w", err)
	case !fi.IsDir():
		return nil, fmt.Errorf("v1 data dir %s is not a directory", opts.V1Dir)
	}
	colsDir := filepath.Join(opts.V1Dir, "collections")
	if _, err := os.Stat(colsDir); err != nil {
		return nil, fmt.Errorf("%s does not look like an AkiDB 1.x data directory: %w", opts.V1Dir, err)
	}
	p := &Plan{V1Dir: opts.V1Dir, cacheLeft: max(opts.PlanCacheBytes, 0)}
	tenants, present, err := planTenants(opts.V1Dir, opts, &p.Problems, &p.fp)
	if err != nil {
		return nil, err
	}
	p.SingleTenant = !present
	def := &TenantPlan{V1Name: "(collections without a tenant)", Status: StatusActive, V2Name: engine.DefaultTenant, Migrate: true, IsDefault: true}
	p.Tenants = append([]*TenantPlan{def}, tenants...)
	byID := map[string]*TenantPlan{}
	for _, t := range tenants {
		byID[t.V1ID] = t
	}
	if err := p.planCollections(ctx, opts, byID, present); err != nil {
		return nil, err
	}
	p.Problems.sort()
	for _, t := range p.Tenants {
		if t.Migrate {
			p.Totals.Tenants++
		}
	}
	for _, c := range p.Collections {
		p.Totals.SkippedRecords += c.Skipped
		if c.Migrate {
			p.Totals.Collections++
			p.Totals.Records += c.Records
			p.Totals.Bytes += c.Bytes
		}
	}
	return p, nil
}

func (p *Plan) planCollections(ctx context.Context, opts Options, tenants map[string]*TenantPlan, haveTenants bool) error {
	colsDir := filepath.Join(opts.V1Dir, "collections")
	entries, err := os.ReadDir(colsDir)
	if err != nil {
		return fmt.Errorf("list %s: %w", colsDir, err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		c, err := p.planManifest(opts, filepath.Join(colsDir, e.Name()), tenants, haveTenants)
		if err != nil {
			return err
		}
		if c != nil {
			p.Collections = append(p.Collections, c)
		}
	}
	// Duplicate names within a v2 tenant: the first directory keeps it.
	seen := map[string]*CollectionPlan{}
	for _, c := range p.Collections {
		if !c.Migrate {
			continue
		}
		k := c.Tenant + "\x00" + c.V1Name
		if first, dup := seen[k]; dup {
			p.collectionProblem(c, lineOfKeyFile(c.Manifest, "name"), KindDuplicateCollection,
				fmt.Sprintf("collection name %q is also used by %s (in the same tenant)", c.V1Name, first.Manifest))
			continue
		}
		seen[k] = c
	}
	// v2 names, unique per tenant.
	byTenant := map[string][]nameRequest{}
	for _, c := range p.Collections {
		if c.Migrate {
			byTenant[c.Tenant] = append(byTenant[c.Tenant], nameRequest{key: c.Dir, name: c.V1Name})
		}
	}
	names := map[string]nameResult{}
	for _, reqs := range byTenant {
		for k, v := range assignNames(reqs, "collection") {
			names[k] = v
		}
	}
	for _, c := range p.Collections {
		if r, ok := names[c.Dir]; ok {
			c.V2Name, c.Renamed = r.Name, r.Reason
		}
	}
	for _, c := range p.Collections {
		if c.Migrate || c.problems > 0 {
			if err := p.scan(ctx, opts, c); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *Plan) collectionProblem(c *CollectionPlan, line int, kind Kind, msg string) {
	p.Problems.add(Problem{File: c.Manifest, Line: line, Kind: kind, Scope: ScopeCollection, Message: msg})
	c.problems++
	if c.Migrate {
		c.Migrate = false
		c.SkipWhy = msg
	}
}

// planManifest reads one collection's manifest; nil only on I/O errors
// (returned) -- a bad manifest is a problem and a skipped collection.
func (p *Plan) planManifest(opts Options, dir string, tenants map[string]*TenantPlan, haveTenants bool) (*CollectionPlan, error) {
	c := &CollectionPlan{Dir: dir, Manifest: filepath.Join(dir, "manifest.json"), DataFile: filepath.Join(dir, "vectors.jsonl"), Migrate: true, V1Name: filepath.Base(dir), Tenant: engine.DefaultTenant}
	data, err := os.ReadFile(c.Manifest)
	if err != nil {
		if os.IsNotExist(err) {
			p.collectionProblem(c, 0, KindInvalidManifest, "the collection has no manifest.json")
			return c, nil
		}
		return nil, fmt.Errorf("read %s: %w", c.Manifest, err)
	}
	if err := p.fp.add(opts.V1Dir, c.Manifest); err != nil {
		return nil, err
	}
	var m v1Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		line := 1
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line = lineOf(data, se.Offset)
		}
		p.collectionProblem(c, line, KindInvalidManifest, fmt.Sprintf("malformed manifest: %v", err))
		return c, nil
	}
	if !stringField(m.Name, &c.V1Name) || c.V1Name == "" {
		p.collectionProblem(c, lineOfKey(data, "name"), KindInvalidManifest, fmt.Sprintf("name must be a non-empty string, got %s", orMissing(m.Name)))
		return c, nil
	}
	var dim float64
	if err := json.Unmarshal(m.Dimension, &dim); err != nil || dim < 1 || dim != float64(int(dim)) {
		p.collectionProblem(c, lineOfKey(data, "dimension"), KindInvalidManifest, fmt.Sprintf("collection %q: dimension must be a whole number of at least 1, got %s", c.V1Name, orMissing(m.Dimension)))
		return c, nil
	}
	c.Dimension = int(dim)
	if c.Dimension > opts.MaxDimension {
		p.collectionProblem(c, lineOfKey(data, "dimension"), KindDimensionTooLarge, fmt.Sprintf("collection %q: dimension %d is over the server's maximum %d (akidb serve --max-dimension)", c.V1Name, c.Dimension, opts.MaxDimension))
		return c, nil
	}
	if !stringField(m.Metric, &c.Metric) || (c.Metric != "cosine" && c.Metric != "l2" && c.Metric != "dot") {
		p.collectionProblem(c, lineOfKey(data, "metric"), KindInvalidManifest, fmt.Sprintf(`collection %q: metric must be "cosine", "l2" or "dot", got %s`, c.V1Name, orMissing(m.Metric)))
		return c, nil
	}
	c.metric, _ = distance.ParseMetric(c.Metric)
	c.manifestOK = true
	var created string
	if stringField(m.CreatedAt, &created) {
		c.V1Created = created
	}
	if len(m.TenantID) > 0 && string(m.TenantID) != "null" {
		if !stringField(m.TenantID, &c.V1TenantID) {
			p.collectionProblem(c, lineOfKey(data, "tenant_id"), KindInvalidManifest, fmt.Sprintf("collection %q: tenant_id must be a string, got %s", c.V1Name, clip(m.TenantID)))
			return c, nil
		}
	}
	switch t := tenants[c.V1TenantID]; {
	case c.V1TenantID == "":
	case !haveTenants:
		// A single-tenant install: everything belongs to the default
		// tenant whatever the manifest says.
	case t == nil:
		p.collectionProblem(c, lineOfKey(data, "tenant_id"), KindUnknownTenant, fmt.Sprintf("collection %q belongs to tenant %s, which no tenants/*.json defines (or whose manifest has problems)", c.V1Name, c.V1TenantID))
	case !t.Migrate:
		c.Migrate = false
		c.SkipWhy = fmt.Sprintf("its tenant %s (%s) is %s", t.V1Name, t.V1ID, t.SkipWhy)
	default:
		c.Tenant = t.V2Name
	}
	return c, nil
}

// lineOfKeyFile is lineOfKey on a file read again (for problems found
// after the manifest's bytes are gone).
func lineOfKeyFile(path, key string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return lineOfKey(data, key)
}

// planEntry is the last line seen for an id.
type planEntry struct {
	span
	deleted bool
}

// scan reads a collection's vectors.jsonl, checks every line and works out
// which lines become records (the last line of each id wins; a delete
// line removes the id).
func (p *Plan) scan(ctx context.Context, opts Options, c *CollectionPlan) error {
	fi, err := os.Stat(c.DataFile)
	if os.IsNotExist(err) {
		return nil // an empty collection
	}
	if err != nil {
		return fmt.Errorf("stat %s: %w", c.DataFile, err)
	}
	if err := p.fp.add(opts.V1Dir, c.DataFile); err != nil {
		return err
	}
	c.Bytes = fi.Size()
	if !c.manifestOK {
		return nil // nothing to check the lines against
	}
	last := map[string]planEntry{}
	var upserts int64
	sh := c.shape()
	type result struct {
		lines []rawLine
		out   []parsed
	}
	// Records are kept for the load while the cache has room; once it is
	// full the workers stop decoding metadata the plan only checks.
	var cacheFull atomic.Bool
	keep := c.Migrate && !opts.DryRun && p.cacheLeft > 0
	cache := map[int32]*cachedRecord{} // by line number
	cacheFull.Store(!keep)
	err = runOrdered(ctx, opts.Workers,
		func(emit func([]rawLine) error) error {
			return scanLines(ctx, c.DataFile, 256, emit)
		},
		func(lines []rawLine) result {
			out := make([]parsed, len(lines))
			opt := parseOptions{metadata: !cacheFull.Load()}
			for i, l := range lines {
				out[i] = parseLine(l.text, l.n, c.DataFile, l.line, sh, opt)
				if !opt.metadata {
					out[i].vector = nil // the plan keeps positions, not data
				}
			}
			return result{lines: lines, out: out}
		},
		func(r result) error {
			for i, pl := range r.out {
				switch pl.kind {
				case lineBlank:
					continue
				case lineInvalid:
					c.Lines++
					c.Skipped++
					c.problems++
					p.Problems.add(*pl.problem)
					continue
				case lineUpsert:
					upserts++
				case lineDelete:
					c.Deletes++
				}
				c.Lines++
				span := r.lines[i].span
				if prev, ok := last[pl.id]; ok {
					if old := cache[prev.line]; old != nil {
						p.cacheLeft += old.size
						delete(cache, prev.line)
					}
				}
				last[pl.id] = planEntry{span: span, deleted: pl.kind == lineDelete}
				if pl.kind == lineUpsert && pl.vector != nil && !cacheFull.Load() {
					rec := &cachedRecord{id: pl.id, vector: pl.vector, metadata: pl.metadata, size: footprint(pl)}
					if rec.size > p.cacheLeft {
						cacheFull.Store(true)
						continue
					}
					p.cacheLeft -= rec.size
					cache[span.line] = rec
				}
			}
			return nil
		})
	if err != nil {
		return fmt.Errorf("scan %s: %w", c.DataFile, err)
	}
	c.live = make([]span, 0, len(last))
	for _, e := range last {
		if !e.deleted {
			c.live = append(c.live, e.span)
		}
	}
	sort.Slice(c.live, func(i, j int) bool { return c.live[i].off < c.live[j].off })
	if len(cache) > 0 {
		c.cached = make([]*cachedRecord, len(c.live))
		for i, s := range c.live {
			c.cached[i] = cache[s.line]
		}
	}
	c.Records = int64(len(c.live))
	c.Superseded = upserts - c.Records
	if !c.Migrate {
		c.Records = 0
	}
	return nil
}

// HasProblems reports whether --on-invalid=fail would stop.
func (p *Plan) HasProblems() bool { return p.Problems.Count > 0 }

// fingerprint records the size and modification time of every v1 file the
// plan read, so a resumed run can tell whether the v1 data changed.
type fingerprint struct {
	files []fileStamp
}

type fileStamp struct {
	Path  string `json:"path"`
	Size  int64  `json:"size"`
	MTime int64  `json:"mtime_ns"`
}

func (f *fingerprint) add(root, path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	rel, err := filepath.Rel(root, path)
	if err != nil {
		rel = path
	}
	f.files = append(f.files, fileStamp{Path: rel, Size: fi.Size(), MTime: fi.ModTime().UnixNano()})
	return nil
}

// sum is a digest of every stamp.
func (f *fingerprint) sum() string {
	files := append([]fileStamp(nil), f.files...)
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	h := sha256.New()
	for _, s := range files {
		fmt.Fprintf(h, "%s\x00%d\x00%d\n", s.Path, s.Size, s.MTime)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// changed lists the files whose size or time differ now (or that are gone).
func (f *fingerprint) changed(root string) []string {
	var out []string
	for _, s := range f.files {
		fi, err := os.Stat(filepath.Join(root, s.Path))
		if err != nil || fi.Size() != s.Size || fi.ModTime().UnixNano() != s.MTime {
			out = append(out, s.Path)
		}
	}
	return out
}
