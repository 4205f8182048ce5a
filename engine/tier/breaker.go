package tier

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrBreakerOpen is returned instead of calling the store while its
// circuit breaker is open (or half-open with its one probe under way).
var ErrBreakerOpen = errors.New("circuit breaker open: object store calls are suspended")

// BreakerState is a circuit breaker's state. The values are those of the
// akidb_circuit_breaker_state gauge.
type BreakerState int

// The states.
const (
	BreakerClosed   BreakerState = 0
	BreakerHalfOpen BreakerState = 1
	BreakerOpen     BreakerState = 2
)

func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerHalfOpen:
		return "half-open"
	case BreakerOpen:
		return "open"
	}
	return fmt.Sprintf("BreakerState(%d)", int(s))
}

// BreakerConfig tunes a Breaker; zero fields take the defaults.
type BreakerConfig struct {
	// Window is the sliding window the failure rate is measured over
	// (default 1 minute), in 60 buckets.
	Window time.Duration
	// MinCalls is how many calls the window must hold before the rate can
	// trip the breaker (default 10).
	MinCalls int
	// FailureRate trips the breaker when at least this fraction of the
	// window's calls failed (default 0.5).
	FailureRate float64
	// ConsecutiveFailures trips it regardless of the window (default 5).
	ConsecutiveFailures int
	// Cooldown is how long it stays open before letting one probe through
	// (default 30s); it doubles each time a probe fails, up to MaxCooldown
	// (default 5 minutes), and returns to Cooldown once a probe succeeds.
	Cooldown    time.Duration
	MaxCooldown time.Duration
	// Clock is the time source (default the system clock).
	Clock Clock
	// OnStateChange, if set, is called after every transition (outside
	// the breaker's lock).
	OnStateChange func(from, to BreakerState, cause error)
}

func (c BreakerConfig) withDefaults() BreakerConfig {
	if c.Window <= 0 {
		c.Window = time.Minute
	}
	if c.MinCalls <= 0 {
		c.MinCalls = 10
	}
	if c.FailureRate <= 0 || c.FailureRate > 1 {
		c.FailureRate = 0.5
	}
	if c.ConsecutiveFailures <= 0 {
		c.ConsecutiveFailures = 5
	}
	if c.Cooldown <= 0 {
		c.Cooldown = 30 * time.Second
	}
	if c.MaxCooldown < c.Cooldown {
		c.MaxCooldown = max(5*time.Minute, c.Cooldown)
	}
	if c.Clock == nil {
		c.Clock = SystemClock{}
	}
	return c
}

const breakerBuckets = 60

type bucket struct {
	start     time.Time
	ok, fails int
}

// Breaker is a circuit breaker in front of one object store: closed (calls
// go through), open (calls fail at once with ErrBreakerOpen, so an upload
// goes to the dead-letter queue instead of waiting on a timeout) and
// half-open (one probe call goes through; its outcome closes or reopens
// the breaker). Safe for concurrent use.
type Breaker struct {
	cfg    BreakerConfig
	bucket time.Duration

	mu          sync.Mutex
	state       BreakerState
	since       time.Time
	gen         uint64 // bumped on every transition; stale outcomes are not judged
	cooldown    time.Duration
	openUntil   time.Time
	probing     bool
	buckets     [breakerBuckets]bucket
	consecutive int
	successes   uint64
	failures    uint64
	rejected    uint64
	opens       uint64
	lastErr     string
	lastErrAt   time.Time
}

// NewBreaker returns a closed breaker.
func NewBreaker(cfg BreakerConfig) *Breaker {
	cfg = cfg.withDefaults()
	return &Breaker{cfg: cfg, bucket: cfg.Window / breakerBuckets, since: cfg.Clock.Now(), cooldown: cfg.Cooldown}
}

// Do runs fn if the breaker lets the call through and records its outcome;
// otherwise it returns ErrBreakerOpen without calling fn.
func (b *Breaker) Do(ctx context.Context, fn func(context.Context) error) error {
	done, err := b.Allow()
	if err != nil {
		return err
	}
	err = fn(ctx)
	done(err)
	return err
}

// Allow admits one call: it returns ErrBreakerOpen, or a function to call
// with the call's outcome.
func (b *Breaker) Allow() (done func(error), err error) {
	b.mu.Lock()
	now := b.cfg.Clock.Now()
	var change *transition
	if b.state == BreakerOpen && !now.Before(b.openUntil) {
		change = b.setLocked(BreakerHalfOpen, now, nil)
	}
	switch {
	case b.state == BreakerOpen, b.state == BreakerHalfOpen && b.probing:
		b.rejected++
		b.mu.Unlock()
		b.notify(change)
		return nil, ErrBreakerOpen
	case b.state == BreakerHalfOpen:
		b.probing = true
	}
	gen := b.gen
	b.mu.Unlock()
	b.notify(change)
	var once sync.Once
	return func(err error) { once.Do(func() { b.record(gen, err) }) }, nil
}

// CountsAsFailure says whether an outcome speaks against the store: a
// missing object, a checksum mismatch of bytes we sent (the local file
// changed) or a call the caller cancelled do not.
func CountsAsFailure(err error) bool {
	switch {
	case err == nil, errors.Is(err, ErrNotFound), errors.Is(err, ErrChecksumMismatch), errors.Is(err, context.Canceled):
		return false
	}
	return true
}

type transition struct {
	from, to BreakerState
	cause    error
}

func (b *Breaker) record(gen uint64, err error) {
	if errors.Is(err, context.Canceled) {
		// Nothing was learnt about the store; a probe must be retried.
		b.mu.Lock()
		if gen == b.gen && b.state == BreakerHalfOpen {
			b.probing = false
		}
		b.mu.Unlock()
		return
	}
	failed := CountsAsFailure(err)
	b.mu.Lock()
	now := b.cfg.Clock.Now()
	bk := b.bucketLocked(now)
	if failed {
		bk.fails++
		b.failures++
		b.consecutive++
		b.lastErr, b.lastErrAt = err.Error(), now
	} else {
		bk.ok++
		b.successes++
		b.consecutive = 0
	}
	var change *transition
	if gen == b.gen {
		switch b.state {
		case BreakerHalfOpen:
			if failed {
				b.cooldown = min(2*b.cooldown, b.cfg.MaxCooldown)
				change = b.setLocked(BreakerOpen, now, err)
			} else {
				b.cooldown = b.cfg.Cooldown
				change = b.setLocked(BreakerClosed, now, nil)
			}
		case BreakerClosed:
			if failed && b.shouldTripLocked(now) {
				change = b.setLocked(BreakerOpen, now, err)
			}
		}
	}
	b.mu.Unlock()
	b.notify(change)
}

func (b *Breaker) shouldTripLocked(now time.Time) bool {
	if b.consecutive >= b.cfg.ConsecutiveFailures {
		return true
	}
	calls, fails := b.windowLocked(now)
	return calls >= b.cfg.MinCalls && float64(fails) >= b.cfg.FailureRate*float64(calls)
}

// bucketLocked returns the bucket now falls in, clearing it if it last
// held an older period.
func (b *Breaker) bucketLocked(now time.Time) *bucket {
	start := now.Truncate(b.bucket)
	bk := &b.buckets[(start.UnixNano()/int64(b.bucket))%breakerBuckets]
	if !bk.start.Equal(start) {
		*bk = bucket{start: start}
	}
	return bk
}

func (b *Breaker) windowLocked(now time.Time) (calls, fails int) {
	from := now.Add(-b.cfg.Window)
	for _, bk := range b.buckets {
		if bk.start.After(from) && !bk.start.After(now) {
			calls += bk.ok + bk.fails
			fails += bk.fails
		}
	}
	return calls, fails
}

func (b *Breaker) setLocked(to BreakerState, now time.Time, cause error) *transition {
	t := &transition{from: b.state, to: to, cause: cause}
	b.state, b.since, b.probing = to, now, false
	b.gen++
	switch to {
	case BreakerOpen:
		b.openUntil = now.Add(b.cooldown)
		b.opens++
	case BreakerClosed:
		b.buckets = [breakerBuckets]bucket{}
		b.consecutive = 0
	}
	return t
}

func (b *Breaker) notify(t *transition) {
	if t != nil && b.cfg.OnStateChange != nil {
		b.cfg.OnStateChange(t.from, t.to, t.cause)
	}
}

// Reset closes the breaker now (an operator's POST
// /admin/storage/circuit-breaker/reset) and forgets the window.
func (b *Breaker) Reset() {
	b.mu.Lock()
	var change *transition
	b.cooldown = b.cfg.Cooldown
	if b.state != BreakerClosed {
		change = b.setLocked(BreakerClosed, b.cfg.Clock.Now(), nil)
	} else {
		b.buckets = [breakerBuckets]bucket{}
		b.consecutive = 0
	}
	b.mu.Unlock()
	b.notify(change)
}

// BreakerStatus is a breaker's state for GET /admin/storage/status.
type BreakerStatus struct {
	State BreakerState
	Since time.Time
	// OpenUntil is when an open breaker lets its next probe through.
	OpenUntil time.Time
	Cooldown  time.Duration
	// Counts since the start: calls that succeeded, failed, and calls
	// refused while open; Opens is how many times it opened.
	Successes, Failures, Rejected, Opens uint64
	ConsecutiveFailures                  int
	// WindowCalls and WindowFailures are the sliding window's counts.
	WindowCalls, WindowFailures int
	LastError                   string
	LastErrorAt                 time.Time
}

// Status reports the breaker's state and counts. An open breaker whose
// cool-down has passed reports half-open: the next call is the probe.
func (b *Breaker) Status() BreakerStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.cfg.Clock.Now()
	st := b.state
	since := b.since
	if st == BreakerOpen && !now.Before(b.openUntil) {
		st, since = BreakerHalfOpen, b.openUntil
	}
	calls, fails := b.windowLocked(now)
	out := BreakerStatus{State: st, Since: since, Cooldown: b.cooldown, Successes: b.successes, Failures: b.failures,
		Rejected: b.rejected, Opens: b.opens, ConsecutiveFailures: b.consecutive, WindowCalls: calls, WindowFailures: fails,
		LastError: b.lastErr, LastErrorAt: b.lastErrAt}
	if b.state == BreakerOpen {
		out.OpenUntil = b.openUntil
	}
	return out
}

// State is Status().State.
func (b *Breaker) State() BreakerState { return b.Status().State }
