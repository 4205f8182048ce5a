package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/akidb/akidb/engine/wal"
	"github.com/akidb/akidb/serve"
	"github.com/akidb/akidb/serve/access"
	"github.com/akidb/akidb/serve/auth"
)

const waitTimeout = 20 * time.Second

// syncBuffer is a stream a running command and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServer runs a real server on 127.0.0.1 ports chosen by the kernel
// over dataDir, until cleanup or stop.
func startServer(t *testing.T, dataDir string) (*serve.Server, func()) {
	t.Helper()
	return startServerWith(t, dataDir, nil)
}

// startServerWith is startServer with the configuration changed by tune.
func startServerWith(t *testing.T, dataDir string, tune func(*serve.Config)) (*serve.Server, func()) {
	t.Helper()
	cfg := serve.DefaultConfig()
	cfg.DataDir = dataDir
	cfg.RESTAddr = "127.0.0.1:0"
	cfg.GRPCAddr = "127.0.0.1:0"
	cfg.Engine.Sync = wal.SyncNone
	if tune != nil {
		tune(&cfg)
	}
	return startServerConfig(t, cfg)
}

// startServerConfig runs a real server with cfg until cleanup or stop.
func startServerConfig(t *testing.T, cfg serve.Config) (*serve.Server, func()) {
	t.Helper()
	s, err := serve.Start(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			if err := s.Shutdown(context.Background()); err != nil {
				t.Errorf("shutdown: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	select {
	case <-s.Ready():
	case err := <-s.Errors():
		t.Fatal(err)
	case <-time.After(waitTimeout):
		t.Fatal("server not ready")
	}
	return s, stop
}

func readBootstrap(t testing.TB, dataDir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, auth.SecretsDir, auth.BootstrapKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// mustCLI runs a command that must succeed and returns its stdout.
func mustCLI(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	code, out, errs := runCLI(t, env, args...)
	if code != 0 {
		t.Fatalf("akidb %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

func decode[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return v
}

// status sends GET path with the key and returns the HTTP status.
func status(t *testing.T, s *serve.Server, path, key string) int {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+s.RESTAddr().String()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := (&http.Client{Timeout: waitTimeout}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestKeysAndTenantsOnline drives `akidb keys` and `akidb tenants` against
// a running server with --server and AKIDB_API_KEY.
func TestKeysAndTenantsOnline(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, _ := startServer(t, dir)
	boot := readBootstrap(t, dir)
	env := map[string]string{"AKIDB_API_KEY": boot, "AKIDB_SERVER": "http://" + s.RESTAddr().String()}

	tn := decode[access.Tenant](t, mustCLI(t, env, "tenants", "create", "acme", "-o", "json"))
	if tn.Name != "acme" || tn.ID == "" {
		t.Fatalf("tenant %+v", tn)
	}
	if out := mustCLI(t, env, "tenants", "list"); !strings.Contains(out, "acme") || !strings.Contains(out, "default") {
		t.Fatalf("tenants list:\n%s", out)
	}
	made := decode[access.CreatedKey](t, mustCLI(t, env, "keys", "create", "--tenant", "acme", "--role", "writer", "--name", "ingest",
		"--collections", "docs, faq", "--expires-in", "720h", "-o", "json"))
	if made.TenantID != tn.ID || made.Role != auth.RoleWriter || len(made.Collections) != 2 || made.ExpiresAt.IsZero() || !strings.HasPrefix(made.Key, "ak_") {
		t.Fatalf("created %+v", made)
	}
	if status(t, s, "/api/v1/collections", made.Key) != http.StatusOK {
		t.Fatal("the created key does not work")
	}
	text := mustCLI(t, env, "keys", "create", "--role", "reader")
	if !strings.Contains(text, "shown only this once") || !strings.Contains(text, "ak_") {
		t.Fatalf("text output:\n%s", text)
	}
	list := mustCLI(t, env, "keys", "list", "--tenant", "acme")
	if !strings.Contains(list, made.ID) || strings.Contains(list, made.Key) || strings.Contains(list, "bootstrap-admin") {
		t.Fatalf("keys list --tenant acme:\n%s", list)
	}

	// Rotation with an overlap keeps the old key working; revocation stops
	// a key on the next request.
	rot := decode[access.RotatedKey](t, mustCLI(t, env, "keys", "rotate", made.ID, "--overlap", "24h", "-o", "json"))
	if rot.Old.ID != made.ID || rot.Old.ExpiresAt.After(time.Now().Add(25*time.Hour)) || rot.New.Key == "" {
		t.Fatalf("rotated %+v", rot)
	}
	for _, k := range []string{made.Key, rot.New.Key} {
		if status(t, s, "/api/v1/collections", k) != http.StatusOK {
			t.Fatal("a key does not work during the overlap")
		}
	}
	mustCLI(t, env, "keys", "revoke", made.Key) // a whole key names its id
	if status(t, s, "/api/v1/collections", made.Key) != http.StatusUnauthorized {
		t.Fatal("the revoked key still works")
	}

	// Errors come back with the server's code and message.
	code, _, errs := runCLI(t, env, "keys", "revoke", "aaaaaaaaaaaaaaaa")
	if code == 0 || !strings.Contains(errs, "not_found") {
		t.Fatalf("revoke unknown: %d %q", code, errs)
	}
	code, _, errs = runCLI(t, map[string]string{"AKIDB_SERVER": env["AKIDB_SERVER"], "AKIDB_API_KEY": rot.New.Key}, "tenants", "list")
	if code == 0 || !strings.Contains(errs, "permission_denied") {
		t.Fatalf("tenants list as a writer: %d %q", code, errs)
	}
	code, _, errs = runCLI(t, map[string]string{"AKIDB_SERVER": env["AKIDB_SERVER"]}, "keys", "list")
	if code == 0 || !strings.Contains(errs, "API key is required") {
		t.Fatalf("without a key: %d %q", code, errs)
	}
	code, _, errs = runCLI(t, env, "keys", "list", "-o", "yaml")
	if code == 0 || !strings.Contains(errs, "--output") {
		t.Fatalf("bad output: %d %q", code, errs)
	}

	// Forced tenant deletion goes through the server.
	if out := mustCLI(t, env, "tenants", "delete", "acme", "--force"); !strings.Contains(out, "deleted tenant "+tn.ID) {
		t.Fatalf("delete:\n%s", out)
	}
	if status(t, s, "/api/v1/collections", rot.New.Key) != http.StatusUnauthorized {
		t.Fatal("a deleted tenant's key still works")
	}
}

// TestKeysAndTenantsOffline: on a data directory no server holds, keys
// and tenants are managed directly, and the server started afterwards
// honours them; while a server holds it, the offline commands refuse.
func TestKeysAndTenantsOffline(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, stop := startServer(t, dir)
	boot := readBootstrap(t, dir)

	code, _, errs := runCLI(t, nil, "keys", "list", "--data-dir", dir)
	if code == 0 || !strings.Contains(errs, "in use by another akidb process") || !strings.Contains(errs, "--server") {
		t.Fatalf("offline while serving: %d %q", code, errs)
	}
	code, _, errs = runCLI(t, nil, "tenants", "create", "x", "--data-dir", dir)
	if code == 0 || !strings.Contains(errs, "in use") {
		t.Fatalf("offline tenants while serving: %d %q", code, errs)
	}
	_ = s
	stop()

	tn := decode[access.Tenant](t, mustCLI(t, nil, "tenants", "create", "acme", "--data-dir", dir, "-o", "json"))
	tenants := decode[access.TenantList](t, mustCLI(t, nil, "tenants", "list", "--data-dir", dir, "-o", "json"))
	if len(tenants.Tenants) != 2 {
		t.Fatalf("tenants %+v", tenants)
	}
	made := decode[access.CreatedKey](t, mustCLI(t, nil, "keys", "create", "--tenant", "acme", "--role", "admin", "--data-dir", dir, "-o", "json"))
	doomed := decode[access.CreatedKey](t, mustCLI(t, nil, "keys", "create", "--role", "reader", "--data-dir", dir, "-o", "json"))
	mustCLI(t, nil, "keys", "revoke", doomed.ID, "--data-dir", dir)
	rot := decode[access.RotatedKey](t, mustCLI(t, nil, "keys", "rotate", made.ID, "--data-dir", dir, "-o", "json"))
	if rot.Old.RevokedAt.IsZero() {
		t.Fatalf("rotation without overlap did not revoke: %+v", rot.Old)
	}
	keys := decode[access.KeyList](t, mustCLI(t, nil, "keys", "list", "--data-dir", dir, "-o", "json"))
	if len(keys.Keys) != 4 { // bootstrap, made, doomed, rotated
		t.Fatalf("keys %+v", keys)
	}
	for _, k := range keys.Keys {
		if k.ID == rot.New.ID && k.TenantID != tn.ID {
			t.Fatalf("the rotated key moved tenant: %+v", k)
		}
	}
	code, _, errs = runCLI(t, nil, "tenants", "delete", "acme", "--force", "--data-dir", dir)
	if code == 0 || !strings.Contains(errs, "running server") {
		t.Fatalf("forced delete offline: %d %q", code, errs)
	}
	code, _, errs = runCLI(t, nil, "keys", "list", "--data-dir", filepath.Join(dir, "nope"))
	if code == 0 || !strings.Contains(errs, "no data directory") {
		t.Fatalf("missing data dir: %d %q", code, errs)
	}

	// The server sees what was done offline, and the audit trail has it.
	s2, _ := startServer(t, dir)
	if status(t, s2, "/api/v1/collections", rot.New.Key) != http.StatusOK {
		t.Fatal("a key made offline does not work")
	}
	for _, k := range []string{made.Key, doomed.Key} {
		if status(t, s2, "/api/v1/collections", k) != http.StatusUnauthorized {
			t.Fatal("a key revoked offline still works")
		}
	}
	req, _ := http.NewRequest("GET", "http://"+s2.RESTAddr().String()+"/admin/audit?limit=1000", nil)
	req.Header.Set("Authorization", "Bearer "+boot)
	resp, err := (&http.Client{Timeout: waitTimeout}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page auth.EventPage
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		t.Fatal(err)
	}
	offline := 0
	for _, e := range page.Events {
		if e.RemoteAddr == "offline" {
			offline++
		}
	}
	if offline < 5 {
		t.Fatalf("%d offline events in the audit trail: %+v", offline, page.Events)
	}
}

// TestServeBootstrapOnStderr runs `akidb serve` in-process: the first
// start prints the bootstrap key on stderr, the second does not.
func TestServeBootstrapOnStderr(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	run := func() string { return serveUntilReady(t, nil, dir) }
	first := run()
	key := readBootstrap(t, dir)
	// Stderr is not a terminal here (as under systemd): the key stays out
	// of it, the file's path is there.
	if strings.Contains(first, key) || !strings.Contains(first, auth.BootstrapKeyFile) || !strings.Contains(first, "authentication on") {
		t.Fatalf("first start's stderr:\n%s", first)
	}
	second := run()
	if strings.Contains(second, auth.KeyPrefix) {
		t.Fatalf("second start printed a key:\n%s", second)
	}
}

// serveUntilReady runs `akidb serve` in-process on dir (loopback ports the
// kernel picks, fsync none, plus args) with env, stops it once it logs
// ready, and returns its stderr.
func serveUntilReady(t *testing.T, env map[string]string, dir string, args ...string) string {
	t.Helper()
	defer setEnv(t, env)()
	stderr := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := &State{
		Stdout: &syncBuffer{}, Stderr: stderr, Stdin: strings.NewReader(""),
		Args:      append([]string{"serve", "--data-dir", dir, "--rest-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0", "--fsync", "none"}, args...),
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		SignalContext: func(p context.Context) (context.Context, context.CancelFunc) {
			return context.WithCancel(ctx)
		},
	}
	done := make(chan int, 1)
	go func() { done <- Run(st) }()
	deadline := time.After(waitTimeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !strings.Contains(stderr.String(), `msg=ready`) {
		select {
		case code := <-done:
			t.Fatalf("serve exited %d:\n%s", code, stderr.String())
		case <-deadline:
			t.Fatalf("serve not ready:\n%s", stderr.String())
		case <-tick.C: // poll the output again
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exited %d:\n%s", code, stderr.String())
	}
	return stderr.String()
}

// TestServeSecurityFlags: the security flags reach serve.Config, and bad
// combinations are refused before anything starts.
func TestServeSecurityFlags(t *testing.T) {
	probe := func(env map[string]string, args ...string) (serve.Config, error) {
		t.Helper()
		if env == nil {
			env = map[string]string{}
		}
		defer setEnv(t, env)()
		root, c := newRootCommand(&State{LookupEnv: os.LookupEnv, Stderr: &bytes.Buffer{}})
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
	cfg, err := probe(nil)
	if err != nil || cfg.Auth.Disabled || cfg.TLSEnabled() || cfg.Auth.JWTSecret != nil {
		t.Fatalf("defaults: %+v %v", cfg.Auth, err)
	}
	if cfg, err := probe(map[string]string{"AKIDB_AUTH": "false"}); err != nil || !cfg.Auth.Disabled {
		t.Fatalf("AKIDB_AUTH=false: %v %v", cfg.Auth.Disabled, err)
	}
	if cfg, err := probe(nil, "--auth=false"); err != nil || !cfg.Auth.Disabled {
		t.Fatalf("--auth=false: %v %v", cfg.Auth.Disabled, err)
	}
	if cfg, err := probe(nil, "--allow-plaintext"); err != nil || !cfg.AllowPlaintext {
		t.Fatalf("--allow-plaintext: %v %v", cfg.AllowPlaintext, err)
	}
	secret := strings.Repeat("k", 40)
	if cfg, err := probe(map[string]string{"AKIDB_JWT_SECRET": secret + "\n"}); err != nil || string(cfg.Auth.JWTSecret) != secret {
		t.Fatalf("AKIDB_JWT_SECRET: %q %v", cfg.Auth.JWTSecret, err)
	}
	file := filepath.Join(t.TempDir(), "jwt")
	if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if cfg, err := probe(nil, "--jwt-secret-file", file); err != nil || string(cfg.Auth.JWTSecret) != secret {
		t.Fatalf("--jwt-secret-file: %q %v", cfg.Auth.JWTSecret, err)
	}
	cfg, err = probe(nil, "--tls-cert", "c.pem", "--tls-key", "k.pem", "--tls-client-ca", "ca.pem", "--tls-min-version", "1.2")
	if err != nil || cfg.TLS.CertFile != "c.pem" || cfg.TLS.KeyFile != "k.pem" || cfg.TLS.ClientCAFile != "ca.pem" || cfg.TLS.MinVersion != "1.2" {
		t.Fatalf("tls flags: %+v %v", cfg.TLS, err)
	}
	for name, c := range map[string]struct {
		env  map[string]string
		args []string
		want string
	}{
		"short secret":     {map[string]string{"AKIDB_JWT_SECRET": "short"}, nil, "at least 32"},
		"two secrets":      {map[string]string{"AKIDB_JWT_SECRET": secret}, []string{"--jwt-secret-file", file}, "use one"},
		"cert without key": {nil, []string{"--tls-cert", "c.pem"}, "go together"},
		"client ca alone":  {nil, []string{"--tls-client-ca", "ca.pem"}, "needs --tls-cert"},
		"tls 1.1":          {nil, []string{"--tls-cert", "c", "--tls-key", "k", "--tls-min-version", "1.1"}, "1.3 or 1.2"},
		"missing jwt file": {nil, []string{"--jwt-secret-file", filepath.Join(t.TempDir(), "nope")}, "jwt-secret-file"},
		"zero token ttl":   {nil, []string{"--token-ttl", "0s"}, "token-ttl"},
	} {
		if _, err := probe(c.env, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", name, err, c.want)
		}
	}
}

// TestServeRefusesExposure: plaintext or --auth=false on an address
// other than loopback stops `akidb serve` before it listens, saying why
// and what to do.
func TestServeRefusesExposure(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--rest-addr", "0.0.0.0:0"}, "--allow-plaintext"},
		{[]string{"--grpc-addr", "[::]:0"}, "--tls-cert"},
		{[]string{"--rest-addr", "0.0.0.0:0", "--allow-plaintext", "--auth=false"}, "--auth=false"},
	} {
		args := append([]string{"serve", "--data-dir", dir, "--rest-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0"}, c.args...)
		code, _, errs := runCLI(t, nil, args...)
		if code == 0 || !strings.Contains(errs, c.want) || !strings.Contains(errs, "reachable from the network") {
			t.Errorf("%v: exit %d, stderr %q; want a refusal naming %s", c.args, code, errs, c.want)
		}
		if strings.Contains(errs, "REST on") {
			t.Errorf("%v: printed the start-up banner before refusing:\n%s", c.args, errs)
		}
	}
}

// TestServeDataDirInUse: a second server on a data directory in use
// fails with the holder named and without first printing the start-up
// banner, which would say it serves.
func TestServeDataDirInUse(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	_, stop := startServer(t, dir)
	defer stop()
	code, _, errs := runCLI(t, nil, "serve", "--data-dir", dir, "--rest-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0")
	if code == 0 || !strings.Contains(errs, "LOCK") && !strings.Contains(errs, "in use") {
		t.Fatalf("second server: exit %d, stderr:\n%s", code, errs)
	}
	if strings.Contains(errs, "REST on") {
		t.Fatalf("the banner was printed before the fatal error:\n%s", errs)
	}
}

// TestCertsDev writes a dev certificate set and refuses to overwrite it.
func TestCertsDev(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	out := mustCLI(t, nil, "certs", "dev", "--out", dir)
	if !strings.Contains(out, "NOT for production") {
		t.Fatalf("no warning:\n%s", out)
	}
	for _, f := range []string{"ca.crt", "server.crt", "server.key", "client.crt", "client.key"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	if code, _, errs := runCLI(t, nil, "certs", "dev", "--out", dir); code == 0 || !strings.Contains(errs, "already exists") {
		t.Fatalf("overwrite: %d %q", code, errs)
	}
	// Without --out: ./dev-certs, which .gitignore keeps out of commits.
	wd, err := os.Getwd() // the package directory, cmd/
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	if out := mustCLI(t, nil, "certs", "dev"); !strings.Contains(out, filepath.Join("dev-certs", "server.crt")) {
		t.Fatalf("no --out:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join("dev-certs", "ca.crt")); err != nil {
		t.Fatalf("default --out: %v", err)
	}
	ignore, err := os.ReadFile(filepath.Join(filepath.Dir(wd), ".gitignore"))
	if err != nil || !strings.Contains(string(ignore), "/dev-certs/") {
		t.Fatalf(".gitignore does not keep dev-certs out: %v", err)
	}
}
