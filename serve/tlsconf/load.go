package tlsconf

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// material is one consistent set of loaded files and the per-handshake
// config built from them. It is immutable once built.
type material struct {
	certPEM, keyPEM, caPEM []byte

	cert      *tls.Certificate
	leaf      *x509.Certificate
	clientCAs *x509.CertPool // nil without mutual TLS

	// server is returned from GetConfigForClient for every handshake. A
	// *tls.Config may be shared by concurrent handshakes as long as nobody
	// modifies it, which nobody does after load.
	server *tls.Config
}

// sameFiles reports whether m was loaded from byte-identical files, so a
// reload triggered by unrelated directory activity changes nothing.
func (m *material) sameFiles(o *material) bool {
	return bytes.Equal(m.certPEM, o.certPEM) && bytes.Equal(m.keyPEM, o.keyPEM) && bytes.Equal(m.caPEM, o.caPEM)
}

// loadMaterial reads and checks every file named by cfg. Each error names
// the file at fault so an operator can fix the right one.
func loadMaterial(cfg Config, minVersion uint16) (*material, error) {
	certPEM, err := os.ReadFile(cfg.CertFile)
	if err != nil {
		return nil, fmt.Errorf("tls: load certificate %s: %w", cfg.CertFile, err)
	}
	chain, err := parseCertificates(certPEM)
	if err != nil {
		return nil, fmt.Errorf("tls: load certificate %s: %w", cfg.CertFile, err)
	}
	keyPEM, err := os.ReadFile(cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: load key %s: %w", cfg.KeyFile, err)
	}
	if err := checkKeyPEM(keyPEM); err != nil {
		return nil, fmt.Errorf("tls: load key %s: %w", cfg.KeyFile, err)
	}
	// X509KeyPair parses the key and checks it matches the leaf's public key.
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("tls: certificate %s and key %s: %w", cfg.CertFile, cfg.KeyFile, err)
	}
	if pair.Leaf == nil { // only with GODEBUG x509keypairleaf=0
		pair.Leaf = chain[0]
	}
	m := &material{certPEM: certPEM, keyPEM: keyPEM, cert: &pair, leaf: chain[0]}

	if cfg.ClientCAFile != "" {
		m.caPEM, err = os.ReadFile(cfg.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("tls: load client CA bundle %s: %w", cfg.ClientCAFile, err)
		}
		cas, err := parseCertificates(m.caPEM)
		if err != nil {
			return nil, fmt.Errorf("tls: load client CA bundle %s: %w", cfg.ClientCAFile, err)
		}
		m.clientCAs = x509.NewCertPool()
		for _, ca := range cas {
			m.clientCAs.AddCert(ca)
		}
	}

	m.server = &tls.Config{
		MinVersion:   minVersion,
		NextProtos:   nextProtos(),
		Certificates: []tls.Certificate{pair},
	}
	if m.clientCAs != nil {
		m.server.ClientAuth = tls.RequireAndVerifyClientCert
		m.server.ClientCAs = m.clientCAs
	}
	return m, nil
}

// nextProtos is the ALPN list: h2 first so HTTP/2-capable clients (and every
// gRPC client) get it, http/1.1 for the rest. A fresh slice each time because
// net/http and grpc append to the slice they are given.
func nextProtos() []string { return []string{"h2", "http/1.1"} }

// parseCertificates returns every CERTIFICATE block in data, in order. Text
// between blocks (as `openssl x509 -text` writes) is ignored; other PEM block
// types and unparsable certificates are errors, because a bundle that is
// half garbage usually means the wrong file was given.
func parseCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := data
	for i := 1; ; i++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %d is %q, want CERTIFICATE", i, block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: %w", i, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM CERTIFICATE block found")
	}
	return certs, nil
}

// checkKeyPEM gives a file-specific error for a key file with no private key
// in it; tls.X509KeyPair would otherwise report it without saying which file.
func checkKeyPEM(data []byte) error {
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return errors.New("no PEM PRIVATE KEY block found")
		}
		if block.Type == "PRIVATE KEY" || strings.HasSuffix(block.Type, " PRIVATE KEY") {
			return nil
		}
	}
}
