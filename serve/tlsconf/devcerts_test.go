package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestWriteDevCerts(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	dir := filepath.Join(t.TempDir(), "dev")
	dc, err := WriteDevCerts(dir, now, nil)
	if err != nil {
		t.Fatal(err)
	}

	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("dir mode: %v, %v; want 0700", fi.Mode().Perm(), err)
	}
	for _, f := range []struct {
		path string
		mode os.FileMode
	}{
		{filepath.Join(dir, "ca.crt"), 0o644},
		{filepath.Join(dir, "server.crt"), 0o644},
		{filepath.Join(dir, "server.key"), 0o600},
		{filepath.Join(dir, "client.crt"), 0o644},
		{filepath.Join(dir, "client.key"), 0o600},
	} {
		fi, err := os.Stat(f.path)
		if err != nil {
			t.Errorf("%s: %v", f.path, err)
			continue
		}
		if fi.Mode().Perm() != f.mode {
			t.Errorf("%s mode %v, want %v", f.path, fi.Mode().Perm(), f.mode)
		}
	}
	if dc.CAFile != filepath.Join(dir, "ca.crt") || dc.ServerKeyFile != filepath.Join(dir, "server.key") || dc.ClientKeyFile != filepath.Join(dir, "client.key") {
		t.Errorf("DevCerts paths = %+v", dc)
	}

	load := func(p string) *x509.Certificate {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		certs, err := parseCertificates(data)
		if err != nil || len(certs) != 1 {
			t.Fatalf("%s: %d certificates, %v", p, len(certs), err)
		}
		return certs[0]
	}
	ca, server, client := load(dc.CAFile), load(dc.ServerCertFile), load(dc.ClientCertFile)

	if !ca.IsCA || ca.Subject.CommonName != "akidb-dev-ca" {
		t.Errorf("CA: IsCA=%v CN=%q", ca.IsCA, ca.Subject.CommonName)
	}
	for _, c := range []*x509.Certificate{ca, server, client} {
		pub, ok := c.PublicKey.(*ecdsa.PublicKey)
		if !ok || pub.Curve != elliptic.P256() {
			t.Errorf("%s: key %T, want ECDSA P-256", c.Subject.CommonName, c.PublicKey)
		}
		if !c.NotBefore.Equal(now.Add(-time.Hour)) || !c.NotAfter.Equal(now.Add(30*24*time.Hour)) {
			t.Errorf("%s valid %v..%v", c.Subject.CommonName, c.NotBefore, c.NotAfter)
		}
		if !strings.Contains(c.Subject.String(), "not for production") {
			t.Errorf("%s subject %q does not say it is for development", c.Subject.CommonName, c.Subject)
		}
	}
	if !dc.NotAfter.Equal(now.Add(DevCertValidity)) {
		t.Errorf("DevCerts.NotAfter = %v", dc.NotAfter)
	}
	if server.SerialNumber.Cmp(client.SerialNumber) == 0 || server.SerialNumber.Cmp(ca.SerialNumber) == 0 {
		t.Error("serial numbers repeat")
	}

	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, host := range []string{"localhost", "127.0.0.1", "::1"} {
		if _, err := server.Verify(x509.VerifyOptions{DNSName: host, Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("server certificate for %s: %v", host, err)
		}
	}
	if _, err := server.Verify(x509.VerifyOptions{DNSName: "example.com", Roots: roots, CurrentTime: now}); err == nil {
		t.Error("server certificate valid for example.com")
	}
	if client.Subject.CommonName != "akidb-dev-client" {
		t.Errorf("client CN %q", client.Subject.CommonName)
	}
	if _, err := client.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client certificate: %v", err)
	}
	if _, err := client.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
		t.Error("client certificate usable as a server certificate")
	}
	if _, err := server.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now.Add(31 * 24 * time.Hour)}); err == nil {
		t.Error("server certificate still valid after 31 days")
	}

	// The files work as a server config with mutual TLS.
	r, err := New(Config{CertFile: dc.ServerCertFile, KeyFile: dc.ServerKeyFile, ClientCAFile: dc.CAFile}, nil)
	if err != nil {
		t.Fatalf("New from dev certs: %v", err)
	}
	r.Close()
}

func TestWriteDevCertsCustomHosts(t *testing.T) {
	dc, err := WriteDevCerts(t.TempDir(), time.Now(), []string{"akidb.local", "10.0.0.7"})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(dc.ServerCertFile)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := parseCertificates(data)
	if err != nil {
		t.Fatal(err)
	}
	c := certs[0]
	if !slices.Equal(c.DNSNames, []string{"akidb.local"}) || len(c.IPAddresses) != 1 || !c.IPAddresses[0].Equal(net.ParseIP("10.0.0.7")) {
		t.Errorf("SANs: DNS %q IP %v", c.DNSNames, c.IPAddresses)
	}
}

func TestWriteDevCertsRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "server.key")
	if err := os.WriteFile(existing, []byte("real key"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := WriteDevCerts(dir, time.Now(), nil)
	if err == nil || !strings.Contains(err.Error(), existing) {
		t.Fatalf("WriteDevCerts over an existing key: %v", err)
	}
	if data, _ := os.ReadFile(existing); string(data) != "real key" {
		t.Error("existing key was changed")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("WriteDevCerts left %d files behind", len(entries)-1)
	}
}
