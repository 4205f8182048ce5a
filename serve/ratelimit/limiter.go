package ratelimit

import (
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Limiter defaults.
const (
	// DefaultMaxBuckets bounds the buckets held (about 100 bytes each).
	// Buckets exist per tenant and per API key with a rate of its own,
	// both made by administrators, so this is a safety net, not a tuning
	// knob.
	DefaultMaxBuckets = 10000
	// DefaultSweepInterval is how often a request also drops the buckets
	// that have refilled to full.
	DefaultSweepInterval = time.Minute
)

// Config configures a Limiter. Zero fields take the defaults.
type Config struct {
	// Now is the clock (default time.Now). Tests pass a fake one.
	Now func() time.Time
	// MaxBuckets bounds the buckets held (default DefaultMaxBuckets).
	MaxBuckets int
	// SweepInterval is how often full buckets are dropped (default
	// DefaultSweepInterval).
	SweepInterval time.Duration
}

// bucketKey names a bucket: a tenant's or an API key's (key ids are
// unique across tenants). A struct, not a concatenated string, so a
// lookup allocates nothing.
type bucketKey struct {
	key bool // false: id is a tenant id; true: an API key id
	id  string
}

// Limiter holds the token buckets of tenants and API keys. It runs no
// goroutine: buckets refill arithmetically when used, and idle ones are
// dropped by a sweep that runs inside a request at most every
// SweepInterval. It is safe for concurrent use.
//
// One mutex guards all buckets. A decision takes well under a
// microsecond under it, so on the small machines AkiDB targets the lock
// is not the bottleneck, and holding it over both of a request's buckets
// is what makes taking from the pair atomic.
type Limiter struct {
	now        func() time.Time
	sweepEvery time.Duration
	maxBuckets int

	mu        sync.Mutex
	buckets   *simplelru.LRU[bucketKey, *bucket]
	nextSweep time.Time
	evicted   uint64 // buckets dropped for room while not full
}

// New returns a Limiter.
func New(cfg Config) (*Limiter, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxBuckets <= 0 {
		cfg.MaxBuckets = DefaultMaxBuckets
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = DefaultSweepInterval
	}
	lru, err := simplelru.NewLRU[bucketKey, *bucket](cfg.MaxBuckets, nil)
	if err != nil {
		return nil, fmt.Errorf("rate limiter of %d buckets: %w", cfg.MaxBuckets, err)
	}
	return &Limiter{now: cfg.Now, sweepEvery: cfg.SweepInterval, maxBuckets: cfg.MaxBuckets, buckets: lru, nextSweep: cfg.Now().Add(cfg.SweepInterval)}, nil
}

// Allow decides one request of tenantID, made with API key keyID ("" for
// none), under rates r (normally the policy's answer for the pair, read
// per request so that a runtime change applies at once).
//
// The request needs a token from the tenant's bucket and, if r.Key is
// limited, one from the key's. Both are checked before either is taken,
// under one lock: a request is charged to both or to neither, so a
// refusal by the key's bucket costs the tenant nothing and vice versa.
//
// With neither rate limited it returns an allowed Decision with Burst 0
// (no headers) and keeps no state.
func (l *Limiter) Allow(tenantID, keyID string, r Rates) Decision {
	tenantLimited := r.Tenant.Limited()
	keyLimited := r.Key.Limited() && keyID != ""
	if !tenantLimited && !keyLimited {
		return Decision{Allowed: true}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if !now.Before(l.nextSweep) {
		l.sweep(now)
	}
	var tb, kb *bucket
	if tenantLimited {
		tb = l.bucket(bucketKey{id: tenantID}, now, r.Tenant)
	}
	if keyLimited {
		kb = l.bucket(bucketKey{key: true, id: keyID}, now, r.Key)
	}
	allowed := (tb == nil || tb.tokens >= 1) && (kb == nil || kb.tokens >= 1)
	if allowed {
		if tb != nil {
			tb.tokens--
		}
		if kb != nil {
			kb.tokens--
		}
	}

	d := Decision{Allowed: allowed}
	var bind bucketState
	switch {
	case tb != nil && kb != nil:
		ts, ks := tb.state(r.Tenant, r.tenantSource()), kb.state(r.Key, SourceKey)
		bind = ts
		if ks.binding(ts) {
			bind = ks
		}
		if !allowed {
			d.RetryAfter = max(ts.wait, ks.wait)
		}
	case tb != nil:
		bind = tb.state(r.Tenant, r.tenantSource())
		d.RetryAfter = bind.wait
	default:
		bind = kb.state(r.Key, SourceKey)
		d.RetryAfter = bind.wait
	}
	if allowed {
		d.RetryAfter = 0
	}
	d.QPS, d.Burst, d.Source = bind.qps, bind.burst, bind.source
	d.Remaining, d.Reset = bind.remaining, bind.reset
	return d
}

// bucket returns the bucket for k refilled to now under rate r, creating
// a full one if there is none.
func (l *Limiter) bucket(k bucketKey, now time.Time, r Rate) *bucket {
	if b, ok := l.buckets.Get(k); ok {
		b.refill(now, r)
		return b
	}
	b := newBucket(now, r)
	if l.buckets.Len() >= l.maxBuckets {
		// Make room with full buckets first; only if none is full does the
		// least recently used one go, which gives its owner a fresh (full)
		// bucket: more lenient, never stricter.
		l.sweep(now)
		if l.buckets.Len() >= l.maxBuckets {
			l.evicted++
		}
	}
	l.buckets.Add(k, b)
	return b
}

// sweep drops every bucket that has refilled to full: a new one would
// start full, so nothing changes for its owner.
func (l *Limiter) sweep(now time.Time) {
	l.nextSweep = now.Add(l.sweepEvery)
	for _, k := range l.buckets.Keys() {
		if b, ok := l.buckets.Peek(k); ok && b.full(now) {
			l.buckets.Remove(k)
		}
	}
}

// Len is the number of buckets held.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buckets.Len()
}

// Evicted counts buckets dropped for room while not yet full (more
// active tenants and keys than MaxBuckets).
func (l *Limiter) Evicted() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.evicted
}
