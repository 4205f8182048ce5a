package top

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/akidb/akidb/admin"
	"github.com/akidb/akidb/serve/access"
	"github.com/akidb/akidb/serve/api"
)

// Sample is what one refresh got from the server.
type Sample struct {
	At   time.Time
	Took time.Duration
	// Err is set when the server did not answer at all (refused, TLS
	// failure, timeout); nothing else is then set.
	Err   error
	Ready admin.HealthResult
	// Families is the exposition (nil when MetricsErr); Tenants says it is
	// /admin/metrics', with the tenant-labelled series.
	Families   families
	MetricsErr error
	Tenants    bool
	// TenantsOff says why there are no tenant series for good (no key, a
	// key without the right); TenantsErr is a passing failure.
	TenantsOff string
	TenantsErr error
	// Storage and DLQ: nil with a reason in StorageOff (for good) or an
	// error (passing).
	Storage    *access.StorageStatus
	StorageOff string
	StorageErr error
	DLQ        *access.DLQPage
	DLQErr     error
	// Names are the tenants' names by id, as last fetched (nil: unknown).
	Names   map[string]string
	Version string
}

// fastFamilies are the metric families top reads at every refresh; the
// server encodes (and top parses) only those it is asked for, and runs
// only the collectors that export them (serve/metrics.SelectiveHandler).
var fastFamilies = []string{
	"akidb_build_info", "akidb_collections", "akidb_vectors", "akidb_index_backlog_vectors",
	"akidb_wal_bytes", "akidb_last_checkpoint_timestamp_seconds", "akidb_wal_fsync_duration_seconds",
	"akidb_http_request_duration_seconds", "akidb_http_requests_total",
	"akidb_grpc_request_duration_seconds", "akidb_grpc_requests_total",
	"akidb_ratelimit_allowed_total", "akidb_ratelimit_limited_total",
	"akidb_tier_uploads_total", "akidb_tier_bytes_shipped_total", "akidb_collections_resident",
	"akidb_circuit_breaker_state", "akidb_dlq_entries", "akidb_tier_ship_lag_seconds",
	"akidb_ready",
}

// slowGroups are families read less often than at every refresh: gauges
// top shows as they are (no rates are computed from them) whose
// collectors cost the server the most. Between two reads of a group its
// last values stand (docs/top.md says how old they may be).
var slowGroups = []slowGroup{
	// The Go collector reads the runtime's metrics; the quota collector
	// sizes the files of every tenant a storage limit applies to.
	{every: detailsEvery, families: []string{"go_memstats_heap_alloc_bytes", "akidb_quota_usage_ratio"}},
	// The process collector reads five files of /proc, each read a
	// system call that may hand the runtime's processor to another
	// thread: about 1.2 ms of the server's CPU a time on a small virtual
	// machine, against about 1.5 ms for all the other families together
	// (docs/top.md). The start time does not change, and the resident
	// memory of a database moves slowly beside the Go heap read above.
	{every: processEvery, families: []string{"process_start_time_seconds", "process_resident_memory_bytes"}},
}

// slowGroup is a set of families asked for at least every every.
type slowGroup struct {
	every    time.Duration
	families []string
}

// ScrapedFamilies lists the metric families a refresh may ask for.
func ScrapedFamilies() []string {
	out := FastFamilies()
	for _, g := range slowGroups {
		out = append(out, g.families...)
	}
	return out
}

// FastFamilies lists the metric families asked for at every refresh.
func FastFamilies() []string { return slices.Clone(fastFamilies) }

// Refresh tuning.
const (
	// detailsEvery bounds how long the Go heap and quota values stand, how
	// often readiness is asked of a server whose metrics do not say it
	// (akidb_ready), and how often the storage status is asked while the
	// metrics show the tier at work (uploads, residency, ship lag).
	detailsEvery = 5 * time.Second
	// processEvery bounds how long the process's resident memory (and
	// start time) stand.
	processEvery = 30 * time.Second
	// storageEvery bounds how long the storage status (and the DLQ list)
	// go without being asked again when the metrics show no change at all.
	storageEvery = 30 * time.Second
	// dlqLimit bounds the DLQ entries fetched per refresh.
	dlqLimit = 500
	// namesEvery bounds how often tenant names are fetched again for an
	// id not seen before (each fetch is an audit row: tenant.manage);
	// namesRetry how soon after a failed first fetch.
	namesEvery = 5 * time.Minute
	namesRetry = 30 * time.Second
)

// Reasons a pane stays empty for good.
const (
	offNoKey       = "no API key: pass --api-key or set AKIDB_API_KEY"
	offOld         = "not available on this server"
	offNeedsAdmin  = "needs admin: an operator's admin key (metrics.read)"
	offNeedsReader = "needs a key with storage.read"
)

// Scraper makes one refresh at a time (it is not safe for concurrent
// use). It stops asking what cannot answer: after a refused key it sends
// no credentialed request, after a forbidden or missing route it does not
// ask that route again, since every refusal is an audit row on the server
// (and repeated failures trip its authentication throttle).
type Scraper struct {
	c      Client
	hasKey bool
	now    func() time.Time

	keyRefused string
	tenantsOff string
	storageOff string
	namesOff   bool
	statusOff  bool

	names   map[string]string
	namesAt time.Time
	// failed: the last refresh got no answer (the next asks everything).
	failed bool
	// When readiness and the storage status were last asked, and the
	// storage signature and the tier's activity then.
	readyAt, storageAt          time.Time
	storageSig, storageActivity string
	// slow holds each of slowGroups' families as last read.
	slow []slowRead
	// version from /api/v1/status, for a server without akidb_build_info,
	// and the process start it was read for.
	version      string
	versionStart float64
}

// NewScraper returns a scraper over c; hasKey says c sends a credential.
// now is the clock of the samples (nil: time.Now).
func NewScraper(c Client, hasKey bool, now func() time.Time) *Scraper {
	if now == nil {
		now = time.Now
	}
	return &Scraper{c: c, hasKey: hasKey, now: now, slow: make([]slowRead, len(slowGroups))}
}

// slowRead is a slow group's families as last read (nil: never), from
// the exposition (admin or public) tenants says, at at.
type slowRead struct {
	families families
	tenants  bool
	at       time.Time
}

// keyed reports whether credentialed requests may be sent.
func (s *Scraper) keyed() bool { return s.hasKey && s.keyRefused == "" }

// off is the reason a credentialed source is not asked ("" : it is).
func (s *Scraper) off(own string) string {
	switch {
	case !s.hasKey:
		return offNoKey
	case s.keyRefused != "":
		return s.keyRefused
	}
	return own
}

// stop sorts the failure of a credentialed request: a refused key, a
// forbidden route (forbidden becomes *off) or a missing one (an older
// server) are for good and return true; anything else may pass.
func (s *Scraper) stop(err error, off *string, forbidden string) bool {
	var ae *api.Error
	var he *admin.HTTPError
	switch {
	case errors.As(err, &ae) && ae.Code == api.CodeUnauthenticated:
		s.keyRefused = "the API key was refused (" + ae.Message + "); showing what needs none"
	case errors.As(err, &ae) && ae.Code == api.CodePermissionDenied:
		*off = forbidden
	case errors.As(err, &ae) && (ae.Code == api.CodeNotFound || ae.Code == api.CodeMethodNotAllowed),
		errors.As(err, &he) && (he.Status == http.StatusNotFound || he.Status == http.StatusMethodNotAllowed):
		*off = offOld
	default:
		return false
	}
	return true
}

// Scrape makes one refresh: the metrics every time (they carry
// readiness, the breaker's state, the DLQ's counts, the uploads and the
// ship lag); /readyz only when they do not say the server is ready; the
// storage status with the DLQ list when the breaker or the DLQ changed,
// when the last refresh failed, at most every detailsEvery while the
// tier is at work, and at least every storageEvery. A steady server thus
// gets one request per refresh: each request woken from idleness costs
// it far more than the same request back to back (docs/top.md).
func (s *Scraper) Scrape(ctx context.Context) Sample { return s.scrape(ctx, false) }

// ScrapeAll is a refresh that asks for everything now (after an action).
func (s *Scraper) ScrapeAll(ctx context.Context) Sample { return s.scrape(ctx, true) }

func (s *Scraper) scrape(ctx context.Context, all bool) Sample {
	smp := Sample{At: s.now()}
	defer func() { smp.Took = s.now().Sub(smp.At) }()
	all = all || s.failed
	s.failed = true // until this refresh gets its answers
	if err := s.scrapeMetrics(ctx, &smp, all); err != nil {
		return Sample{At: smp.At, Err: err}
	}
	if ready, ok := smp.Families.scalar("akidb_ready"); ok && ready == 1 {
		smp.Ready, s.readyAt = readyFromMetrics, smp.At
	} else if all || smp.MetricsErr != nil || smp.At.Sub(s.readyAt) >= detailsEvery || ok {
		// An older server, no metrics, or not ready: /readyz says why
		// (starting, stopping).
		ready, err := s.c.Ready(ctx)
		if err == nil {
			err = tlsMismatch(ready.Status, ready.Body)
		}
		if err != nil {
			return Sample{At: smp.At, Err: err}
		}
		smp.Ready, s.readyAt = ready, smp.At
	}
	s.scrapeStorage(ctx, &smp, all)
	s.scrapeNames(ctx, &smp)
	s.scrapeVersion(ctx, &smp)
	s.failed = false
	return smp
}

// readyFromMetrics is the readiness of a server whose akidb_ready is 1,
// as /readyz would have answered.
var readyFromMetrics = admin.HealthResult{Status: http.StatusOK, Body: `{"status":"ok"}`}

// noAnswer reports whether err means the server did not answer (as
// opposed to answering with an error).
func noAnswer(err error) bool {
	var ae *api.Error
	var he *admin.HTTPError
	return err != nil && !errors.As(err, &ae) && !errors.As(err, &he)
}

// tlsMismatch turns the 400 a Go TLS server answers plain HTTP with into
// the error it means.
func tlsMismatch(status int, body string) error {
	if status == http.StatusBadRequest && strings.Contains(body, "HTTPS server") {
		return fmt.Errorf("the server speaks TLS; use an https:// URL (it answered %q)", strings.TrimSpace(body))
	}
	return nil
}

// scrapeMetrics reads the exposition; it returns an error only when the
// server did not answer. A slow group is asked for with all, at least
// every its every, and when the exposition asked changes (admin or
// public); in between its last values are carried over.
func (s *Scraper) scrapeMetrics(ctx context.Context, smp *Sample, all bool) error {
	answered := func(err error) error {
		var he *admin.HTTPError
		if errors.As(err, &he) {
			if terr := tlsMismatch(he.Status, he.Body); terr != nil {
				return terr
			}
		}
		if noAnswer(err) {
			return err
		}
		return nil
	}
	asked := make([]bool, len(slowGroups))
	names := func(tenants bool) []string {
		out := FastFamilies()
		for i, g := range slowGroups {
			r := s.slow[i]
			asked[i] = all || r.families == nil || smp.At.Sub(r.at) >= g.every || tenants != r.tenants
			if asked[i] {
				out = append(out, g.families...)
			}
		}
		return out
	}
	if s.keyed() && s.tenantsOff == "" {
		f, err := s.c.Metrics(ctx, true, names(true)...)
		if ferr := answered(err); ferr != nil {
			return ferr
		}
		switch {
		case err == nil:
			smp.Families, smp.Tenants = f, true
		case !s.stop(err, &s.tenantsOff, offNeedsAdmin):
			smp.TenantsErr = err
		}
	}
	if smp.Families == nil {
		f, err := s.c.Metrics(ctx, false, names(false)...)
		if ferr := answered(err); ferr != nil {
			return ferr
		}
		smp.Families, smp.MetricsErr = f, err
	}
	s.keepSlow(smp, asked)
	if !smp.Tenants && smp.TenantsErr == nil {
		smp.TenantsOff = s.off(s.tenantsOff)
	}
	return nil
}

// keepSlow keeps the slow groups an exposition was asked for, and gives
// it the last values of the others.
func (s *Scraper) keepSlow(smp *Sample, asked []bool) {
	if smp.Families == nil {
		return
	}
	for i, g := range slowGroups {
		if asked[i] {
			r := slowRead{families: families{}, tenants: smp.Tenants, at: smp.At}
			for _, n := range g.families {
				if mf := smp.Families[n]; mf != nil {
					r.families[n] = mf
				}
			}
			s.slow[i] = r
			continue
		}
		for n, mf := range s.slow[i].families {
			smp.Families[n] = mf
		}
	}
}

// storageSignature is what, in the metrics, says the storage status
// changed: the breaker's state and the DLQ's counts.
func storageSignature(f families) string {
	breaker, _ := f.sum("akidb_circuit_breaker_state", nil)
	dlq := f.byLabel("akidb_dlq_entries", "status")
	return fmt.Sprint(breaker, dlq["pending"], dlq["permanent"])
}

// tierActivity is what, in the metrics, says the tier is at work, so the
// storage status's per-collection lags, pending uploads and load states
// may have moved: the uploads by result, the bytes shipped, the resident
// collections and the ship lag (which grows with time while it is not 0).
func tierActivity(f families) string {
	uploads := f.byLabel("akidb_tier_uploads_total", "result")
	shipped, _ := f.scalar("akidb_tier_bytes_shipped_total")
	resident, _ := f.sum("akidb_collections_resident", nil)
	lag, _ := f.scalar("akidb_tier_ship_lag_seconds")
	return fmt.Sprint(uploads["success"], uploads["failure"], uploads["breaker_open"], shipped, resident, lag)
}

func (s *Scraper) scrapeStorage(ctx context.Context, smp *Sample, all bool) {
	if !s.keyed() || s.storageOff != "" {
		smp.StorageOff = s.off(s.storageOff)
		return
	}
	sig, activity := storageSignature(smp.Families), tierActivity(smp.Families)
	since := smp.At.Sub(s.storageAt)
	switch {
	case all || s.storageAt.IsZero() || sig != s.storageSig:
	case activity != s.storageActivity && since >= detailsEvery:
	case since >= storageEvery:
	default:
		return // nothing changed: the last status stands
	}
	s.storageActivity = activity
	s.storageAt, s.storageSig = smp.At, sig
	st, err := s.c.StorageStatus(ctx)
	if err != nil {
		if s.stop(err, &s.storageOff, offNeedsReader) {
			smp.StorageOff = s.off(s.storageOff)
		} else {
			smp.StorageErr = err
			s.storageAt = time.Time{} // ask again next time
		}
		return
	}
	smp.Storage = &st
	if st.DLQ.Pending+st.DLQ.Permanent == 0 {
		smp.DLQ = &access.DLQPage{Entries: []access.DLQEntry{}}
		return
	}
	page, err := s.c.ListDLQ(ctx, "", "", dlqLimit)
	if err != nil {
		if s.stop(err, &s.storageOff, offNeedsReader) {
			smp.StorageOff = s.off(s.storageOff)
		} else {
			smp.DLQErr = err
			s.storageAt = time.Time{}
		}
		return
	}
	smp.DLQ = &page
}

// scrapeNames fetches the tenants' names at the first scrape with tenant
// series, and again (at most every namesEvery) when an id shows up that
// the last fetch did not have.
func (s *Scraper) scrapeNames(ctx context.Context, smp *Sample) {
	defer func() { smp.Names = s.names }()
	if !smp.Tenants || s.namesOff || !s.keyed() {
		return
	}
	now := s.now()
	need := s.names == nil && (s.namesAt.IsZero() || now.Sub(s.namesAt) >= namesRetry)
	if !need && s.names != nil && now.Sub(s.namesAt) >= namesEvery {
		for _, id := range tenantIDs(smp.Families) {
			if _, known := s.names[id]; !known {
				need = true
				break
			}
		}
	}
	if !need {
		return
	}
	s.namesAt = now
	list, err := s.c.ListTenants(ctx)
	if err != nil {
		var off string
		if s.stop(err, &off, "forbidden") {
			s.namesOff = true
		}
		return
	}
	s.names = make(map[string]string, len(list))
	for _, t := range list {
		s.names[t.ID] = t.Name
	}
}

// scrapeVersion takes the version from akidb_build_info, or once per
// server process from /api/v1/status.
func (s *Scraper) scrapeVersion(ctx context.Context, smp *Sample) {
	if mf, ok := smp.Families["akidb_build_info"]; ok {
		for _, m := range mf.GetMetric() {
			smp.Version = labelValue(m, "version")
		}
		return
	}
	if smp.Families == nil || !s.keyed() || s.statusOff {
		return
	}
	start, _ := smp.Families.scalar("process_start_time_seconds")
	if s.version == "" || start != s.versionStart {
		st, err := s.c.Status(ctx)
		if err != nil {
			var off string
			s.statusOff = s.stop(err, &off, "forbidden")
			return
		}
		s.version, s.versionStart = st.Version, start
	}
	smp.Version = s.version
}

// tenantIDs lists the tenant ids the tenant-labelled series name.
func tenantIDs(f families) []string {
	seen := map[string]bool{}
	var ids []string
	for _, name := range []string{"akidb_ratelimit_allowed_total", "akidb_ratelimit_limited_total", "akidb_quota_usage_ratio"} {
		for _, m := range f[name].GetMetric() {
			if id := labelValue(m, "tenant"); id != "" && !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	return ids
}
