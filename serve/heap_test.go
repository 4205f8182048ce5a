package serve

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/akidb/akidb/serve/grpc/akidbv1"
)

// The peak growth of the live heap while one worst-case 31 MiB upsert is
// read, decoded, logged and applied (issue #13: under 4 times the body),
// on both transports. Unlike TestWorstCaseBodyMemory* these writes are
// accepted, so the engine's copies count: the log record, the graph's
// vectors and the decoded metadata that the collection keeps.
//
// The live heap is what a garbage collection finds reachable
// (runtime/metrics /gc/heap/live:bytes). While the request runs, the
// collector is set to run at every 5% of heap growth and a goroutine
// reads that figure after every cycle, so the highest one seen is the
// peak to within a few percent; the figure before the request (after a
// full collection) is subtracted. Sampling can only miss a peak, never
// invent one, so a failure is real.

// liveHeap is the live heap as of the last garbage collection, and the
// number of collections so far.
// heapProfileAtPeak, from $AKIDB_HEAP_PEAK_PROFILE, is a file to write a
// heap profile to at every new peak (it reflects the collection that
// found the peak): what the peak holds, for `go tool pprof`.
var heapProfileAtPeak = os.Getenv("AKIDB_HEAP_PEAK_PROFILE")

func liveHeap() (live, cycles uint64) {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Uint64(), s[1].Value.Uint64()
}

// peakHeapGrowth runs f and returns the highest live heap seen while it
// ran less the live heap before it, the growth that stays after it, and
// the number of collections that ran meanwhile.
func peakHeapGrowth(f func()) (peak, kept uint64, cycles uint64) {
	runtime.GC()
	base, startCycles := liveHeap()
	old := debug.SetGCPercent(5)
	defer debug.SetGCPercent(old)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var highest uint64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			if live, _ := liveHeap(); live > highest {
				highest = live
				if heapProfileAtPeak != "" {
					if f, err := os.Create(heapProfileAtPeak); err == nil {
						_ = pprof.Lookup("heap").WriteTo(f, 0)
						f.Close()
					}
				}
			}
			select {
			case <-stop:
				return
			default:
				runtime.Gosched()
			}
		}
	}()
	f()
	close(stop)
	wg.Wait()
	runtime.GC()
	after, endCycles := liveHeap()
	highest = max(highest, after)
	if after < base {
		after = base
	}
	return highest - base, after - base, endCycles - startCycles
}

// acceptedBodies are the 31 MiB upserts that pass every request limit
// and are written: for a collection of dim dimensions, its JSON body and
// the same records as a gRPC message.
type acceptedBody struct {
	name  string
	dim   int
	json  func() []byte
	proto func(collection string) []byte
}

func acceptedBodies() []acceptedBody {
	dense := "[" + repeatJSON("1", 4096) + "]"
	denseValues := make([]float32, 4096)
	for i := range denseValues {
		denseValues[i] = 1
	}
	pad := strings.Repeat("m", worstBody/1000-len(dense)-100)
	short := strings.Repeat("s", 48)
	shortMeta := `{"s":[` + repeatJSON(`"`+short+`"`, 600) + `]}`
	return []acceptedBody{
		{"largest vectors, metadata strings", 4096,
			func() []byte {
				return jsonBody(worstBody, 1000, func(i int) string {
					return fmt.Sprintf(`{"id":"d%d","vector":%s,"metadata":{"pad":"%s"}}`, i, dense, pad)
				})
			},
			func(col string) []byte {
				meta := protoStruct("pad", [][]byte{stringValue(strings.Repeat("m", worstBody/1000-4*4096-100))})
				return protoUpsert(col, worstBody, 1000, func(i int) []byte { return protoVector(fmt.Sprintf("d%d", i), denseValues, meta) })
			}},
		{"metadata of short strings, under the memory bound", 1,
			func() []byte {
				return jsonBody(worstBody, 1000, func(i int) string {
					return fmt.Sprintf(`{"id":"s%d","vector":[1],"metadata":%s}`, i, shortMeta)
				})
			},
			func(col string) []byte {
				meta := protoStruct("s", fill(600, stringValue(short)))
				return protoUpsert(col, worstBody, 1000, func(i int) []byte { return protoVector(fmt.Sprintf("s%d", i), []float32{1}, meta) })
			}},
	}
}

// postRaw posts a JSON body as it is and returns the answer.
func postRaw(t *testing.T, client *http.Client, url string, body []byte) (int, []byte) {
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.Bytes()
}

// checkPeak fails the test if the peak passed 4 times the body.
func checkPeak(t *testing.T, body int, peak, kept, cycles uint64) {
	t.Helper()
	ratio := float64(peak) / float64(body)
	t.Logf("%d-byte body: live heap grew by %d bytes at most (%.2f× the body), %d kept after (%.2f×), %d collections",
		body, peak, ratio, kept, float64(kept)/float64(body), cycles)
	if cycles < 5 {
		t.Fatalf("only %d garbage collections while the request ran: the peak was not sampled", cycles)
	}
	if ratio >= 4 {
		t.Fatalf("the live heap grew by %.2f× the body while the write ran, want under 4×", ratio)
	}
}

func TestAcceptedWriteHeapREST(t *testing.T) {
	cfg := testConfig(t)
	cfg.Auth.Disabled = true
	s := startServer(t, cfg)
	client := newClient(t)
	for i, c := range acceptedBodies() {
		t.Run(c.name, func(t *testing.T) {
			col := fmt.Sprintf("a%d", i)
			mustStatus(t, do(t, client, "POST", s.restURL("/api/v1/collections"), "", map[string]any{"name": col, "dimension": c.dim, "metric": "l2"}), http.StatusCreated, "")
			body := c.json()
			url := s.restURL("/api/v1/collections/" + col + "/insert")
			var status int
			var answer []byte
			peak, kept, cycles := peakHeapGrowth(func() { status, answer = postRaw(t, client, url, body) })
			runtime.KeepAlive(body) // the client's bytes are neither growth nor its end
			if status != http.StatusOK {
				t.Fatalf("status %d %s, want 200", status, answer)
			}
			checkPeak(t, len(body), peak, kept, cycles)
		})
	}
}

func TestAcceptedWriteHeapGRPC(t *testing.T) {
	cfg := testConfig(t)
	cfg.Auth.Disabled = true
	s := startServer(t, cfg)
	conn, err := grpc.NewClient(s.GRPCAddr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	col := akidbv1.NewCollectionServiceClient(conn)
	for i, c := range acceptedBodies() {
		t.Run(c.name, func(t *testing.T) {
			name := fmt.Sprintf("g%d", i)
			if _, err := col.CreateCollection(context.Background(), &akidbv1.CreateCollectionRequest{Name: name, Dimension: int32(c.dim), Metric: "l2"}); err != nil {
				t.Fatal(err)
			}
			msg := c.proto(name)
			var resp []byte
			var callErr error
			peak, kept, cycles := peakHeapGrowth(func() {
				callErr = conn.Invoke(context.Background(), akidbv1.CollectionService_Upsert_FullMethodName, &msg, &resp, grpc.ForceCodec(rawBytes{}))
			})
			runtime.KeepAlive(msg)
			if callErr != nil {
				t.Fatalf("upsert: %v (%v)", callErr, status.Code(callErr))
			}
			checkPeak(t, len(msg), peak, kept, cycles)
		})
	}
}
