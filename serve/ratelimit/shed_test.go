package ratelimit

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/akidb/akidb/serve/api"
)

func TestShedderBound(t *testing.T) {
	s := NewShedder(2)
	r1, ok1 := s.TryAcquire()
	r2, ok2 := s.TryAcquire()
	if !ok1 || !ok2 || s.InFlight() != 2 {
		t.Fatalf("first two: %v %v, in flight %d", ok1, ok2, s.InFlight())
	}
	if r, ok := s.TryAcquire(); ok || r != nil {
		t.Fatal("a third request was admitted past the bound of 2")
	}
	if s.Shed() != 1 {
		t.Fatalf("shed %d, want 1", s.Shed())
	}
	r1()
	r3, ok := s.TryAcquire()
	if !ok {
		t.Fatal("refused after a release")
	}
	r2()
	r3()
	if s.InFlight() != 0 {
		t.Fatalf("in flight %d after all releases", s.InFlight())
	}

	// Raising the bound admits more at once; lowering it refuses new ones.
	s.SetMax(3)
	var rs []func()
	for i := 0; i < 3; i++ {
		r, ok := s.TryAcquire()
		if !ok {
			t.Fatalf("request %d refused under a bound of 3", i)
		}
		rs = append(rs, r)
	}
	s.SetMax(1)
	if _, ok := s.TryAcquire(); ok {
		t.Fatal("admitted with 3 in flight under a bound of 1")
	}
	for _, r := range rs {
		r()
	}
	if _, ok := s.TryAcquire(); !ok {
		t.Fatal("refused with nothing in flight")
	}

	e := OverloadedError()
	if e.Code != api.CodeUnavailable || e.RetryAfterSeconds != 1 || api.StatusOf(e.Code).HTTP != http.StatusServiceUnavailable {
		t.Fatalf("overloaded error %+v", e)
	}
}

func TestShedderDefaults(t *testing.T) {
	if got := DefaultMaxInFlight(2); got != 128 {
		t.Fatalf("default for 2 CPUs %d, want 128", got)
	}
	if got := DefaultMaxInFlight(0); got != MinDefaultInFlight {
		t.Fatalf("default for 0 CPUs %d", got)
	}
	if got := NewShedder(0).Max(); got != DefaultMaxInFlight(runtime.GOMAXPROCS(0)) {
		t.Fatalf("NewShedder(0).Max() = %d", got)
	}
}

// Never more than the bound in flight, and every refusal counted.
func TestShedderConcurrent(t *testing.T) {
	const bound, goroutines, tries = 4, 16, 2000
	s := NewShedder(bound)
	var (
		wg       sync.WaitGroup
		inside   atomic.Int64
		peak     atomic.Int64
		admitted atomic.Int64
	)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < tries; i++ {
				release, ok := s.TryAcquire()
				if !ok {
					continue
				}
				admitted.Add(1)
				n := inside.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				runtime.Gosched()
				inside.Add(-1)
				release()
			}
		}()
	}
	wg.Wait()
	if p := peak.Load(); p > bound {
		t.Fatalf("%d requests inside at once, bound %d", p, bound)
	}
	if got := uint64(admitted.Load()) + s.Shed(); got != goroutines*tries {
		t.Fatalf("admitted + shed = %d, want %d", got, goroutines*tries)
	}
	if s.InFlight() != 0 {
		t.Fatalf("in flight %d at the end", s.InFlight())
	}
}

func TestWithRequestTimeout(t *testing.T) {
	before := time.Now()
	ctx, cancel := WithRequestTimeout(context.Background(), 0)
	defer cancel()
	dl, ok := ctx.Deadline()
	if !ok || dl.Before(before.Add(DefaultRequestTimeout)) || dl.After(time.Now().Add(DefaultRequestTimeout)) {
		t.Fatalf("default deadline %v (ok %v), want about now+%v", dl, ok, DefaultRequestTimeout)
	}

	// An earlier deadline of the client's stays.
	parent, cancelParent := context.WithTimeout(context.Background(), time.Second)
	defer cancelParent()
	want, _ := parent.Deadline()
	ctx2, cancel2 := WithRequestTimeout(parent, time.Hour)
	defer cancel2()
	if got, _ := ctx2.Deadline(); !got.Equal(want) {
		t.Fatalf("deadline %v, want the client's %v", got, want)
	}
	// A shorter server timeout wins over a later client deadline.
	ctx3, cancel3 := WithRequestTimeout(parent, time.Millisecond)
	defer cancel3()
	if got, _ := ctx3.Deadline(); !got.Before(want) {
		t.Fatalf("deadline %v not before the client's %v", got, want)
	}
	<-ctx3.Done() // the deadline really fires
	if ctx3.Err() != context.DeadlineExceeded {
		t.Fatalf("err %v", ctx3.Err())
	}
}

func BenchmarkShedderParallel(b *testing.B) {
	s := NewShedder(1 << 20)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if release, ok := s.TryAcquire(); ok {
				release()
			}
		}
	})
}

// TestServerTimedOut tells the server's request timeout from the client's
// deadline and from a cancellation.
func TestServerTimedOut(t *testing.T) {
	ctx, cancel := WithRequestTimeout(context.Background(), time.Millisecond)
	defer cancel()
	<-ctx.Done()
	if !ServerTimedOut(ctx, ctx.Err()) {
		t.Fatalf("the server's timeout fired, cause %v", context.Cause(ctx))
	}
	if !ServerTimedOut(ctx, api.AsError(ctx.Err())) {
		t.Fatal("the service's deadline_exceeded after the server's timeout is not recognised")
	}
	if ServerTimedOut(ctx, errors.New("other")) {
		t.Fatal("an unrelated error counts as the server's timeout")
	}

	client, cancelClient := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancelClient()
	ctx2, cancel2 := WithRequestTimeout(client, time.Hour)
	defer cancel2()
	<-ctx2.Done()
	if ServerTimedOut(ctx2, ctx2.Err()) {
		t.Fatal("the client's deadline counts as the server's timeout")
	}

	ctx3, cancel3 := WithRequestTimeout(context.Background(), time.Hour)
	cancel3()
	if ServerTimedOut(ctx3, ctx3.Err()) {
		t.Fatal("a cancellation counts as the server's timeout")
	}

	e := TimeoutError(2 * time.Second)
	if e.Code != api.CodeUnavailable || e.RetryAfterSeconds != 1 || !strings.Contains(e.Message, "2s") {
		t.Fatalf("TimeoutError = %+v", e)
	}
}

// A tenant holds at most its share of the bound; other tenants are still
// admitted, and the server's bound applies to all together.
func TestShedderTenantShare(t *testing.T) {
	s := NewShedder(4) // share 0.5: 2 per tenant
	if s.TenantMax() != 2 {
		t.Fatalf("TenantMax %d, want 2", s.TenantMax())
	}
	a1, e1 := s.Admit("a")
	a2, e2 := s.Admit("a")
	if e1 != nil || e2 != nil {
		t.Fatalf("first two of tenant a: %v %v", e1, e2)
	}
	if _, e := s.Admit("a"); e == nil || e.Code != api.CodeRateLimited || e.RetryAfterSeconds != 1 {
		t.Fatalf("third of tenant a: %+v, want rate_limited", e)
	}
	b1, e := s.Admit("b")
	if e != nil {
		t.Fatalf("tenant b refused while a holds its share: %v", e)
	}
	c1, e := s.Admit("c")
	if e != nil {
		t.Fatalf("tenant c: %v", e)
	}
	if _, e := s.Admit("d"); e == nil || e.Code != api.CodeUnavailable {
		t.Fatalf("past the server's bound: %+v, want unavailable", e)
	}
	if s.Shed() != 1 || s.TenantRefused() != 1 || s.InFlight() != 4 || s.TenantInFlight("a") != 2 {
		t.Fatalf("shed %d, tenant refused %d, in flight %d, a %d", s.Shed(), s.TenantRefused(), s.InFlight(), s.TenantInFlight("a"))
	}
	a1()
	a1() // a second release does nothing
	if s.InFlight() != 3 || s.TenantInFlight("a") != 1 {
		t.Fatalf("after a release: in flight %d, a %d", s.InFlight(), s.TenantInFlight("a"))
	}
	for _, r := range []func(){a2, b1, c1} {
		r()
	}
	if s.InFlight() != 0 || s.TenantInFlight("a") != 0 {
		t.Fatal("not all released")
	}
	s.SetTenantShare(0.25)
	if s.TenantMax() != 1 {
		t.Fatalf("share 0.25 of 4: %d", s.TenantMax())
	}
	// With a share of the whole bound, a full server answers with its
	// overload (503), not with the tenant's limit (429).
	s.SetTenantShare(1)
	var held []func()
	for range 4 {
		r, e := s.Admit("a")
		if e != nil {
			t.Fatalf("share 1: %v", e)
		}
		held = append(held, r)
	}
	if _, e := s.Admit("a"); e == nil || e.Code != api.CodeUnavailable {
		t.Fatalf("share 1, server full: %+v, want unavailable", e)
	}
	for _, r := range held {
		r()
	}
	s.SetTenantShare(0) // out of range: the default
	if s.TenantShare() != DefaultTenantShare {
		t.Fatalf("share %v", s.TenantShare())
	}
}
