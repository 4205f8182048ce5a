package tlsconf

import (
	"crypto/tls"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseMinVersion(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint16
		ok   bool
	}{
		{"", tls.VersionTLS13, true},
		{"1.3", tls.VersionTLS13, true},
		{"1.2", tls.VersionTLS12, true},
		{"1.1", 0, false},
		{"1.0", 0, false},
		{"TLS1.3", 0, false},
		{" 1.3", 0, false},
	} {
		got, err := ParseMinVersion(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseMinVersion(%q) = %v, %v; want %v, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestNewFailsClearlyOnBadFiles(t *testing.T) {
	dc := writeDev(t)
	other := writeDev(t)
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	garbage := write("garbage.pem", "this is not PEM\n")
	wrongType := write("key-as-cert.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
	badDER := write("bad-der.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
	missing := filepath.Join(dir, "missing.crt")

	for _, tc := range []struct {
		name     string
		cfg      Config
		want     string // the error must contain this
		notFound bool
	}{
		{"no cert file", Config{KeyFile: dc.ServerKeyFile}, "certificate file and a key file are required", false},
		{"no key file", Config{CertFile: dc.ServerCertFile}, "certificate file and a key file are required", false},
		{"bad min version", Config{CertFile: dc.ServerCertFile, KeyFile: dc.ServerKeyFile, MinVersion: "1.1"}, `unsupported minimum version "1.1"`, false},
		{"missing cert", Config{CertFile: missing, KeyFile: dc.ServerKeyFile}, "tls: load certificate " + missing + ": ", true},
		{"cert not PEM", Config{CertFile: garbage, KeyFile: dc.ServerKeyFile}, "tls: load certificate " + garbage + ": no PEM CERTIFICATE block", false},
		{"cert is a key", Config{CertFile: wrongType, KeyFile: dc.ServerKeyFile}, "tls: load certificate " + wrongType + `: PEM block 1 is "PRIVATE KEY"`, false},
		{"cert bad DER", Config{CertFile: badDER, KeyFile: dc.ServerKeyFile}, "tls: load certificate " + badDER + ": PEM block 1: x509:", false},
		{"missing key", Config{CertFile: dc.ServerCertFile, KeyFile: missing}, "tls: load key " + missing + ": ", true},
		{"key is a cert", Config{CertFile: dc.ServerCertFile, KeyFile: dc.ServerCertFile}, "tls: load key " + dc.ServerCertFile + ": no PEM PRIVATE KEY block", false},
		{"key mismatch", Config{CertFile: dc.ServerCertFile, KeyFile: other.ServerKeyFile}, "private key does not match public key", false},
		{"missing client CA", Config{CertFile: dc.ServerCertFile, KeyFile: dc.ServerKeyFile, ClientCAFile: missing}, "tls: load client CA bundle " + missing + ": ", true},
		{"client CA not PEM", Config{CertFile: dc.ServerCertFile, KeyFile: dc.ServerKeyFile, ClientCAFile: garbage}, "tls: load client CA bundle " + garbage + ": no PEM CERTIFICATE block", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := New(tc.cfg, nil)
			if err == nil {
				r.Close()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %q, want it to contain %q", err, tc.want)
			}
			if got := errors.Is(err, fs.ErrNotExist); got != tc.notFound {
				t.Errorf("errors.Is(err, fs.ErrNotExist) = %v, want %v", got, tc.notFound)
			}
		})
	}
}

func TestNewAcceptsChainAndBundle(t *testing.T) {
	dc := writeDev(t)
	other := writeDev(t)
	dir := t.TempDir()
	readAll := func(files ...string) []byte {
		var out []byte
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b...)
		}
		return out
	}
	// Leaf followed by its issuer, as full-chain files are laid out, and a
	// client CA bundle holding two CAs with commentary between them.
	chain := filepath.Join(dir, "fullchain.pem")
	bundle := filepath.Join(dir, "bundle.pem")
	if err := os.WriteFile(chain, readAll(dc.ServerCertFile, dc.CAFile), 0o600); err != nil {
		t.Fatal(err)
	}
	bundleData := append([]byte("# dev CA\n"), readAll(dc.CAFile)...)
	bundleData = append(bundleData, "# other CA\n"...)
	bundleData = append(bundleData, readAll(other.CAFile)...)
	if err := os.WriteFile(bundle, bundleData, 0o600); err != nil {
		t.Fatal(err)
	}
	r := newReloader(t, Config{CertFile: chain, KeyFile: dc.ServerKeyFile, ClientCAFile: bundle}, nil)
	addr := serveHTTPS(t, r)
	for _, client := range []DevCerts{dc, other} {
		got := mustFetch(t, addr, clientTLS(t, []string{dc.CAFile}, client.ClientCertFile, client.ClientKeyFile))
		if got.body != DevClientCommonName {
			t.Errorf("client of %s: server saw CN %q", client.Dir, got.body)
		}
	}
	if st := r.Status(); st.Generation != 1 || st.Leaf.SerialNumber.Cmp(leafSerial(t, dc.ServerCertFile)) != 0 {
		t.Errorf("Status = %+v", st)
	}
}
