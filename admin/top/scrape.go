package top

import (
	"context"
	"errors"
	"fmt"
	"net/http"
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

// Refresh tuning.
const (
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
	return &Scraper{c: c, hasKey: hasKey, now: now}
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

// Scrape makes one refresh.
func (s *Scraper) Scrape(ctx context.Context) Sample {
	smp := Sample{At: s.now()}
	defer func() { smp.Took = s.now().Sub(smp.At) }()
	ready, err := s.c.Ready(ctx)
	if err == nil && ready.Status == http.StatusBadRequest && strings.Contains(ready.Body, "HTTPS server") {
		// Go's TLS server answers plain HTTP with this 400.
		err = fmt.Errorf("the server speaks TLS; use an https:// URL (it answered %q)", ready.Body)
	}
	if err != nil {
		smp.Err = err
		return smp
	}
	smp.Ready = ready
	s.scrapeMetrics(ctx, &smp)
	s.scrapeStorage(ctx, &smp)
	s.scrapeNames(ctx, &smp)
	s.scrapeVersion(ctx, &smp)
	return smp
}

func (s *Scraper) scrapeMetrics(ctx context.Context, smp *Sample) {
	if s.keyed() && s.tenantsOff == "" {
		f, err := s.c.Metrics(ctx, true)
		switch {
		case err == nil:
			smp.Families, smp.Tenants = f, true
		case !s.stop(err, &s.tenantsOff, offNeedsAdmin):
			smp.TenantsErr = err
		}
	}
	if smp.Families == nil {
		f, err := s.c.Metrics(ctx, false)
		smp.Families, smp.MetricsErr = f, err
	}
	if !smp.Tenants && smp.TenantsErr == nil {
		smp.TenantsOff = s.off(s.tenantsOff)
	}
}

func (s *Scraper) scrapeStorage(ctx context.Context, smp *Sample) {
	if !s.keyed() || s.storageOff != "" {
		smp.StorageOff = s.off(s.storageOff)
		return
	}
	st, err := s.c.StorageStatus(ctx)
	if err != nil {
		if s.stop(err, &s.storageOff, offNeedsReader) {
			smp.StorageOff = s.off(s.storageOff)
		} else {
			smp.StorageErr = err
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
