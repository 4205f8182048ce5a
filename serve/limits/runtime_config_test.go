package limits

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/ratelimit"
)

func TestRuntimeConfigDefaultsUpdateAndReopen(t *testing.T) {
	ctx := context.Background()
	s, dir := openStore(t, "")
	rc := newRuntimeConfig(t, s)
	if got := rc.RateLimit(); got != (RateLimitConfig{Enabled: true, DefaultQPS: 100, DefaultBurstMultiplier: 2}) {
		t.Fatalf("defaults %+v", got)
	}
	if got := rc.DefaultRate(); got != (ratelimit.Rate{QPS: 100, Burst: 200}) {
		t.Fatalf("default rate %+v", got)
	}

	got, err := rc.UpdateRateLimit(ctx, RateLimitUpdate{DefaultQPS: ptr(250.0)})
	if err != nil {
		t.Fatal(err)
	}
	want := RateLimitConfig{Enabled: true, DefaultQPS: 250, DefaultBurstMultiplier: 2}
	if got != want || rc.RateLimit() != want || rc.Changes() != 1 {
		t.Fatalf("after update: returned %+v, in force %+v, changes %d", got, rc.RateLimit(), rc.Changes())
	}
	if got, err := rc.UpdateRateLimit(ctx, RateLimitUpdate{DefaultBurstMultiplier: ptr(1.5), Enabled: ptr(false)}); err != nil ||
		got != (RateLimitConfig{Enabled: false, DefaultQPS: 250, DefaultBurstMultiplier: 1.5}) {
		t.Fatalf("second update: %+v, %v", got, err)
	}
	if rc.DefaultRate() != (ratelimit.Rate{}) {
		t.Fatalf("disabled, yet the default rate is %+v", rc.DefaultRate())
	}
	// An update that changes nothing is not a change.
	if _, err := rc.UpdateRateLimit(ctx, RateLimitUpdate{DefaultQPS: ptr(250.0)}); err != nil || rc.Changes() != 2 {
		t.Fatalf("no-op update: %v, changes %d", err, rc.Changes())
	}
	settings, _ := json.Marshal(rc.Settings())
	if string(settings) != `{"rate_limiting":{"enabled":false,"default_qps":250,"default_burst_multiplier":1.5}}` {
		t.Fatalf("settings JSON %s", settings)
	}

	// A restart reads the setting back.
	s.Close()
	s2, _ := openStore(t, dir)
	rc2 := newRuntimeConfig(t, s2)
	if got := rc2.RateLimit(); got != (RateLimitConfig{Enabled: false, DefaultQPS: 250, DefaultBurstMultiplier: 1.5}) {
		t.Fatalf("after reopen %+v", got)
	}
	if rc2.Changes() != 0 {
		t.Fatalf("a fresh start counts %d changes", rc2.Changes())
	}
}

func TestRuntimeConfigRefusesInvalidUpdates(t *testing.T) {
	ctx := context.Background()
	s, _ := openStore(t, "")
	rc := newRuntimeConfig(t, s)
	for _, c := range []struct {
		u     RateLimitUpdate
		field string
	}{
		{RateLimitUpdate{DefaultQPS: ptr(0.0)}, "default_qps"},
		{RateLimitUpdate{DefaultQPS: ptr(0.99)}, "default_qps"},
		{RateLimitUpdate{DefaultQPS: ptr(10000.5)}, "default_qps"},
		{RateLimitUpdate{DefaultQPS: ptr(math.NaN())}, "default_qps"},
		{RateLimitUpdate{DefaultQPS: ptr(math.Inf(1))}, "default_qps"},
		{RateLimitUpdate{DefaultBurstMultiplier: ptr(0.5)}, "default_burst_multiplier"},
		{RateLimitUpdate{DefaultBurstMultiplier: ptr(101.0)}, "default_burst_multiplier"},
		// One bad field refuses the whole update.
		{RateLimitUpdate{Enabled: ptr(false), DefaultQPS: ptr(50.0), DefaultBurstMultiplier: ptr(-1.0)}, "default_burst_multiplier"},
	} {
		_, err := rc.UpdateRateLimit(ctx, c.u)
		wantAPIError(t, err, api.CodeInvalidArgument, c.field)
	}
	if rc.RateLimit() != DefaultRateLimitConfig() || rc.Changes() != 0 {
		t.Fatalf("refused updates changed the setting: %+v, %d changes", rc.RateLimit(), rc.Changes())
	}
	// The edges are allowed.
	for _, u := range []RateLimitUpdate{
		{DefaultQPS: ptr(1.0), DefaultBurstMultiplier: ptr(1.0)},
		{DefaultQPS: ptr(10000.0), DefaultBurstMultiplier: ptr(100.0)},
	} {
		if _, err := rc.UpdateRateLimit(ctx, u); err != nil {
			t.Fatalf("%+v: %v", u, err)
		}
	}
	if got := rc.DefaultRate(); got != (ratelimit.Rate{QPS: 10000, Burst: MaxBurst}) {
		t.Fatalf("largest rate %+v", got)
	}

	// A failed write changes nothing in memory either.
	rcf := newRuntimeConfig(t, failingConfigStore{s})
	before := rcf.RateLimit()
	if _, err := rcf.UpdateRateLimit(ctx, RateLimitUpdate{DefaultQPS: ptr(5.0)}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("failed write: %v", err)
	}
	if rcf.RateLimit() != before || rcf.Changes() != 0 {
		t.Fatalf("a failed write changed the setting to %+v", rcf.RateLimit())
	}
}

// A stored setting that is damaged or out of range does not stop the
// server: defaults, and an error in the log.
func TestRuntimeConfigDamagedStoredValue(t *testing.T) {
	ctx := context.Background()
	for _, value := range []string{`{"default_qps": 0}`, `{"default_qps": "fast"}`, `[1]`} {
		s, _ := openStore(t, "")
		if _, err := s.PutRuntimeSetting(ctx, RateLimitKey, []byte(value)); err != nil {
			t.Fatal(err)
		}
		var logs logBuffer
		rc, err := NewRuntimeConfig(ctx, s, logs.logger())
		if err != nil {
			t.Fatal(err)
		}
		if rc.RateLimit() != DefaultRateLimitConfig() || !strings.Contains(logs.String(), "level=ERROR") {
			t.Fatalf("%s: setting %+v, log %q", value, rc.RateLimit(), logs.String())
		}
		// An update repairs it.
		if _, err := rc.UpdateRateLimit(ctx, RateLimitUpdate{DefaultQPS: ptr(7.0)}); err != nil {
			t.Fatal(err)
		}
	}
	// Fields missing from the stored document keep their defaults.
	s, _ := openStore(t, "")
	if _, err := s.PutRuntimeSetting(ctx, RateLimitKey, []byte(`{"default_qps": 40}`)); err != nil {
		t.Fatal(err)
	}
	if got := newRuntimeConfig(t, s).RateLimit(); got != (RateLimitConfig{Enabled: true, DefaultQPS: 40, DefaultBurstMultiplier: 2}) {
		t.Fatalf("partial document read as %+v", got)
	}
}

func TestRuntimeConfigConcurrentReadsAndUpdates(t *testing.T) {
	ctx := context.Background()
	s, _ := openStore(t, "")
	rc := newRuntimeConfig(t, s)
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				qps := float64(1 + w*100 + i)
				if _, err := rc.UpdateRateLimit(ctx, RateLimitUpdate{DefaultQPS: &qps}); err != nil {
					t.Error(err)
					return
				}
			}
		}(w)
	}
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				c := rc.RateLimit()
				if c.Validate() != nil {
					t.Errorf("read an invalid setting %+v", c)
					return
				}
			}
		}()
	}
	wg.Wait()
	if rc.Changes() != 40 {
		t.Fatalf("changes %d, want 40", rc.Changes())
	}
	// Memory and disk agree after concurrent writers.
	if got := newRuntimeConfig(t, s).RateLimit(); got != rc.RateLimit() {
		t.Fatalf("stored %+v, in force %+v", got, rc.RateLimit())
	}
}
