package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// setEnv sets env in the process environment, where viper reads AKIDB_*
// settings, until the returned function runs or the test ends. Tests that
// use it must not run in parallel.
func setEnv(t testing.TB, env map[string]string) (restore func()) {
	t.Helper()
	var undo []func()
	for k, v := range env {
		prev, had := os.LookupEnv(k)
		if err := os.Setenv(k, v); err != nil {
			t.Fatal(err)
		}
		undo = append(undo, func() {
			if had {
				_ = os.Setenv(k, prev)
			} else {
				_ = os.Unsetenv(k)
			}
		})
	}
	done := false
	restore = func() {
		if !done {
			done = true
			for _, u := range undo {
				u()
			}
		}
	}
	t.Cleanup(restore)
	return restore
}

// runCLI runs the command tree in-process with the given args and env.
func runCLI(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	defer setEnv(t, env)()
	var out, errb bytes.Buffer
	st := &State{
		Stdout: &out, Stderr: &errb, Stdin: strings.NewReader(""), Args: args,
		LookupEnv: os.LookupEnv,
		SignalContext: func(p context.Context) (context.Context, context.CancelFunc) {
			return context.WithCancel(p)
		},
	}
	code = Run(st)
	return code, out.String(), errb.String()
}

func TestVersion(t *testing.T) {
	code, out, errs := runCLI(t, nil, "version", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var vi versionInfo
	if err := json.Unmarshal([]byte(out), &vi); err != nil {
		t.Fatalf("version --json: %v: %q", err, out)
	}
	if vi.Version == "" || vi.Go == "" || vi.Kernels == "" {
		t.Fatalf("incomplete version info %+v", vi)
	}
	code, out, _ = runCLI(t, nil, "version")
	if code != 0 || !strings.HasPrefix(out, "akidb ") {
		t.Fatalf("version: %d %q", code, out)
	}
}

func TestUnknownCommandAndBadFlags(t *testing.T) {
	if code, _, errs := runCLI(t, nil, "frobnicate"); code == 0 || !strings.Contains(errs, "unknown command") {
		t.Fatalf("unknown command: %d %q", code, errs)
	}
	if code, _, errs := runCLI(t, nil, "version", "--log-level", "loud"); code == 0 || !strings.Contains(errs, "log-level") {
		t.Fatalf("bad log level: %d %q", code, errs)
	}
	if code, _, errs := runCLI(t, nil, "version", "--log-format", "xml"); code == 0 || !strings.Contains(errs, "log-format") {
		t.Fatalf("bad log format: %d %q", code, errs)
	}
	if code, _, errs := runCLI(t, nil, "version", "--config", "/nonexistent/akidb.toml"); code == 0 || !strings.Contains(errs, "read config") {
		t.Fatalf("missing config: %d %q", code, errs)
	}
}

// Flags beat AKIDB_* env, which beats the config file, which beats defaults.
func TestConfigLayering(t *testing.T) {
	dir := t.TempDir()
	toml := filepath.Join(dir, "akidb.toml")
	if err := os.WriteFile(toml, []byte("ef = \"7,8\"\nk = 3\nmetric = \"cosine\"\nthreads = 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := filepath.Join(dir, "akidb.yaml")
	if err := os.WriteFile(yaml, []byte("k: 4\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	probe := func(env map[string]string, args ...string) {
		t.Helper()
		defer setEnv(t, env)()
		root, c := newRootCommand(&State{LookupEnv: os.LookupEnv, Stderr: &bytes.Buffer{}})
		cmd, rest, err := root.Find(args)
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.ParseFlags(rest); err != nil {
			t.Fatal(err)
		}
		if err := c.setup(cmd); err != nil {
			t.Fatal(err)
		}
		got = c.v.AllSettings()
	}
	probe(nil, "bench", "ann", "--config", toml)
	if got["k"] != int64(3) && got["k"] != 3 {
		t.Fatalf("config file k: %v", got["k"])
	}
	if got["m"] != 16 {
		t.Fatalf("default m: %v", got["m"])
	}
	probe(map[string]string{"AKIDB_K": "5", "AKIDB_EF_CONSTRUCTION": "300"}, "bench", "ann", "--config", toml)
	if got["k"] != "5" || got["ef-construction"] != "300" {
		t.Fatalf("env over file: k=%v efc=%v", got["k"], got["ef-construction"])
	}
	probe(map[string]string{"AKIDB_K": "5"}, "bench", "ann", "--config", toml, "--k", "6")
	if got["k"] != 6 {
		t.Fatalf("flag over env: k=%v", got["k"])
	}
	probe(nil, "bench", "ann", "--config", yaml)
	if got["k"] != 4 {
		t.Fatalf("yaml config: k=%v", got["k"])
	}
}
