package cmd

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/akidb/akidb/engine/tier/s3/s3test"
	"github.com/akidb/akidb/serve/access"
	"github.com/akidb/akidb/serve/api"
)

// e2eTimeout bounds each wait of the end-to-end test for what the screen
// must show (a loaded CI machine is slow; nothing here is timed).
const e2eTimeout = 90 * time.Second

// buildAkidb builds the real binary from this checkout.
func buildAkidb(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "akidb")
	cmd := exec.Command("go", "build", "-ldflags", "-X github.com/akidb/akidb/cmd.version=v2.0.0-e2e", "-o", bin, ".")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// tmuxSession is a tmux server of the test's own (its own socket) with one
// session running a command in a terminal of a fixed size.
type tmuxSession struct {
	t      *testing.T
	socket string
}

func startTmux(t *testing.T, width, height int, command ...string) *tmuxSession {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is not installed: apt-get install tmux (make test installs it)")
	}
	s := &tmuxSession{t: t, socket: filepath.Join(t.TempDir(), "tmux.sock")}
	args := []string{"new-session", "-d", "-s", "top", "-x", fmt.Sprint(width), "-y", fmt.Sprint(height)}
	s.run(append(args, command...)...)
	t.Cleanup(func() { _ = exec.Command("tmux", "-S", s.socket, "kill-server").Run() })
	return s
}

func (s *tmuxSession) run(args ...string) string {
	s.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", s.socket}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// keys types into the session (tmux key names: Tab, Enter, Escape, or
// text).
func (s *tmuxSession) keys(keys ...string) {
	s.run(append([]string{"send-keys", "-t", "top"}, keys...)...)
}

// screen is what the terminal shows now.
func (s *tmuxSession) screen() string { return s.run("capture-pane", "-p", "-t", "top") }

// waitFor waits, up to e2eTimeout, until the screen satisfies ok, and
// returns it.
func (s *tmuxSession) waitFor(what string, ok func(string) bool) string {
	s.t.Helper()
	deadline := time.Now().Add(e2eTimeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		screen := s.screen()
		if ok(screen) {
			return screen
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the screen never showed %s in %v:\n%s", what, e2eTimeout, screen)
		}
		<-tick.C
	}
}

func (s *tmuxSession) waitForText(texts ...string) string {
	s.t.Helper()
	return s.waitFor(fmt.Sprintf("%q", texts), func(screen string) bool {
		for _, x := range texts {
			if !strings.Contains(screen, x) {
				return false
			}
		}
		return true
	})
}

// breakerOf is the object store's circuit breaker as the server reports it
// (GET /admin/storage/status).
func breakerOf(t *testing.T, server, key string) access.BreakerStatus {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, server+"/admin/storage/status", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st access.StorageStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != http.StatusOK || st.Store == nil {
		t.Fatalf("GET /admin/storage/status: %d, %v, store %v", resp.StatusCode, err, st.Store)
	}
	return st.Store.CircuitBreaker
}

// waitUntil polls ok (the server's state, read over its API) every 50 ms
// for up to timeout.
func waitUntil(t testing.TB, timeout time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s in %v", what, timeout)
		}
		<-tick.C
	}
}

// startServeBinary runs `akidb serve` (the real binary) on ports the kernel
// chooses and returns its REST URL.
func startServeBinary(t testing.TB, bin string, env []string, args ...string) (url string, pid int) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--rest-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	pr, pw := io.Pipe()
	log := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = io.MultiWriter(pw, log), io.MultiWriter(pw, log)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_, _ = cmd.Process.Wait()
		pw.Close()
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		re := regexp.MustCompile(`REST on (http://127\.0\.0\.1:\d+)`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case url = <-found:
		return url, cmd.Process.Pid
	case <-time.After(e2eTimeout):
		t.Fatalf("akidb serve did not say where it listens:\n%s", log.String())
	}
	return "", 0
}

// TestTopEndToEnd runs the real binary's `akidb top` under tmux against a
// real `akidb serve` shipping to a real MinIO. MinIO is stopped: the
// screen shows the breaker open and the DLQ filling. MinIO comes back: r
// (with the breaker reset first, b then y, since its cool-down is 30 s)
// drains the DLQ and the screen shows the breaker closed and the DLQ
// empty; q quits.
func TestTopEndToEnd(t *testing.T) {
	bin := buildAkidb(t)
	minio := s3test.Start(t)
	dir := filepath.Join(t.TempDir(), "data")
	server, _ := startServeBinary(t, bin, []string{"AKIDB_S3_ACCESS_KEY=" + s3test.AccessKey, "AKIDB_S3_SECRET_KEY=" + s3test.SecretKey},
		"--data-dir", dir, "--fsync", "none", "--s3-endpoint", minio.Endpoint(), "--s3-bucket", "akidb", "--s3-create-bucket",
		"--s3-prefix", "edge/box1", "--tier-policy", "memory-s3", "--s3-ship-interval", "200ms", "--dlq-retry-interval", "1h")
	key := readBootstrap(t, dir)

	tm := startTmux(t, 120, 40, bin, "top", "--server", server, "--data-dir", dir, "--interval", "250ms")
	tm.waitForText("akidb top  "+server, "v2.0.0-e2e", "● ready", "s3://akidb ● closed", "DLQ 0 pending · 0 permanent", "bootstrap key")

	// Traffic: a collection, writes and queries show in the panes.
	postJSON(t, server, key, "/api/v1/collections", api.CreateCollectionRequest{Name: "docs", Dimension: 3})
	insert := func(from, n int) {
		var vs []api.Vector
		for i := from; i < from+n; i++ {
			vs = append(vs, api.Vector{ID: fmt.Sprint("v", i), Vector: []float32{float32(i), 1, 0}})
		}
		postJSON(t, server, key, "/api/v1/collections/docs/insert", api.UpsertRequest{Vectors: vs})
	}
	insert(0, 100)
	for range 20 {
		postJSON(t, server, key, "/api/v1/collections/docs/query", api.QueryRequest{Vector: []float32{1, 1, 0}, K: 3})
	}
	tm.waitFor("the writes and queries", func(s string) bool {
		return strings.Contains(s, "1 collections · 100 vectors") && regexp.MustCompile(`query\s+\S+\s+\d`).MatchString(s)
	})
	postJSON(t, server, key, "/admin/collections/docs/checkpoint", nil)
	tm.waitForText("memory-s3", "checkpoint ")

	// The store goes away: uploads fail, the breaker opens, the DLQ fills.
	// The breaker opens after five failed calls in a row, and how many
	// calls a checkpoint makes depends on how the ship loop groups its
	// files (on a loaded machine several checkpoints go out in one round,
	// and the rest wait in the DLQ): write and checkpoint until the server
	// says the breaker is open, each time waiting for one more failure.
	minio.Kill()
	checkpoints := 0
	for ; breakerOf(t, server, key).State != "open"; checkpoints++ {
		i := checkpoints
		if i == 10 {
			t.Fatalf("the breaker is not open after %d checkpoints with the store down: %+v", i, breakerOf(t, server, key))
		}
		before := breakerOf(t, server, key).ConsecutiveFailures
		insert(1000+i*10, 10)
		postJSON(t, server, key, "/admin/collections/docs/checkpoint", nil)
		waitUntil(t, e2eTimeout, "another failed upload", func() bool {
			b := breakerOf(t, server, key)
			return b.State == "open" || b.ConsecutiveFailures > before
		})
	}
	t.Logf("the breaker opened after %d checkpoints with the store down", checkpoints)
	tm.waitFor("the breaker open and DLQ entries", func(s string) bool {
		return strings.Contains(s, "s3://akidb ✗ OPEN") && regexp.MustCompile(`DLQ [1-9]\d* pending`).MatchString(s)
	})
	tm.keys("Tab", "Tab", "Tab") // the DLQ pane
	tm.waitFor("the DLQ's entries", func(s string) bool {
		return strings.Contains(s, "upload snapshot") && strings.Contains(s, "default/docs") && strings.Contains(s, "› ")
	})

	// The store is back; the breaker is still open (its cool-down is 30
	// s): reset it (b asks first), then retry the DLQ (r).
	minio.Restart()
	tm.keys("b")
	tm.waitForText("reset the circuit breaker of", "[y/n]")
	tm.keys("y")
	tm.waitForText("circuit breaker reset: closed")
	tm.keys("r")
	screen := tm.waitFor("the DLQ drained and the breaker closed", func(s string) bool {
		return strings.Contains(s, "attempted ") && strings.Contains(s, "s3://akidb ● closed") &&
			strings.Contains(s, "DLQ 0 pending · 0 permanent") && strings.Contains(s, "the dead-letter queue is empty")
	})
	if !regexp.MustCompile(`attempted [1-9]\d*: [1-9]\d* succeeded`).MatchString(screen) {
		t.Fatalf("r retried nothing:\n%s", screen)
	}
	t.Logf("the screen after the DLQ drained:\n%s", screen)

	tm.keys("q")
	deadline := time.Now().Add(e2eTimeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for exec.Command("tmux", "-S", tm.socket, "has-session", "-t", "top").Run() == nil {
		if time.Now().After(deadline) {
			t.Fatalf("q did not quit:\n%s", tm.screen())
		}
		<-tick.C
	}
}
