package cmd

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/serve"
	"github.com/akidb/akidb/serve/access"
)

// TestQuotaAndConfigOnline drives `akidb quota` and `akidb config`
// against a running server.
func TestQuotaAndConfigOnline(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, _ := startServer(t, dir)
	boot := readBootstrap(t, dir)
	env := map[string]string{"AKIDB_API_KEY": boot, "AKIDB_SERVER": "http://" + s.RESTAddr().String()}
	tn := decode[access.Tenant](t, mustCLI(t, env, "tenants", "create", "acme", "-o", "json"))

	q := decode[access.TenantQuota](t, mustCLI(t, env, "quota", "set", "--tenant", "acme", "--qps", "50", "--max-vectors", "1000",
		"--max-storage-bytes", "1MiB", "-o", "json"))
	if q.TenantID != tn.ID || q.Quota.QPSLimit == nil || *q.Quota.QPSLimit != 50 || q.Effective.Burst != 100 ||
		q.Quota.MaxStorageBytes == nil || *q.Quota.MaxStorageBytes != 1<<20 || q.Usage == nil {
		t.Fatalf("quota set: %+v", q)
	}
	text := mustCLI(t, env, "quota", "get", "--tenant", "acme")
	for _, want := range []string{"tenant " + tn.ID, "max_vectors", "1000", "1048576", "rate limiting: on"} {
		if !strings.Contains(text, want) {
			t.Fatalf("quota get lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "not shown offline") {
		t.Fatalf("online quota get has no usage:\n%s", text)
	}
	q = decode[access.TenantQuota](t, mustCLI(t, env, "quota", "set", "--tenant", tn.ID, "--qps", "default", "-o", "json"))
	if q.Quota.QPSLimit != nil || q.Effective.QPS != 100 || q.Quota.MaxVectors == nil {
		t.Fatalf("qps back to the default: %+v", q)
	}
	for _, bad := range [][]string{
		{"quota", "set", "--tenant", "acme"},
		{"quota", "set", "--tenant", "acme", "--qps", "lots"},
		{"quota", "set", "--tenant", "acme", "--max-storage-bytes", "1XB"},
	} {
		if code, _, errs := runCLI(t, env, bad...); code == 0 || errs == "" {
			t.Fatalf("%v: exit %d %q", bad, code, errs)
		}
	}
	if code, _, errs := runCLI(t, env, "quota", "set", "--tenant", "acme", "--qps", "0"); code == 0 || !strings.Contains(errs, "invalid_argument") || !strings.Contains(errs, "qps_limit") {
		t.Fatalf("qps 0: exit %d %q", code, errs)
	}

	cfg := decode[access.RuntimeConfig](t, mustCLI(t, env, "config", "get", "-o", "json"))
	if cfg.Server == nil || cfg.Server.MaxInFlight <= 0 || !cfg.RateLimiting.Enabled || cfg.RateLimiting.DefaultQPS != 100 {
		t.Fatalf("config get: %+v", cfg)
	}
	cfg = decode[access.RuntimeConfig](t, mustCLI(t, env, "config", "set", "--default-qps", "200", "--default-burst-multiplier", "3", "-o", "json"))
	if cfg.RateLimiting.DefaultQPS != 200 || cfg.RateLimiting.DefaultBurstMultiplier != 3 {
		t.Fatalf("config set: %+v", cfg.RateLimiting)
	}
	if text := mustCLI(t, env, "config", "get"); !strings.Contains(text, "rate_limiting.default_qps") || !strings.Contains(text, "200") || !strings.Contains(text, "server.max_in_flight") ||
		!strings.Contains(text, "server.max_inflight_body_bytes") || !strings.Contains(text, "server.body_timeout_seconds") {
		t.Fatalf("config get text:\n%s", text)
	}
	if code, _, errs := runCLI(t, env, "config", "set", "--default-qps", "0"); code == 0 || !strings.Contains(errs, "default_qps") {
		t.Fatalf("default-qps 0: exit %d %q", code, errs)
	}
	if code, _, errs := runCLI(t, env, "config", "set"); code == 0 || !strings.Contains(errs, "nothing to change") {
		t.Fatalf("config set without flags: exit %d %q", code, errs)
	}

	// A key's own rate.
	k := decode[access.CreatedKey](t, mustCLI(t, env, "keys", "create", "--tenant", "acme", "--role", "writer", "-o", "json"))
	kr := decode[access.KeyRateLimit](t, mustCLI(t, env, "quota", "key", "set", k.ID, "--qps", "5", "-o", "json"))
	if kr.QPSLimit != 5 || kr.EffectiveBurst != 15 || kr.TenantID != tn.ID {
		t.Fatalf("key rate %+v", kr)
	}
	if out := mustCLI(t, env, "quota", "key", "get", k.Key); !strings.Contains(out, "5 requests/s, burst 15") {
		t.Fatalf("quota key get: %q", out)
	}
	mustCLI(t, env, "quota", "key", "clear", k.ID)
	if code, _, errs := runCLI(t, env, "quota", "key", "get", k.ID); code == 0 || !strings.Contains(errs, "not_found") {
		t.Fatalf("after clear: exit %d %q", code, errs)
	}
}

// TestQuotaAndConfigOffline: on a data directory no server holds, quotas
// and the runtime config are changed directly, and the next server start
// enforces them.
func TestQuotaAndConfigOffline(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	_, stop := startServer(t, dir)
	boot := readBootstrap(t, dir)
	if code, _, errs := runCLI(t, nil, "config", "get", "--data-dir", dir); code == 0 || !strings.Contains(errs, "in use") {
		t.Fatalf("offline while serving: %d %q", code, errs)
	}
	stop()

	q := decode[access.TenantQuota](t, mustCLI(t, nil, "quota", "set", "--data-dir", dir, "--tenant", "default", "--max-collections", "2", "-o", "json"))
	if q.Usage != nil || q.Effective.MaxCollections == nil || *q.Effective.MaxCollections != 2 {
		t.Fatalf("offline quota set: %+v", q)
	}
	if text := mustCLI(t, nil, "quota", "get", "--data-dir", dir, "--tenant", "default"); !strings.Contains(text, "not shown offline") {
		t.Fatalf("offline quota get:\n%s", text)
	}
	cfg := decode[access.RuntimeConfig](t, mustCLI(t, nil, "config", "set", "--data-dir", dir, "--default-qps", "7", "-o", "json"))
	if cfg.Server != nil || cfg.RateLimiting.DefaultQPS != 7 {
		t.Fatalf("offline config set: %+v", cfg)
	}
	if text := mustCLI(t, nil, "config", "get", "--data-dir", dir); !strings.Contains(text, "offline") {
		t.Fatalf("offline config get:\n%s", text)
	}

	s2, _ := startServer(t, dir)
	env := map[string]string{"AKIDB_API_KEY": boot, "AKIDB_SERVER": "http://" + s2.RESTAddr().String()}
	cfg = decode[access.RuntimeConfig](t, mustCLI(t, env, "config", "get", "-o", "json"))
	if cfg.RateLimiting.DefaultQPS != 7 {
		t.Fatalf("the server did not load the offline config: %+v", cfg.RateLimiting)
	}
	q = decode[access.TenantQuota](t, mustCLI(t, env, "quota", "get", "--tenant", "default", "-o", "json"))
	if q.Effective.MaxCollections == nil || *q.Effective.MaxCollections != 2 || q.Effective.QPS != 7 || q.Usage == nil {
		t.Fatalf("the server did not load the offline quota: %+v", q)
	}
}

// TestServeLimitFlags: the limit flags reach serve.Config, bad values are
// refused, and docs/config.example.toml, which lists every serve flag
// with its default, yields the defaults.
func TestServeLimitFlags(t *testing.T) {
	parse := func(args ...string) (serve.Config, error) {
		t.Helper()
		root, c := newRootCommand(&State{LookupEnv: func(string) (string, bool) { return "", false }, Stderr: &bytes.Buffer{}})
		cmd, rest, err := root.Find(append([]string{"serve"}, args...))
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.ParseFlags(rest); err != nil {
			t.Fatal(err)
		}
		if err := c.setup(cmd); err != nil {
			t.Fatal(err)
		}
		return serveConfig(c)
	}
	cfg, err := parse("--max-in-flight", "4", "--request-timeout", "2s", "--quota-max-vectors", "10", "--quota-max-collections", "0",
		"--max-inflight-body-bytes", "67108864")
	if err != nil {
		t.Fatal(err)
	}
	l := cfg.Limiting
	if l.MaxInFlight != 4 || l.RequestTimeout != 2*time.Second || l.MaxInflightBodyBytes != 64<<20 || l.QuotaDefaults.MaxVectors == nil || *l.QuotaDefaults.MaxVectors != 10 ||
		l.QuotaDefaults.MaxCollections == nil || *l.QuotaDefaults.MaxCollections != 0 || l.QuotaDefaults.MaxStorageBytes != nil {
		t.Fatalf("limiting %+v", l)
	}
	// --commit-delay: the default, an explicit value, and 0 meaning "off"
	// (the engine reads a zero CommitDelay as "use the default").
	for _, c := range []struct {
		args []string
		want time.Duration
	}{{nil, engine.DefaultCommitDelay}, {[]string{"--commit-delay", "50us"}, 50 * time.Microsecond}, {[]string{"--commit-delay", "0s"}, -1}} {
		cfg, err := parse(c.args...)
		if err != nil || cfg.Engine.CommitDelay != c.want {
			t.Errorf("%v: CommitDelay %v (%v), want %v", c.args, cfg.Engine.CommitDelay, err, c.want)
		}
	}
	for _, bad := range [][]string{{"--max-in-flight", "-1"}, {"--request-timeout", "0s"}, {"--quota-max-vectors", "-2"}, {"--commit-delay", "-1ms"},
		{"--max-inflight-body-bytes", "-1"}, {"--max-inflight-body-bytes", "1048576"}} { // below --max-body-bytes
		if _, err := parse(bad...); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}

	// Every key of the example file is a serve flag (or a global one), and
	// its values are the flags' defaults.
	example, err := os.ReadFile("../docs/config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	root, _ := newRootCommand(&State{LookupEnv: func(string) (string, bool) { return "", false }, Stderr: &bytes.Buffer{}})
	serveCmd, _, _ := root.Find([]string{"serve"})
	keys := map[string]bool{}
	for _, line := range strings.Split(string(example), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, _, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		if !ok || (serveCmd.Flags().Lookup(key) == nil && serveCmd.InheritedFlags().Lookup(key) == nil) {
			t.Errorf("config.example.toml: %q is not a serve flag", line)
		}
		keys[key] = true
	}
	serveCmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Name != "help" && f.Name != "config" && !keys[f.Name] {
			t.Errorf("config.example.toml lacks the serve flag %s", f.Name)
		}
	})
	fromFile, err := parse("--config", "../docs/config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	defaults, err := parse()
	if err != nil {
		t.Fatal(err)
	}
	fromFile.Limiting.Now, defaults.Limiting.Now = nil, nil
	if !reflect.DeepEqual(fromFile, defaults) {
		t.Errorf("config.example.toml is not the defaults:\nfile     %+v\ndefaults %+v", fromFile, defaults)
	}
}
