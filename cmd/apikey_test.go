package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAPIKeySources: a key from AKIDB_API_KEY or --api-key-file works
// quietly; --api-key works but warns that the process list shows it;
// the flag and the file together are refused.
func TestAPIKeySources(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, _ := startServer(t, dir)
	boot := readBootstrap(t, dir)
	server := "http://" + s.RESTAddr().String()
	file := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(file, []byte(boot+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		env  map[string]string
		args []string
		warn bool
	}{
		{"environment", map[string]string{"AKIDB_API_KEY": boot}, nil, false},
		{"file flag", nil, []string{"--api-key-file", file}, false},
		{"file from the environment", map[string]string{"AKIDB_API_KEY_FILE": file}, nil, false},
		{"flag", nil, []string{"--api-key", boot}, true},
	} {
		code, out, errs := runCLI(t, c.env, append([]string{"tenants", "list", "--server", server}, c.args...)...)
		if code != 0 || !strings.Contains(out, "default") {
			t.Fatalf("%s: exit %d\n%s\n%s", c.name, code, out, errs)
		}
		if got := strings.Contains(errs, "--api-key shows the key"); got != c.warn {
			t.Errorf("%s: warned %v, want %v: %q", c.name, got, c.warn, errs)
		}
	}
	if code, _, errs := runCLI(t, nil, "tenants", "list", "--server", server, "--api-key", boot, "--api-key-file", file); code == 0 || !strings.Contains(errs, "use one") {
		t.Fatalf("flag and file: exit %d %q", code, errs)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCLI(t, nil, "tenants", "list", "--server", server, "--api-key-file", empty); code == 0 || !strings.Contains(errs, "empty") {
		t.Fatalf("empty file: exit %d %q", code, errs)
	}
}
