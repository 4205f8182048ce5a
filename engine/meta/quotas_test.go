package meta

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"path/filepath"
	"reflect"
	"testing"
)

func ptr[T any](v T) *T { return &v }

func TestQuotaDefaultsAndPartialUpdates(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)

	// A tenant without a row: every field nil, no update time.
	q, err := s.GetQuota(ctx, DefaultTenantID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(q, Quota{TenantID: DefaultTenantID}) {
		t.Fatalf("quota of a tenant without a row: %+v", q)
	}
	if _, err := s.GetQuota(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown tenant: %v", err)
	}
	if _, err := s.UpdateQuota(ctx, "nope", QuotaUpdate{MaxVectors: SetTo[int64](1)}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("update of an unknown tenant: %v", err)
	}

	q, err = s.UpdateQuota(ctx, DefaultTenantID, QuotaUpdate{QPSLimit: SetTo(12.5), MaxVectors: SetTo[int64](1000)})
	if err != nil {
		t.Fatal(err)
	}
	want := Quota{TenantID: DefaultTenantID, QPSLimit: ptr(12.5), MaxVectors: ptr[int64](1000), UpdatedAt: testNow.Truncate(1e6)}
	if !reflect.DeepEqual(q, want) {
		t.Fatalf("after update %+v\nwant %+v", q, want)
	}
	// A second update leaves the fields it does not name.
	q, err = s.UpdateQuota(ctx, DefaultTenantID, QuotaUpdate{Burst: SetTo[int64](30), MaxCollections: SetTo[int64](0), MaxDiskBytes: SetTo[int64](1 << 30)})
	if err != nil {
		t.Fatal(err)
	}
	want.Burst, want.MaxCollections, want.MaxDiskBytes = ptr[int64](30), ptr[int64](0), ptr[int64](1<<30)
	if !reflect.DeepEqual(q, want) {
		t.Fatalf("after second update %+v\nwant %+v", q, want)
	}
	// SetNull clears back to the default.
	q, err = s.UpdateQuota(ctx, DefaultTenantID, QuotaUpdate{QPSLimit: SetNull[float64]()})
	if err != nil {
		t.Fatal(err)
	}
	want.QPSLimit = nil
	if !reflect.DeepEqual(q, want) {
		t.Fatalf("after clearing qps %+v\nwant %+v", q, want)
	}
	got, err := s.GetQuota(ctx, DefaultTenantID)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("get %+v, %v\nwant %+v", got, err, want)
	}
}

func TestQuotaRefusesMeaninglessValues(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	for name, u := range map[string]QuotaUpdate{
		"zero qps":         {QPSLimit: SetTo(0.0)},
		"negative qps":     {QPSLimit: SetTo(-1.0)},
		"NaN qps":          {QPSLimit: SetTo(math.NaN())},
		"infinite qps":     {QPSLimit: SetTo(math.Inf(1))},
		"zero burst":       {Burst: SetTo[int64](0)},
		"negative vectors": {MaxVectors: SetTo[int64](-1)},
		"negative colls":   {MaxCollections: SetTo[int64](-5)},
		"negative bytes":   {MaxStorageBytes: SetTo[int64](-1)},
		"negative disk":    {MaxDiskBytes: SetTo[int64](-1)},
	} {
		if _, err := s.UpdateQuota(ctx, DefaultTenantID, u); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: %v, want ErrInvalidArgument", name, err)
		}
	}
	// Nothing was written.
	if q, err := s.GetQuota(ctx, DefaultTenantID); err != nil || !q.UpdatedAt.IsZero() {
		t.Fatalf("after refused updates: %+v, %v", q, err)
	}
	// The table's CHECKs hold even for writers that skip the Go checks.
	if _, err := s.DB().Exec(`INSERT INTO tenant_quotas (tenant_id, max_vectors, updated_at) VALUES ('default', -1, 0)`); err == nil {
		t.Fatal("CHECK (max_vectors >= 0) did not hold")
	}
	if _, err := s.DB().Exec(`INSERT INTO tenant_quotas (tenant_id, max_disk_bytes, updated_at) VALUES ('default', -1, 0)`); err == nil {
		t.Fatal("CHECK (max_disk_bytes >= 0) did not hold")
	}
}

func TestListQuotasAndTenantCascade(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	tn, err := s.CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateQuota(ctx, tn.ID, QuotaUpdate{MaxStorageBytes: SetTo[int64](1 << 30)}); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListQuotas(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("list %+v, want one quota per tenant", list)
	}
	byID := map[string]Quota{}
	for _, q := range list {
		byID[q.TenantID] = q
	}
	if q := byID[tn.ID]; q.MaxStorageBytes == nil || *q.MaxStorageBytes != 1<<30 {
		t.Fatalf("acme's quota %+v", q)
	}
	if q := byID[DefaultTenantID]; q.MaxStorageBytes != nil || !q.UpdatedAt.IsZero() {
		t.Fatalf("default's quota %+v", q)
	}

	// Deleting the tenant takes its quota row along (and is not refused
	// as "in use" because of it).
	if err := s.DeleteTenant(ctx, tn.ID); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.DB().QueryRow(`SELECT COUNT(*) FROM tenant_quotas`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d quota rows left after the tenant was deleted (%v)", n, err)
	}
}

func TestQuotaSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	s, err := Open(ctx, path, testLogger(t), WithClock(fixedClock))
	if err != nil {
		t.Fatal(err)
	}
	want, err := s.UpdateQuota(ctx, DefaultTenantID, QuotaUpdate{QPSLimit: SetTo(7.0), Burst: SetTo[int64](9), MaxCollections: SetTo[int64](3)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetKeyRateLimit(ctx, KeyRateLimit{KeyID: mustKey(t, s).ID, QPSLimit: 2}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctx, path, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.GetQuota(ctx, DefaultTenantID)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("after reopen %+v, %v\nwant %+v", got, err, want)
	}
	if kl, err := s.ListKeyRateLimits(ctx); err != nil || len(kl) != 1 || kl[0].QPSLimit != 2 {
		t.Fatalf("key rate limits after reopen: %+v, %v", kl, err)
	}
}

func mustKey(t *testing.T, s *Store) APIKey {
	t.Helper()
	k, err := s.InsertAPIKey(context.Background(), sampleKey("kkkkkkkkkkkkkkkk", DefaultTenantID))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKeyRateLimits(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	k := mustKey(t, s)

	if _, err := s.GetKeyRateLimit(ctx, k.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("key without a limit: %v", err)
	}
	if _, err := s.SetKeyRateLimit(ctx, KeyRateLimit{KeyID: "zzzzzzzzzzzzzzzz", QPSLimit: 1}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown key: %v", err)
	}
	for _, bad := range []KeyRateLimit{{KeyID: k.ID}, {KeyID: k.ID, QPSLimit: math.NaN()}, {KeyID: k.ID, QPSLimit: 1, Burst: ptr[int64](0)}} {
		if _, err := s.SetKeyRateLimit(ctx, bad); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%+v: %v, want ErrInvalidArgument", bad, err)
		}
	}
	l, err := s.SetKeyRateLimit(ctx, KeyRateLimit{KeyID: k.ID, QPSLimit: 5, Burst: ptr[int64](6)})
	if err != nil {
		t.Fatal(err)
	}
	// Setting again replaces.
	l, err = s.SetKeyRateLimit(ctx, KeyRateLimit{KeyID: k.ID, QPSLimit: 3})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.GetKeyRateLimit(ctx, k.ID)
	if err != nil || !reflect.DeepEqual(got, l) || got.Burst != nil {
		t.Fatalf("get %+v, %v; want %+v", got, err, l)
	}
	if err := s.DeleteKeyRateLimit(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteKeyRateLimit(ctx, k.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}

	// A tenant's deletion cascades through its keys to their limits.
	tn, err := s.CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	k2, err := s.InsertAPIKey(ctx, sampleKey("mmmmmmmmmmmmmmmm", tn.ID))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetKeyRateLimit(ctx, KeyRateLimit{KeyID: k2.ID, QPSLimit: 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTenant(ctx, tn.ID); err != nil {
		t.Fatal(err)
	}
	if l, err := s.ListKeyRateLimits(ctx); err != nil || len(l) != 0 {
		t.Fatalf("limits left after the tenant was deleted: %+v, %v", l, err)
	}
	if problems, err := s.IntegrityCheck(ctx); err != nil || problems != nil {
		t.Fatalf("integrity: %v, %v", problems, err)
	}
}

// A Patch decoded from JSON: absent leaves, null clears, a value sets.
func TestPatchJSON(t *testing.T) {
	var u struct {
		A Patch[int64]   `json:"a"`
		B Patch[int64]   `json:"b"`
		C Patch[float64] `json:"c"`
	}
	if err := json.Unmarshal([]byte(`{"b": null, "c": 2.5}`), &u); err != nil {
		t.Fatal(err)
	}
	if u.A.Set || !u.B.Set || u.B.Value != nil || !u.C.Set || u.C.Value == nil || *u.C.Value != 2.5 {
		t.Fatalf("decoded %+v", u)
	}
	if err := json.Unmarshal([]byte(`{"a": "x"}`), &u); err == nil {
		t.Fatal("a string decoded into Patch[int64]")
	}
	if err := json.Unmarshal([]byte(`{"a": 1.5}`), &u); err == nil {
		t.Fatal("1.5 decoded into Patch[int64]")
	}
}
