package serve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/grpc/akidbv1"
)

// BenchmarkHostileClient measures what #13's limits are for: a calm
// tenant's queries (REST, 500 at 50/s, k=10 over 2000 vectors of 64
// dimensions) alone, and while one API key of another tenant, with the
// default limits (100 requests/s, half of every in-flight bound), does
// one hostile thing at a time:
//
//	trickle: 200 connections sending request bodies a byte every 50 ms
//	bodies:  4 clients sending 31 MiB worst-case bodies at the key's rate
//	         limit, 100 a second (tiny vectors past the batch limit,
//	         metadata past the memory bound: both refused with 413 while
//	         they are decoded)
//	ddl:     creating and dropping a collection in a loop
//	scans:   4 gRPC clients running exact scans of 20000 vectors of 256
//	         dimensions with a 20 ms deadline
//
// The server, the calm client and the hostile client are three processes
// (this test binary run again as a child, see TestMain), as they would be
// on three machines: in one process the hostile client's own work (31 MiB
// bodies written as fast as the loopback takes them, 200 connections)
// would take the calm client's turns on the CPU and be counted as the
// server's latency. The server runs with the defaults and GOMEMLIMIT
// 768MiB, as on an edge box with 1 GiB of memory.
//
// It reports the calm tenant's p50/p99 (500 queries at 50/s) and
// successes per phase, the same queries' p50/p99 as the server timed them
// (its access log), what the hostile key got, and the server's RSS.
//
//	go test ./serve -run '^$' -bench HostileClient -benchtime 1x
//
// docs/limits.md has the figures of runs.
func BenchmarkHostileClient(b *testing.B) {
	for range b.N {
		runHostileClient(b)
	}
}

// hostileMemoryLimit is the server's GOMEMLIMIT in the benchmark.
const hostileMemoryLimit = 768 << 20

// The child processes of BenchmarkHostileClient, chosen by environment
// variables in TestMain: the server, or the hostile client of one phase.
const (
	envHostileChild = "AKIDB_HOSTILE_CHILD" // "server", or a phase
	envHostileDir   = "AKIDB_HOSTILE_DIR"   // server: its data directory
	envHostileREST  = "AKIDB_HOSTILE_REST"  // client: the server's addresses
	envHostileGRPC  = "AKIDB_HOSTILE_GRPC"
	envHostileKey   = "AKIDB_HOSTILE_KEY" // client: its API key
)

// hostileChild runs the child process named by envHostileChild, if any:
// it returns the exit code and true, or false in the test process itself.
func hostileChild() (int, bool) {
	switch role := os.Getenv(envHostileChild); role {
	case "":
		return 0, false
	case "server":
		return hostileServer(), true
	default:
		return hostileClient(role), true
	}
}

// hostileServer serves with the defaults on loopback ports, prints its
// REST and gRPC addresses on a line once it is ready, and shuts down when
// its stdin closes. Its log (access log lines included, at debug level)
// goes to server.log beside its data directory.
func hostileServer() int {
	cfg := DefaultConfig()
	cfg.DataDir = os.Getenv(envHostileDir)
	cfg.RESTAddr, cfg.GRPCAddr = "127.0.0.1:0", "127.0.0.1:0"
	logFile, err := os.Create(filepath.Join(filepath.Dir(cfg.DataDir), "server.log"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		return 2
	}
	defer logFile.Close()
	s, err := Start(cfg, slog.New(slog.NewJSONHandler(logFile, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		return 2
	}
	select {
	case <-s.Ready():
	case err := <-s.Errors():
		fmt.Fprintln(os.Stderr, "server:", err)
		return 2
	}
	fmt.Printf("%s %s\n", s.RESTAddr(), s.GRPCAddr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	if err := s.Shutdown(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "server shutdown:", err)
		return 1
	}
	return 0
}

// hostileClient runs one phase's hostile load until its stdin closes,
// printing "ready" once the load runs and its outcomes as JSON at the end.
func hostileClient(phase string) int {
	rest, grpcAddr, key := os.Getenv(envHostileREST), os.Getenv(envHostileGRPC), os.Getenv(envHostileKey)
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	h := &benchServer{base: "http://" + rest, client: &http.Client{Transport: tr, Timeout: time.Minute}}
	var counts func() map[string]int
	switch phase {
	case "trickle":
		stop := make(chan struct{})
		var tricklers []*trickler
		for range 200 {
			t, err := dialTrickle(rest, "/api/v1/collections/one/insert", key, 100000, stop)
			if err != nil {
				fmt.Fprintln(os.Stderr, "trickle:", err)
				return 2
			}
			tricklers = append(tricklers, t)
		}
		counts = func() map[string]int {
			out := map[string]int{}
			for _, t := range tricklers {
				select {
				case code := <-t.status:
					out[fmt.Sprint(code)]++
				default:
					out["being read"]++
				}
			}
			close(stop)
			return out
		}
	case "bodies":
		tiny := jsonBody(worstBody, worstBody, func(int) string { return `{"id":"a","vector":[1]}` })
		numbers := `{"n":[` + repeatJSON("1", 15000) + `]}`
		heavy := jsonBody(worstBody, 1000, func(i int) string { return fmt.Sprintf(`{"id":"n%d","vector":[1],"metadata":%s}`, i, numbers) })
		var flip atomic.Int64
		// At the key's rate limit (100 requests/s), as #13 asks: a client
		// that sends more only gets more 429s, and its own CPU (31 MiB
		// written for each) would be measured instead of the server.
		pace := time.NewTicker(10 * time.Millisecond)
		defer pace.Stop()
		counts = startHostile(4, func() string {
			<-pace.C
			body := tiny
			if flip.Add(1)%2 == 0 {
				body = heavy
			}
			code, _ := h.call("POST", "/api/v1/collections/one/insert", key, bytes.NewReader(body))
			return fmt.Sprint(code)
		}).stop
	case "ddl":
		counts = startHostile(1, func() string {
			code, _ := h.callJSON("POST", "/api/v1/collections", key, map[string]any{"name": "tmp", "dimension": 8})
			code2, _ := h.call("DELETE", "/api/v1/collections/tmp", key, nil)
			return fmt.Sprintf("%d/%d", code, code2)
		}).stop
	case "scans":
		conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			fmt.Fprintln(os.Stderr, "scans:", err)
			return 2
		}
		defer conn.Close()
		col := akidbv1.NewCollectionServiceClient(conn)
		scanVec := randomVector(rand.New(rand.NewPCG(3, 4)), 256)
		counts = startHostile(4, func() string {
			ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+key), 20*time.Millisecond)
			defer cancel()
			_, err := col.Query(ctx, &akidbv1.QueryRequest{Collection: "scan", Vector: scanVec, K: 10, Exact: true})
			return status.Code(err).String()
		}).stop
	default:
		fmt.Fprintln(os.Stderr, "unknown phase", phase)
		return 2
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	out, _ := json.Marshal(counts())
	fmt.Println(string(out))
	return 0
}

// child is a running child process of the benchmark.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
}

// startChild runs this test binary as the child role with env, and
// returns once it has printed its first line (returned).
func startChild(b *testing.B, role string, env ...string) (*child, string) {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{envHostileChild + "=" + role}, env...)...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	c := &child{cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout)}
	c.out.Buffer(nil, 1<<20)
	b.Cleanup(func() { _ = c.cmd.Process.Kill(); _ = c.cmd.Wait() })
	if !c.out.Scan() {
		b.Fatalf("child %s said nothing", role)
	}
	return c, c.out.Text()
}

// stop closes the child's stdin and returns its last line.
func (c *child) stop(b *testing.B) string {
	b.Helper()
	_ = c.stdin.Close()
	var last string
	for c.out.Scan() {
		last = c.out.Text()
	}
	if err := c.cmd.Wait(); err != nil {
		b.Fatalf("child: %v", err)
	}
	return last
}

type benchServer struct {
	b      *testing.B // nil in a child process
	base   string
	boot   string
	client *http.Client
}

func (h *benchServer) call(method, path, key string, body io.Reader) (int, time.Duration) {
	req, _ := http.NewRequest(method, h.base+path, body)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := h.client.Do(req)
	if err != nil {
		return -1, time.Since(start)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, time.Since(start)
}

func (h *benchServer) callJSON(method, path, key string, v any) (int, time.Duration) {
	raw, _ := json.Marshal(v)
	return h.call(method, path, key, bytes.NewReader(raw))
}

func (h *benchServer) must(code int, _ time.Duration) {
	h.b.Helper()
	if code >= 300 {
		h.b.Fatalf("setup request: %d", code)
	}
}

// key makes a tenant and a writer key of it.
func (h *benchServer) key(tenant string) string {
	raw, _ := json.Marshal(map[string]string{"name": tenant})
	req, _ := http.NewRequest("POST", h.base+"/admin/tenants", bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+h.boot)
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.client.Do(req)
	if err != nil {
		h.b.Fatal(err)
	}
	var tn struct{ ID string }
	_ = json.NewDecoder(resp.Body).Decode(&tn)
	resp.Body.Close()
	raw, _ = json.Marshal(map[string]string{"tenant": tn.ID, "role": "writer"})
	req, _ = http.NewRequest("POST", h.base+"/admin/api-keys", bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+h.boot)
	req.Header.Set("Content-Type", "application/json")
	resp, err = h.client.Do(req)
	if err != nil {
		h.b.Fatal(err)
	}
	var k struct{ Key string }
	_ = json.NewDecoder(resp.Body).Decode(&k)
	resp.Body.Close()
	return k.Key
}

// load creates collection name of dim dimensions with n random vectors.
func (h *benchServer) load(key, name string, dim, n int, rng *rand.Rand) {
	h.must(h.callJSON("POST", "/api/v1/collections", key, map[string]any{"name": name, "dimension": dim, "metric": "l2"}))
	for start := 0; start < n; start += 1000 {
		var u api.UpsertRequest
		for i := start; i < min(start+1000, n); i++ {
			u.Vectors = append(u.Vectors, api.Vector{ID: fmt.Sprint(i), Vector: randomVector(rng, dim)})
		}
		h.must(h.callJSON("POST", "/api/v1/collections/"+name+"/insert", key, u))
	}
}

func randomVector(rng *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// hostile runs clients until stopped, counting their outcomes.
type hostile struct {
	done   atomic.Bool
	wg     sync.WaitGroup
	mu     sync.Mutex
	counts map[string]int
}

func startHostile(clients int, do func() string) *hostile {
	h := &hostile{counts: map[string]int{}}
	for range clients {
		h.wg.Go(func() {
			for !h.done.Load() {
				outcome := do()
				h.mu.Lock()
				h.counts[outcome]++
				h.mu.Unlock()
			}
		})
	}
	return h
}

func (h *hostile) stop() map[string]int {
	h.done.Store(true)
	h.wg.Wait()
	return h.counts
}

// startBench starts a server with the defaults (and edit's changes) on
// loopback ports, waits until it is ready and shuts it down when the
// benchmark ends.
func startBench(b *testing.B, edit func(*Config)) (*Server, Config) {
	cfg := DefaultConfig()
	cfg.DataDir = b.TempDir()
	cfg.RESTAddr, cfg.GRPCAddr = "127.0.0.1:0", "127.0.0.1:0"
	if edit != nil {
		edit(&cfg)
	}
	s, err := Start(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	select {
	case <-s.Ready():
	case err := <-s.Errors():
		b.Fatal(err)
	}
	return s, cfg
}

// calmQueries is how many queries the calm tenant sends in each phase, at
// 50 a second.
const calmQueries = 500

// serverLatencies reads the server's access log and returns the durations
// of the calm tenant's queries (the only REST queries), in order.
func serverLatencies(b *testing.B, path string) []time.Duration {
	b.Helper()
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var out []time.Duration
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line struct {
			Route    string `json:"route"`
			Duration int64  `json:"duration"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Route == "/api/v1/collections/:name/query" {
			out = append(out, time.Duration(line.Duration))
		}
	}
	return out
}

// percentiles returns the median and the 99th percentile of lat (sorted
// in place).
func percentiles(lat []time.Duration) (p50, p99 time.Duration) {
	slices.Sort(lat)
	return lat[len(lat)/2], lat[len(lat)*99/100]
}

func runHostileClient(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "data")
	srv, addrs := startChild(b, "server", envHostileDir+"="+dir, fmt.Sprintf("GOMEMLIMIT=%d", hostileMemoryLimit))
	rest, grpcAddr, _ := strings.Cut(addrs, " ")
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	h := &benchServer{b: b, base: "http://" + rest, boot: readKey(b, dir), client: &http.Client{Transport: tr, Timeout: time.Minute}}
	calm, bad := h.key("calm"), h.key("hostile")
	rng := rand.New(rand.NewPCG(1, 2))
	h.load(calm, "c", 64, 2000, rng)
	h.load(bad, "scan", 256, 20000, rng)
	h.must(h.callJSON("POST", "/api/v1/collections", bad, map[string]any{"name": "one", "dimension": 1}))
	query, _ := json.Marshal(map[string]any{"vector": randomVector(rng, 64), "k": 10})
	serverKB := func(field string) int64 { return procStatusKBOf(srv.cmd.Process.Pid, field) }

	// calmRun sends the calm tenant's queries and returns a line about
	// them.
	calmRun := func(phase string) string {
		statuses := map[int]int{}
		var lat []time.Duration
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for range calmQueries {
			<-tick.C
			code, d := h.call("POST", "/api/v1/collections/c/query", calm, bytes.NewReader(query))
			statuses[code]++
			lat = append(lat, d)
		}
		p50, p99 := percentiles(lat)
		b.ReportMetric(ms(p50), phase+"-p50-ms")
		b.ReportMetric(ms(p99), phase+"-p99-ms")
		b.ReportMetric(float64(statuses[http.StatusOK]), phase+"-calm-200s")
		return fmt.Sprintf("%-8s calm p50 %-9v p99 %-9v %v", phase, p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond), statuses)
	}

	phases := []string{"alone", "trickle", "bodies", "ddl", "scans"}
	b.Log(calmRun("alone"))
	for _, phase := range phases[1:] {
		c, ready := startChild(b, phase, envHostileREST+"="+rest, envHostileGRPC+"="+grpcAddr, envHostileKey+"="+bad)
		if ready != "ready" {
			b.Fatalf("%s: the hostile client said %q", phase, ready)
		}
		line := calmRun(phase)
		b.Logf("%s; hostile key got %s; server RSS %d MiB", line, c.stop(b), serverKB("VmRSS")/1024)
	}
	peak := serverKB("VmHWM")
	b.Logf("server peak RSS %d MiB (GOMEMLIMIT %d MiB)", peak/1024, hostileMemoryLimit>>20)
	b.ReportMetric(float64(peak)/1024, "server-peak-rss-MiB")
	srv.stop(b)
	// The same queries timed by the server, from its access log: what
	// the server took, without the time the client and the host's
	// scheduler add.
	served := serverLatencies(b, filepath.Join(filepath.Dir(dir), "server.log"))
	if len(served) != len(phases)*calmQueries {
		b.Fatalf("the server logged %d queries, want %d", len(served), len(phases)*calmQueries)
	}
	var line strings.Builder
	for i, phase := range phases {
		p50, p99 := percentiles(served[i*calmQueries : (i+1)*calmQueries])
		fmt.Fprintf(&line, " %s %v/%v", phase, p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond))
		b.ReportMetric(ms(p99), phase+"-served-p99-ms")
	}
	b.Logf("as the server timed them, p50/p99:%s", line.String())
}
