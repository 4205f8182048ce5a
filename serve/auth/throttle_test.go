package auth

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/akidb/akidb/serve/api"
)

// TestFailureThrottle: repeated failures of one key id from one address
// refuse that key id from there for a window; other keys from the same
// address still work (a stale key does not lock out the device).
func TestFailureThrottle(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	_, key := mustCreate(t, e, "default", RoleReader, nil, 0)
	stale := "ak_aaaaaaaaaaaaaaaa_" + key.Reveal()[20:]
	attacker := "203.0.113.7:5555"

	for i := 0; i < DefaultMaxFailures; i++ {
		_, err := e.a.Authenticate(ctx, stale, attacker)
		wantCode(t, err, api.CodeUnauthenticated)
		e.clock.Advance(time.Second)
	}
	// That key id is refused from any port of the address, without a look
	// at the credential, for a window from the fifth failure.
	_, err := e.a.Authenticate(ctx, stale, "203.0.113.7:6000")
	ae := wantCode(t, err, api.CodeRateLimited)
	if ae.RetryAfterSeconds != 59 || !strings.Contains(ae.Message, "other keys still work") {
		t.Fatalf("stale key: %+v, want Retry-After 59", ae)
	}
	// Another key from the same address is not locked out.
	if _, err := e.a.Authenticate(ctx, key.Reveal(), "203.0.113.7:6001"); err != nil {
		t.Fatalf("a good key from the address of a stale one: %v", err)
	}
	if !strings.Contains(e.logs.String(), "key_id=aaaaaaaaaaaaaaaa") {
		t.Fatalf("the throttling was not logged with the key id:\n%s", e.logs.String())
	}
	e.clock.Advance(58*time.Second + 500*time.Millisecond)
	_, err = e.a.Authenticate(ctx, stale, attacker)
	if ae := wantCode(t, err, api.CodeRateLimited); ae.RetryAfterSeconds != 1 {
		t.Fatalf("RetryAfterSeconds %d, want 1 (rounded up)", ae.RetryAfterSeconds)
	}
	e.clock.Advance(500 * time.Millisecond)
	_, err = e.a.Authenticate(ctx, stale, attacker)
	wantCode(t, err, api.CodeUnauthenticated) // counted again, not refused

	// Failures spread wider than the window never block.
	slow := "203.0.113.9:1"
	for round := 0; round < 3; round++ {
		for i := 0; i < DefaultMaxFailures-1; i++ {
			_, err := e.a.Authenticate(ctx, stale, slow)
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

// TestThrottleSourceCeiling: guessing across key ids from one address is
// bounded by the per-address ceiling, which then refuses every
// credential from it, a good one too; other addresses are not affected.
func TestThrottleSourceCeiling(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, func(c *Config) { c.Throttle = ThrottleConfig{MaxFailures: 3, MaxSourceFailures: 7} })
	_, key := mustCreate(t, e, "default", RoleReader, nil, 0)
	guesser := "198.51.100.1:1"
	for i := 0; i < 7; i++ {
		guess := "ak_" + strings.Repeat(string(rune('b'+i)), 16) + "_" + key.Reveal()[20:]
		_, err := e.a.Authenticate(ctx, guess, guesser)
		wantCode(t, err, api.CodeUnauthenticated)
	}
	_, err := e.a.Authenticate(ctx, key.Reveal(), guesser)
	if ae := wantCode(t, err, api.CodeRateLimited); !strings.Contains(ae.Message, "from this address") || ae.RetryAfterSeconds != 60 {
		t.Fatalf("after guessing across ids: %+v", ae)
	}
	if _, err := e.a.Authenticate(ctx, key.Reveal(), "198.51.100.2:1"); err != nil {
		t.Fatalf("another address: %v", err)
	}
	// Tokens count under the key they name: a stale token locks out only
	// that key's tokens.
	if got := credentialKeyID(key.Reveal()); got != key.ID() {
		t.Fatalf("key id of a key: %q", got)
	}
	info, _ := mustCreate(t, e, "default", RoleReader, nil, 0)
	tok, err := e.a.IssueToken(info, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got := credentialKeyID(tok.Token); got != info.ID {
		t.Fatalf("key id of a token: %q, want %q", got, info.ID)
	}
	if got := credentialKeyID("not-a-credential"); got != "" {
		t.Fatalf("key id of junk: %q", got)
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
