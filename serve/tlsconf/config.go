package tlsconf

import (
	"crypto/tls"
	"fmt"
)

// HSTSHeader is the Strict-Transport-Security value the REST layer sends on
// responses served over TLS: one year, no includeSubDomains (AkiDB does not
// know what else lives under its host's parent domains).
const HSTSHeader = "max-age=31536000"

// Config names the PEM files to serve from. CertFile may hold the leaf
// followed by intermediates; KeyFile holds one private key (PKCS#1, PKCS#8
// or SEC 1). ClientCAFile, when set, turns on mutual TLS and holds one or
// more CA certificates that client certificates must chain to.
type Config struct {
	CertFile     string
	KeyFile      string
	ClientCAFile string
	// MinVersion is "1.3" (the default when empty) or "1.2".
	MinVersion string
}

// MutualTLS reports whether the config requires client certificates.
func (c Config) MutualTLS() bool { return c.ClientCAFile != "" }

// validate checks the config without touching files and returns the
// crypto/tls minimum version it asks for.
func (c Config) validate() (uint16, error) {
	if c.CertFile == "" || c.KeyFile == "" {
		return 0, fmt.Errorf("tls: both a certificate file and a key file are required (cert=%q key=%q)", c.CertFile, c.KeyFile)
	}
	return ParseMinVersion(c.MinVersion)
}

// ParseMinVersion maps a configured minimum version ("", "1.3", "1.2") to
// its crypto/tls constant. Anything else, including "1.0" and "1.1", is an
// error: those versions are not offered at all.
func ParseMinVersion(s string) (uint16, error) {
	switch s {
	case "", "1.3":
		return tls.VersionTLS13, nil
	case "1.2":
		return tls.VersionTLS12, nil
	default:
		return 0, fmt.Errorf("tls: unsupported minimum version %q (want \"1.3\" or \"1.2\")", s)
	}
}
