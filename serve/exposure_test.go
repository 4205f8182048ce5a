package serve

import (
	"strings"
	"testing"
)

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "127.9.9.9:1": true, "[::1]:9090": true, "localhost:8080": true, "LOCALHOST:1": true,
		"[::ffff:127.0.0.1]:1": true,
		"0.0.0.0:8080":         false, ":8080": false, "[::]:9090": false, "192.168.1.5:8080": false, "db.example:8080": false,
		"[fe80::1%eth0]:1": false,
	} {
		if got := Loopback(addr); got != want {
			t.Errorf("Loopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

// TestRefusesExposure: without TLS a reachable address is refused unless
// plaintext is allowed (then with a warning); authentication off on a
// reachable address is refused whatever else is set. Start refuses before
// it binds anything.
func TestRefusesExposure(t *testing.T) {
	reachable := func(mod func(*Config)) Config {
		cfg := testConfig(t)
		cfg.RESTAddr = "0.0.0.0:0"
		mod(&cfg)
		return cfg
	}
	tlsOn := func(c *Config) { c.TLS.CertFile, c.TLS.KeyFile = "server.crt", "server.key" }
	for _, c := range []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"plaintext REST", reachable(func(*Config) {}), "--allow-plaintext"},
		{"plaintext gRPC", reachable(func(c *Config) { c.RESTAddr = "127.0.0.1:0"; c.GRPCAddr = ":0" }), "--grpc-addr :0"},
		{"auth off", reachable(func(c *Config) { c.Auth.Disabled = true }), "--auth=false"},
		{"auth off with plaintext allowed", reachable(func(c *Config) { c.Auth.Disabled = true; c.AllowPlaintext = true }), "--auth=false"},
		{"auth off with TLS", reachable(func(c *Config) { c.Auth.Disabled = true; tlsOn(c) }), "--auth=false"},
	} {
		s, err := Start(c.cfg, nil)
		if err == nil {
			_ = s.Shutdown(t.Context())
			t.Fatalf("%s: started", c.name)
		}
		if !strings.Contains(err.Error(), c.wantErr) || !strings.Contains(err.Error(), "reachable from the network") {
			t.Errorf("%s: %v; want it to name %q", c.name, err, c.wantErr)
		}
	}
	for _, c := range []struct {
		name string
		cfg  Config
		warn bool
	}{
		{"loopback", testConfig(t), false},
		{"loopback, auth off", func() Config { c := testConfig(t); c.Auth.Disabled = true; return c }(), false},
		{"reachable with TLS", reachable(tlsOn), false},
		{"reachable, plaintext allowed", reachable(func(c *Config) { c.AllowPlaintext = true }), true},
	} {
		w, err := checkExposure(c.cfg)
		if err != nil || (len(w) > 0) != c.warn {
			t.Errorf("%s: warnings %q, %v; want a warning: %v", c.name, w, err, c.warn)
		}
		if c.warn && !strings.Contains(w[0], "0.0.0.0:0") {
			t.Errorf("%s: warning %q does not name the address", c.name, w[0])
		}
	}
}
