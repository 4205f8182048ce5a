package limits

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/ratelimit"
)

func TestQuotaGetSetAndReopen(t *testing.T) {
	ctx := context.Background()
	s, dir := openStore(t, "")
	acme, err := s.CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	rc := newRuntimeConfig(t, s)
	q := newQuotas(t, s, rc, Defaults{MaxCollections: ptr[int64](10)})

	// No quota of its own: the server's defaults.
	tq, err := q.Get(ctx, acme.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantEff := Effective{RateLimitEnabled: true, QPS: 100, Burst: 200, MaxCollections: ptr[int64](10)}
	if tq.TenantID != acme.ID || tq.Quota != (StoredQuota{}) || !reflect.DeepEqual(tq.Effective, wantEff) {
		t.Fatalf("defaults: %+v", tq)
	}
	if _, err := q.Get(ctx, "nope"); err == nil {
		t.Fatal("quota of an unknown tenant")
	} else {
		wantAPIError(t, err, api.CodeNotFound, "")
	}

	// A partial update from a request body: absent stays, null clears.
	var u QuotaUpdate
	if err := json.Unmarshal([]byte(`{"qps_limit": 50, "max_vectors": 1000, "max_collections": 0}`), &u); err != nil {
		t.Fatal(err)
	}
	tq, err = q.Set(ctx, acme.ID, u)
	if err != nil {
		t.Fatal(err)
	}
	wantEff = Effective{RateLimitEnabled: true, QPS: 50, Burst: 100, MaxCollections: ptr[int64](0), MaxVectors: ptr[int64](1000)}
	if !reflect.DeepEqual(tq.Effective, wantEff) || tq.Quota.UpdatedAt == nil || *tq.Quota.QPSLimit != 50 {
		t.Fatalf("after set: %+v", tq)
	}
	if got := q.Effective(acme.ID); !reflect.DeepEqual(got, wantEff) {
		t.Fatalf("in memory %+v, want %+v", got, wantEff)
	}
	u = QuotaUpdate{}
	if err := json.Unmarshal([]byte(`{"max_collections": null, "burst": 7}`), &u); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Set(ctx, acme.ID, u); err != nil {
		t.Fatal(err)
	}
	wantEff.MaxCollections, wantEff.Burst = ptr[int64](10), 7
	if got := q.Effective(acme.ID); !reflect.DeepEqual(got, wantEff) {
		t.Fatalf("after clearing max_collections: %+v, want %+v", got, wantEff)
	}

	list, err := q.List(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("list %+v, %v", list, err)
	}

	// A restart reads it back.
	s.Close()
	s2, _ := openStore(t, dir)
	q2 := newQuotas(t, s2, newRuntimeConfig(t, s2), Defaults{MaxCollections: ptr[int64](10)})
	if got := q2.Effective(acme.ID); !reflect.DeepEqual(got, wantEff) {
		t.Fatalf("after reopen %+v, want %+v", got, wantEff)
	}
	tq2, err := q2.Get(ctx, acme.ID)
	if err != nil || *tq2.Quota.Burst != 7 || tq2.Quota.MaxCollections != nil || *tq2.Quota.MaxVectors != 1000 {
		t.Fatalf("stored after reopen %+v, %v", tq2.Quota, err)
	}
}

func TestQuotaRefusesInvalidValues(t *testing.T) {
	ctx := context.Background()
	s, _ := openStore(t, "")
	q := newQuotas(t, s, newRuntimeConfig(t, s), Defaults{})
	for _, c := range []struct {
		u     QuotaUpdate
		field string
	}{
		{QuotaUpdate{QPSLimit: meta.SetTo(0.5)}, "qps_limit"},
		{QuotaUpdate{QPSLimit: meta.SetTo(10001.0)}, "qps_limit"},
		{QuotaUpdate{QPSLimit: meta.SetTo(math.NaN())}, "qps_limit"},
		{QuotaUpdate{Burst: meta.SetTo[int64](0)}, "burst"},
		{QuotaUpdate{Burst: meta.SetTo[int64](MaxBurst + 1)}, "burst"},
		{QuotaUpdate{MaxCollections: meta.SetTo[int64](-1)}, "max_collections"},
		{QuotaUpdate{MaxVectors: meta.SetTo[int64](-1)}, "max_vectors"},
		{QuotaUpdate{QPSLimit: meta.SetTo(5.0), MaxStorageBytes: meta.SetTo[int64](-1)}, "max_storage_bytes"},
	} {
		_, err := q.Set(ctx, meta.DefaultTenantID, c.u)
		wantAPIError(t, err, api.CodeInvalidArgument, c.field)
	}
	// Nothing was written, in memory or on disk.
	if tq, err := q.Get(ctx, meta.DefaultTenantID); err != nil || tq.Quota != (StoredQuota{}) {
		t.Fatalf("after refused updates: %+v, %v", tq, err)
	}
	if got := q.Effective(meta.DefaultTenantID); got.QPS != 100 || got.Burst != 200 {
		t.Fatalf("after refused updates, in memory: %+v", got)
	}
	_, err := q.Set(ctx, "nope", QuotaUpdate{MaxVectors: meta.SetTo[int64](1)})
	wantAPIError(t, err, api.CodeNotFound, "")
}

// The rates a request is limited by: the tenant's own or the default,
// the key's if it has one; nothing when disabled.
func TestRatesFor(t *testing.T) {
	ctx := context.Background()
	s, _ := openStore(t, "")
	acme, _ := s.CreateTenant(ctx, "acme")
	key, err := s.InsertAPIKey(ctx, meta.APIKey{ID: "aaaaaaaaaaaaaaaa", TenantID: acme.ID, Role: meta.RoleWriter,
		SecretHash: bytes.Repeat([]byte{1}, meta.SecretHashLen)})
	if err != nil {
		t.Fatal(err)
	}
	rc := newRuntimeConfig(t, s)
	q := newQuotas(t, s, rc, Defaults{})

	if got := q.RatesFor(acme.ID, key.ID); got != (ratelimit.Rates{Tenant: ratelimit.Rate{QPS: 100, Burst: 200}, TenantSource: ratelimit.SourceTenantDefault}) {
		t.Fatalf("defaults %+v", got)
	}
	// Its own rate without a burst: burst = rate × multiplier, rounded up.
	if _, err := q.Set(ctx, acme.ID, QuotaUpdate{QPSLimit: meta.SetTo(2.5)}); err != nil {
		t.Fatal(err)
	}
	if got := q.RatesFor(acme.ID, ""); got.Tenant != (ratelimit.Rate{QPS: 2.5, Burst: 5}) || got.TenantSource != ratelimit.SourceTenantQuota {
		t.Fatalf("own rate %+v", got)
	}

	// A key rate.
	_, err = q.SetKeyRate(ctx, "zzzzzzzzzzzzzzzz", KeyRateUpdate{QPSLimit: 1})
	wantAPIError(t, err, api.CodeNotFound, "")
	_, err = q.SetKeyRate(ctx, key.ID, KeyRateUpdate{QPSLimit: 0})
	wantAPIError(t, err, api.CodeInvalidArgument, "qps_limit")
	_, err = q.SetKeyRate(ctx, key.ID, KeyRateUpdate{QPSLimit: 3, Burst: ptr[int64](0)})
	wantAPIError(t, err, api.CodeInvalidArgument, "burst")
	if _, err := q.SetKeyRate(ctx, key.ID, KeyRateUpdate{QPSLimit: 3}); err != nil {
		t.Fatal(err)
	}
	want := ratelimit.Rates{Tenant: ratelimit.Rate{QPS: 2.5, Burst: 5}, Key: ratelimit.Rate{QPS: 3, Burst: 6}, TenantSource: ratelimit.SourceTenantQuota}
	if got := q.RatesFor(acme.ID, key.ID); got != want {
		t.Fatalf("with key rate %+v, want %+v", got, want)
	}
	if _, err := q.SetKeyRate(ctx, key.ID, KeyRateUpdate{QPSLimit: 3, Burst: ptr[int64](1)}); err != nil {
		t.Fatal(err)
	}
	if got := q.RatesFor(acme.ID, key.ID); got.Key != (ratelimit.Rate{QPS: 3, Burst: 1}) {
		t.Fatalf("key with its own burst %+v", got)
	}
	if kr, ok := q.KeyRate(key.ID); !ok || kr.QPSLimit != 3 || *kr.Burst != 1 {
		t.Fatalf("KeyRate %+v %v", kr, ok)
	}
	// Another reload (a restart) sees the key rate.
	q2 := newQuotas(t, s, rc, Defaults{})
	if got := q2.RatesFor(acme.ID, key.ID); got.Key != (ratelimit.Rate{QPS: 3, Burst: 1}) {
		t.Fatalf("key rate after reload %+v", got)
	}
	if err := q.ClearKeyRate(ctx, key.ID); err != nil {
		t.Fatal(err)
	}
	wantAPIError(t, q.ClearKeyRate(ctx, key.ID), api.CodeNotFound, "")
	if got := q.RatesFor(acme.ID, key.ID); got.Key != (ratelimit.Rate{}) {
		t.Fatalf("cleared key rate still applies: %+v", got)
	}

	// Disabled: nothing is limited, whatever the quotas say.
	if _, err := rc.UpdateRateLimit(ctx, RateLimitUpdate{Enabled: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	if got := q.RatesFor(acme.ID, key.ID); got != (ratelimit.Rates{}) {
		t.Fatalf("disabled: %+v", got)
	}
	if eff := q.Effective(acme.ID); eff.RateLimitEnabled || eff.Rate() != (ratelimit.Rate{}) {
		t.Fatalf("disabled: effective %+v", eff)
	}

	// Deleting the tenant removes its quota; ForgetTenant and Reload
	// bring memory in line.
	if err := s.DeleteTenant(ctx, acme.ID); err != nil {
		t.Fatal(err)
	}
	q.ForgetTenant(acme.ID)
	if got := q.Effective(acme.ID); got.QPS != 100 {
		t.Fatalf("forgotten tenant still has its rate: %+v", got)
	}
	if err := q.Reload(ctx); err != nil {
		t.Fatal(err)
	}
}

// End to end with the limiter and a fake clock: a runtime change applies
// on the next request to tenants without their own rate, and to new
// tenants, but not to tenants with their own.
func TestRuntimeChangeReachesTheLimiter(t *testing.T) {
	ctx := context.Background()
	s, _ := openStore(t, "")
	own, _ := s.CreateTenant(ctx, "own")
	rc := newRuntimeConfig(t, s)
	q := newQuotas(t, s, rc, Defaults{})
	if _, err := q.Set(ctx, own.ID, QuotaUpdate{QPSLimit: meta.SetTo(10.0), Burst: meta.SetTo[int64](10)}); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l, err := ratelimit.New(ratelimit.Config{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	allow := func(tenant string) ratelimit.Decision { return l.Allow(tenant, "", q.RatesFor(tenant, "")) }

	if d := allow(meta.DefaultTenantID); d.Burst != 200 || d.Remaining != 199 {
		t.Fatalf("default tenant before: %+v", d)
	}
	if _, err := rc.UpdateRateLimit(ctx, RateLimitUpdate{DefaultQPS: ptr(5.0), DefaultBurstMultiplier: ptr(1.0)}); err != nil {
		t.Fatal(err)
	}
	if d := allow(meta.DefaultTenantID); d.Burst != 5 || d.Remaining != 4 || d.Reset != 200*time.Millisecond {
		t.Fatalf("default tenant on the next request: %+v", d)
	}
	if d := allow("brand-new"); d.Burst != 5 || d.Remaining != 4 {
		t.Fatalf("new tenant: %+v", d)
	}
	if d := allow(own.ID); d.Burst != 10 || d.Remaining != 9 {
		t.Fatalf("tenant with its own rate: %+v", d)
	}
	// A tenant quota change applies on its next request too.
	if _, err := q.Set(ctx, own.ID, QuotaUpdate{Burst: meta.SetTo[int64](3)}); err != nil {
		t.Fatal(err)
	}
	if d := allow(own.ID); d.Burst != 3 || d.Remaining != 2 {
		t.Fatalf("after the tenant's burst changed: %+v", d)
	}
}

// Writers and per-request readers at once (run with -race); memory ends
// equal to disk.
func TestQuotasConcurrent(t *testing.T) {
	ctx := context.Background()
	s, _ := openStore(t, "")
	q := newQuotas(t, s, newRuntimeConfig(t, s), Defaults{})
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				if _, err := q.Set(ctx, meta.DefaultTenantID, QuotaUpdate{QPSLimit: meta.SetTo(float64(1 + 100*w + i))}); err != nil {
					t.Error(err)
					return
				}
			}
		}(w)
	}
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				if rt := q.RatesFor(meta.DefaultTenantID, "k"); rt.Tenant.QPS < 1 {
					t.Errorf("rate %+v", rt)
					return
				}
			}
		}()
	}
	wg.Wait()
	tq, err := q.Get(ctx, meta.DefaultTenantID)
	if err != nil {
		t.Fatal(err)
	}
	if got := q.Effective(meta.DefaultTenantID).QPS; got != *tq.Quota.QPSLimit {
		t.Fatalf("in memory %v, stored %v", got, *tq.Quota.QPSLimit)
	}
}

// TestQuotaUpdateJSON: MarshalJSON writes exactly what decoding reads
// back: absent fields stay absent, null returns to the default.
func TestQuotaUpdateJSON(t *testing.T) {
	u := QuotaUpdate{QPSLimit: meta.SetTo(12.5), Burst: meta.SetNull[int64](), MaxVectors: meta.SetTo[int64](0)}
	b, err := json.Marshal(u)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"burst":null,"max_vectors":0,"qps_limit":12.5}` {
		t.Fatalf("JSON %s", b)
	}
	var back QuotaUpdate
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !back.QPSLimit.Set || *back.QPSLimit.Value != 12.5 || !back.Burst.Set || back.Burst.Value != nil ||
		!back.MaxVectors.Set || *back.MaxVectors.Value != 0 || back.MaxCollections.Set || back.MaxStorageBytes.Set {
		t.Fatalf("decoded back %+v", back)
	}
	if back.Empty() || !(QuotaUpdate{}).Empty() {
		t.Fatal("Empty is wrong")
	}
	if b, _ := json.Marshal(QuotaUpdate{}); string(b) != `{}` {
		t.Fatalf("empty update JSON %s", b)
	}
}
