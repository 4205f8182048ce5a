package auth

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/akidb/akidb/engine/meta"
)

// A key provisioned outside the server (a Kubernetes Secret) becomes the
// admin key of an empty data directory, is not written to the data
// directory, and is ignored once the directory has keys.
func TestImportBootstrapAdmin(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	key, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if !keyForm.MatchString(key.Reveal()) {
		t.Fatalf("generated key %q is malformed", key.Reveal())
	}
	imported, err := e.a.ImportBootstrapAdmin(ctx, key)
	if err != nil || !imported {
		t.Fatalf("import: %v, %v", imported, err)
	}
	c, err := e.a.Authenticate(ctx, key.Reveal(), addr)
	if err != nil {
		t.Fatal(err)
	}
	if c.TenantID != meta.DefaultTenantID || c.Role != "admin" || !IsOperator(c) {
		t.Fatalf("imported caller %+v", c)
	}
	if _, err := os.Stat(filepath.Join(e.dir, SecretsDir, BootstrapKeyFile)); !os.IsNotExist(err) {
		t.Fatalf("an imported key was written to the data directory: %v", err)
	}
	if strings.Contains(e.logs.String(), key.Reveal()[20:]) {
		t.Fatal("the log holds the imported secret")
	}

	// Once there are keys, another key file changes nothing.
	other, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if imported, err := e.a.ImportBootstrapAdmin(ctx, other); err != nil || imported {
		t.Fatalf("second import: %v, %v", imported, err)
	}
	if _, err := e.a.Authenticate(ctx, other.Reveal(), addr); err == nil {
		t.Fatal("a key offered after the first start authenticates")
	}
	// Nor does the generated bootstrap key appear.
	if k, err := e.a.EnsureBootstrapAdmin(ctx, e.dir); err != nil || k != "" {
		t.Fatalf("EnsureBootstrapAdmin after an import: %q, %v", k, err)
	}
}

func TestParseKeyRefusesMalformed(t *testing.T) {
	key, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseKey(key.Reveal()); err != nil {
		t.Fatalf("a generated key does not parse: %v", err)
	}
	for _, bad := range []string{"", "secret", key.Reveal()[:len(key.Reveal())-1], strings.ToUpper(key.Reveal()), key.Reveal() + "\n"} {
		if _, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
	if _, err := newEnv(t, nil).a.ImportBootstrapAdmin(context.Background(), APIKey("ak_short")); err == nil {
		t.Fatal("a malformed key was imported")
	}
}
