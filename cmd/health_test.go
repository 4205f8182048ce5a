package cmd

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/akidb/akidb/engine/wal"
	"github.com/akidb/akidb/serve"
	"github.com/akidb/akidb/serve/tlsconf"
)

// `akidb health` exits 0 when /readyz answers 200, also over mutual TLS
// with the TLS flags, and 1 when nothing answers or the certificate is
// not trusted.
func TestHealth(t *testing.T) {
	s, _ := startServer(t, filepath.Join(t.TempDir(), "data"))
	base := "http://" + s.RESTAddr().String()
	out := mustCLI(t, nil, "health", "--url", base)
	if !strings.Contains(out, "/readyz: 200") {
		t.Fatalf("health: %q", out)
	}
	if out := mustCLI(t, nil, "health", "--url", base+"/livez"); !strings.Contains(out, "/livez: 200") {
		t.Fatalf("health --url .../livez: %q", out)
	}
	if out := mustCLI(t, map[string]string{"AKIDB_URL": base}, "health"); !strings.Contains(out, "/readyz: 200") {
		t.Fatalf("health with AKIDB_URL: %q", out)
	}

	// A port nobody listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	if code, _, errs := runCLI(t, nil, "health", "--url", closed, "--timeout", "5s"); code != 1 || !strings.Contains(errs, "refused") {
		t.Fatalf("health of a closed port: exit %d, %q", code, errs)
	}
	for _, bad := range []string{"127.0.0.1:8080", "ftp://x", "http://"} {
		if code, _, errs := runCLI(t, nil, "health", "--url", bad); code != 1 || !strings.Contains(errs, "--url") {
			t.Errorf("health --url %q: exit %d, %q", bad, code, errs)
		}
	}
}

func TestHealthTLS(t *testing.T) {
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
	out := mustCLI(t, nil, "health", "--url", url, "--ca-cert", dc.CAFile, "--client-cert", dc.ClientCertFile, "--client-key", dc.ClientKeyFile)
	if !strings.Contains(out, "/readyz: 200") {
		t.Fatalf("health over mTLS: %q", out)
	}
	// The dev certificate names localhost: checked against that name.
	out = mustCLI(t, nil, "health", "--url", url, "--ca-cert", dc.CAFile, "--client-cert", dc.ClientCertFile, "--client-key", dc.ClientKeyFile,
		"--tls-server-name", "localhost")
	if !strings.Contains(out, "/readyz: 200") {
		t.Fatalf("health --tls-server-name localhost: %q", out)
	}
	for name, args := range map[string][]string{
		"untrusted CA":       {"--client-cert", dc.ClientCertFile, "--client-key", dc.ClientKeyFile},
		"no client cert":     {"--ca-cert", dc.CAFile},
		"wrong server name":  {"--ca-cert", dc.CAFile, "--client-cert", dc.ClientCertFile, "--client-key", dc.ClientKeyFile, "--tls-server-name", "db.example"},
		"missing CA file":    {"--ca-cert", filepath.Join(t.TempDir(), "none.crt")},
		"plaintext to a TLS": nil,
	} {
		u := url
		if args == nil {
			u = "http://" + s.RESTAddr().String()
		}
		if code, out, errs := runCLI(t, nil, append([]string{"health", "--url", u}, args...)...); code != 1 || out != "" || errs == "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", name, code, out, errs)
		}
	}
}
