package packaging

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// waitTimeout bounds every wait on a server; under qemu a start takes
// seconds, on a loaded machine more.
const waitTimeout = 3 * time.Minute

// mustEnv returns the environment variable the Makefile sets for a test
// input, or fails: a missing input is a broken setup, not a reason to skip.
func mustEnv(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: run this test through make (make test-packaging, make test-release-arm64)", name)
	}
	return v
}

// binary is an akidb executable, run directly or through an emulator
// (qemu-aarch64-static).
type binary struct {
	path string
	exec string
}

// parseBinaries reads "path[@emulator] ..." (AKIDB_BINARIES).
func parseBinaries(t *testing.T, spec string) []binary {
	t.Helper()
	var out []binary
	for _, f := range strings.Fields(spec) {
		path, emu, _ := strings.Cut(f, "@")
		out = append(out, binary{path: path, exec: emu})
	}
	if len(out) == 0 {
		t.Fatalf("no binaries in %q", spec)
	}
	return out
}

func (b binary) command(ctx context.Context, args ...string) *exec.Cmd {
	if b.exec != "" {
		return exec.CommandContext(ctx, b.exec, append([]string{b.path}, args...)...)
	}
	return exec.CommandContext(ctx, b.path, args...)
}

// run runs the binary to completion and returns its stdout.
func (b binary) run(t *testing.T, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	cmd := b.command(ctx, args...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("akidb %s: %v\nstderr: %s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// server is a running `akidb serve`.
type server struct {
	t    *testing.T
	cmd  *exec.Cmd
	done chan error
	mu   sync.Mutex
	logs bytes.Buffer
	// rest is the REST base URL, from the start-up line.
	rest string
}

// bannerREST finds the REST address in the line `akidb serve` prints at
// start: "... REST on http://127.0.0.1:41234, gRPC on ...".
var bannerREST = regexp.MustCompile(`REST on (https?://[^\s,]+)`)

// startServer runs `akidb serve` with args and env and waits for its
// start-up line (the listeners are bound then). The caller passes port 0
// addresses, so no port is guessed.
func startServer(t *testing.T, b binary, env []string, args ...string) *server {
	t.Helper()
	cmd := b.command(context.Background(), args...)
	cmd.Env = env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatalf("start akidb %s: %v", strings.Join(args, " "), err)
	}
	s := &server{t: t, cmd: cmd, done: make(chan error, 1)}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.logs.WriteString(line + "\n")
			s.mu.Unlock()
			if m := bannerREST.FindStringSubmatch(line); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		s.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-s.done
		}
	})
	select {
	case s.rest = <-found:
	case err := <-s.done:
		t.Fatalf("akidb serve exited before listening: %v\n%s", err, s.output())
	case <-time.After(waitTimeout):
		t.Fatalf("akidb serve did not start listening:\n%s", s.output())
	}
	return s
}

func (s *server) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs.String()
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatal(err)
	}
	select {
	case err := <-s.done:
		if err != nil {
			s.t.Fatalf("akidb serve after SIGTERM: %v\n%s", err, s.output())
		}
	case <-time.After(waitTimeout):
		s.t.Fatalf("akidb serve did not stop after SIGTERM:\n%s", s.output())
	}
}

// client talks to a test server: loopback only, no proxy, and (like the
// kubelet's HTTPS probes) no certificate check.
var client = &http.Client{
	Timeout: 30 * time.Second,
	Transport: &http.Transport{
		Proxy:           nil,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // test servers with throwaway certificates
	},
}

// waitStatus polls url until it answers want, with a deadline.
func waitStatus(t *testing.T, s *server, url string, want int) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	last := "no answer"
	for time.Now().Before(deadline) {
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == want {
				return
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, body)
		} else {
			last = err.Error()
		}
		select {
		case err := <-s.done:
			t.Fatalf("akidb serve exited (%v) while waiting for %s:\n%s", err, url, s.output())
		case <-tick.C: // ask again
		}
	}
	t.Fatalf("%s: want %d, last answer: %s\n%s", url, want, last, s.output())
}

// call sends a JSON request with the key and returns the status and body.
func call(t *testing.T, method, url, key, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// baseEnv is the environment a test server gets: no AKIDB_* settings of
// the developer's shell, no proxies.
func baseEnv(extra ...string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir()}
	return append(env, extra...)
}
