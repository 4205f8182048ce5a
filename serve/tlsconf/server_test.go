package tlsconf

import (
	"crypto/tls"
	"strings"
	"testing"
)

func TestTLS13IsTheDefaultMinimum(t *testing.T) {
	dc := writeDev(t)
	r := newReloader(t, Config{CertFile: dc.ServerCertFile, KeyFile: dc.ServerKeyFile}, nil)
	addr := serveHTTPS(t, r)

	got := mustFetch(t, addr, clientTLS(t, []string{dc.CAFile}, "", ""))
	if got.version != tls.VersionTLS13 {
		t.Errorf("negotiated %s, want TLS 1.3", tls.VersionName(got.version))
	}
	if want := leafSerial(t, dc.ServerCertFile); got.serial.Cmp(want) != 0 {
		t.Errorf("server presented serial %x, want %x", got.serial, want)
	}

	old := clientTLS(t, []string{dc.CAFile}, "", "")
	old.MaxVersion = tls.VersionTLS12
	_, err := fetchNew(addr, old)
	if err == nil {
		t.Fatal("a TLS 1.2-only client connected to a server with the default minimum")
	}
	if !strings.Contains(err.Error(), "protocol version") {
		t.Errorf("error = %v, want a protocol version alert", err)
	}
}

func TestMinVersion12AllowsTLS12Clients(t *testing.T) {
	dc := writeDev(t)
	r := newReloader(t, Config{CertFile: dc.ServerCertFile, KeyFile: dc.ServerKeyFile, MinVersion: "1.2"}, nil)
	addr := serveHTTPS(t, r)

	old := clientTLS(t, []string{dc.CAFile}, "", "")
	old.MaxVersion = tls.VersionTLS12
	if got := mustFetch(t, addr, old); got.version != tls.VersionTLS12 {
		t.Errorf("1.2 client negotiated %s", tls.VersionName(got.version))
	}
	// Allowing 1.2 must not stop modern clients getting 1.3.
	if got := mustFetch(t, addr, clientTLS(t, []string{dc.CAFile}, "", "")); got.version != tls.VersionTLS13 {
		t.Errorf("1.3 client negotiated %s", tls.VersionName(got.version))
	}

	// TLS 1.1 stays refused whatever is configured.
	older := clientTLS(t, []string{dc.CAFile}, "", "")
	older.MinVersion, older.MaxVersion = tls.VersionTLS11, tls.VersionTLS11
	if _, err := fetchNew(addr, older); err == nil {
		t.Error("a TLS 1.1 client connected")
	}
}

func TestALPNOffersH2AndHTTP11(t *testing.T) {
	dc := writeDev(t)
	r := newReloader(t, Config{CertFile: dc.ServerCertFile, KeyFile: dc.ServerKeyFile}, nil)
	addr := serveHTTPS(t, r)

	// fetchNew forces an HTTP/2 attempt: ALPN must pick h2.
	if got := mustFetch(t, addr, clientTLS(t, []string{dc.CAFile}, "", "")); got.proto != "HTTP/2.0" {
		t.Errorf("h2-capable client got %s", got.proto)
	}
	// A client offering only http/1.1 must still be served.
	h1 := clientTLS(t, []string{dc.CAFile}, "", "")
	h1.NextProtos = []string{"http/1.1"}
	conn, err := tls.Dial("tcp", addr, h1)
	if err != nil {
		t.Fatalf("dial with http/1.1 ALPN: %v", err)
	}
	defer conn.Close()
	if p := conn.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
		t.Errorf("negotiated %q, want http/1.1", p)
	}

	cfg := r.TLSConfig()
	if len(cfg.NextProtos) != 2 || cfg.NextProtos[0] != "h2" || cfg.NextProtos[1] != "http/1.1" {
		t.Errorf("TLSConfig().NextProtos = %q", cfg.NextProtos)
	}
}

func TestMutualTLS(t *testing.T) {
	dc := writeDev(t)
	other := writeDev(t) // a second, unrelated CA and client
	r := newReloader(t, Config{CertFile: dc.ServerCertFile, KeyFile: dc.ServerKeyFile, ClientCAFile: dc.CAFile}, nil)
	if got := r.TLSConfig().ClientAuth; got != tls.RequireAndVerifyClientCert {
		t.Errorf("TLSConfig().ClientAuth = %v", got)
	}
	addr, serverLog := serveHTTPSLog(t, r)

	t.Run("no client certificate", func(t *testing.T) {
		_, err := fetchNew(addr, clientTLS(t, []string{dc.CAFile}, "", ""))
		if err == nil {
			t.Fatal("request without a client certificate succeeded")
		}
		serverLog.waitFor(t, "client didn't provide a certificate")
	})
	t.Run("dev client certificate", func(t *testing.T) {
		got := mustFetch(t, addr, clientTLS(t, []string{dc.CAFile}, dc.ClientCertFile, dc.ClientKeyFile))
		if got.body != DevClientCommonName {
			t.Errorf("server saw client CN %q, want %q", got.body, DevClientCommonName)
		}
	})
	t.Run("client certificate from another CA", func(t *testing.T) {
		_, err := fetchNew(addr, clientTLS(t, []string{dc.CAFile}, other.ClientCertFile, other.ClientKeyFile))
		if err == nil {
			t.Fatal("request with a client certificate from another CA succeeded")
		}
		serverLog.waitFor(t, "certificate signed by unknown authority")
	})
	t.Run("1.2 client with a valid certificate is still refused by default", func(t *testing.T) {
		c := clientTLS(t, []string{dc.CAFile}, dc.ClientCertFile, dc.ClientKeyFile)
		c.MaxVersion = tls.VersionTLS12
		if _, err := fetchNew(addr, c); err == nil {
			t.Fatal("TLS 1.2 client connected")
		}
	})
}

func TestMutualTLSOverTLS12(t *testing.T) {
	dc := writeDev(t)
	r := newReloader(t, Config{CertFile: dc.ServerCertFile, KeyFile: dc.ServerKeyFile, ClientCAFile: dc.CAFile, MinVersion: "1.2"}, nil)
	addr := serveHTTPS(t, r)

	c := clientTLS(t, []string{dc.CAFile}, "", "")
	c.MaxVersion = tls.VersionTLS12
	if _, err := fetchNew(addr, c); err == nil {
		t.Fatal("TLS 1.2 request without a client certificate succeeded")
	}
	c = clientTLS(t, []string{dc.CAFile}, dc.ClientCertFile, dc.ClientKeyFile)
	c.MaxVersion = tls.VersionTLS12
	if got := mustFetch(t, addr, c); got.body != DevClientCommonName || got.version != tls.VersionTLS12 {
		t.Errorf("got CN %q over %s", got.body, tls.VersionName(got.version))
	}
}
