package ratelimit

import (
	"strings"
	"testing"
)

// TestDecisionNamesTheLimit: a refusal says which limit applied (the
// tenant default, the tenant's quota or the key's own), its rate and
// burst, and the command that raises it; X-RateLimit-Limit is the rate
// per second and the burst has a header of its own.
func TestDecisionNamesTheLimit(t *testing.T) {
	for _, c := range []struct {
		name    string
		rates   Rates
		key     string
		source  Source
		qps     string
		burst   string
		message []string
	}{
		{"tenant default", Rates{Tenant: Rate{QPS: 100, Burst: 1}}, "", SourceTenantDefault, "100", "1",
			[]string{"the default limit of 100 requests/s (burst 1)", "akidb quota set --tenant acme --qps N", "akidb config set --default-qps N"}},
		{"tenant quota", Rates{Tenant: Rate{QPS: 2.5, Burst: 1}, TenantSource: SourceTenantQuota}, "", SourceTenantQuota, "2.5", "1",
			[]string{"this tenant's limit of 2.5 requests/s (burst 1)", "akidb quota set --tenant acme --qps N"}},
		{"key", Rates{Tenant: Rate{QPS: 100, Burst: 200}, Key: Rate{QPS: 5, Burst: 1}}, "k1", SourceKey, "5", "1",
			[]string{"this API key's own limit of 5 requests/s (burst 1)", "akidb quota key set k1 --qps N", "akidb quota key clear k1"}},
	} {
		l := newLimiter(t, newFakeClock(), Config{})
		if d := l.Allow("acme", c.key, c.rates); !d.Allowed {
			t.Fatalf("%s: first request refused", c.name)
		}
		d := l.Allow("acme", c.key, c.rates)
		if d.Allowed || d.Source != c.source {
			t.Fatalf("%s: %+v, want refused by %s", c.name, d, c.source)
		}
		h := d.Headers()
		if h[HeaderLimit] != c.qps || h[HeaderBurst] != c.burst {
			t.Errorf("%s: headers %v, want limit %s (per second) and burst %s", c.name, h, c.qps, c.burst)
		}
		e := d.Err("acme", c.key)
		for _, m := range c.message {
			if !strings.Contains(e.Message, m) {
				t.Errorf("%s: message %q lacks %q", c.name, e.Message, m)
			}
		}
		if e.Details["limit"] != string(c.source) || e.Details["burst"] != 1 {
			t.Errorf("%s: details %v", c.name, e.Details)
		}
	}
}
