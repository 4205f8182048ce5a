// Package s3test runs a real MinIO server on 127.0.0.1 for tests: the
// `minio` binary built by
//
//	go install github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c
//
// (about ten minutes on two cores, once; `make test` and .ci/run install
// it when it is missing). No test skips for want of it: Start fails the
// test with the command to run.
package s3test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/akidb/akidb/engine/tier/s3"
)

// InstallCommand builds the server binary.
const InstallCommand = "go install github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c"

// Credentials of every test server.
const (
	AccessKey = "akidb-test"
	SecretKey = "akidb-test-secret-key"
)

// readyTimeout bounds the wait for a server to answer its health check
// (it starts in about a second; the bound is for a loaded CI machine).
const readyTimeout = 2 * time.Minute

// Binary finds the minio server: $AKIDB_MINIO_BIN, then $GOBIN/minio,
// $GOPATH/bin/minio (default ~/go/bin), then the PATH.
func Binary() (string, error) {
	var candidates []string
	if p := os.Getenv("AKIDB_MINIO_BIN"); p != "" {
		candidates = append(candidates, p)
	}
	if p := os.Getenv("GOBIN"); p != "" {
		candidates = append(candidates, filepath.Join(p, "minio"))
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if home, err := os.UserHomeDir(); err == nil {
			gopath = filepath.Join(home, "go")
		}
	}
	for _, p := range filepath.SplitList(gopath) {
		candidates = append(candidates, filepath.Join(p, "bin", "minio"))
	}
	for _, c := range candidates {
		if fi, err := os.Stat(c); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return c, nil
		}
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("the minio server binary is not installed (looked at %v and the PATH): run %q (or `make minio`)", candidates, InstallCommand)
}

// Server is a MinIO server process serving a temporary directory.
type Server struct {
	t       testing.TB
	bin     string
	dir     string
	addr    string
	console string

	// tls: the server speaks https with a certificate from a throwaway
	// CA (CAFile).
	certsDir string
	caFile   string

	mu  sync.Mutex
	cmd *exec.Cmd
	out *bytes.Buffer
	// exited is closed when the current process has been waited for.
	exited chan struct{}
}

// Start runs a server on a free loopback port and waits until it answers.
// It is stopped when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{t: t, bin: bin, dir: t.TempDir(), addr: freeAddr(t), console: freeAddr(t)}
	s.start()
	t.Cleanup(s.Kill)
	return s
}

// StartTLS is Start with the server on https, its certificate (for
// 127.0.0.1) signed by a throwaway CA whose PEM file is CAFile.
func StartTLS(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{t: t, bin: bin, dir: t.TempDir(), addr: freeAddr(t), console: freeAddr(t)}
	s.certsDir = filepath.Join(t.TempDir(), "certs")
	s.caFile = writeTLS(t, s.certsDir)
	s.start()
	t.Cleanup(s.Kill)
	return s
}

// CAFile is the PEM file of the CA that signed a StartTLS server's
// certificate ("" for a plain server).
func (s *Server) CAFile() string { return s.caFile }

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func (s *Server) start() {
	s.t.Helper()
	args := []string{"server", "--quiet", "--address", s.addr, "--console-address", s.console}
	if s.certsDir != "" {
		args = append(args, "--certs-dir", s.certsDir)
	}
	cmd := exec.Command(s.bin, append(args, s.dir)...)
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+AccessKey, "MINIO_ROOT_PASSWORD="+SecretKey,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off", "MINIO_CI_CD=1")
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start minio: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	s.mu.Lock()
	s.cmd, s.out, s.exited = cmd, out, exited
	s.mu.Unlock()
	if err := s.waitReady(exited); err != nil {
		s.Kill()
		s.t.Fatalf("minio on %s: %v\n%s", s.addr, err, out.String())
	}
}

// waitReady polls the health endpoint until it answers 200, the process
// exits, or readyTimeout passes.
func (s *Server) waitReady(exited <-chan struct{}) error {
	tr := &http.Transport{Proxy: nil}
	scheme := "http"
	if s.caFile != "" {
		pem, err := os.ReadFile(s.caFile)
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		scheme = "https"
	}
	client := &http.Client{Timeout: 2 * time.Second, Transport: tr}
	defer client.CloseIdleConnections()
	deadline := time.NewTimer(readyTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	// The health check answers before the object layer is up ("Server
	// not initialized yet"): also wait for an authenticated call.
	mc, err := minio.New(s.addr, &minio.Options{Creds: credentials.NewStaticV4(AccessKey, SecretKey, ""), MaxRetries: 1,
		Secure: s.caFile != "", Transport: tr})
	if err != nil {
		return err
	}
	for {
		resp, err := client.Get(scheme + "://" + s.addr + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				_, err := mc.ListBuckets(ctx)
				cancel()
				if err == nil {
					return nil
				}
			}
		}
		select {
		case <-exited:
			return errors.New("the server exited")
		case <-deadline.C:
			return fmt.Errorf("not ready after %v", readyTimeout)
		case <-tick.C:
		}
	}
}

// Addr is host:port; Endpoint the URL.
func (s *Server) Addr() string { return s.addr }
func (s *Server) Endpoint() string {
	if s.caFile != "" {
		return "https://" + s.addr
	}
	return "http://" + s.addr
}

// Kill stops the server with SIGKILL (an outage, or the end of a test)
// and waits for the process to be gone. Killing a stopped server does
// nothing.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-exited
}

// Restart starts the server again on the same address and data after Kill.
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	s.start()
}

// Config returns a store configuration for bucket on this server.
func (s *Server) Config(bucket string) s3.Config {
	cfg := ConfigFor(s.Endpoint(), bucket)
	cfg.CAFile = s.caFile
	return cfg
}

// ConfigFor is Config for a plain (http) test server known only by its
// endpoint: a child process a test starts gets the endpoint, not the
// Server.
func ConfigFor(endpoint, bucket string) s3.Config {
	return s3.Config{Endpoint: endpoint, Bucket: bucket, Region: "us-east-1", AccessKey: AccessKey, SecretKey: SecretKey,
		PathStyle: true, CreateBucket: true, PartSize: s3.MinPartSize, MaxRetries: 1}
}

// Store opens a store on bucket (created if missing).
func (s *Server) Store(t testing.TB, bucket string) *s3.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := s3.Open(ctx, s.Config(bucket))
	if err != nil {
		t.Fatal(err)
	}
	return st
}
