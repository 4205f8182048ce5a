package ratelimit

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/akidb/akidb/serve/api"
)

// BodyBytesPerInFlight is the default byte budget of request bodies per
// request of the in-flight bound (DefaultBodyBudget).
const BodyBytesPerInFlight = 1 << 20

// DefaultBodyBudget is the default bound of the bytes of request bodies the
// server holds at once: 1 MiB per request of the in-flight bound (128 MiB
// on 2 cores), at most an eighth of the memory limit (memLimit <= 0: none),
// and at least one body of the largest size, so that any request the
// limits allow can be served.
func DefaultBodyBudget(maxInFlight int, maxBody, memLimit int64) int64 {
	if maxInFlight <= 0 {
		maxInFlight = DefaultMaxInFlight(1)
	}
	n := int64(maxInFlight) * BodyBytesPerInFlight
	if memLimit > 0 {
		n = min(n, memLimit/8)
	}
	return max(n, maxBody)
}

// Budget bounds the bytes of request bodies the server holds, from the
// moment a body starts to be read until its request is answered: what a
// request holds in memory is a small multiple of its body (docs/limits.md),
// so this bounds the memory of every request in flight together, where
// the in-flight bound only counts them. Like the Shedder it gives one
// tenant at most a share of it. It is safe for concurrent use.
type Budget struct {
	max     int64
	share   atomic.Uint64 // math.Float64bits
	refused atomic.Uint64 // for the server's bound (503)
	busy    atomic.Uint64 // for a tenant's share (429)

	mu      sync.Mutex
	used    int64
	tenants map[string]int64
}

// NewBudget returns a Budget of maxBytes (> 0) and DefaultTenantShare.
func NewBudget(maxBytes int64) *Budget {
	b := &Budget{max: maxBytes, tenants: map[string]int64{}}
	b.SetTenantShare(DefaultTenantShare)
	return b
}

// SetTenantShare sets the share of the budget one tenant may hold, in
// (0, 1]; out of range means DefaultTenantShare.
func (b *Budget) SetTenantShare(f float64) {
	if !(f > 0 && f <= 1) {
		f = DefaultTenantShare
	}
	b.share.Store(math.Float64bits(f))
}

// Max is the budget in bytes.
func (b *Budget) Max() int64 { return b.max }

// TenantShare is the share of the budget one tenant may hold.
func (b *Budget) TenantShare() float64 { return math.Float64frombits(b.share.Load()) }

// TenantMax is the bytes one tenant may hold: its share of the budget.
func (b *Budget) TenantMax() int64 { return int64(b.TenantShare() * float64(b.max)) }

// Used is the bytes held now.
func (b *Budget) Used() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// Refused counts the reservations refused for the server's budget.
func (b *Budget) Refused() uint64 { return b.refused.Load() }

// TenantRefused counts the reservations refused for a tenant's share.
func (b *Budget) TenantRefused() uint64 { return b.busy.Load() }

// Reservation is what one request holds of a Budget. Release it exactly
// when the request is answered; a nil *Reservation does nothing.
type Reservation struct {
	b      *Budget
	tenant string
	n      int64
}

// Reserve takes n bytes for a request of tenant, or refuses: with
// BodyBudgetError (503) past the server's budget, with TenantBodyBytesError
// (429) past the tenant's share. A request is never refused for its
// tenant's share while it is the tenant's only one, even if it alone is
// more than the share: what the server has room for, one request of each
// tenant may have.
func (b *Budget) Reserve(tenant string, n int64) (*Reservation, *api.Error) {
	r := &Reservation{b: b, tenant: tenant}
	if err := r.Grow(n); err != nil {
		return nil, err
	}
	return r, nil
}

// Grow takes n more bytes for the request (a body of unknown length, read
// as it comes), refusing as Reserve does; on refusal the request keeps
// what it held.
func (r *Reservation) Grow(n int64) *api.Error {
	if n <= 0 {
		return nil
	}
	b := r.b
	b.mu.Lock()
	held := b.tenants[r.tenant]
	// The tenant's share is checked when the tenant holds more than this
	// request, and when it is less than the whole budget: with share 1
	// only the server's budget refuses (503), as for the Shedder.
	if tenantMax := b.TenantMax(); tenantMax < b.max && held > r.n && held+n > tenantMax {
		b.mu.Unlock()
		b.busy.Add(1)
		return TenantBodyBytesError(held, b.TenantShare(), b.max)
	}
	if b.used+n > b.max {
		b.mu.Unlock()
		b.refused.Add(1)
		return BodyBudgetError(b.max)
	}
	b.used += n
	b.tenants[r.tenant] = held + n
	r.n += n
	b.mu.Unlock()
	return nil
}

// GrowTo grows what the request holds to total bytes, if it holds less
// (what it has decoded from its body may take more than the body),
// refusing as Grow does.
func (r *Reservation) GrowTo(total int64) *api.Error {
	return r.Grow(total - r.Held())
}

// Held is what the request holds.
func (r *Reservation) Held() int64 {
	if r == nil {
		return 0
	}
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	return r.n
}

// Release gives back everything the request held. Calling it again does
// nothing.
func (r *Reservation) Release() {
	if r == nil || r.n == 0 {
		return
	}
	b := r.b
	b.mu.Lock()
	b.used -= r.n
	if b.tenants[r.tenant] -= r.n; b.tenants[r.tenant] <= 0 {
		delete(b.tenants, r.tenant)
	}
	r.n = 0
	b.mu.Unlock()
}

// BodyBudgetError is the answer to a request whose body would take the
// server past its budget: unavailable (503, UNAVAILABLE) with Retry-After:
// 1, details.limit "inflight_body_bytes". Bodies of other requests are
// being read or served; they are gone within --body-timeout and
// --request-timeout.
func BodyBudgetError(maxBytes int64) *api.Error {
	return &api.Error{
		Code: api.CodeUnavailable,
		Message: fmt.Sprintf("the server holds its limit of request bodies in memory (%d bytes, --max-inflight-body-bytes); retry shortly",
			maxBytes),
		Details:           map[string]any{"limit": "inflight_body_bytes", "max_inflight_body_bytes": maxBytes, "retry_after_seconds": ShedRetryAfterSeconds},
		RetryAfterSeconds: ShedRetryAfterSeconds,
	}
}

// TenantBodyBytesError is the answer to a request of a tenant that holds
// its share of the body budget: rate_limited (429) with Retry-After: 1,
// details.limit "tenant_body_bytes". Other tenants are still served.
func TenantBodyBytesError(held int64, share float64, maxBytes int64) *api.Error {
	return &api.Error{
		Code: api.CodeRateLimited,
		Message: fmt.Sprintf("this tenant's requests in flight hold %d bytes of request bodies, its limit (%.0f%% of the server's %d, --tenant-in-flight-share of --max-inflight-body-bytes); retry shortly",
			held, share*100, maxBytes),
		Details: map[string]any{"limit": "tenant_body_bytes", "held_bytes": held, "max_inflight_body_bytes": maxBytes,
			"retry_after_seconds": ShedRetryAfterSeconds,
			"raise_with":          []string{"akidb serve --tenant-in-flight-share F", "akidb serve --max-inflight-body-bytes N"}},
		RetryAfterSeconds: ShedRetryAfterSeconds,
	}
}
