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
	"sync"
	"syscall"
	"testing"
	"time"
)

// The signal test runs the real command line in a child process: this
// test binary re-executed with AKIDB_TEST_CLI_ARGS set runs `akidb` with
// those arguments, with the process's real signals and streams.
const envCLIArgs = "AKIDB_TEST_CLI_ARGS"

func TestMain(m *testing.M) {
	if raw := os.Getenv(envCLIArgs); raw != "" {
		var args []string
		if err := json.Unmarshal([]byte(raw), &args); err != nil {
			fmt.Fprintln(os.Stderr, "bad", envCLIArgs, err)
			os.Exit(2)
		}
		st := newOSState()
		st.Args = args
		st.MigrateHook = migratePauseHook()
		os.Exit(Run(st))
	}
	os.Exit(m.Run())
}

// cliChild is `akidb serve` in a child process.
type cliChild struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	rest   string
}

var listenLine = regexp.MustCompile(`REST on http://(127\.0\.0\.1:\d+)`)

func startServeChild(t testing.TB, dataDir string) *cliChild {
	t.Helper()
	return startServeChildWith(t, dataDir, nil, nil)
}

// startServeChildWith starts `akidb serve` on dataDir with more flags and
// environment variables.
func startServeChildWith(t testing.TB, dataDir string, flags, env []string) *cliChild {
	t.Helper()
	args, _ := json.Marshal(append([]string{"serve", "--data-dir", dataDir, "--rest-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0", "--log-level", "info"}, flags...))
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), env...), envCLIArgs+"="+string(args))
	pr, pw := io.Pipe()
	c := &cliChild{cmd: cmd, stderr: &syncBuffer{}}
	cmd.Stderr = io.MultiWriter(pw, c.stderr)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := listenLine.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case c.rest = <-found:
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not report its address:\n%s", c.stderr.String())
	}
	// Poll /readyz (the condition) until it answers 200 or the deadline.
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := http.Get("http://" + c.rest + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return c
			}
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("server not ready:\n%s", c.stderr.String())
		}
	}
}

func request(method, url, key string, body string) (int, string, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// TestServeSIGTERMDuringWrites sends SIGTERM to `akidb serve` while
// clients write, then starts it again: every acknowledged write is there,
// the exit status is 0, and the restart replays nothing.
func TestServeSIGTERMDuringWrites(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	srv := startServeChild(t, dataDir)
	keyBytes, err := os.ReadFile(filepath.Join(dataDir, "secrets", "bootstrap-admin.key"))
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(string(keyBytes))
	base := "http://" + srv.rest + "/api/v1/collections"
	// The test measures durability, not the per-tenant rate limit.
	if code, body, err := request("POST", "http://"+srv.rest+"/admin/config/rate-limit", key, `{"enabled":false}`); err != nil || code != 200 {
		t.Fatalf("disable rate limit: %d %s %v", code, body, err)
	}
	if code, body, err := request("POST", base, key, `{"name":"sig","dimension":4,"metric":"l2"}`); err != nil || code != 201 {
		t.Fatalf("create: %d %s %v", code, body, err)
	}
	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
	)
	enough := make(chan struct{})
	var once sync.Once
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 5000; i++ {
				id := fmt.Sprintf("w%d-%d", w, i)
				body := fmt.Sprintf(`{"vectors":[{"id":%q,"vector":[%d,%d,1,0]}]}`, id, w, i)
				code, _, err := request("POST", base+"/sig/insert", key, body)
				if err != nil || code != 200 {
					return
				}
				mu.Lock()
				acked = append(acked, id)
				if len(acked) == 300 {
					once.Do(func() { close(enough) })
				}
				mu.Unlock()
			}
		}(w)
	}
	select {
	case <-enough:
	case <-time.After(60 * time.Second):
		t.Fatalf("writes too slow:\n%s", srv.stderr.String())
	}
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if err := srv.cmd.Wait(); err != nil {
		t.Fatalf("akidb serve exited with %v after SIGTERM:\n%s", err, srv.stderr.String())
	}

	srv2 := startServeChild(t, dataDir)
	for _, id := range acked {
		code, body, err := request("GET", "http://"+srv2.rest+"/api/v1/collections/sig/vectors/"+id, key, "")
		if err != nil || code != 200 {
			t.Fatalf("acknowledged %s lost after SIGTERM: %d %s %v", id, code, body, err)
		}
	}
	if !strings.Contains(srv2.stderr.String(), "replayed=0") {
		t.Fatalf("restart after SIGTERM replayed the log:\n%s", srv2.stderr.String())
	}
	t.Logf("%d acknowledged writes survived SIGTERM", len(acked))
	_ = srv2.cmd.Process.Signal(syscall.SIGTERM)
	_ = srv2.cmd.Wait()
}
