package cmd

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// A short embedded run: the exit status follows --fail-on.
func TestLoadtestExitCodes(t *testing.T) {
	base := []string{"loadtest", "--qps", "20", "--duration", "1s", "--dim", "8", "--preload", "100", "--preload-batch", "50", "--recall-sample", "5", "--quiet"}

	code, out, errs := runCLI(t, nil, append(base, "--fail-on", "p99>1ns")...)
	if code != 3 || !strings.Contains(errs, "fail-on") || !strings.Contains(errs, "p99>1ns") {
		t.Fatalf("p99>1ns: exit %d, stderr %q", code, errs)
	}
	if !strings.Contains(out, "FAILED") {
		t.Fatalf("the report must still be printed and show the failed threshold:\n%s", out)
	}

	code, out, errs = runCLI(t, nil, append(base, "--fail-on", "p99>1h,success<50,recall<0.1", "--output", "json")...)
	if code != 0 {
		t.Fatalf("lenient thresholds: exit %d, stderr %q", code, errs)
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--output json: %v\n%s", err, out)
	}
	if n, _ := rep["requests"].(float64); n < 15 {
		t.Fatalf("requests %v", rep["requests"])
	}
}

func TestLoadtestBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--mix", "query=1,foo=2"}, `unknown operation "foo"`},
		{[]string{"--mix", "query"}, "--mix"},
		{[]string{"--qps", "0"}, "--qps must be positive"},
		{[]string{"--qps", "-3"}, "--qps must be positive"},
		{[]string{"--ramp", "10:5:1s"}, "--ramp"},
		{[]string{"--ramp", "fast"}, "--ramp"},
		{[]string{"--qps", "50", "--ramp", "10:100:1s"}, "exclude each other"},
		{[]string{"--duration", "5s", "--ramp", "10:100:1s"}, "--duration applies to --qps"},
		{[]string{"--fail-on", "p99>>1ms"}, "--fail-on"},
		{[]string{"--fail-on", "latency>1ms"}, "unknown metric"},
		{[]string{"--output", "xml"}, "--output"},
		{[]string{"--filter-selectivity", "2"}, "--filter-selectivity"},
		{[]string{"--target", "localhost:8080"}, "--target"},
		{[]string{"--insecure"}, "https"},
	} {
		code, _, errs := runCLI(t, nil, append([]string{"loadtest"}, tc.args...)...)
		if code != 1 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want exit 1 and %q", tc.args, code, errs, tc.want)
		}
	}
}

func TestLoadtestClosedPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	start := time.Now()
	code, _, errs := runCLI(t, nil, "loadtest", "--target", "http://"+addr, "--quiet")
	if code != 1 || !strings.Contains(errs, "not reachable") || !strings.Contains(errs, addr) {
		t.Fatalf("closed port: exit %d, stderr %q", code, errs)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("%s to report a closed port", d)
	}
}

// AKIDB_API_KEY sets --api-key; the flag wins over it.
func TestLoadtestAPIKeyFromEnv(t *testing.T) {
	probe := func(env map[string]string, args ...string) string {
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
		cfg, err := loadtestConfig(c, cmd)
		if err != nil {
			t.Fatal(err)
		}
		return cfg.APIKey
	}
	env := map[string]string{"AKIDB_API_KEY": "from-env"}
	if got := probe(env, "loadtest", "--target", "http://127.0.0.1:1"); got != "from-env" {
		t.Fatalf("env key: %q", got)
	}
	if got := probe(env, "loadtest", "--target", "http://127.0.0.1:1", "--api-key", "from-flag"); got != "from-flag" {
		t.Fatalf("flag key: %q", got)
	}
}
