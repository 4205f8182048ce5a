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
	var ratios, mig, rest []float64
	for i := 0; i < b.N; i++ {
		for r := 0; r < rounds; r++ {
			m := timeMigrate(b, f)
			s := timeRESTInsert(b, bodies, n, dim)
			mig, rest = append(mig, m.Seconds()), append(rest, s.Seconds())
			ratios = append(ratios, s.Seconds()/m.Seconds())
			// Printed at once (b.Logf shows only at the end), so a long
			// run can be followed.
			fmt.Fprintf(os.Stderr, "round %d: migrate %.1f s (%.0f records/s), REST %.1f s (%.0f records/s), REST/migrate %.2f\n",
				r+1, m.Seconds(), float64(n)/m.Seconds(), s.Seconds(), float64(n)/s.Seconds(), s.Seconds()/m.Seconds())
		}
	}
	b.ReportMetric(median(mig), "migrate-s")
	b.ReportMetric(median(rest), "rest-s")
	b.ReportMetric(median(ratios), "rest/migrate")
	fmt.Fprintf(os.Stderr, "%d x %d-d, %d rounds: median migrate %.1f s, median REST %.1f s, median ratio REST/migrate %.2f\n",
		n, dim, len(ratios), median(mig), median(rest), median(ratios))
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

func timeMigrate(b *testing.B, f *migratetest.Fixture) time.Duration {
	dataDir := filepath.Join(b.TempDir(), "v2")
	start := time.Now()
	var out, errb bytes.Buffer
	st := &State{Stdout: &out, Stderr: &errb, Stdin: strings.NewReader(""), LookupEnv: func(string) (string, bool) { return "", false },
		Args:          []string{"migrate", "v1-to-v2", "--v1-data-dir", f.Dir, "--data-dir", dataDir, "--log-level", "warn"},
		SignalContext: newOSState().SignalContext}
	if code := Run(st); code != 0 {
		b.Fatalf("migrate: exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	d := time.Since(start)
	_ = os.RemoveAll(dataDir)
	return d
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

var backlogLine = regexp.MustCompile(`(?m)^akidb_index_backlog_vectors (\S+)$`)

func timeRESTInsert(b *testing.B, bodies [][]byte, n, dim int) time.Duration {
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
	start := time.Now()
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
	d := time.Since(start)
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
	return d
}
