package cmd

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/migrate"
	"github.com/akidb/akidb/migrate/migratetest"
)

// A child `akidb migrate` with AKIDB_TEST_MIGRATE_PAUSE=STEP stops at that
// step and says so on stderr: for ever (the test kills it), or with
// AKIDB_TEST_MIGRATE_PAUSE_UNTIL=sigint until it gets SIGINT, which then
// also cancels the migration as Ctrl-C does.
const (
	envMigratePause      = "AKIDB_TEST_MIGRATE_PAUSE"
	envMigratePauseUntil = "AKIDB_TEST_MIGRATE_PAUSE_UNTIL"
)

func migratePauseHook() func(string) {
	step := os.Getenv(envMigratePause)
	if step == "" {
		return nil
	}
	var sigint chan os.Signal
	if os.Getenv(envMigratePauseUntil) == "sigint" {
		sigint = make(chan os.Signal, 1)
		signal.Notify(sigint, os.Interrupt)
	}
	return func(s string) {
		if s != step {
			return
		}
		fmt.Fprintf(os.Stderr, "migrate paused at %s\n", s)
		if sigint == nil {
			select {}
		}
		<-sigint
	}
}

// startMigrateChild runs `akidb migrate v1-to-v2 args...` in a child
// process that pauses at step, and returns once it has.
func startMigrateChild(t *testing.T, step string, untilSigint bool, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	raw, _ := json.Marshal(append([]string{"migrate", "v1-to-v2"}, args...))
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envCLIArgs+"="+string(raw), envMigratePause+"="+step)
	if untilSigint {
		cmd.Env = append(cmd.Env, envMigratePauseUntil+"=sigint")
	}
	pr, pw := io.Pipe()
	stderr := &syncBuffer{}
	cmd.Stderr = io.MultiWriter(pw, stderr)
	cmd.Stdout = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
	})
	paused := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "migrate paused at "+step) {
				close(paused)
				break
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case <-paused:
	case <-time.After(120 * time.Second):
		t.Fatalf("migrate did not reach %s:\n%s", step, stderr.String())
	}
	return cmd, stderr
}

func migrateArgs(f *migratetest.Fixture, dataDir string, extra ...string) []string {
	return append([]string{"--v1-data-dir", f.Dir, "--data-dir", dataDir, "--verify-queries", "20", "--log-level", "warn"}, extra...)
}

func jsonReport(t *testing.T, out string) migrate.Report {
	t.Helper()
	var rep migrate.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, out)
	}
	return rep
}

// The real command is killed (SIGKILL) at several points of a migration;
// the same command with --resume then finishes it, and v2 holds exactly
// the v1 records: nothing twice, nothing lost.
func TestMigrateResumesAfterSIGKILL(t *testing.T) {
	f, err := migratetest.Standard(filepath.Join(t.TempDir(), "v1"), 3000, 5)
	if err != nil {
		t.Fatal(err)
	}
	before := migratetest.Snapshot(t, f.Dir)
	for _, step := range []string{"state-created", "tenants", "batch:3", "saved:3", "batch:12", "loaded", "verified"} {
		t.Run(step, func(t *testing.T) {
			dataDir := filepath.Join(t.TempDir(), "v2")
			child, _ := startMigrateChild(t, step, false, migrateArgs(f, dataDir, "--batch", "100")...)
			if err := child.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = child.Wait()
			// Without --resume the half-done target is refused.
			if code, _, errs := runCLI(t, nil, append([]string{"migrate", "v1-to-v2"}, migrateArgs(f, dataDir)...)...); code != 2 || !strings.Contains(errs, "--resume") {
				t.Fatalf("rerun without --resume: exit %d %s", code, errs)
			}
			code, out, errs := runCLI(t, nil, append([]string{"migrate", "v1-to-v2"}, migrateArgs(f, dataDir, "--resume", "--output", "json")...)...)
			rep := jsonReport(t, out)
			if code != 0 || rep.Status != migrate.StatusMigrated || !rep.Resumed {
				t.Fatalf("resume: exit %d status %s: %s", code, rep.Status, errs)
			}
			migratetest.CheckV2(t, dataDir, f)
		})
	}
	migratetest.AssertUnchanged(t, before, migratetest.Snapshot(t, f.Dir))
}

// Ctrl-C (SIGINT) stops a migration cleanly with exit status 2 and a
// message saying how to resume; --resume finishes it.
func TestMigrateCtrlCThenResume(t *testing.T) {
	f, err := migratetest.Standard(filepath.Join(t.TempDir(), "v1"), 1500, 6)
	if err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(t.TempDir(), "v2")
	child, out := startMigrateChild(t, "batch:2", true, migrateArgs(f, dataDir, "--batch", "100")...)
	if err := child.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err = child.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("after SIGINT: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "interrupted") || !strings.Contains(out.String(), "--resume") {
		t.Fatalf("no resume hint:\n%s", out.String())
	}
	code, _, errs := runCLI(t, nil, append([]string{"migrate", "v1-to-v2"}, migrateArgs(f, dataDir, "--resume")...)...)
	if code != 0 {
		t.Fatalf("resume: exit %d %s", code, errs)
	}
	migratetest.CheckV2(t, dataDir, f)
}

// The command's bad-input path end to end: exit 1, FILE:LINE on stdout,
// nothing written; --dry-run the same; skip mode migrates the rest.
func TestMigrateCommandBadInput(t *testing.T) {
	f, err := migratetest.Standard(filepath.Join(t.TempDir(), "v1"), 400, 7)
	if err != nil {
		t.Fatal(err)
	}
	pos, err := migratetest.Corruptions()[2].Apply(f) // NaN
	if err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(t.TempDir(), "v2")
	for _, extra := range [][]string{nil, {"--dry-run"}} {
		code, out, _ := runCLI(t, nil, append([]string{"migrate", "v1-to-v2"}, migrateArgs(f, dataDir, extra...)...)...)
		if code != 1 || !strings.Contains(out, pos+": column") || !strings.Contains(out, "NaN is not a number v2 can store") {
			t.Fatalf("%v: exit %d\n%s", extra, code, out)
		}
		if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
			t.Fatalf("%v: the target was written", extra)
		}
	}
	if code, _, errs := runCLI(t, nil, "migrate", "v1-to-v2", "--v1-data-dir", f.Dir, "--data-dir", dataDir, "--on-invalid", "maybe"); code == 0 || !strings.Contains(errs, "--on-invalid") {
		t.Fatalf("bad --on-invalid: %d %s", code, errs)
	}
	if code, _, errs := runCLI(t, nil, "migrate", "v1-to-v2", "--v1-data-dir", f.Dir, "--data-dir", dataDir, "--plan-cache-bytes", "-1"); code == 0 || !strings.Contains(errs, "--plan-cache-bytes") {
		t.Fatalf("bad --plan-cache-bytes: %d %s", code, errs)
	}
	// --plan-cache-bytes 0: every line is read again to load it.
	code, out, _ := runCLI(t, nil, append([]string{"migrate", "v1-to-v2"}, migrateArgs(f, dataDir, "--on-invalid", "skip", "--output", "json", "--plan-cache-bytes", "0")...)...)
	rep := jsonReport(t, out)
	if code != 0 || rep.Problems.Count != 1 || rep.Problems.List[0].Pos() != pos {
		t.Fatalf("skip: exit %d problems %+v", code, rep.Problems)
	}
	if rep.Load == nil || rep.Load.ParsedOnce != 0 || rep.Load.Records == 0 {
		t.Fatalf("--plan-cache-bytes 0: load %+v", rep.Load)
	}
	migratetest.CheckV2(t, dataDir, f)
}

// The whole path a user takes: `akidb migrate` on a 50,000-vector v1
// directory, then `akidb serve` on the result answering over REST with a
// real HTTP client, with nothing else to do but make keys.
func TestMigrateThenServe(t *testing.T) {
	f, err := migratetest.Standard(filepath.Join(t.TempDir(), "v1"), 50000, 8)
	if err != nil {
		t.Fatal(err)
	}
	before := migratetest.Snapshot(t, f.Dir)
	dataDir := filepath.Join(t.TempDir(), "v2")
	code, out, errs := runCLI(t, nil, append([]string{"migrate", "v1-to-v2"}, migrateArgs(f, dataDir)...)...)
	if code != 0 || !strings.Contains(out, "result: migrated and verified") {
		t.Fatalf("migrate: exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(errs, "loading: ") {
		t.Fatalf("no progress lines on a non-terminal stderr:\n%s", errs)
	}
	migratetest.AssertUnchanged(t, before, migratetest.Snapshot(t, f.Dir))

	srv := startServeChild(t, dataDir)
	base := "http://" + srv.rest
	keyBytes, err := os.ReadFile(filepath.Join(dataDir, "secrets", "bootstrap-admin.key"))
	if err != nil {
		t.Fatalf("the first serve on the migrated directory made no bootstrap key: %v", err)
	}
	admin := strings.TrimSpace(string(keyBytes))
	if c, body, err := request("POST", base+"/admin/config/rate-limit", admin, `{"enabled":false}`); err != nil || c != 200 {
		t.Fatalf("disable rate limit: %d %s %v", c, body, err)
	}
	keys := map[string]string{"default": admin}
	client := &http.Client{Timeout: 30 * time.Second}
	for _, c := range f.Migrated() {
		key, ok := keys[c.V2Tenant]
		if !ok {
			status, body, err := request("POST", base+"/admin/api-keys", admin, fmt.Sprintf(`{"tenant":%q,"role":"reader","name":"check"}`, c.V2Tenant))
			if err != nil || status != 201 {
				t.Fatalf("key for %s: %d %s %v", c.V2Tenant, status, body, err)
			}
			var created struct{ Key string }
			if err := json.Unmarshal([]byte(body), &created); err != nil || created.Key == "" {
				t.Fatalf("key for %s: %s", c.V2Tenant, body)
			}
			key, keys[c.V2Tenant] = created.Key, created.Key
		}
		get := func(path string, v any) {
			t.Helper()
			req, _ := http.NewRequest("GET", base+path, nil)
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 {
				t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
			}
			if err := json.Unmarshal(body, v); err != nil {
				t.Fatal(err)
			}
		}
		var info struct {
			Dimension int
			Metric    string
			Stats     struct{ Count int }
		}
		get("/api/v1/collections/"+c.V2Name, &info)
		if info.Stats.Count != len(c.Final) || info.Dimension != c.Dim || info.Metric != c.Metric {
			t.Fatalf("%s/%s over REST: %+v, want %d records", c.V2Tenant, c.V2Name, info, len(c.Final))
		}
		ids := c.IDs()
		for i := 0; i < 25; i++ {
			want := c.Final[ids[i*len(ids)/25]]
			var rec struct {
				ID       string
				Metadata map[string]any
			}
			get("/api/v1/collections/"+c.V2Name+"/vectors/"+url.PathEscape(want.ID), &rec)
			if rec.ID != want.ID || !sameMetadata(rec.Metadata, want.Metadata) {
				t.Fatalf("%s: GET %q: %+v, want %v", c.V2Name, want.ID, rec, want.Metadata)
			}
			for _, exact := range []bool{false, true} {
				q, _ := json.Marshal(map[string]any{"vector": want.Vector, "k": 3, "exact": exact})
				status, body, err := request("POST", base+"/api/v1/collections/"+c.V2Name+"/query", key, string(q))
				if err != nil || status != 200 {
					t.Fatalf("query %s: %d %s %v", c.V2Name, status, body, err)
				}
				var res struct {
					Results []struct{ ID string }
				}
				if err := json.Unmarshal([]byte(body), &res); err != nil || len(res.Results) != 3 {
					t.Fatalf("query %s: %s", c.V2Name, body)
				}
				// Exactly, a record's own vector is its nearest (cosine,
				// l2; for dot the largest product need not be itself).
				// The graph's answers are checked for recall by the
				// migrator's verification, not one by one here.
				if m, _ := distance.ParseMetric(c.Metric); exact && m != distance.InnerProduct && res.Results[0].ID != want.ID {
					t.Fatalf("%s: exact query with %q's vector returned %+v", c.V2Name, want.ID, res.Results)
				}
			}
		}
	}
	_ = srv.cmd.Process.Signal(syscall.SIGTERM)
	_ = srv.cmd.Wait()
}

func sameMetadata(a, b map[string]any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return len(a) == 0 && len(b) == 0 || string(x) == string(y)
}
