package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"runtime"
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
	// ShedRetryAfterSeconds is the Retry-After of a shed request.
	ShedRetryAfterSeconds = 1
)

// DefaultMaxInFlight is the default in-flight bound for procs CPUs:
// DefaultInFlightPerCPU per CPU, at least MinDefaultInFlight.
func DefaultMaxInFlight(procs int) int {
	return max(DefaultInFlightPerCPU*procs, MinDefaultInFlight)
}

// Shedder bounds the requests in flight: past the bound a request is
// answered at once (503 unavailable, Retry-After: 1) instead of queueing
// behind the others until everyone times out. It is lock-free (one
// compare-and-swap per admission) and safe for concurrent use.
type Shedder struct {
	max      atomic.Int64
	inFlight atomic.Int64
	shed     atomic.Uint64
	release  func() // s.done, bound once so TryAcquire allocates nothing
}

// NewShedder returns a Shedder admitting maxInFlight requests at a time;
// maxInFlight <= 0 means DefaultMaxInFlight(runtime.GOMAXPROCS(0)).
func NewShedder(maxInFlight int) *Shedder {
	s := &Shedder{}
	s.SetMax(maxInFlight)
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

// Max is the bound in force.
func (s *Shedder) Max() int { return int(s.max.Load()) }

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

// InFlight is the number of admitted requests not yet released.
func (s *Shedder) InFlight() int { return int(s.inFlight.Load()) }

// Shed counts the requests turned away since the Shedder was made.
func (s *Shedder) Shed() uint64 { return s.shed.Load() }

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
