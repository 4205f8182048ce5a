package access_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/serve/access"
	"github.com/akidb/akidb/serve/access/accesstest"
	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/auth"
	"github.com/akidb/akidb/serve/limits"
	"github.com/akidb/akidb/serve/ratelimit"
)

// limitedGuard is a guard over the fixture with a rate limiter on the
// fixture's clock (and the limits' metrics on a registry of their own).
func limitedGuard(t *testing.T, f *accesstest.Fixture, opts access.Options) *access.Guard {
	t.Helper()
	lim, err := ratelimit.New(ratelimit.Config{Now: f.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	m, err := limits.NewMetrics(prometheus.NewRegistry(), prometheus.NewRegistry(), limits.MetricsSources{})
	if err != nil {
		t.Fatal(err)
	}
	deps := *f.Limits
	deps.Limiter, deps.Metrics = lim, m
	g := access.New(opts)
	if err := g.Attach(access.Deps{Authenticator: f.Authn, Auditor: f.Auditor, Store: f.DB.Meta(), Collections: f.DB, Limits: &deps}); err != nil {
		t.Fatal(err)
	}
	return g
}

func code(err error) api.Code {
	var ae *api.Error
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

// TestRateLimitOrder: the bucket is taken after authentication and before
// authorization, so a forbidden request still costs a token and, with the
// bucket empty, is answered 429 rather than 403; a refused credential costs
// nothing; rate-limit refusals are not audited; every decision reaches
// OnRateLimit and the metrics.
func TestRateLimitOrder(t *testing.T) {
	f := accesstest.New(t)
	ctx := context.Background()
	g := limitedGuard(t, f, access.Options{})
	if _, err := f.Limits.Quotas.Set(ctx, f.Alpha, limits.QuotaUpdate{QPSLimit: meta.SetTo(1.0), Burst: meta.SetTo[int64](2)}); err != nil {
		t.Fatal(err)
	}
	var seen []ratelimit.Decision
	req := func(a auth.Action, cred string) access.Request {
		return access.Request{Action: a, Credential: cred, RemoteAddr: "192.0.2.1:5",
			OnRateLimit: func(d ratelimit.Decision) { seen = append(seen, d) }}
	}
	reader := f.Credential(accesstest.Reader)
	before := len(events(t, f))

	if _, _, err := g.Begin(ctx, req(auth.ActionCollectionList, "ak_bogus")); code(err) != api.CodeUnauthenticated || len(seen) != 0 {
		t.Fatalf("bad credential: %v, %d decisions", err, len(seen))
	}
	if _, _, err := g.Begin(ctx, req(auth.ActionCollectionCreate, reader)); code(err) != api.CodePermissionDenied {
		t.Fatalf("forbidden with tokens left: %v", err)
	}
	if _, call, err := g.Begin(ctx, req(auth.ActionCollectionList, reader)); err != nil {
		t.Fatalf("allowed: %v", err)
	} else {
		call.End(ctx, nil)
	}
	_, _, err := g.Begin(ctx, req(auth.ActionCollectionCreate, reader))
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != api.CodeRateLimited || ae.RetryAfterSeconds != 1 {
		t.Fatalf("forbidden with the bucket empty: %v", err)
	}
	if len(seen) != 3 || seen[0].Remaining != 1 || seen[1].Remaining != 0 || seen[2].Allowed || seen[2].Burst != 2 {
		t.Fatalf("decisions %+v", seen)
	}
	// The 401 and the 403 are audited, the 429 is not.
	if n := len(events(t, f)) - before; n != 2 {
		t.Fatalf("%d audit rows, want 2 (the refused credential and the refused action)", n)
	}
	// A key's own rate is applied beside its tenant's.
	f.Clock.Advance(2 * time.Second) // refill alpha
	if _, err := f.Limits.Quotas.SetKeyRate(ctx, f.KeyIDs[accesstest.Writer], limits.KeyRateUpdate{QPSLimit: 1, Burst: ptr[int64](1)}); err != nil {
		t.Fatal(err)
	}
	writer := f.Credential(accesstest.Writer)
	if _, _, err := g.Begin(ctx, req(auth.ActionCollectionList, writer)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := g.Begin(ctx, req(auth.ActionCollectionList, writer)); code(err) != api.CodeRateLimited {
		t.Fatalf("writer key past its own rate: %v", err)
	}
	if _, _, err := g.Begin(ctx, req(auth.ActionCollectionList, reader)); err != nil {
		t.Fatalf("the tenant's other key: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

// TestRateLimitMetricsAndDisabledAuth: with authentication off every
// request is the default tenant's and is limited as such; the metrics
// count per tenant.
func TestRateLimitMetricsAndDisabledAuth(t *testing.T) {
	f := accesstest.New(t)
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	lim, err := ratelimit.New(ratelimit.Config{Now: f.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	m, err := limits.NewMetrics(reg, reg, limits.MetricsSources{})
	if err != nil {
		t.Fatal(err)
	}
	deps := *f.Limits
	deps.Limiter, deps.Metrics = lim, m
	g := access.New(access.Options{Disabled: true})
	if err := g.Attach(access.Deps{Authenticator: f.Authn, Auditor: f.Auditor, Store: f.DB.Meta(), Limits: &deps}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Limits.Quotas.Set(ctx, meta.DefaultTenantID, limits.QuotaUpdate{QPSLimit: meta.SetTo(1.0), Burst: meta.SetTo[int64](1)}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := g.Begin(ctx, access.Request{Action: auth.ActionCollectionList}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := g.Begin(ctx, access.Request{Action: auth.ActionCollectionList}); code(err) != api.CodeRateLimited {
		t.Fatalf("second request without auth: %v", err)
	}
	want := map[string]float64{"akidb_ratelimit_allowed_total": 1, "akidb_ratelimit_limited_total": 1}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if w, ok := want[mf.GetName()]; ok {
			if len(mf.GetMetric()) != 1 || mf.GetMetric()[0].GetCounter().GetValue() != w || mf.GetMetric()[0].GetLabel()[0].GetValue() != meta.DefaultTenantID {
				t.Errorf("%s = %v", mf.GetName(), mf.GetMetric())
			}
			delete(want, mf.GetName())
		}
	}
	if len(want) != 0 {
		t.Errorf("missing metrics %v", want)
	}
}
