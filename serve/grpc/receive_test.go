package grpc

import (
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/grpc/akidbv1"
)

// rawCall starts an RPC over cleartext HTTP/2 with the given bytes of its
// request, keeping the request open (as a client that stalls does), and
// returns the gRPC status code of the answer.
func rawCall(t *testing.T, addr, method string, sent []byte) codes.Code {
	t.Helper()
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	t.Cleanup(tr.CloseIdleConnections)
	body, w := io.Pipe()
	t.Cleanup(func() { _ = w.Close() })
	go func() { _, _ = w.Write(sent) }()
	req, err := http.NewRequestWithContext(ctxT(t), http.MethodPost, "http://"+addr+method, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("TE", "trailers")
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	st := resp.Trailer.Get("Grpc-Status")
	if st == "" { // a trailers-only answer
		st = resp.Header.Get("Grpc-Status")
	}
	code, err := strconv.Atoi(st)
	if err != nil {
		t.Fatalf("%s: no grpc-status in the answer (%v, %v)", method, resp.Header, resp.Trailer)
	}
	return codes.Code(code)
}

// TestSlowMessageTimesOut: an RPC whose message does not arrive within
// the body timeout (headers and part of the message, then nothing) fails
// with DEADLINE_EXCEEDED once the timeout passes instead of holding its
// stream for as long as the client likes; a message that arrives in time
// is served, and health checks are not timed.
func TestSlowMessageTimesOut(t *testing.T) {
	const timeout = 300 * time.Millisecond
	e := newEnv(t, api.Options{}, Options{BodyTimeout: timeout}, true)
	e.mustCreate("c", 2, "l2")
	addr := e.conn.Target()

	// A health Watch opened now is older than the body timeout when it is
	// read below, and still served.
	watch, err := healthpb.NewHealthClient(e.conn).Watch(ctxT(t), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := watch.Recv(); err != nil {
		t.Fatal(err)
	}

	// A message header announcing 1000 bytes, then 10 of them.
	partial := append([]byte{0, 0, 0, 0x03, 0xe8}, make([]byte, 10)...)
	start := time.Now()
	if code := rawCall(t, addr, akidbv1.CollectionService_Upsert_FullMethodName, partial); code != codes.DeadlineExceeded {
		t.Fatalf("a stalled message: %v, want DeadlineExceeded", code)
	}
	if waited := time.Since(start); waited < timeout {
		t.Fatalf("answered after %v, before the body timeout (%v)", waited, timeout)
	}
	// Headers and no message at all.
	if code := rawCall(t, addr, akidbv1.CollectionService_Query_FullMethodName, nil); code != codes.DeadlineExceeded {
		t.Fatalf("no message: %v, want DeadlineExceeded", code)
	}

	if _, err := e.col.Upsert(ctxT(t), &akidbv1.UpsertRequest{Collection: "c", Vectors: []*akidbv1.Vector{{Id: "a", Vector: []float32{1, 2}}}}); err != nil {
		t.Fatalf("an upsert sent in time: %v", err)
	}
	e.srv.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	if got, err := watch.Recv(); err != nil || got.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health Watch after the body timeout: %v, %v; want it still served", got, err)
	}
}
