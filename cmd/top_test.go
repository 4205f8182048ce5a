package cmd

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/akidb/akidb/admin/top"
	"github.com/akidb/akidb/engine/wal"
	"github.com/akidb/akidb/serve"
	"github.com/akidb/akidb/serve/access"
	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/tlsconf"
)

func TestTopFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"top", "-o", "json"}, "--output json needs --once"},
		{[]string{"top", "--once", "-o", "yaml"}, `--output "yaml"`},
		{[]string{"top", "--once", "--interval", "10ms"}, "--interval 10ms: want between 100ms and 1h0m0s"},
		{[]string{"top"}, "draws on a terminal"},
		{[]string{"top", "--once", "--server", "127.0.0.1:8080"}, "want a URL"},
		{[]string{"top", "--once", "--server", "https://127.0.0.1:1", "--ca", "/nonexistent/ca.pem"}, "read CA bundle"},
	} {
		code, out, errs := runCLI(t, nil, c.args...)
		if code == 0 || out != "" || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want an error with %q", c.args, code, out, errs, c.want)
		}
	}
	code, _, errs := runCLI(t, nil, "top", "--once", "--server", "http://127.0.0.1:1", "--data-dir", t.TempDir(), "--interval", "100ms")
	if code != 1 || !strings.Contains(errs, "the server did not answer") || !strings.Contains(errs, "is the server running") {
		t.Errorf("a closed port: exit %d, %q", code, errs)
	}
}

// TestTopOnce runs `akidb top --once` against a real server: the key found
// in --data-dir, JSON and text, no key, a refused key.
func TestTopOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, _ := startServerWith(t, dir, func(cfg *serve.Config) { cfg.Version = "v2.0.0-test" })
	server := "http://" + s.RESTAddr().String()
	key := readBootstrap(t, dir)
	env := map[string]string{"AKIDB_API_KEY": key}
	mustCLI(t, env, "tenants", "create", "--server", server, "acme")
	postJSON(t, server, key, "/api/v1/collections", api.CreateCollectionRequest{Name: "docs", Dimension: 3})
	postJSON(t, server, key, "/api/v1/collections/docs/insert", api.UpsertRequest{Vectors: []api.Vector{{ID: "a", Vector: []float32{1, 0, 0}}}})

	out := mustCLI(t, nil, "top", "--once", "-o", "json", "--server", server, "--data-dir", dir, "--interval", "100ms")
	snap := decode[top.Snapshot](t, out)
	if !snap.Reachable || !strings.Contains(snap.KeySource, filepath.Join(dir, "secrets", "bootstrap-admin.key")) || snap.Header.Readiness != "ready" {
		t.Fatalf("snapshot: reachable %v, key source %q, readiness %q", snap.Reachable, snap.KeySource, snap.Header.Readiness)
	}
	h := snap.Header
	if h.Version != "v2.0.0-test" || h.Vectors == nil || *h.Vectors != 1 || *h.Collections != 1 || h.WALBytes == nil || *h.WALBytes <= 0 || h.RSSBytes == nil || h.UptimeSeconds == nil {
		t.Fatalf("header %+v", h)
	}
	if snap.Traffic.Ops[1].Total != 1 || snap.Traffic.Ops[1].PerSecond == nil {
		t.Fatalf("insert traffic %+v", snap.Traffic.Ops[1])
	}
	var named bool
	for _, r := range snap.Tenants.Rows {
		named = named || (r.Name == "default" && r.AllowedPerSecond != nil)
	}
	if !named || snap.Tenants.Unavailable != "" {
		t.Fatalf("tenants %+v", snap.Tenants)
	}
	if snap.Storage.Enabled || len(snap.Storage.Stores) != 0 || len(snap.Storage.Collections) != 1 || snap.DLQ.Unavailable != "" {
		t.Fatalf("storage %+v, dlq %+v", snap.Storage, snap.DLQ)
	}
	if c := snap.Storage.Collections[0]; c.LoadState != "resident" || c.LoadReason != "" {
		t.Fatalf("load state of %s: %q (%q)", c.Name, c.LoadState, c.LoadReason)
	}

	text := mustCLI(t, env, "top", "--once", "--server", server, "--interval", "100ms")
	for _, want := range []string{"akidb top  " + server, "● ready", "── Traffic", "── Tenants", "── Storage", "── DLQ", "local only", "the dead-letter queue is empty"} {
		if !strings.Contains(text, want) {
			t.Errorf("the frame lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "\x1b") {
		t.Errorf("escape codes in the plain-text frame")
	}

	// No key: what needs none.
	anon := decode[top.Snapshot](t, mustCLI(t, nil, "top", "--once", "-o", "json", "--server", server, "--data-dir", t.TempDir(), "--interval", "100ms"))
	if !anon.Reachable || anon.Header.Vectors == nil || !strings.Contains(anon.Storage.Unavailable, "no API key") || !strings.Contains(anon.Tenants.Unavailable, "no API key") {
		t.Fatalf("without a key: %+v", anon)
	}
	// A reader: no tenant series (operator only), the storage state of its
	// tenant.
	reader := decode[access.CreatedKey](t, mustCLI(t, env, "keys", "create", "--server", server, "--role", "reader", "-o", "json")).Key
	rd := decode[top.Snapshot](t, mustCLI(t, map[string]string{"AKIDB_API_KEY": reader}, "top", "--once", "-o", "json", "--server", server, "--interval", "100ms"))
	if !strings.Contains(rd.Tenants.Unavailable, "needs admin") || rd.Storage.Unavailable != "" || len(rd.Storage.Collections) != 1 {
		t.Fatalf("a reader: tenants %q, storage %+v", rd.Tenants.Unavailable, rd.Storage)
	}
	// A refused key: said, and the rest still shown.
	bad := decode[top.Snapshot](t, mustCLI(t, map[string]string{"AKIDB_API_KEY": "akidb_nope"}, "top", "--once", "-o", "json", "--server", server, "--interval", "100ms"))
	if !strings.Contains(bad.Storage.Unavailable, "the API key was refused") || bad.Header.Vectors == nil {
		t.Fatalf("a refused key: %+v", bad)
	}
}

// TestTopTLS: a server on mutual TLS, read with --ca/--cert/--key (the
// short names) and refused with a hint without them.
func TestTopTLS(t *testing.T) {
	dc, err := tlsconf.WriteDevCerts(t.TempDir(), time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := serve.DefaultConfig()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.RESTAddr, cfg.GRPCAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Engine.Sync = wal.SyncNone
	cfg.TLS = tlsconf.Config{CertFile: dc.ServerCertFile, KeyFile: dc.ServerKeyFile, ClientCAFile: dc.CAFile}
	s, _ := startServerConfig(t, cfg)
	url := "https://" + s.RESTAddr().String()
	base := []string{"top", "--once", "-o", "json", "--server", url, "--data-dir", cfg.DataDir, "--interval", "100ms"}
	snap := decode[top.Snapshot](t, mustCLI(t, nil, append(base, "--ca", dc.CAFile, "--cert", dc.ClientCertFile, "--key", dc.ClientKeyFile)...))
	if !snap.Reachable || snap.Storage.Unavailable != "" {
		t.Fatalf("over mTLS: %+v", snap)
	}
	for name, c := range map[string]struct {
		args []string
		want string
	}{
		"untrusted CA":   {[]string{"--cert", dc.ClientCertFile, "--key", dc.ClientKeyFile}, "pass its CA with --ca-cert"},
		"no client cert": {[]string{"--ca-cert", dc.CAFile}, "asked for a client certificate (mutual TLS) and none is configured"},
		"plain http":     {[]string{"--server", "http://" + s.RESTAddr().String()}, "use an https:// URL"},
	} {
		code, out, errs := runCLI(t, nil, append(base, c.args...)...)
		if code != 1 || !strings.Contains(out, `"reachable": false`) || !strings.Contains(errs, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want %q", name, code, errs, c.want)
		}
	}
}

// TestTopBootstrapKeyUnreadable: a key file that cannot be read is said,
// not ignored.
func TestTopBootstrapKeyUnreadable(t *testing.T) {
	dir := t.TempDir()
	secrets := filepath.Join(dir, "secrets")
	if err := os.MkdirAll(filepath.Join(secrets, "bootstrap-admin.key"), 0o700); err != nil { // a directory: read fails
		t.Fatal(err)
	}
	key, source, notice := bootstrapKeyOf(dir)
	if key != "" || source != "" || !strings.Contains(notice, "could not be read") {
		t.Fatalf("key %q source %q notice %q", key, source, notice)
	}
	if key, _, notice := bootstrapKeyOf(t.TempDir()); key != "" || notice != "" {
		t.Fatalf("no file: key %q notice %q", key, notice)
	}
}

// postJSON sends a JSON body with the key and fails the test on an answer
// other than 2xx.
func postJSON(t testing.TB, server, key, path string, body any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(http.MethodPost, server+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("POST %s: %d", path, resp.StatusCode)
	}
}
