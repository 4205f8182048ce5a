package meta

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestRuntimeSettings(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)

	if _, err := s.GetRuntimeSetting(ctx, "rate_limit"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing key: %v", err)
	}
	r, err := s.PutRuntimeSetting(ctx, "rate_limit", []byte(` { "enabled": true,
		"default_qps": 100 } `))
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Value) != `{"enabled":true,"default_qps":100}` || !r.UpdatedAt.Equal(testNow.Truncate(1e6)) {
		t.Fatalf("stored %s at %v", r.Value, r.UpdatedAt)
	}
	if _, err := s.PutRuntimeSetting(ctx, "rate_limit", []byte(`{"default_qps":5}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutRuntimeSetting(ctx, "other", []byte(`[1,2]`)); err != nil {
		t.Fatal(err)
	}
	all, err := s.ListRuntimeSettings(ctx)
	if err != nil || len(all) != 2 || all[0].Key != "other" || string(all[1].Value) != `{"default_qps":5}` {
		t.Fatalf("list %+v, %v", all, err)
	}

	for name, c := range map[string]struct {
		key, value string
	}{
		"empty key":     {"", `{}`},
		"long key":      {strings.Repeat("k", 65), `{}`},
		"control char":  {"a\nb", `{}`},
		"not JSON":      {"x", `{`},
		"empty value":   {"x", ``},
		"two documents": {"x", `{} {}`},
		"huge value":    {"x", `"` + strings.Repeat("v", 64<<10) + `"`},
	} {
		if _, err := s.PutRuntimeSetting(ctx, c.key, []byte(c.value)); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: %v, want ErrInvalidArgument", name, err)
		}
	}
	// The table refuses invalid JSON from writers that skip the Go checks.
	if _, err := s.DB().Exec(`INSERT INTO runtime_config (key, value, updated_at) VALUES ('y', '{', 0)`); err == nil {
		t.Fatal("CHECK (json_valid(value)) did not hold")
	}
}

func TestRuntimeSettingSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	s, err := Open(ctx, path, testLogger(t), WithClock(fixedClock))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutRuntimeSetting(ctx, "rate_limit", []byte(`{"default_qps":42}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctx, path, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, err := s.GetRuntimeSetting(ctx, "rate_limit")
	if err != nil || string(r.Value) != `{"default_qps":42}` || !r.UpdatedAt.Equal(testNow.Truncate(1e6)) {
		t.Fatalf("after reopen %+v, %v", r, err)
	}
}
