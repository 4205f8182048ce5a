package ratelimit

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/akidb/akidb/serve/api"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newLimiter(t testing.TB, clock *fakeClock, cfg Config) *Limiter {
	t.Helper()
	cfg.Now = clock.Now
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

var defaultRates = Rates{Tenant: Rate{QPS: 100, Burst: 200}}

// wantDecision compares the bucket numbers of a decision; its QPS and
// Source are TestDecisionNamesTheLimit's.
func wantDecision(t *testing.T, what string, got, want Decision) {
	t.Helper()
	got.QPS, got.Source = 0, ""
	if got != want {
		t.Fatalf("%s: got %+v\nwant %+v", what, got, want)
	}
}

// The default bucket: 200 at once, then exactly one per 10 ms.
func TestBurstThenExactRefill(t *testing.T) {
	clock := newFakeClock()
	l := newLimiter(t, clock, Config{})

	wantDecision(t, "first", l.Allow("acme", "", defaultRates),
		Decision{Allowed: true, Burst: 200, Remaining: 199, Reset: 10 * time.Millisecond})
	for i := 2; i < 200; i++ {
		if d := l.Allow("acme", "", defaultRates); !d.Allowed || d.Remaining != 200-i {
			t.Fatalf("request %d: %+v", i, d)
		}
	}
	wantDecision(t, "200th", l.Allow("acme", "", defaultRates),
		Decision{Allowed: true, Burst: 200, Remaining: 0, Reset: 2 * time.Second})
	refused := Decision{Allowed: false, Burst: 200, Remaining: 0, Reset: 2 * time.Second, RetryAfter: 10 * time.Millisecond}
	wantDecision(t, "201st", l.Allow("acme", "", defaultRates), refused)
	// A refusal takes nothing: asking again says the same.
	wantDecision(t, "202nd", l.Allow("acme", "", defaultRates), refused)

	clock.Advance(9 * time.Millisecond)
	wantDecision(t, "after 9ms", l.Allow("acme", "", defaultRates),
		Decision{Allowed: false, Burst: 200, Remaining: 0, Reset: 1991 * time.Millisecond, RetryAfter: time.Millisecond})
	clock.Advance(time.Millisecond)
	wantDecision(t, "after 10ms", l.Allow("acme", "", defaultRates),
		Decision{Allowed: true, Burst: 200, Remaining: 0, Reset: 2 * time.Second})
	wantDecision(t, "again after 10ms", l.Allow("acme", "", defaultRates), refused)

	// 50 ms buys exactly 5.
	clock.Advance(50 * time.Millisecond)
	for i := 0; i < 5; i++ {
		if d := l.Allow("acme", "", defaultRates); !d.Allowed {
			t.Fatalf("refill request %d refused: %+v", i, d)
		}
	}
	if d := l.Allow("acme", "", defaultRates); d.Allowed {
		t.Fatalf("a sixth request after 50ms was allowed: %+v", d)
	}

	// Two idle seconds fill the bucket, and no more: 200, then refused.
	clock.Advance(time.Hour)
	for i := 0; i < 200; i++ {
		if d := l.Allow("acme", "", defaultRates); !d.Allowed {
			t.Fatalf("after an hour, request %d refused", i)
		}
	}
	if d := l.Allow("acme", "", defaultRates); d.Allowed {
		t.Fatal("the bucket held more than its burst")
	}

	// Other tenants have buckets of their own.
	if d := l.Allow("other", "", defaultRates); !d.Allowed || d.Remaining != 199 {
		t.Fatalf("another tenant: %+v", d)
	}
}

// Retry-After is the wait for the next token rounded up to whole seconds,
// at least 1; X-RateLimit-Reset the wait until full, rounded up.
func TestHeadersAndRetryAfter(t *testing.T) {
	clock := newFakeClock()
	l := newLimiter(t, clock, Config{})
	slow := Rates{Tenant: Rate{QPS: 0.25, Burst: 2}} // one token per 4 s

	d := l.Allow("t", "", slow)
	if h := d.Headers(); len(h) != 4 || h[HeaderLimit] != "0.25" || h[HeaderBurst] != "2" || h[HeaderRemaining] != "1" || h[HeaderReset] != "4" {
		t.Fatalf("allowed headers %v", h)
	}
	if d.Err("t", "") != nil || d.RetryAfterSeconds() != 0 {
		t.Fatalf("allowed: err %v, retry after %d", d.Err("t", ""), d.RetryAfterSeconds())
	}
	l.Allow("t", "", slow)
	d = l.Allow("t", "", slow)
	if d.Allowed || d.RetryAfter != 4*time.Second {
		t.Fatalf("refused: %+v", d)
	}
	clock.Advance(1500 * time.Millisecond) // 2.5 s to go: Retry-After 3
	d = l.Allow("t", "", slow)
	want := map[string]string{HeaderLimit: "0.25", HeaderBurst: "2", HeaderRemaining: "0", HeaderReset: "7", HeaderRetryAfter: "3"}
	if h := d.Headers(); fmt.Sprint(h) != fmt.Sprint(want) {
		t.Fatalf("refused headers %v, want %v", h, want)
	}
	e := d.Err("t", "")
	if e == nil || e.Code != api.CodeRateLimited || e.RetryAfterSeconds != 3 {
		t.Fatalf("refused error %+v", e)
	}
	if st := api.StatusOf(e.Code); st.HTTP != http.StatusTooManyRequests {
		t.Fatalf("rate_limited maps to HTTP %d", st.HTTP)
	}
	// Waiting exactly Retry-After is enough.
	clock.Advance(3 * time.Second)
	if d := l.Allow("t", "", slow); !d.Allowed {
		t.Fatalf("after Retry-After: %+v", d)
	}

	// Under a second to wait is still Retry-After: 1 (never 0).
	for _, c := range []struct {
		wait time.Duration
		secs int
	}{{0, 1}, {time.Nanosecond, 1}, {999 * time.Millisecond, 1}, {time.Second, 1}, {time.Second + 1, 2}, {2 * time.Second, 2}} {
		d := Decision{Allowed: false, Burst: 1, RetryAfter: c.wait}
		if got := d.RetryAfterSeconds(); got != c.secs || d.Err("t", "").RetryAfterSeconds != c.secs || d.Headers()[HeaderRetryAfter] != fmt.Sprint(c.secs) {
			t.Errorf("RetryAfter %v: %d seconds, want %d", c.wait, got, c.secs)
		}
	}
	// Not limited at all: no headers.
	if h := (Decision{Allowed: true}).Headers(); h != nil {
		t.Fatalf("unlimited decision has headers %v", h)
	}
}

// A request must pass its tenant's bucket and its key's; the one refusing
// it takes nothing from the other.
func TestKeyAndTenantBuckets(t *testing.T) {
	clock := newFakeClock()
	l := newLimiter(t, clock, Config{})
	tenant := Rate{QPS: 100, Burst: 200}
	withKey := Rates{Tenant: tenant, Key: Rate{QPS: 1, Burst: 2}}
	noKeyRate := Rates{Tenant: tenant}

	// The key's bucket binds: its numbers are in the headers.
	wantDecision(t, "key 1", l.Allow("acme", "keyA", withKey), Decision{Allowed: true, Burst: 2, Remaining: 1, Reset: time.Second})
	wantDecision(t, "key 2", l.Allow("acme", "keyA", withKey), Decision{Allowed: true, Burst: 2, Remaining: 0, Reset: 2 * time.Second})
	wantDecision(t, "key 3", l.Allow("acme", "keyA", withKey),
		Decision{Allowed: false, Burst: 2, Remaining: 0, Reset: 2 * time.Second, RetryAfter: time.Second})
	// The refusal cost the tenant nothing: 200 - 2 taken, then this one.
	wantDecision(t, "other key", l.Allow("acme", "keyB", noKeyRate),
		Decision{Allowed: true, Burst: 200, Remaining: 197, Reset: 30 * time.Millisecond})

	// Now the tenant's bucket is the stricter one.
	clock.Advance(time.Hour)
	small := Rates{Tenant: Rate{QPS: 2, Burst: 2}, Key: Rate{QPS: 100, Burst: 200}}
	l.Allow("tiny", "keyB", Rates{Tenant: small.Tenant})
	l.Allow("tiny", "keyB", Rates{Tenant: small.Tenant})
	wantDecision(t, "tenant empty", l.Allow("tiny", "keyC", small),
		Decision{Allowed: false, Burst: 2, Remaining: 0, Reset: time.Second, RetryAfter: 500 * time.Millisecond})
	if b, _ := l.buckets.Peek(bucketKey{key: true, id: "keyC"}); b == nil || b.tokens != 200 {
		t.Fatalf("the tenant's refusal took from the key's bucket: %+v", b)
	}

	// Both empty: Retry-After is the longer wait.
	clock.Advance(time.Hour)
	both := Rates{Tenant: Rate{QPS: 4, Burst: 1}, Key: Rate{QPS: 1, Burst: 1}}
	l.Allow("pair", "keyD", both)
	d := l.Allow("pair", "keyD", both)
	if d.Allowed || d.RetryAfter != time.Second || d.Burst != 1 || d.Reset != time.Second {
		t.Fatalf("both empty: %+v", d)
	}
	clock.Advance(250 * time.Millisecond) // the tenant has a token, the key not yet
	if d := l.Allow("pair", "keyD", both); d.Allowed || d.RetryAfter != 750*time.Millisecond {
		t.Fatalf("tenant refilled, key not: %+v", d)
	}
	if b, _ := l.buckets.Peek(bucketKey{id: "pair"}); b.tokens != 1 {
		t.Fatalf("the key's refusal took from the tenant's bucket: tokens %v", b.tokens)
	}

	// A key rate without a key id, or a key with no rate, adds no bucket.
	if d := l.Allow("solo", "", Rates{Key: Rate{QPS: 1, Burst: 1}}); !d.Allowed || d.Limited() {
		t.Fatalf("key rate without a key: %+v", d)
	}
}

// A change of rate applies from the next request.
func TestRuntimeChangeAppliesOnNextRequest(t *testing.T) {
	clock := newFakeClock()
	l := newLimiter(t, clock, Config{})
	for i := 0; i < 200; i++ {
		l.Allow("acme", "", defaultRates)
	}
	if d := l.Allow("acme", "", defaultRates); d.Allowed || d.RetryAfter != 10*time.Millisecond {
		t.Fatalf("drained: %+v", d)
	}
	faster := Rates{Tenant: Rate{QPS: 1000, Burst: 2000}}
	wantDecision(t, "faster", l.Allow("acme", "", faster),
		Decision{Allowed: false, Burst: 2000, Remaining: 0, Reset: 2 * time.Second, RetryAfter: time.Millisecond})
	clock.Advance(time.Millisecond)
	if d := l.Allow("acme", "", faster); !d.Allowed {
		t.Fatalf("one token at 1000/s after 1ms: %+v", d)
	}

	// A lower burst caps a full bucket at once.
	clock.Advance(time.Hour)
	l.Allow("acme", "", faster)
	low := Rates{Tenant: Rate{QPS: 1000, Burst: 10}}
	wantDecision(t, "lower burst", l.Allow("acme", "", low), Decision{Allowed: true, Burst: 10, Remaining: 9, Reset: time.Millisecond})

	// Disabled: allowed, no headers, and the bucket is left alone.
	if d := l.Allow("acme", "", Rates{}); !d.Allowed || d.Limited() || d.Headers() != nil {
		t.Fatalf("disabled: %+v", d)
	}
	wantDecision(t, "re-enabled", l.Allow("acme", "", low), Decision{Allowed: true, Burst: 10, Remaining: 8, Reset: 2 * time.Millisecond})
}

func TestClockSteppingBackAddsNothing(t *testing.T) {
	clock := newFakeClock()
	l := newLimiter(t, clock, Config{})
	r := Rates{Tenant: Rate{QPS: 1, Burst: 1}}
	clock.Advance(time.Minute)
	l.Allow("t", "", r)
	clock.Advance(-30 * time.Second)
	if d := l.Allow("t", "", r); d.Allowed || d.RetryAfter != time.Second {
		t.Fatalf("after the clock stepped back: %+v", d)
	}
	clock.Advance(30*time.Second + time.Second)
	if d := l.Allow("t", "", r); !d.Allowed {
		t.Fatalf("a second after the old time: %+v", d)
	}
}

// The bucket map stays bounded; full buckets go first, and dropping them
// changes no decision.
func TestEvictionBounded(t *testing.T) {
	clock := newFakeClock()
	l := newLimiter(t, clock, Config{MaxBuckets: 3, SweepInterval: time.Minute})
	r := Rates{Tenant: Rate{QPS: 1, Burst: 5}}

	// Five tenants at one instant: none is full, so the least recently
	// used go to make room.
	for i := 0; i < 5; i++ {
		l.Allow(fmt.Sprint("t", i), "", r)
		if n := l.Len(); n > 3 {
			t.Fatalf("%d buckets held, bound 3", n)
		}
	}
	if l.Evicted() != 2 {
		t.Fatalf("evicted %d active buckets, want 2", l.Evicted())
	}
	// Once they have refilled, new tenants replace full buckets: nothing
	// active is evicted.
	clock.Advance(time.Second)
	for i := 5; i < 8; i++ {
		l.Allow(fmt.Sprint("t", i), "", r)
	}
	if l.Evicted() != 2 || l.Len() != 3 {
		t.Fatalf("after refill: %d held, %d evicted", l.Len(), l.Evicted())
	}
	// The periodic sweep drops idle buckets.
	clock.Advance(time.Minute)
	l.Allow("t9", "", r)
	if n := l.Len(); n != 1 {
		t.Fatalf("after a sweep %d buckets held, want only the one just used", n)
	}
}

// A limiter that drops full buckets on every request decides exactly as
// one that never drops any.
func TestSweepingFullBucketsChangesNothing(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	clock := newFakeClock()
	sweeping := newLimiter(t, clock, Config{SweepInterval: time.Nanosecond})
	keeping := newLimiter(t, clock, Config{SweepInterval: 1000 * time.Hour})
	rates := []Rates{
		{Tenant: Rate{QPS: 10, Burst: 3}},
		{Tenant: Rate{QPS: 10, Burst: 3}, Key: Rate{QPS: 2, Burst: 2}},
		{Tenant: Rate{QPS: 50, Burst: 100}},
	}
	swept := false
	for i := 0; i < 20000; i++ {
		clock.Advance(time.Duration(rng.IntN(int(200 * time.Millisecond))))
		tenant := rng.IntN(len(rates))
		key := fmt.Sprint("k", rng.IntN(3))
		a := sweeping.Allow(fmt.Sprint("t", tenant), key, rates[tenant])
		b := keeping.Allow(fmt.Sprint("t", tenant), key, rates[tenant])
		if a != b {
			t.Fatalf("request %d: sweeping limiter %+v, keeping one %+v", i, a, b)
		}
		swept = swept || sweeping.Len() < keeping.Len()
	}
	if !swept {
		t.Fatal("the sweeping limiter never dropped a bucket: the test proves nothing")
	}
}

// Many goroutines at one instant: exactly the burst passes, per key and
// per tenant, and a refusal by the tenant takes nothing from a key.
func TestConcurrentAllow(t *testing.T) {
	clock := newFakeClock()
	l := newLimiter(t, clock, Config{})
	const keys, goroutinesPerKey, tries = 5, 4, 100
	r := Rates{Tenant: Rate{QPS: 1, Burst: 100}, Key: Rate{QPS: 1, Burst: 30}}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		perKey  = map[string]int{}
		allowed int
	)
	for k := 0; k < keys; k++ {
		key := fmt.Sprint("key", k)
		for g := 0; g < goroutinesPerKey; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n := 0
				for i := 0; i < tries; i++ {
					if l.Allow("acme", key, r).Allowed {
						n++
					}
				}
				mu.Lock()
				perKey[key] += n
				allowed += n
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	if allowed != 100 {
		t.Fatalf("%d allowed, want the tenant's burst of 100", allowed)
	}
	spent := 0
	for k, n := range perKey {
		if n > 30 {
			t.Fatalf("key %s got %d, more than its burst of 30", k, n)
		}
		b, _ := l.buckets.Peek(bucketKey{key: true, id: k})
		if got := 30 - int(b.tokens); got != n {
			t.Fatalf("key %s: %d tokens taken for %d allowed requests", k, got, n)
		}
		spent += n
	}
	if spent != 100 {
		t.Fatalf("keys charged %d, want 100", spent)
	}
}

func BenchmarkAllowParallel(b *testing.B) {
	clock := newFakeClock()
	l := newLimiter(b, clock, Config{})
	r := Rates{Tenant: Rate{QPS: 1e9, Burst: 1e9}, Key: Rate{QPS: 1e9, Burst: 1e9}}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Allow("acme", "key", r)
		}
	})
}
