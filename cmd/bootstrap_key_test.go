package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/akidb/akidb/serve/auth"
)

// `akidb keys generate` prints a key that a new data directory takes as its
// first admin key with --bootstrap-admin-key-file; the server then neither
// prints it nor saves it.
func TestServeBootstrapKeyFile(t *testing.T) {
	key := strings.TrimSpace(mustCLI(t, nil, "keys", "generate"))
	if _, err := auth.ParseKey(key); err != nil {
		t.Fatalf("keys generate printed %q: %v", key, err)
	}
	if again := strings.TrimSpace(mustCLI(t, nil, "keys", "generate")); again == key {
		t.Fatal("keys generate printed the same key twice")
	}
	dir := filepath.Join(t.TempDir(), "data")
	file := filepath.Join(t.TempDir(), "bootstrap-admin.key")
	if err := os.WriteFile(file, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stderr := serveUntilReady(t, map[string]string{"AKIDB_BOOTSTRAP_ADMIN_KEY_FILE": file}, dir)
	if strings.Contains(stderr, key[20:]) {
		t.Fatalf("serve printed the provisioned key:\n%s", stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, auth.SecretsDir, auth.BootstrapKeyFile)); !os.IsNotExist(err) {
		t.Fatalf("the provisioned key was saved in the data directory: %v", err)
	}
	// Offline, the catalog has exactly that key, as the bootstrap admin.
	keys := mustCLI(t, nil, "keys", "list", "--data-dir", dir)
	if !strings.Contains(keys, auth.APIKey(key).ID()) || !strings.Contains(keys, auth.BootstrapKeyName) {
		t.Fatalf("keys list after the import:\n%s", keys)
	}

	bad := filepath.Join(t.TempDir(), "bad.key")
	if err := os.WriteFile(bad, []byte("not-a-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][]string{
		"malformed": {"--bootstrap-admin-key-file", bad},
		"missing":   {"--bootstrap-admin-key-file", filepath.Join(t.TempDir(), "none")},
		"auth off":  {"--bootstrap-admin-key-file", file, "--auth=false"},
	} {
		code, _, errs := runCLI(t, nil, append([]string{"serve", "--data-dir", filepath.Join(t.TempDir(), "d"), "--rest-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0"}, args...)...)
		if code == 0 || !strings.Contains(errs, "bootstrap-admin-key-file") {
			t.Errorf("%s: exit %d, %q", name, code, errs)
		}
	}
}
