package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// DevCertValidity is how long WriteDevCerts' certificates are valid.
const DevCertValidity = 30 * 24 * time.Hour

// DevClientCommonName is the subject CN of the dev client certificate.
const DevClientCommonName = "akidb-dev-client"

// DevCerts lists the files WriteDevCerts wrote.
type DevCerts struct {
	Dir            string
	CAFile         string // ca.crt: trust this in clients, and pass it as the client CA for mTLS
	ServerCertFile string // server.crt
	ServerKeyFile  string // server.key
	ClientCertFile string // client.crt
	ClientKeyFile  string // client.key
	NotAfter       time.Time
}

// WriteDevCerts writes a throwaway certificate set for trying TLS and mutual
// TLS locally. THEY ARE NOT FOR PRODUCTION: the CA is self-signed and
// trusted by nothing else, there is no revocation or renewal (the CA key is
// thrown away after signing; run it again for a fresh set), the server
// certificate only names local hosts, and anyone who can read dir can
// impersonate the server or a client. In production use certificates from
// your own CA, cert-manager or ACME.
//
// It writes into dir (created 0700 if missing; an existing dir keeps its
// mode): ca.crt (a new ECDSA P-256 CA), server.crt/server.key (for hosts,
// default "localhost", "127.0.0.1", "::1"; IP literals become IP SANs) and
// client.crt/client.key (CN "akidb-dev-client"), keys mode 0600, all valid
// from now-1h (clock skew) for 30 days. It refuses to overwrite any existing
// file, so it cannot clobber real certificates by mistake, and removes what
// it wrote if it fails part way.
func WriteDevCerts(dir string, now time.Time, hosts []string) (DevCerts, error) {
	if len(hosts) == 0 {
		hosts = []string{"localhost", "127.0.0.1", "::1"}
	}
	out := DevCerts{
		Dir:            dir,
		CAFile:         filepath.Join(dir, "ca.crt"),
		ServerCertFile: filepath.Join(dir, "server.crt"),
		ServerKeyFile:  filepath.Join(dir, "server.key"),
		ClientCertFile: filepath.Join(dir, "client.crt"),
		ClientKeyFile:  filepath.Join(dir, "client.key"),
		NotAfter:       now.Add(DevCertValidity),
	}
	for _, f := range []string{out.CAFile, out.ServerCertFile, out.ServerKeyFile, out.ClientCertFile, out.ClientKeyFile} {
		if _, err := os.Lstat(f); err == nil {
			return DevCerts{}, fmt.Errorf("tls: dev certs: %s already exists; remove it or choose another directory", f)
		} else if !errors.Is(err, os.ErrNotExist) {
			return DevCerts{}, fmt.Errorf("tls: dev certs: %w", err)
		}
	}

	ca, err := newDevCA(now, "akidb-dev-ca")
	if err != nil {
		return DevCerts{}, err
	}
	server, err := ca.issue(now, "akidb-dev-server", hosts, x509.ExtKeyUsageServerAuth)
	if err != nil {
		return DevCerts{}, err
	}
	client, err := ca.issue(now, DevClientCommonName, nil, x509.ExtKeyUsageClientAuth)
	if err != nil {
		return DevCerts{}, err
	}

	if err := os.MkdirAll(dir, 0o700); err != nil {
		return DevCerts{}, fmt.Errorf("tls: dev certs: create %s: %w", dir, err)
	}
	files := []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{out.CAFile, ca.certPEM, 0o644},
		{out.ServerCertFile, server.certPEM, 0o644},
		{out.ServerKeyFile, server.keyPEM, 0o600},
		{out.ClientCertFile, client.certPEM, 0o644},
		{out.ClientKeyFile, client.keyPEM, 0o600},
	}
	var written []string
	for _, f := range files {
		if err := writeNewFile(f.path, f.data, f.mode); err != nil {
			for _, w := range written {
				_ = os.Remove(w) // best effort; the error below is the one to report
			}
			return DevCerts{}, fmt.Errorf("tls: dev certs: %w", err)
		}
		written = append(written, f.path)
	}
	return out, nil
}

// writeNewFile creates path (failing if it exists) with mode, writes data
// and syncs it.
func writeNewFile(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	return nil
}

// devCA is an in-memory CA that signs dev leaf certificates.
type devCA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
}

// devLeaf is one issued certificate and its key, PEM-encoded.
type devLeaf struct {
	cert            *x509.Certificate
	certPEM, keyPEM []byte
}

func newDevCA(now time.Time, cn string) (*devCA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("tls: dev certs: generate CA key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"AkiDB development (not for production)"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(DevCertValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("tls: dev certs: sign CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("tls: dev certs: parse CA: %w", err)
	}
	return &devCA{cert: cert, key: key, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// issue signs a leaf for cn with the given SANs (IP literals become IP
// SANs, anything else a DNS name) and extended key usage.
func (ca *devCA) issue(now time.Time, cn string, hosts []string, usage x509.ExtKeyUsage) (*devLeaf, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("tls: dev certs: generate key for %s: %w", cn, err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"AkiDB development (not for production)"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(DevCertValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("tls: dev certs: sign %s: %w", cn, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("tls: dev certs: parse %s: %w", cn, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("tls: dev certs: encode key for %s: %w", cn, err)
	}
	return &devLeaf{
		cert:    cert,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

// randomSerial returns a random positive 128-bit serial number, as RFC 5280
// section 4.1.2.2 allows (at most 20 octets) and CAs are expected to use.
func randomSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("tls: dev certs: serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}
