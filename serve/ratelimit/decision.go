package ratelimit

import (
	"fmt"
	"strconv"
	"time"

	"github.com/akidb/akidb/serve/api"
)

// Response header names.
const (
	HeaderLimit      = "X-RateLimit-Limit"
	HeaderRemaining  = "X-RateLimit-Remaining"
	HeaderReset      = "X-RateLimit-Reset"
	HeaderRetryAfter = "Retry-After"
)

// Decision is the answer to one request. When the request passed two
// buckets (tenant and key), Limit, Remaining and Reset describe the one
// that binds more (fewer requests left; then the longer wait).
type Decision struct {
	Allowed bool
	// Limit is the binding bucket's size (its burst): the most requests
	// that can be made at once. 0 means the request was not rate limited
	// at all (disabled, or probes), and no headers are sent.
	Limit int
	// Remaining is the whole tokens left in the binding bucket after this
	// request: how many more requests would pass right now.
	Remaining int
	// Reset is how long until the binding bucket is full again (Remaining
	// back at Limit) if no requests come; 0 when it is full.
	Reset time.Duration
	// RetryAfter, for a refused request, is how long until it would pass:
	// until every bucket it needs holds a token. 0 when allowed.
	RetryAfter time.Duration
}

// Limited reports whether the request went through a bucket at all.
func (d Decision) Limited() bool { return d.Limit > 0 }

// ceilSeconds rounds d up to whole seconds.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

// RetryAfterSeconds is RetryAfter in whole seconds, rounded up and at
// least 1 for a refused request (0 when allowed): waiting that long is
// always enough.
func (d Decision) RetryAfterSeconds() int {
	if d.Allowed {
		return 0
	}
	return int(max(ceilSeconds(d.RetryAfter), 1))
}

// Headers are the response headers for the decision: X-RateLimit-Limit,
// X-RateLimit-Remaining and X-RateLimit-Reset (delta seconds until the
// bucket is full, rounded up; not a Unix time, so client clocks do not
// matter), plus Retry-After on a refusal. Nil when the request was not
// limited. gRPC sends the same pairs as response metadata (lowercase keys).
func (d Decision) Headers() map[string]string {
	if !d.Limited() {
		return nil
	}
	h := map[string]string{
		HeaderLimit:     strconv.Itoa(d.Limit),
		HeaderRemaining: strconv.Itoa(d.Remaining),
		HeaderReset:     strconv.FormatInt(ceilSeconds(d.Reset), 10),
	}
	if !d.Allowed {
		h[HeaderRetryAfter] = strconv.Itoa(d.RetryAfterSeconds())
	}
	return h
}

// Err is nil for an allowed request, and otherwise rate_limited (429,
// RESOURCE_EXHAUSTED) with RetryAfterSeconds set, which the transports
// send as Retry-After and as a gRPC RetryInfo detail.
func (d Decision) Err() *api.Error {
	if d.Allowed {
		return nil
	}
	secs := d.RetryAfterSeconds()
	return &api.Error{
		Code:              api.CodeRateLimited,
		Message:           fmt.Sprintf("rate limit exceeded: retry in %d s", secs),
		Details:           map[string]any{"limit": d.Limit, "retry_after_seconds": secs},
		RetryAfterSeconds: secs,
	}
}
