package ratelimit

import (
	"math"
	"time"
)

// Rate is one token bucket's parameters: the bucket holds at most Burst
// tokens and gains QPS tokens per second; a request takes one. The zero
// Rate (QPS <= 0) means no bucket: not limited.
type Rate struct {
	QPS   float64
	Burst int // < 1 is taken as 1
}

// Limited reports whether r describes a bucket.
func (r Rate) Limited() bool { return r.QPS > 0 && !math.IsInf(r.QPS, 1) }

func (r Rate) burst() float64 {
	if r.Burst < 1 {
		return 1
	}
	return float64(r.Burst)
}

// Source names the limit a bucket enforces, for the answer to say which
// one refused a request and how to raise it.
type Source string

// The sources.
const (
	// SourceTenantDefault: the tenant has no rate of its own; the
	// runtime default applies (akidb config set --default-qps).
	SourceTenantDefault Source = "tenant_default"
	// SourceTenantQuota: the tenant's quota sets its rate (akidb quota
	// set --tenant T --qps N).
	SourceTenantQuota Source = "tenant_quota"
	// SourceKey: the API key has a rate of its own (akidb quota key set).
	SourceKey Source = "key"
)

// Rates are the buckets a request must pass: its tenant's and, when the
// caller's API key has a rate of its own, the key's. The zero Rates limit
// nothing (rate limiting disabled). TenantSource says where the tenant's
// rate comes from ("" is SourceTenantDefault).
type Rates struct {
	Tenant       Rate
	Key          Rate
	TenantSource Source
}

func (r Rates) tenantSource() Source {
	if r.TenantSource == "" {
		return SourceTenantDefault
	}
	return r.TenantSource
}

// bucket is a token bucket. Its rate is not stored for refilling: every
// access passes the rate in force, so a change applies from the next
// request (the time since the bucket's last request refills at the new
// rate). The last rate seen is kept only so a sweep can tell a full bucket.
type bucket struct {
	tokens float64
	last   time.Time
	rate   Rate
}

func newBucket(now time.Time, r Rate) *bucket {
	return &bucket{tokens: r.burst(), last: now, rate: r}
}

// refill brings the bucket to now under rate r. A clock that steps back
// adds nothing (and does not move last back). A burst lowered since the
// last request caps the tokens at once.
func (b *bucket) refill(now time.Time, r Rate) {
	b.rate = r
	if now.After(b.last) {
		// Nanoseconds times QPS, then divided: for a whole QPS and a whole
		// number of tokens this is exact in float64, which keeps the
		// arithmetic the tests check exact too.
		b.tokens += float64(now.Sub(b.last)) * r.QPS / float64(time.Second)
		b.last = now
	}
	if burst := r.burst(); b.tokens > burst {
		b.tokens = burst
	}
}

// full reports whether the bucket, refilled to now at its last rate, is
// full: dropping it then changes nothing, since a new bucket starts full.
func (b *bucket) full(now time.Time) bool {
	tokens := b.tokens
	if now.After(b.last) {
		tokens += float64(now.Sub(b.last)) * b.rate.QPS / float64(time.Second)
	}
	return tokens >= b.rate.burst()
}

// bucketState is a bucket after a decision, as the headers describe it.
type bucketState struct {
	qps       float64
	burst     int
	source    Source
	remaining int
	reset     time.Duration // until full
	wait      time.Duration // until one token is there; 0 if there is one
}

func (b *bucket) state(r Rate, src Source) bucketState {
	s := bucketState{
		qps:       r.QPS,
		burst:     int(r.burst()),
		source:    src,
		remaining: int(math.Floor(b.tokens)),
		reset:     timeFor(r.burst()-b.tokens, r.QPS),
	}
	if b.tokens < 1 {
		s.wait = timeFor(1-b.tokens, r.QPS)
	}
	return s
}

// timeFor is how long qps takes to produce tokens, rounded up to the
// nanosecond so that after waiting it the tokens are there.
func timeFor(tokens, qps float64) time.Duration {
	if tokens <= 0 {
		return 0
	}
	return time.Duration(math.Ceil(tokens * float64(time.Second) / qps))
}

// binding reports whether a binds the caller more than b: fewer requests
// left, then a longer wait for the next, then a longer time to full.
func (a bucketState) binding(b bucketState) bool {
	if a.remaining != b.remaining {
		return a.remaining < b.remaining
	}
	if a.wait != b.wait {
		return a.wait > b.wait
	}
	return a.reset > b.reset
}
