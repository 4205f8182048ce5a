package ratelimit

import (
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/time/rate"
)

// xrateLimiter is Limiter's Allow written over golang.org/x/time/rate,
// kept beside the benchmark that compares the two (see doc.go, "Why the
// buckets are hand-written"): one rate.Limiter per bucket, a reservation
// per bucket, cancelled when the other bucket refuses, so a request is
// charged to both or neither.
type xrateLimiter struct {
	now     func() time.Time
	mu      sync.Mutex
	buckets *simplelru.LRU[bucketKey, *xrateBucket]
}

type xrateBucket struct {
	lim  *rate.Limiter
	rate Rate
}

func newXrateLimiter(now func() time.Time) *xrateLimiter {
	l, _ := simplelru.NewLRU[bucketKey, *xrateBucket](DefaultMaxBuckets, nil)
	return &xrateLimiter{now: now, buckets: l}
}

func (l *xrateLimiter) bucket(k bucketKey, now time.Time, r Rate) *xrateBucket {
	b, ok := l.buckets.Get(k)
	if !ok {
		b = &xrateBucket{lim: rate.NewLimiter(rate.Limit(r.QPS), int(r.burst())), rate: r}
		l.buckets.Add(k, b)
		return b
	}
	if b.rate != r {
		if b.rate.QPS != r.QPS {
			b.lim.SetLimitAt(now, rate.Limit(r.QPS))
		}
		if b.rate.burst() != r.burst() {
			b.lim.SetBurstAt(now, int(r.burst()))
		}
		b.rate = r
	}
	return b
}

func (b *xrateBucket) state(now time.Time, src Source) bucketState {
	tokens := b.lim.TokensAt(now)
	s := bucketState{qps: b.rate.QPS, burst: int(b.rate.burst()), source: src,
		remaining: int(math.Floor(tokens)), reset: timeFor(b.rate.burst()-tokens, b.rate.QPS)}
	if tokens < 1 {
		s.wait = timeFor(1-tokens, b.rate.QPS)
	}
	return s
}

func (l *xrateLimiter) Allow(tenantID, keyID string, r Rates) Decision {
	tenantLimited := r.Tenant.Limited()
	keyLimited := r.Key.Limited() && keyID != ""
	if !tenantLimited && !keyLimited {
		return Decision{Allowed: true}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var tb, kb *xrateBucket
	var tr, kr *rate.Reservation
	allowed := true
	if tenantLimited {
		tb = l.bucket(bucketKey{id: tenantID}, now, r.Tenant)
		tr = tb.lim.ReserveN(now, 1)
		allowed = tr.DelayFrom(now) == 0
	}
	if keyLimited && allowed {
		kb = l.bucket(bucketKey{key: true, id: keyID}, now, r.Key)
		kr = kb.lim.ReserveN(now, 1)
		allowed = kr.DelayFrom(now) == 0
	} else if keyLimited {
		kb = l.bucket(bucketKey{key: true, id: keyID}, now, r.Key)
	}
	if !allowed {
		if kr != nil {
			kr.CancelAt(now)
		}
		if tr != nil {
			tr.CancelAt(now)
		}
	}
	d := Decision{Allowed: allowed}
	var bind bucketState
	switch {
	case tb != nil && kb != nil:
		ts, ks := tb.state(now, r.tenantSource()), kb.state(now, SourceKey)
		bind = ts
		if ks.binding(ts) {
			bind = ks
		}
		d.RetryAfter = max(ts.wait, ks.wait)
	case tb != nil:
		bind = tb.state(now, r.tenantSource())
		d.RetryAfter = bind.wait
	default:
		bind = kb.state(now, SourceKey)
		d.RetryAfter = bind.wait
	}
	if allowed {
		d.RetryAfter = 0
	}
	d.QPS, d.Burst, d.Source = bind.qps, bind.burst, bind.source
	d.Remaining, d.Reset = bind.remaining, bind.reset
	return d
}

// allower is what the comparison benchmark drives.
type allower interface {
	Allow(tenantID, keyID string, r Rates) Decision
}

// The two implementations decide alike on a refill-heavy sequence at
// steady rates (the library's float arithmetic may differ in the last
// bits of a duration, not in a decision; a rate change differs: the
// library refills the time before it at the old rate).
func TestXrateDecidesLikeLimiter(t *testing.T) {
	clock := newFakeClock()
	hand := newLimiter(t, clock, Config{SweepInterval: 1000 * time.Hour})
	lib := newXrateLimiter(clock.Now)
	rates := []Rates{
		{Tenant: Rate{QPS: 100, Burst: 200}},
		{Tenant: Rate{QPS: 10, Burst: 3}, Key: Rate{QPS: 2, Burst: 2}},
		{Tenant: Rate{QPS: 4, Burst: 1}, Key: Rate{QPS: 1, Burst: 1}},
	}
	for i := 0; i < 20000; i++ {
		clock.Advance(time.Duration(i%7) * 3 * time.Millisecond)
		j := i % len(rates)
		tenant, key := fmt.Sprint("t", j), fmt.Sprint("k", j)
		a, b := hand.Allow(tenant, key, rates[j]), lib.Allow(tenant, key, rates[j])
		if a.Allowed != b.Allowed || a.Remaining != b.Remaining || a.Burst != b.Burst {
			t.Fatalf("request %d: hand-written %+v, x/time/rate %+v", i, a, b)
		}
	}
}

// BenchmarkAllowImpl compares the hand-written buckets with
// golang.org/x/time/rate on the hot path, one request's Allow, with a
// tenant bucket only and with a tenant and a key bucket. Run both in one
// process, several rounds, and compare medians:
//
//	go test ./serve/ratelimit -run '^$' -bench AllowImpl -count 6
func BenchmarkAllowImpl(b *testing.B) {
	clock := newFakeClock()
	for _, c := range []struct {
		name  string
		key   string
		rates Rates
	}{
		{"tenant", "", Rates{Tenant: Rate{QPS: 1e9, Burst: 1e9}}},
		{"tenant+key", "key", Rates{Tenant: Rate{QPS: 1e9, Burst: 1e9}, Key: Rate{QPS: 1e9, Burst: 1e9}}},
	} {
		for _, impl := range []struct {
			name string
			make func() allower
		}{
			{"hand-written", func() allower { return newLimiter(b, clock, Config{}) }},
			{"x-time-rate", func() allower { return newXrateLimiter(clock.Now) }},
		} {
			b.Run(c.name+"/"+impl.name, func(b *testing.B) {
				l := impl.make()
				b.ReportAllocs()
				for b.Loop() {
					l.Allow("acme", c.key, c.rates)
				}
			})
			b.Run(c.name+"/"+impl.name+"/parallel", func(b *testing.B) {
				l := impl.make()
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						l.Allow("acme", c.key, c.rates)
					}
				})
			})
		}
	}
}
