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
	HeaderBurst      = "X-RateLimit-Burst"
	HeaderRemaining  = "X-RateLimit-Remaining"
	HeaderReset      = "X-RateLimit-Reset"
	HeaderRetryAfter = "Retry-After"
)

// Decision is the answer to one request. When the request passed two
// buckets (tenant and key), QPS, Burst, Source, Remaining and Reset
// describe the one that binds more (fewer requests left; then the longer
// wait): for a refusal, the bucket that refused it.
type Decision struct {
	Allowed bool
	// QPS is the binding bucket's rate in requests per second.
	QPS float64
	// Burst is the binding bucket's size: the most requests that can be
	// made at once. 0 means the request was not rate limited at all
	// (disabled, or probes), and no headers are sent.
	Burst int
	// Source says which limit the binding bucket enforces.
	Source Source
	// Remaining is the whole tokens left in the binding bucket after this
	// request: how many more requests would pass right now.
	Remaining int
	// Reset is how long until the binding bucket is full again (Remaining
	// back at Burst) if no requests come; 0 when it is full.
	Reset time.Duration
	// RetryAfter, for a refused request, is how long until it would pass:
	// until every bucket it needs holds a token. 0 when allowed.
	RetryAfter time.Duration
}

// Limited reports whether the request went through a bucket at all.
func (d Decision) Limited() bool { return d.Burst > 0 }

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

// formatQPS writes a rate without a needless fraction: 100, 0.5.
func formatQPS(q float64) string { return strconv.FormatFloat(q, 'g', -1, 64) }

// Headers are the response headers for the decision: X-RateLimit-Limit
// (the rate, requests per second: the limit per window of one second, as
// the IETF RateLimit header drafts define it), X-RateLimit-Burst (the
// bucket size), X-RateLimit-Remaining and X-RateLimit-Reset (delta
// seconds until the bucket is full, rounded up; not a Unix time, so client
// clocks do not matter), plus Retry-After on a refusal. Nil when the
// request was not limited. gRPC sends the same pairs as response metadata
// (lowercase keys).
func (d Decision) Headers() map[string]string {
	if !d.Limited() {
		return nil
	}
	h := map[string]string{
		HeaderLimit:     formatQPS(d.QPS),
		HeaderBurst:     strconv.Itoa(d.Burst),
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
// send as Retry-After and as a gRPC RetryInfo detail. The message and
// details say which limit refused it (details.limit: tenant_default,
// tenant_quota or key), its rate and burst, and the commands that raise
// it for tenantID or keyID (the caller's).
func (d Decision) Err(tenantID, keyID string) *api.Error {
	if d.Allowed {
		return nil
	}
	secs := d.RetryAfterSeconds()
	rate := fmt.Sprintf("%s requests/s (burst %d)", formatQPS(d.QPS), d.Burst)
	var which string
	var raise []string
	switch d.Source {
	case SourceKey:
		which = "this API key's own limit of " + rate
		raise = []string{"akidb quota key set " + keyID + " --qps N", "akidb quota key clear " + keyID}
	case SourceTenantQuota:
		which = "this tenant's limit of " + rate
		raise = []string{"akidb quota set --tenant " + tenantID + " --qps N"}
	default:
		which = "the default limit of " + rate + ", which applies to every tenant without a limit of its own,"
		raise = []string{"akidb quota set --tenant " + tenantID + " --qps N", "akidb config set --default-qps N"}
	}
	how := "an operator can raise it with `" + raise[0] + "`"
	switch {
	case d.Source == SourceKey:
		how += " or remove it with `" + raise[1] + "`"
	case len(raise) > 1:
		how += " (this tenant) or `" + raise[1] + "` (every tenant)"
	}
	return &api.Error{
		Code:    api.CodeRateLimited,
		Message: fmt.Sprintf("rate limit exceeded: %s is used up; retry in %d s; %s", which, secs, how),
		Details: map[string]any{"limit": string(d.Source), "qps": d.QPS, "burst": d.Burst,
			"retry_after_seconds": secs, "raise_with": raise},
		RetryAfterSeconds: secs,
	}
}
