package cmd

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/akidb/akidb/migrate/migratetest"
)

// BenchmarkMigrateVsREST measures `akidb migrate v1-to-v2` on N x DIM
// vectors (default 100,000 x 384, one cosine collection) against the same
// records bulk-inserted over REST into `akidb serve` (a child process):
// batches of 1000, 4 concurrent clients, request bodies built before the
// clock starts, timed from creating the collection until every insert is
// acknowledged and the index backlog (akidb_index_backlog_vectors) is 0.
// The migrator is timed as a whole command: plan, load, final checkpoint
// and verification. Runs alternate (migrate, REST, migrate, ...) for
// ROUNDS rounds (default 3); the reported ratio is the median of REST time
// / migrate time per round (above 1: the migrator is faster).
//
//	go test ./cmd -run '^$' -bench MigrateVsREST -benchtime 1x -timeout 2h
//	AKIDB_MIGRATE_BENCH_N=20000 AKIDB_MIGRATE_BENCH_ROUNDS=5 go test ...
func BenchmarkMigrateVsREST(b *testing.B) {
	n := envInt("AKIDB_MIGRATE_BENCH_N", 100000)
	dim := envInt("AKIDB_MIGRATE_BENCH_DIM", 384)
	rounds := envInt("AKIDB_MIGRATE_BENCH_ROUNDS", 3)
	f, err := migratetest.Large(filepath.Join(b.TempDir(), "v1"), n, dim, 42)
	if err != nil {
		b.Fatal(err)
	}
	bodies := restBodies(b, filepath.Join(f.Dir, "collections", "embeddings", "vectors.jsonl"), 1000)
	var ratios, cpuRatios, loadRatios, mig, rest, migCPU, restCPU, load []float64
	for i := 0; i < b.N; i++ {
		for r := 0; r < rounds; r++ {
			m := timeMigrate(b, f)
			s := timeRESTInsert(b, bodies, n, dim)
			mig, rest = append(mig, m.wall.Seconds()), append(rest, s.wall.Seconds())
			migCPU, restCPU = append(migCPU, m.cpu.Seconds()), append(restCPU, s.cpu.Seconds())
			ratios = append(ratios, s.wall.Seconds()/m.wall.Seconds())
			cpuRatios = append(cpuRatios, s.cpu.Seconds()/m.cpu.Seconds())
			load, loadRatios = append(load, m.load.Seconds()), append(loadRatios, s.wall.Seconds()/m.load.Seconds())
			// Printed at once (b.Logf shows only at the end), so a long
			// run can be followed.
			fmt.Fprintf(os.Stderr, "round %d: migrate %.1f s wall %.1f s CPU (%.0f records/s), REST %.1f s wall %.1f s CPU (%.0f records/s), REST/migrate %.2f wall %.2f CPU; migrate's load phase %.1f s, REST/load %.2f\n",
				r+1, m.wall.Seconds(), m.cpu.Seconds(), float64(n)/m.wall.Seconds(), s.wall.Seconds(), s.cpu.Seconds(), float64(n)/s.wall.Seconds(),
				s.wall.Seconds()/m.wall.Seconds(), s.cpu.Seconds()/m.cpu.Seconds(), m.load.Seconds(), s.wall.Seconds()/m.load.Seconds())
		}
	}
	b.ReportMetric(median(mig), "migrate-s")
	b.ReportMetric(median(rest), "rest-s")
	b.ReportMetric(median(ratios), "rest/migrate")
	b.ReportMetric(median(cpuRatios), "rest/migrate-cpu")
	b.ReportMetric(median(loadRatios), "rest/load")
	fmt.Fprintf(os.Stderr, "%d x %d-d, %d rounds: median migrate %.1f s wall %.1f s CPU, median REST %.1f s wall %.1f s CPU, median ratio REST/migrate %.2f wall %.2f CPU; median load phase %.1f s, REST/load %.2f\n",
		n, dim, len(ratios), median(mig), median(migCPU), median(rest), median(restCPU), median(ratios), median(cpuRatios), median(load), median(loadRatios))
}

// cost is a measured run: wall time, and the CPU time the work used
// (user + system). CPU time hardly depends on what else runs on the
// machine, so its ratio is the steadier one on a shared VM.
// load is the migrator's load phase alone (its own report's figure), the
// part that does what the REST path does.
type cost struct{ wall, cpu, load time.Duration }

// selfCPU is this process's user + system CPU time so far.
func selfCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU is a running process's user + system CPU time so far, from
// /proc/PID/stat (fields 14 and 15, in clock ticks of 1/100 s: USER_HZ
// is 100 on every Linux architecture Go supports).
func procCPU(b *testing.B, pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("parse /proc/%d/stat: %q", pid, data)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

func envInt(key string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil && v > 0 {
		return v
	}
	return def
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func timeMigrate(b *testing.B, f *migratetest.Fixture) cost {
	dataDir := filepath.Join(b.TempDir(), "v2")
	start, startCPU := time.Now(), selfCPU(b)
	var out, errb bytes.Buffer
	st := &State{Stdout: &out, Stderr: &errb, Stdin: strings.NewReader(""), LookupEnv: func(string) (string, bool) { return "", false },
		Args:          []string{"migrate", "v1-to-v2", "--v1-data-dir", f.Dir, "--data-dir", dataDir, "--log-level", "warn"},
		SignalContext: newOSState().SignalContext}
	if code := Run(st); code != 0 {
		b.Fatalf("migrate: exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	c := cost{wall: time.Since(start), cpu: selfCPU(b) - startCPU}
	m := loadLine.FindSubmatch(out.Bytes())
	if m == nil {
		b.Fatalf("no load line in the migrate report:\n%s", out.String())
	}
	secs, _ := strconv.ParseFloat(string(m[1]), 64)
	c.load = time.Duration(secs * float64(time.Second))
	_ = os.RemoveAll(dataDir)
	return c
}

// restBodies turns the v1 lines into insert request bodies (the v1 line
// already is {"id", "vector", "metadata"}).
func restBodies(b *testing.B, path string, batch int) [][]byte {
	in, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var (
		out   [][]byte
		cur   bytes.Buffer
		count int
	)
	flush := func() {
		if count > 0 {
			cur.WriteString("]}")
			out = append(out, append([]byte(nil), cur.Bytes()...))
		}
		cur.Reset()
		count = 0
	}
	for sc.Scan() {
		if count == 0 {
			cur.WriteString(`{"vectors":[`)
		} else {
			cur.WriteByte(',')
		}
		cur.Write(sc.Bytes())
		if count++; count == batch {
			flush()
		}
	}
	flush()
	if err := sc.Err(); err != nil {
		b.Fatal(err)
	}
	return out
}

var loadLine = regexp.MustCompile(`(?m)^load: .* ([0-9.]+) s \(`)

var backlogLine = regexp.MustCompile(`(?m)^akidb_index_backlog_vectors (\S+)$`)

// timeRESTInsert counts the CPU time of the server and of this process's
// clients.
func timeRESTInsert(b *testing.B, bodies [][]byte, n, dim int) cost {
	dataDir := filepath.Join(b.TempDir(), "rest")
	srv := startServeChild(b, dataDir)
	defer func() {
		_ = srv.cmd.Process.Signal(syscall.SIGTERM)
		_ = srv.cmd.Wait()
		_ = os.RemoveAll(dataDir)
	}()
	keyBytes, err := os.ReadFile(filepath.Join(dataDir, "secrets", "bootstrap-admin.key"))
	if err != nil {
		b.Fatal(err)
	}
	key := strings.TrimSpace(string(keyBytes))
	base := "http://" + srv.rest
	if code, body, err := request("POST", base+"/admin/config/rate-limit", key, `{"enabled":false}`); err != nil || code != 200 {
		b.Fatalf("disable rate limit: %d %s %v", code, body, err)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}, Timeout: 10 * time.Minute}
	post := func(path string, body []byte) (int, string) {
		req, _ := http.NewRequest("POST", base+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(data)
	}
	start, startCPU, startServerCPU := time.Now(), selfCPU(b), procCPU(b, srv.cmd.Process.Pid)
	if code, body := post("/api/v1/collections", []byte(fmt.Sprintf(`{"name":"embeddings","dimension":%d,"metric":"cosine"}`, dim))); code != 201 {
		b.Fatalf("create: %d %s", code, body)
	}
	next := make(chan []byte)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for body := range next {
				if code, resp := post("/api/v1/collections/embeddings/insert", body); code != 200 {
					b.Errorf("insert: %d %s", code, resp)
					return
				}
			}
		}()
	}
	for _, body := range bodies {
		next <- body
	}
	close(next)
	wg.Wait()
	for {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			b.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := backlogLine.FindSubmatch(data)
		if m == nil {
			b.Fatalf("no akidb_index_backlog_vectors in /metrics")
		}
		if v, _ := strconv.ParseFloat(string(m[1]), 64); v == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond) // polling the server's gauge from outside; not waiting for our own work
	}
	c := cost{wall: time.Since(start), cpu: selfCPU(b) - startCPU + procCPU(b, srv.cmd.Process.Pid) - startServerCPU}
	var info struct{ Stats struct{ Count int } }
	req, _ := http.NewRequest("GET", base+"/api/v1/collections/embeddings", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if info.Stats.Count != n {
		b.Fatalf("REST path holds %d records, want %d", info.Stats.Count, n)
	}
	return c
}
