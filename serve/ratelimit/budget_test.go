package ratelimit

import (
	"sync"
	"testing"

	"github.com/akidb/akidb/serve/api"
)

func TestDefaultBodyBudget(t *testing.T) {
	for _, c := range []struct {
		inFlight       int
		maxBody, limit int64
		want           int64
	}{
		{128, 32 << 20, 0, 128 << 20},              // 1 MiB per request of the bound
		{128, 32 << 20, 768 << 20, 96 << 20},       // at most an eighth of the memory limit
		{16, 32 << 20, 0, 32 << 20},                // at least one largest body
		{128, 32 << 20, 64 << 20, 32 << 20},        // even under a small memory limit
		{0, 1 << 10, 0, 64 * BodyBytesPerInFlight}, // the default bound of one CPU
	} {
		if got := DefaultBodyBudget(c.inFlight, c.maxBody, c.limit); got != c.want {
			t.Errorf("DefaultBodyBudget(%d, %d, %d) = %d, want %d", c.inFlight, c.maxBody, c.limit, got, c.want)
		}
	}
}

// TestBudget: reservations are bounded per server (503) and per tenant
// (429), a tenant's only request passes whatever its share, growth is
// refused the same way without losing what was held, and releases give
// everything back, once.
func TestBudget(t *testing.T) {
	b := NewBudget(100)
	b.SetTenantShare(0.5)
	a1, err := b.Reserve("a", 30)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Reserve("a", 30); err == nil || err.Code != api.CodeRateLimited || err.Details["limit"] != "tenant_body_bytes" || err.RetryAfterSeconds != 1 {
		t.Fatalf("past the tenant's share: %+v, want 429 tenant_body_bytes", err)
	}
	if err := a1.Grow(20); err != nil {
		t.Fatalf("growing the tenant's only request to its share: %v", err)
	}
	if err := a1.Grow(10); err != nil {
		t.Fatalf("growing the tenant's only request past its share: %v", err)
	}
	bigB, err := b.Reserve("b", 40)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Reserve("c", 1); err == nil || err.Code != api.CodeUnavailable || err.Details["limit"] != "inflight_body_bytes" || err.RetryAfterSeconds != 1 {
		t.Fatalf("past the server's budget: %+v, want 503 inflight_body_bytes", err)
	}
	if err := bigB.Grow(1); err == nil || err.Code != api.CodeUnavailable {
		t.Fatalf("growth past the server's budget: %v", err)
	}
	if b.Used() != 100 || b.Refused() != 2 || b.TenantRefused() != 1 {
		t.Fatalf("used %d, refused %d, tenant refused %d; want 100, 2, 1", b.Used(), b.Refused(), b.TenantRefused())
	}
	a1.Release()
	a1.Release()
	var none *Reservation
	none.Release()
	if b.Used() != 40 {
		t.Fatalf("used %d after a release, want 40", b.Used())
	}
	solo, err := NewBudget(100).Reserve("a", 90) // more than a's share, but its only request
	if err != nil || solo == nil {
		t.Fatalf("a tenant's only request past its share: %v", err)
	}
	bigB.Release()

	// With a share of the whole budget only the server's bound refuses.
	whole := NewBudget(100)
	whole.SetTenantShare(1)
	if _, err := whole.Reserve("a", 60); err != nil {
		t.Fatal(err)
	}
	if _, err := whole.Reserve("a", 50); err == nil || err.Code != api.CodeUnavailable {
		t.Fatalf("share 1 past the budget: %+v, want 503 inflight_body_bytes", err)
	}

	// Concurrent reserves never take the budget past its bound.
	b = NewBudget(1000)
	b.SetTenantShare(1)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var peak int64
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 500 {
				r, err := b.Reserve("t", 300)
				if err != nil {
					continue
				}
				mu.Lock()
				peak = max(peak, b.Used())
				mu.Unlock()
				r.Release()
			}
		}()
	}
	wg.Wait()
	if peak > 1000 || b.Used() != 0 {
		t.Fatalf("peak %d (bound 1000), %d left after every release", peak, b.Used())
	}
}
