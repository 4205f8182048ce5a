package cmd

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestREADMECommandTable: README's command table has a row for every
// command a user can run.
func TestREADMECommandTable(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, table, found := strings.Cut(string(readme), "| command | what it does |")
	if !found {
		t.Fatal("README has no command table")
	}
	table, _, _ = strings.Cut(table, "\n\n")
	root, _ := newRootCommand(&State{})
	for _, c := range root.Commands() {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		if !strings.Contains(table, "`akidb "+c.Name()) {
			t.Errorf("README's command table has no row for akidb %s", c.Name())
		}
	}
}

// TestMakeBuildStampsVersion: `make build` links `git describe` and the
// commit into `akidb version`. The test takes the link flags from make's
// dry run, builds with them and asks the binary.
func TestMakeBuildStampsVersion(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = root
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s %v: %v", name, args, err)
		}
		return strings.TrimSpace(string(out))
	}
	dry := run("make", "-n", "-s", "build")
	_, flags, ok := strings.Cut(dry, "-ldflags '")
	flags, _, ok2 := strings.Cut(flags, "'")
	if !ok || !ok2 {
		t.Fatalf("make build passes no -ldflags:\n%s", dry)
	}
	describe := run("git", "describe", "--tags", "--always", "--dirty")
	head := run("git", "rev-parse", "HEAD")
	bin := filepath.Join(t.TempDir(), "akidb")
	run("go", "build", "-ldflags", flags, "-o", bin, ".")
	var vi versionInfo
	if err := json.Unmarshal([]byte(run(bin, "version", "--json")), &vi); err != nil {
		t.Fatal(err)
	}
	if vi.Version != describe || vi.Commit != head {
		t.Fatalf("version %q commit %q; want %q and %q (flags %s)", vi.Version, vi.Commit, describe, head, flags)
	}
}
