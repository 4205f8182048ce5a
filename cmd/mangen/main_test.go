package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every command gets a page, and a page carries the command's flags.
func TestWriteManPages(t *testing.T) {
	dir := t.TempDir()
	if err := write(dir); err != nil {
		t.Fatal(err)
	}
	for _, page := range []string{"akidb.1", "akidb-serve.1", "akidb-health.1", "akidb-keys-generate.1", "akidb-completion-bash.1"} {
		b, err := os.ReadFile(filepath.Join(dir, page))
		if err != nil {
			t.Fatalf("page %s: %v", page, err)
		}
		if !strings.HasPrefix(string(b), ".nh\n.TH \"AKIDB\" \"1\"") {
			t.Errorf("%s does not start as a section 1 man page: %.60q", page, b)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "akidb-serve.1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, flag := range []string{"data-dir", "tls-cert", "bootstrap-admin-key-file"} {
		if !strings.Contains(string(b), flag) {
			t.Errorf("akidb-serve.1 does not mention --%s", flag)
		}
	}
}
