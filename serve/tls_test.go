package serve

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/akidb/akidb/serve/grpc/akidbv1"
	"github.com/akidb/akidb/serve/tlsconf"
)

func devCerts(t *testing.T) tlsconf.DevCerts {
	t.Helper()
	dc, err := tlsconf.WriteDevCerts(filepath.Join(t.TempDir(), "certs"), time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return dc
}

func certPool(t *testing.T, files ...string) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !pool.AppendCertsFromPEM(b) {
			t.Fatalf("%s: no certificate", f)
		}
	}
	return pool
}

func serialOf(t *testing.T, certFile string) *big.Int {
	t.Helper()
	b, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c.SerialNumber
}

func httpsClient(tc *tls.Config) *http.Client {
	return &http.Client{Timeout: waitTimeout, Transport: &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true}}
}

// TestTLS: REST and gRPC are served over TLS 1.3 with HSTS; a TLS 1.2-only
// client is refused by default; a replaced certificate is served to new
// connections after a reload, without a restart.
func TestTLS(t *testing.T) {
	dc := devCerts(t)
	cfg := testConfig(t)
	cfg.TLS = tlsconf.Config{CertFile: dc.ServerCertFile, KeyFile: dc.ServerKeyFile}
	reload := make(chan struct{})
	cfg.Reload = reload
	s := startServer(t, cfg)
	boot := bootstrapKey(t, cfg.DataDir)
	next := devCerts(t) // the replacement, from another CA
	roots := certPool(t, dc.CAFile, next.CAFile)
	client := httpsClient(&tls.Config{RootCAs: roots})
	restURL := "https://" + s.RESTAddr().String()

	r := do(t, client, "GET", restURL+"/api/v1/collections", boot, nil)
	if r.status != http.StatusOK || r.header.Get("Strict-Transport-Security") != tlsconf.HSTSHeader {
		t.Fatalf("over TLS: %d HSTS %q %s", r.status, r.header.Get("Strict-Transport-Security"), r.body)
	}
	if r := do(t, client, "GET", restURL+"/livez", "", nil); r.header.Get("Strict-Transport-Security") == "" {
		t.Fatal("no HSTS on a probe over TLS")
	}
	// Plain HTTP to the TLS port is not served.
	if resp, err := (&http.Client{Timeout: waitTimeout}).Get("http://" + s.RESTAddr().String() + "/livez"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("plain HTTP answered 200 on the TLS port")
		}
	}

	// TLS 1.2-only clients are refused on both ports.
	for _, addr := range []net.Addr{s.RESTAddr(), s.GRPCAddr()} {
		conn, err := tls.Dial("tcp", addr.String(), &tls.Config{RootCAs: roots, MaxVersion: tls.VersionTLS12})
		if err == nil {
			conn.Close()
			t.Fatalf("%s: a TLS 1.2 client was accepted", addr)
		}
		conn, err = tls.Dial("tcp", addr.String(), &tls.Config{RootCAs: roots, NextProtos: []string{"h2"}})
		if err != nil {
			t.Fatalf("%s: TLS 1.3 client: %v", addr, err)
		}
		if v := conn.ConnectionState().Version; v != tls.VersionTLS13 {
			t.Fatalf("%s: negotiated %x", addr, v)
		}
		conn.Close()
	}

	// gRPC over TLS with a credential.
	gconn, err := grpc.NewClient(s.GRPCAddr().String(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: roots})))
	if err != nil {
		t.Fatal(err)
	}
	defer gconn.Close()
	if _, err := akidbv1.NewCollectionServiceClient(gconn).ListCollections(rpcCtx(t, boot), &akidbv1.ListCollectionsRequest{}); err != nil {
		t.Fatalf("gRPC over TLS: %v", err)
	}

	// Replace the certificate files (by rename, as tools do) and reload:
	// a new connection sees the new serial, by ReloadTLS and by the
	// reload channel (SIGHUP in the CLI) alike.
	served := func(addr net.Addr) *big.Int {
		t.Helper()
		conn, err := tls.Dial("tcp", addr.String(), &tls.Config{RootCAs: roots, NextProtos: []string{"h2"}})
		if err != nil {
			t.Fatalf("dial %s: %v", addr, err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber
	}
	if got := served(s.RESTAddr()); got.Cmp(serialOf(t, dc.ServerCertFile)) != 0 {
		t.Fatalf("serving serial %v before the reload", got)
	}
	want := serialOf(t, next.ServerCertFile)
	replace(t, next.ServerCertFile, dc.ServerCertFile)
	replace(t, next.ServerKeyFile, dc.ServerKeyFile)
	if err := s.ReloadTLS(); err != nil {
		t.Fatalf("ReloadTLS: %v", err)
	}
	for _, addr := range []net.Addr{s.RESTAddr(), s.GRPCAddr()} {
		if got := served(addr); got.Cmp(want) != 0 {
			t.Fatalf("%s serves serial %v after the reload, want %v", addr, got, want)
		}
	}

	third := devCerts(t)
	roots.AppendCertsFromPEM(mustRead(t, third.CAFile))
	before := s.TLS().Generation()
	replace(t, third.ServerCertFile, dc.ServerCertFile)
	replace(t, third.ServerKeyFile, dc.ServerKeyFile)
	reload <- struct{}{}
	// The reload channel (and the file watcher) reload in the background;
	// the only pair that can load is the third, so a newer generation is
	// its certificate.
	wctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := s.TLS().WaitForGeneration(wctx, before+1); err != nil {
		t.Fatalf("no reload after the signal: %v", err)
	}
	if got := s.TLS().Status().Leaf.SerialNumber; got.Cmp(serialOf(t, third.ServerCertFile)) != 0 {
		t.Fatalf("status serial %v after the signalled reload", got)
	}
	if got := served(s.RESTAddr()); got.Cmp(serialOf(t, third.ServerCertFile)) != 0 {
		t.Fatalf("serial %v after the signalled reload", got)
	}
}

func mustRead(t *testing.T, f string) []byte {
	t.Helper()
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// replace puts src's contents at dst by writing a temporary file and
// renaming it over dst.
func replace(t *testing.T, src, dst string) {
	t.Helper()
	tmp := dst + ".new"
	if err := os.WriteFile(tmp, mustRead(t, src), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
}

// TestMutualTLS: with a client CA, a client without a certificate is
// refused on both transports; with one it is served (and still needs a
// credential).
func TestMutualTLS(t *testing.T) {
	dc := devCerts(t)
	cfg := testConfig(t)
	cfg.TLS = tlsconf.Config{CertFile: dc.ServerCertFile, KeyFile: dc.ServerKeyFile, ClientCAFile: dc.CAFile}
	s := startServer(t, cfg)
	boot := bootstrapKey(t, cfg.DataDir)
	roots := certPool(t, dc.CAFile)
	restURL := "https://" + s.RESTAddr().String() + "/api/v1/collections"

	noCert := httpsClient(&tls.Config{RootCAs: roots})
	req, _ := http.NewRequest("GET", restURL, nil)
	req.Header.Set("Authorization", "Bearer "+boot)
	if resp, err := noCert.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("REST without a client certificate: %d", resp.StatusCode)
	}
	ctx, cancel := context.WithTimeout(rpcCtx(t, boot), 5*time.Second)
	defer cancel()
	gconn, err := grpc.NewClient(s.GRPCAddr().String(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: roots})))
	if err != nil {
		t.Fatal(err)
	}
	defer gconn.Close()
	_, err = akidbv1.NewCollectionServiceClient(gconn).ListCollections(ctx, &akidbv1.ListCollectionsRequest{})
	if c := status.Code(err); c != codes.Unavailable {
		t.Fatalf("gRPC without a client certificate: %v", err)
	}

	pair, err := tls.LoadX509KeyPair(dc.ClientCertFile, dc.ClientKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	withCert := &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}}
	if r := do(t, httpsClient(withCert), "GET", restURL, boot, nil); r.status != http.StatusOK {
		t.Fatalf("REST with a client certificate: %d %s", r.status, r.body)
	}
	if r := do(t, httpsClient(withCert), "GET", restURL, "", nil); r.status != http.StatusUnauthorized {
		t.Fatalf("a client certificate is not a credential: %d", r.status)
	}
	gconn2, err := grpc.NewClient(s.GRPCAddr().String(), grpc.WithTransportCredentials(credentials.NewTLS(withCert)))
	if err != nil {
		t.Fatal(err)
	}
	defer gconn2.Close()
	if _, err := akidbv1.NewCollectionServiceClient(gconn2).ListCollections(rpcCtx(t, boot), &akidbv1.ListCollectionsRequest{}); err != nil {
		t.Fatalf("gRPC with a client certificate: %v", err)
	}
}

// TestTLSConfigRefused: a missing key file or an unknown minimum version
// fails Start, before anything listens.
func TestTLSConfigRefused(t *testing.T) {
	dc := devCerts(t)
	for name, tc := range map[string]tlsconf.Config{
		"missing key":     {CertFile: dc.ServerCertFile},
		"unreadable key":  {CertFile: dc.ServerCertFile, KeyFile: filepath.Join(t.TempDir(), "nope.key")},
		"tls 1.1":         {CertFile: dc.ServerCertFile, KeyFile: dc.ServerKeyFile, MinVersion: "1.1"},
		"client ca alone": {ClientCAFile: dc.CAFile},
	} {
		cfg := testConfig(t)
		cfg.TLS = tc
		if s, err := Start(cfg, nil); err == nil {
			_ = s.Shutdown(context.Background())
			t.Errorf("%s: Start succeeded", name)
		}
	}
}
