package packaging

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// minioServer is a real MinIO server on 127.0.0.1 (the binary of `make
// minio`, AKIDB_MINIO_BIN) standing in for the object store a chart's
// values name: the chart's S3 settings are tested against it, not merely
// rendered.
type minioServer struct {
	endpoint string
	// caPEM is the CA that signed an https server's certificate.
	caPEM []byte
}

// startMinIO runs MinIO with the given root credentials, on https (its
// certificate from `akidb certs dev`) when secure, until the test ends.
func startMinIO(t *testing.T, b binary, secure bool, accessKey, secretKey string) *minioServer {
	t.Helper()
	bin := mustEnv(t, "AKIDB_MINIO_BIN")
	addr, console := freeLoopbackAddr(t), freeLoopbackAddr(t)
	args := []string{"server", "--quiet", "--address", addr, "--console-address", console}
	m := &minioServer{endpoint: "http://" + addr}
	if secure {
		certs := t.TempDir()
		b.run(t, baseEnv(), "certs", "dev", "--out", filepath.Join(certs, "dev"))
		for from, to := range map[string]string{"server.crt": "public.crt", "server.key": "private.key"} {
			data, err := os.ReadFile(filepath.Join(certs, "dev", from))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(certs, to), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		ca, err := os.ReadFile(filepath.Join(certs, "dev", "ca.crt"))
		if err != nil {
			t.Fatal(err)
		}
		m.caPEM, m.endpoint = ca, "https://"+addr
		args = append(args, "--certs-dir", certs)
	}
	cmd := exec.Command(bin, append(args, t.TempDir())...)
	cmd.Env = baseEnv("MINIO_ROOT_USER="+accessKey, "MINIO_ROOT_PASSWORD="+secretKey,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off", "MINIO_CI_CD=1")
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // gone with a test killed by its timeout
	if err := cmd.Start(); err != nil {
		t.Fatalf("start minio: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	// Ready when its liveness endpoint answers, over TLS trusting its CA.
	tr := &http.Transport{Proxy: nil}
	if secure {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(m.caPEM)
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	hc := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if resp, err := hc.Get(m.endpoint + "/minio/health/live"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return m
			}
		}
		select {
		case <-exited:
			t.Fatalf("minio exited:\n%s", out.String())
		case <-deadline.C:
			t.Fatalf("minio on %s not ready after %v:\n%s", addr, waitTimeout, out.String())
		case <-tick.C:
		}
	}
}

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// lockedBuffer collects a child's output from two pipes.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
