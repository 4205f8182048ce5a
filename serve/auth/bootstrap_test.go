package auth

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/serve/api"
)

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestBootstrapAdminOnce(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	key, err := e.a.EnsureBootstrapAdmin(ctx, e.dir)
	if err != nil {
		t.Fatal(err)
	}
	if !keyForm.MatchString(key.Reveal()) {
		t.Fatalf("bootstrap key %q is malformed", key.Reveal())
	}
	dir := filepath.Join(e.dir, SecretsDir)
	file := filepath.Join(dir, BootstrapKeyFile)
	if m := mode(t, dir); m != 0o700 {
		t.Fatalf("secrets dir mode %v, want 0700", m)
	}
	if m := mode(t, file); m != 0o600 {
		t.Fatalf("bootstrap key file mode %v, want 0600", m)
	}
	data, err := os.ReadFile(file)
	if err != nil || strings.TrimSpace(string(data)) != key.Reveal() {
		t.Fatalf("file holds %q, %v", data, err)
	}
	c, err := e.a.Authenticate(ctx, key.Reveal(), addr)
	if err != nil {
		t.Fatal(err)
	}
	if c.TenantID != meta.DefaultTenantID || c.Role != "admin" || len(c.Collections) != 0 || !IsOperator(c) {
		t.Fatalf("bootstrap caller %+v", c)
	}
	if strings.Contains(string(e.logs.Bytes()), key.Reveal()[20:]) {
		t.Fatal("the log holds the bootstrap secret")
	}

	// Later starts do nothing, even with the file gone and the key revoked.
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if _, err := e.a.Revoke(ctx, key.ID()); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		again, err := e.a.EnsureBootstrapAdmin(ctx, e.dir)
		if err != nil || again != "" {
			t.Fatalf("call %d: %q, %v; want nothing", i+2, again, err)
		}
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("a later call wrote the file again: %v", err)
	}
	if n, _ := e.store.CountAPIKeys(ctx); n != 1 {
		t.Fatalf("%d keys, want 1", n)
	}
}

func TestBootstrapTightensLooseSecretsDir(t *testing.T) {
	e := newEnv(t, nil)
	dir := filepath.Join(e.dir, SecretsDir)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := e.a.EnsureBootstrapAdmin(context.Background(), e.dir); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, dir); m != 0o700 {
		t.Fatalf("secrets dir mode %v, want 0700", m)
	}
	if !strings.Contains(string(e.logs.Bytes()), "loose permissions") {
		t.Fatal("no warning about the loose directory")
	}
}

func TestJWTKeyFile(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	a1, err := New(e.store, Config{DataDir: e.dir, Now: e.clock.Now, Rand: seededRand(5)})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(e.dir, SecretsDir, JWTKeyFile)
	if m := mode(t, path); m != 0o600 {
		t.Fatalf("jwt.key mode %v, want 0600", m)
	}
	if m := mode(t, filepath.Dir(path)); m != 0o700 {
		t.Fatalf("secrets dir mode %v, want 0700", m)
	}
	info, _ := mustCreate(t, e, "default", RoleReader, nil, 0)
	tok, err := a1.IssueToken(info, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	// A restart reads the same secret (a different Rand would make a
	// different one), so tokens survive it.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	a2, err := New(e.store, Config{DataDir: e.dir, Now: e.clock.Now, Rand: seededRand(6)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a2.Authenticate(ctx, tok.Token, addr); err != nil {
		t.Fatalf("token after restart: %v", err)
	}
	if m := mode(t, path); m != 0o600 {
		t.Fatalf("loose jwt.key left at %v", m)
	}
	// A damaged file is refused, not replaced.
	for name, content := range map[string]string{"short": "c2hvcnQ\n", "not base64": "!!!!\n"} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := New(e.store, Config{DataDir: e.dir}); err == nil || !strings.Contains(err.Error(), JWTKeyFile) {
			t.Fatalf("%s jwt.key: %v, want an error naming the file", name, err)
		}
		if data, _ := os.ReadFile(path); string(data) != content {
			t.Fatalf("%s jwt.key was rewritten", name)
		}
	}
	_, err = a2.Authenticate(ctx, "", addr)
	wantCode(t, err, api.CodeUnauthenticated)
}

// TestBootstrapFileGoesWithItsKey: revoking or rotating the bootstrap key
// deletes its file, so a dead (or dying) admin key does not stay on disk
// in plain text; revoking another key leaves the file alone.
func TestBootstrapFileGoesWithItsKey(t *testing.T) {
	ctx := context.Background()
	for _, how := range []string{"revoke", "rotate"} {
		t.Run(how, func(t *testing.T) {
			dir := t.TempDir()
			e := newEnv(t, func(c *Config) { c.DataDir = dir })
			key, err := e.a.EnsureBootstrapAdmin(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(dir, SecretsDir, BootstrapKeyFile)
			other, _ := mustCreate(t, e, "default", RoleReader, nil, 0)
			if _, err := e.a.Revoke(ctx, other.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(file); err != nil {
				t.Fatalf("revoking another key touched the bootstrap file: %v", err)
			}
			switch how {
			case "revoke":
				_, err = e.a.Revoke(ctx, key.ID())
			case "rotate":
				_, err = e.a.Rotate(ctx, key.ID(), time.Hour)
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(file); !os.IsNotExist(err) {
				t.Fatalf("after %s the bootstrap key file is still there: %v", how, err)
			}
			if !strings.Contains(e.logs.String(), "deleted the bootstrap admin key file") {
				t.Fatalf("nothing logged:\n%s", e.logs.String())
			}
		})
	}
}
