// Package ratelimit decides, at the front door, whether a request may
// start now: per-tenant (and optionally per-API-key) token buckets, and a
// server-wide bound on requests in flight. It knows no transport and no
// storage: the rates come from the caller on every request (serve/limits
// resolves them from the quotas and the runtime config), and the answers
// are a Decision (headers and an *api.Error) or an ok from the Shedder.
//
// # Token buckets
//
// A bucket holds at most Burst tokens and gains QPS tokens per second
// (default 100/s with a burst of 200); a request takes one. Buckets are
// arithmetic, not timers: a bucket refills when it is used, from the time
// since its last request, using the injected clock (Config.Now), so tests
// with a fake clock see exact numbers (whole rates and whole token counts
// are exact in float64). There is no goroutine per bucket or at all.
//
// A request of tenant T with API key K passes T's bucket and, if K has a
// rate of its own, K's bucket too: the stricter wins. Both buckets are
// checked before either is charged, under one lock, so a request is
// charged to both or to neither: a refusal by the key's bucket leaves the
// tenant's untouched and vice versa.
//
// Rates are passed on every call, so a change (a tenant's quota, the
// runtime default) applies from that tenant's next request: the time since
// the bucket's last request refills at the new rate, and a lower burst
// caps the tokens at once. A bucket that does not exist yet starts full.
//
// Idle buckets are dropped: every SweepInterval (1 minute) one request
// also removes the buckets that have refilled to full, which changes
// nothing, since a new bucket starts full (tested: a limiter sweeping on
// every request decides exactly as one that never sweeps). The map is
// bounded by MaxBuckets (10000); if it is full of buckets still refilling,
// the least recently used goes, which can only make its owner's next
// request more lenient (Evicted counts these).
//
// # Why the buckets are hand-written
//
// golang.org/x/time/rate does the same arithmetic, and its
// Reserve/CancelAt can charge two buckets or neither. It was measured
// against these buckets on the hot path (one request's Allow, with
// xrate_bench_test.go's BenchmarkAllowImpl, both in one process, five
// alternating rounds, median of the per-round ratios) and was slower:
// about 1.5x per request with a tenant bucket and with a tenant and a key
// bucket (2-core VM shared with other work: single runs swung by 2x or
// more). Each library call takes the limiter's own mutex (reserve, then
// TokensAt for the headers, then a cancel on refusal) under the lock this
// Limiter holds anyway. It would also change behaviour the tests pin
// down: a rate change refills the time before it at the old rate, a
// clock stepping back moves the bucket's clock back with it, and refill
// arithmetic in seconds (not nanoseconds) is not exact for whole rates.
// The benchmark and the library version stay in the tests, so the
// comparison can be run again:
//
//	go test ./serve/ratelimit -run '^$' -bench AllowImpl
//
// # Headers
//
// Every rate-limited REST response carries, for the bucket that binds
// more (fewer requests left, then the longer wait):
//
//	X-RateLimit-Limit      the rate, requests per second (the IETF drafts' limit per 1 s window)
//	X-RateLimit-Burst      the bucket size: requests possible at once
//	X-RateLimit-Remaining  whole tokens left after this request
//	X-RateLimit-Reset      seconds until the bucket is full again, rounded up (0: full)
//
// Reset is a delta in seconds, as in the IETF RateLimit header draft and
// like Retry-After, not a Unix time (GitHub's form), so client clocks do
// not matter. A refused request gets 429 rate_limited and Retry-After:
// the time until every bucket it needs holds a token, rounded up to whole
// seconds, at least 1; waiting that long is always enough. gRPC answers
// RESOURCE_EXHAUSTED with a RetryInfo detail of the same seconds (from
// api.Error.RetryAfterSeconds) and sends the headers as response header
// metadata with lowercase keys (serve/grpc). With rate limiting disabled the Decision
// has Limit 0 and no headers are sent.
//
// # Load shedding
//
// Shedder bounds the requests in flight (default 64 per CPU, at least 64:
// 128 on 2 cores) with one atomic compare-and-swap per admission. Past the
// bound a request is answered at once with 503 unavailable and
// Retry-After: 1 (OverloadedError) instead of queueing until everyone
// times out. WithRequestTimeout bounds each request (default 30 s, or the
// client's earlier deadline), which also bounds how long it holds its
// slot; a request stopped by the server's own bound (ServerTimedOut) is
// answered like a shed one, 503 with Retry-After: 1 (TimeoutError), while
// one stopped by the client's deadline is deadline_exceeded. The bound
// counts requests, not bytes: with 32 MiB bodies the worst case is 4 GiB
// on 2 cores, which is what GOMEMLIMIT (serve/limits.ApplyMemoryLimit)
// and the body limit are for.
//
// # Wiring
//
// The order of a request (REST middleware / gRPC interceptor; as wired in
// serve/rest, serve/grpc and serve/access):
//
//	probes (/healthz /livez /readyz /startupz) and /metrics, gRPC health
//	and reflection: none of this
//	shed: TryAcquire             -> 503 unavailable, Retry-After: 1; defer release()
//	      ctx = WithRequestTimeout(ctx, cfg.RequestTimeout)
//	authenticate                 -> 401 (the caller: tenant and key id)
//	rate limit: d := limiter.Allow(tenant, keyID, quotas.RatesFor(tenant, keyID))
//	      set d.Headers() on the response (also when refused);
//	      metrics.ObserveRateLimit(tenant, d.Allowed) if d.Limited()
//	      if e := d.Err(tenant, keyID); e != nil -> 429 rate_limited, Retry-After,
//	      naming the limit that refused it (d.Source) and how to raise it
//	authorize                    -> 403
//	service (quotas checked before writes: serve/limits.Guard) -> engine
//
// Shedding comes first so an overloaded server spends nothing on a
// request it cannot take, not even the key lookup; authentication comes
// before the buckets so the bucket is the caller's tenant's (an
// unauthenticated flood is the auth failure throttle's business). Probes
// and /metrics must never be shed or limited: an orchestrator that cannot
// probe an overloaded server restarts it.
package ratelimit
