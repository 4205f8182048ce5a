package auth

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/akidb/akidb/serve/api"
)

func TestFailureThrottle(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	_, key := mustCreate(t, e, "default", RoleReader, nil, 0)
	bad := "ak_aaaaaaaaaaaaaaaa_" + key.Reveal()[20:]
	attacker := "203.0.113.7:5555"

	for i := 0; i < DefaultMaxFailures; i++ {
		_, err := e.a.Authenticate(ctx, bad, attacker)
		wantCode(t, err, api.CodeUnauthenticated)
		e.clock.Advance(time.Second)
	}
	// Refused without a look at the credential, even a good one, from
	// any port of that address.
	_, err := e.a.Authenticate(ctx, key.Reveal(), "203.0.113.7:6000")
	ae := wantCode(t, err, api.CodeRateLimited)
	// Blocked for a window from the fifth failure, one second ago.
	if ae.RetryAfterSeconds != 59 {
		t.Fatalf("RetryAfterSeconds %d, want 59", ae.RetryAfterSeconds)
	}
	// Other addresses are not affected.
	if _, err := e.a.Authenticate(ctx, key.Reveal(), "203.0.113.8:1"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(58*time.Second + 500*time.Millisecond)
	_, err = e.a.Authenticate(ctx, key.Reveal(), attacker)
	if ae := wantCode(t, err, api.CodeRateLimited); ae.RetryAfterSeconds != 1 {
		t.Fatalf("RetryAfterSeconds %d, want 1 (rounded up)", ae.RetryAfterSeconds)
	}
	e.clock.Advance(500 * time.Millisecond)
	if _, err := e.a.Authenticate(ctx, key.Reveal(), attacker); err != nil {
		t.Fatalf("after the block: %v", err)
	}

	// Failures spread wider than the window never block.
	slow := "203.0.113.9:1"
	for round := 0; round < 3; round++ {
		for i := 0; i < DefaultMaxFailures-1; i++ {
			_, err := e.a.Authenticate(ctx, bad, slow)
			wantCode(t, err, api.CodeUnauthenticated)
		}
		e.clock.Advance(DefaultFailureWindow)
	}
	// Missing credentials are not counted.
	for i := 0; i < 2*DefaultMaxFailures; i++ {
		_, err := e.a.Authenticate(ctx, "", "203.0.113.10:1")
		wantCode(t, err, api.CodeUnauthenticated)
	}
}

func TestThrottleIPv6Prefix(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, func(c *Config) { c.Throttle = ThrottleConfig{MaxFailures: 3, Window: time.Minute} })
	for i := 1; i <= 3; i++ {
		_, err := e.a.Authenticate(ctx, "bad", fmt.Sprintf("[2001:db8:1:2::%x]:443", i))
		wantCode(t, err, api.CodeUnauthenticated)
	}
	_, err := e.a.Authenticate(ctx, "bad", "[2001:db8:1:2:ffff::1]:443")
	wantCode(t, err, api.CodeRateLimited)
	_, err = e.a.Authenticate(ctx, "bad", "[2001:db8:1:3::1]:443")
	wantCode(t, err, api.CodeUnauthenticated)

	for in, want := range map[string]string{
		"192.0.2.1:80":         "192.0.2.1",
		"[::ffff:192.0.2.1]:1": "192.0.2.1",
		"192.0.2.1":            "192.0.2.1",
		"[fe80::1%eth0]:1":     "fe80::/64",
		"unix-socket":          "unix-socket",
		"":                     "",
	} {
		if got := addrKey(in); got != want {
			t.Errorf("addrKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestThrottleMemoryBounded(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, func(c *Config) { c.Throttle = ThrottleConfig{MaxAddresses: 3} })
	for i := 0; i < 50; i++ {
		_, _ = e.a.Authenticate(ctx, "bad", fmt.Sprintf("198.51.100.%d:1", i))
	}
	if n := e.a.throttle.len(); n != 3 {
		t.Fatalf("tracking %d addresses, want 3", n)
	}
}
