package tier_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/akidb/akidb/engine/tier"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func newBreaker(clk tier.Clock, changes *[]string) *tier.Breaker {
	return tier.NewBreaker(tier.BreakerConfig{Clock: clk, OnStateChange: func(from, to tier.BreakerState, _ error) {
		if changes != nil {
			*changes = append(*changes, from.String()+">"+to.String())
		}
	}})
}

// call runs one call through b that fails with err; it reports whether
// the call reached the store.
func call(b *tier.Breaker, err error) bool {
	reached := false
	_ = b.Do(context.Background(), func(context.Context) error { reached = true; return err })
	return reached
}

func TestBreakerOpensOnConsecutiveFailuresAndClosesThroughHalfOpen(t *testing.T) {
	clk := tier.NewManualClock(t0)
	var changes []string
	b := newBreaker(clk, &changes)
	for i := range 4 {
		call(b, tier.ErrInjected)
		if b.State() != tier.BreakerClosed {
			t.Fatalf("open after %d failures", i+1)
		}
	}
	call(b, tier.ErrInjected)
	if st := b.Status(); st.State != tier.BreakerOpen || st.ConsecutiveFailures != 5 || st.Failures != 5 || st.Opens != 1 || st.LastError == "" {
		t.Fatalf("after 5 consecutive failures: %+v", st)
	}
	if call(b, nil) {
		t.Fatal("an open breaker let a call through")
	}
	if err := b.Do(context.Background(), func(context.Context) error { return nil }); !errors.Is(err, tier.ErrBreakerOpen) {
		t.Fatalf("open breaker: %v", err)
	}
	clk.Advance(30*time.Second - time.Millisecond)
	if call(b, nil) {
		t.Fatal("a call went through before the cool-down ended")
	}
	clk.Advance(time.Millisecond)
	if b.State() != tier.BreakerHalfOpen {
		t.Fatalf("after the cool-down: %v, want half-open", b.State())
	}
	// One probe only: a second caller is refused while it runs.
	done, err := b.Allow()
	if err != nil {
		t.Fatalf("probe refused: %v", err)
	}
	if call(b, nil) {
		t.Fatal("a second call went through while the probe was under way")
	}
	done(nil)
	if st := b.Status(); st.State != tier.BreakerClosed || st.Rejected != 4 {
		t.Fatalf("after a good probe: %+v", st)
	}
	if fmt.Sprint(changes) != "[closed>open open>half-open half-open>closed]" {
		t.Fatalf("transitions: %v", changes)
	}
}

func TestBreakerCooldownDoublesWhileProbesFailUpToTheMaximum(t *testing.T) {
	clk := tier.NewManualClock(t0)
	b := newBreaker(clk, nil)
	for range 5 {
		call(b, tier.ErrInjected)
	}
	for _, want := range []time.Duration{60 * time.Second, 120 * time.Second, 240 * time.Second, 300 * time.Second, 300 * time.Second} {
		clk.Advance(b.Status().Cooldown)
		if !call(b, tier.ErrInjected) {
			t.Fatal("no probe after the cool-down")
		}
		st := b.Status()
		if st.State != tier.BreakerOpen || st.Cooldown != want || !st.OpenUntil.Equal(clk.Now().Add(want)) {
			t.Fatalf("after a failed probe: %+v, want open for %v", st, want)
		}
	}
	clk.Advance(300 * time.Second)
	call(b, nil)
	if st := b.Status(); st.State != tier.BreakerClosed || st.Cooldown != 30*time.Second {
		t.Fatalf("after a good probe: %+v, want closed with the cool-down back at 30s", st)
	}
}

func TestBreakerOpensOnTheFailureRateOfItsWindow(t *testing.T) {
	clk := tier.NewManualClock(t0)
	b := newBreaker(clk, nil)
	// Alternating outcomes never make 5 consecutive failures; 5 of 9 is
	// over 50% but under the minimum of 10 calls.
	for i := range 9 {
		var err error
		if i%2 == 0 {
			err = tier.ErrInjected
		}
		call(b, err)
		clk.Advance(time.Second)
	}
	if st := b.Status(); st.State != tier.BreakerClosed || st.WindowCalls != 9 || st.WindowFailures != 5 {
		t.Fatalf("9 calls: %+v", st)
	}
	call(b, nil) // 10 calls, 5 failures: 50% is enough, but the last call succeeded
	if b.State() != tier.BreakerClosed {
		t.Fatal("a success tripped the breaker")
	}
	call(b, tier.ErrInjected) // 6 of 11
	if b.State() != tier.BreakerOpen {
		t.Fatalf("6 failures in 11 calls: %+v", b.Status())
	}
}

func TestBreakerWindowSlides(t *testing.T) {
	clk := tier.NewManualClock(t0)
	b := newBreaker(clk, nil)
	for range 4 {
		call(b, tier.ErrInjected)
		call(b, nil)
	}
	clk.Advance(61 * time.Second) // the 8 calls above leave the window
	for range 5 {
		call(b, nil)
	}
	for range 4 {
		call(b, tier.ErrInjected)
	}
	call(b, nil)
	// 4 failures in the 10 calls of the last minute (the older ones do not
	// count): under 50%.
	if st := b.Status(); st.State != tier.BreakerClosed || st.WindowCalls != 10 || st.WindowFailures != 4 || st.Failures != 8 {
		t.Fatalf("%+v", st)
	}
}

func TestBreakerIgnoresAnswersThatAreNotStoreFailures(t *testing.T) {
	b := newBreaker(tier.NewManualClock(t0), nil)
	for range 10 {
		call(b, fmt.Errorf("head x: %w", tier.ErrNotFound))
		call(b, tier.ErrChecksumMismatch)
		call(b, context.Canceled)
	}
	if st := b.Status(); st.State != tier.BreakerClosed || st.Failures != 0 {
		t.Fatalf("%+v", st)
	}
}

func TestBreakerStaleOutcomeDoesNotDecide(t *testing.T) {
	clk := tier.NewManualClock(t0)
	b := newBreaker(clk, nil)
	slow, err := b.Allow() // started while closed
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		call(b, tier.ErrInjected)
	}
	slow(nil) // finishes after the breaker opened: must not close it
	if b.State() != tier.BreakerOpen {
		t.Fatalf("a call begun before the breaker opened closed it: %v", b.State())
	}
}

func TestBreakerReset(t *testing.T) {
	clk := tier.NewManualClock(t0)
	b := newBreaker(clk, nil)
	for range 5 {
		call(b, tier.ErrInjected)
	}
	b.Reset()
	if st := b.Status(); st.State != tier.BreakerClosed || st.ConsecutiveFailures != 0 || st.WindowCalls != 0 {
		t.Fatalf("after reset: %+v", st)
	}
	if !call(b, nil) {
		t.Fatal("a reset breaker refused a call")
	}
}
