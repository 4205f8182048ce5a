package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigFileFromEnv: --config is a setting like the others, so
// AKIDB_CONFIG names the file, and the file's values apply under the
// environment's and the flags'.
func TestConfigFileFromEnv(t *testing.T) {
	file := filepath.Join(t.TempDir(), "akidb.toml")
	if err := os.WriteFile(file, []byte("k = 3\nm = 12\nlog-level = \"warn\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		env     map[string]string
		args    []string
		k, m    int
		logWarn bool
	}{
		{"defaults", nil, nil, 10, 16, false},
		{"file via AKIDB_CONFIG", map[string]string{"AKIDB_CONFIG": file}, nil, 3, 12, true},
		{"env over file", map[string]string{"AKIDB_CONFIG": file, "AKIDB_K": "5", "AKIDB_LOG_LEVEL": "info"}, nil, 5, 12, false},
		{"flag over env", map[string]string{"AKIDB_CONFIG": file, "AKIDB_K": "5"}, []string{"--k", "6"}, 6, 12, true},
	} {
		restore := setEnv(t, c.env)
		root, cl := newRootCommand(&State{LookupEnv: os.LookupEnv, Stderr: &strings.Builder{}})
		cmd, rest, err := root.Find(append([]string{"bench", "ann"}, c.args...))
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.ParseFlags(rest); err != nil {
			t.Fatal(err)
		}
		if err := cl.setup(cmd); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if k, m := cl.v.GetInt("k"), cl.v.GetInt("m"); k != c.k || m != c.m {
			t.Errorf("%s: k=%d m=%d, want %d and %d", c.name, k, m, c.k, c.m)
		}
		if got := cl.v.GetString("log-level") == "warn"; got != c.logWarn {
			t.Errorf("%s: log-level %q", c.name, cl.v.GetString("log-level"))
		}
		restore()
	}
}

// TestConfigUnknownKeysRefused: a key no command knows is refused,
// naming the key, the file and the nearest known key; keys of other
// commands (a file shared by serve and the admin commands) pass.
func TestConfigUnknownKeysRefused(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	typo := write("typo.toml", "fsnyc = \"none\"\n")
	code, _, errs := runCLI(t, nil, "version", "--config", typo)
	if code == 0 || !strings.Contains(errs, `unknown key "fsnyc"`) || !strings.Contains(errs, typo) || !strings.Contains(errs, `did you mean "fsync"`) {
		t.Fatalf("typo: exit %d %q", code, errs)
	}
	nested := write("nested.yaml", "server:\n  rest-addr: 127.0.0.1:1\n")
	if code, _, errs := runCLI(t, nil, "version", "--config", nested); code == 0 || !strings.Contains(errs, `"server.rest-addr"`) || !strings.Contains(errs, `did you mean "rest-addr"`) {
		t.Fatalf("nested: exit %d %q", code, errs)
	}
	far := write("far.toml", "completely-unrelated-setting = 1\n")
	if code, _, errs := runCLI(t, nil, "version", "--config", far); code == 0 || !strings.Contains(errs, "completely-unrelated-setting") || strings.Contains(errs, "did you mean") {
		t.Fatalf("no near key: exit %d %q", code, errs)
	}
	shared := write("shared.toml", "fsync = \"always\"\ndata-dir = \"x\"\nlog-level = \"info\"\n")
	if code, _, errs := runCLI(t, nil, "version", "--config", shared); code != 0 {
		t.Fatalf("a serve key in the file of another command: exit %d %q", code, errs)
	}
}

// TestConfigExampleIsValid: every key of docs/config.example.toml is one
// the commands know.
func TestConfigExampleIsValid(t *testing.T) {
	if code, _, errs := runCLI(t, nil, "version", "--config", filepath.Join("..", "docs", "config.example.toml")); code != 0 {
		t.Fatalf("docs/config.example.toml: exit %d %s", code, errs)
	}
}
