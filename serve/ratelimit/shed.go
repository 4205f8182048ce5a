package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/akidb/akidb/serve/api"
)

// Load shedding defaults.
const (
	// DefaultInFlightPerCPU is the default in-flight bound per CPU
	// (GOMAXPROCS): on 2 cores, 128 requests. A search is CPU-bound
	// (around a millisecond on such a machine), so 64 queued per core is
	// already tens of milliseconds of queueing; writes mostly wait for a
	// shared group-commit fsync and gain little from more concurrency.
	DefaultInFlightPerCPU = 64
	// MinDefaultInFlight is the least the default gives, however few CPUs.
	MinDefaultInFlight = 64
	// DefaultRequestTimeout bounds one request's work (and so how long it
	// holds its in-flight slot) unless the client asked for less.
	DefaultRequestTimeout = 30 * time.Second
	// DefaultBodyTimeout is how long a client has to send a request body
	// (REST) or message (gRPC).
	DefaultBodyTimeout = 10 * time.Second
	// ShedRetryAfterSeconds is the Retry-After of a shed request.
	ShedRetryAfterSeconds = 1
)

// DefaultMaxInFlight is the default in-flight bound for procs CPUs:
// DefaultInFlightPerCPU per CPU, at least MinDefaultInFlight.
func DefaultMaxInFlight(procs int) int {
	return max(DefaultInFlightPerCPU*procs, MinDefaultInFlight)
}

// DefaultTenantShare is the share of a Shedder's bound that one tenant
// may hold by default: one key cannot take the whole server.
const DefaultTenantShare = 0.5

// Shedder bounds the requests in flight: past the bound a request is
// answered at once (503 unavailable, Retry-After: 1) instead of queueing
// behind the others until everyone times out. Admit also bounds each
// tenant's requests to a share of the bound (429), so that one tenant's
// requests (slow ones, or many) cannot fill it. It is safe for concurrent
// use.
type Shedder struct {
	max      atomic.Int64
	share    atomic.Uint64 // math.Float64bits of the tenant share
	inFlight atomic.Int64
	shed     atomic.Uint64
	busy     atomic.Uint64 // refused for a tenant's share
	release  func()        // s.done, bound once so TryAcquire allocates nothing

	mu      sync.Mutex
	tenants map[string]int // requests in flight per tenant (Admit)
}

// NewShedder returns a Shedder admitting maxInFlight requests at a time;
// maxInFlight <= 0 means DefaultMaxInFlight(runtime.GOMAXPROCS(0)). A
// tenant may hold DefaultTenantShare of them (SetTenantShare).
func NewShedder(maxInFlight int) *Shedder {
	s := &Shedder{tenants: map[string]int{}}
	s.SetMax(maxInFlight)
	s.SetTenantShare(DefaultTenantShare)
	s.release = s.done
	return s
}

// SetMax changes the bound (<= 0: the default). Requests already
// in flight are not affected; new ones see the new bound.
func (s *Shedder) SetMax(n int) {
	if n <= 0 {
		n = DefaultMaxInFlight(runtime.GOMAXPROCS(0))
	}
	s.max.Store(int64(n))
}

// SetTenantShare sets the share of the bound one tenant may hold, in
// (0, 1]; out of range means DefaultTenantShare.
func (s *Shedder) SetTenantShare(f float64) {
	if !(f > 0 && f <= 1) {
		f = DefaultTenantShare
	}
	s.share.Store(math.Float64bits(f))
}

// Max is the bound in force.
func (s *Shedder) Max() int { return int(s.max.Load()) }

// TenantShare is the share of the bound one tenant may hold.
func (s *Shedder) TenantShare() float64 { return math.Float64frombits(s.share.Load()) }

// TenantMax is how many requests one tenant may have in flight: its share
// of the bound, rounded down, at least 1.
func (s *Shedder) TenantMax() int {
	return max(1, int(math.Floor(s.TenantShare()*float64(s.Max()))))
}

// TryAcquire admits a request if fewer than Max are in flight. On ok the
// caller must call release exactly once, when the request is done
// (defer it); a second call would free a slot that another request holds.
// On !ok the request is counted as shed and must be answered with
// OverloadedError.
func (s *Shedder) TryAcquire() (release func(), ok bool) {
	for {
		n := s.inFlight.Load()
		if n >= s.max.Load() {
			s.shed.Add(1)
			return nil, false
		}
		// Compare-and-swap rather than add-then-check: adding first would
		// briefly count a request that is then turned away, and refuse
		// another one that fitted.
		if s.inFlight.CompareAndSwap(n, n+1) {
			return s.release, true
		}
	}
}

func (s *Shedder) done() { s.inFlight.Add(-1) }

// Admit admits a request of tenant if the tenant holds fewer than
// TenantMax and the server fewer than Max. It refuses with TenantBusyError
// (429, counted in TenantRefused) or OverloadedError (503, counted in
// Shed). On success the caller calls release exactly once, when the
// request is done.
func (s *Shedder) Admit(tenant string) (release func(), err *api.Error) {
	limit := s.TenantMax()
	s.mu.Lock()
	// A tenant whose share is the whole bound (share 1) is refused only by
	// the server's bound: the answer then is the server's overload (503),
	// not a limit of the tenant's (429).
	if limit < s.Max() && s.tenants[tenant] >= limit {
		s.mu.Unlock()
		s.busy.Add(1)
		return nil, TenantBusyError(limit, s.TenantShare(), s.Max())
	}
	if _, ok := s.TryAcquire(); !ok {
		s.mu.Unlock()
		return nil, OverloadedError()
	}
	s.tenants[tenant]++
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			if s.tenants[tenant]--; s.tenants[tenant] <= 0 {
				delete(s.tenants, tenant)
			}
			s.mu.Unlock()
			s.done()
		})
	}, nil
}

// TenantInFlight is how many requests of tenant Admit has let in and not
// yet released.
func (s *Shedder) TenantInFlight(tenant string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tenants[tenant]
}

// InFlight is the number of admitted requests not yet released.
func (s *Shedder) InFlight() int { return int(s.inFlight.Load()) }

// Shed counts the requests turned away for the server's bound since the
// Shedder was made.
func (s *Shedder) Shed() uint64 { return s.shed.Load() }

// TenantRefused counts the requests turned away for their tenant's share.
func (s *Shedder) TenantRefused() uint64 { return s.busy.Load() }

// TenantBusyError is the answer to a request of a tenant that holds its
// share of the in-flight bound: rate_limited (429) with Retry-After: 1,
// details.limit "tenant_in_flight" (beside the rate limits' tenant_default,
// tenant_quota and key). Other tenants are still served.
func TenantBusyError(limit int, share float64, serverMax int) *api.Error {
	return &api.Error{
		Code: api.CodeRateLimited,
		Message: fmt.Sprintf("this tenant has %d requests in flight, its limit (%.0f%% of the server's %d, --tenant-in-flight-share); retry shortly",
			limit, share*100, serverMax),
		Details: map[string]any{"limit": "tenant_in_flight", "in_flight": limit, "server_in_flight": serverMax,
			"retry_after_seconds": ShedRetryAfterSeconds, "raise_with": []string{"akidb serve --tenant-in-flight-share F", "akidb serve --max-in-flight N"}},
		RetryAfterSeconds: ShedRetryAfterSeconds,
	}
}

// OverloadedError is the answer to a shed request: unavailable (503,
// UNAVAILABLE) with Retry-After: 1.
func OverloadedError() *api.Error {
	return &api.Error{
		Code:              api.CodeUnavailable,
		Message:           "the server is at its limit of requests in flight; retry shortly",
		RetryAfterSeconds: ShedRetryAfterSeconds,
	}
}

// ErrRequestTimeout is the cause (context.Cause) of a request context
// whose deadline WithRequestTimeout set and which passed it: the server's
// own bound, not a deadline of the client's.
var ErrRequestTimeout = errors.New("the request took longer than the server's request timeout")

// WithRequestTimeout bounds ctx by timeout (<= 0: DefaultRequestTimeout).
// A deadline the client already set (a gRPC deadline, say) stays if it is
// earlier. Cancel the returned context when the request is done. When the
// server's bound is what ends the request, context.Cause of the context
// is ErrRequestTimeout (see ServerTimedOut).
//
// A write that passes its deadline after the engine has logged it may
// still be applied although the client is told it failed; upserts and
// deletes are idempotent, so retrying is safe.
func WithRequestTimeout(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if timeout <= 0 {
		timeout = DefaultRequestTimeout
	}
	return context.WithTimeoutCause(ctx, timeout, ErrRequestTimeout)
}

// ServerTimedOut reports whether err ended the request because the
// server's request timeout (WithRequestTimeout) passed, rather than the
// client's own deadline or a cancellation: then the answer is
// TimeoutError, not deadline_exceeded. err may be the context's error or
// the service's answer to it (an *api.Error deadline_exceeded).
func ServerTimedOut(ctx context.Context, err error) bool {
	if err == nil || !errors.Is(context.Cause(ctx), ErrRequestTimeout) {
		return false
	}
	var ae *api.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ae) && ae.Code == api.CodeDeadlineExceeded)
}

// TimeoutError is the answer to a request stopped by the server's request
// timeout: unavailable (503, UNAVAILABLE) with Retry-After: 1. The server
// is too busy to finish the request in time, which is the client's cue to
// back off, as for a shed request.
func TimeoutError(timeout time.Duration) *api.Error {
	if timeout <= 0 {
		timeout = DefaultRequestTimeout
	}
	return &api.Error{
		Code:              api.CodeUnavailable,
		Message:           fmt.Sprintf("the request did not finish within the server's request timeout (%s); retry shortly", timeout),
		Details:           map[string]any{"request_timeout_seconds": timeout.Seconds()},
		RetryAfterSeconds: ShedRetryAfterSeconds,
	}
}
