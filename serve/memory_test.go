package serve

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"runtime"
	"runtime/metrics"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/akidb/akidb/serve/grpc/akidbv1"
)

// The memory one request makes the server hold while its body is read and
// decoded, measured for the largest bodies there are (31 MiB, under the
// 32 MiB limit), shaped to cost the most: a batch of tiny vectors far past
// the batch limit (which used to decode whole, about 700,000 records),
// the largest vectors with the rest in metadata strings, metadata of many
// small values (which take far more memory decoded than as JSON), and
// metadata just under the memory bound (3 times the body).
//
// The bodies that pass every limit are refused by the tenant's quota
// (max_vectors 0), which the service checks after the whole batch is
// decoded and before the engine writes: what is measured is the serving
// layer's part. The engine's own copies while it logs and applies a batch
// come on top; docs/limits.md gives both.
//
// The measure is the bytes allocated on the heap while the request runs
// (runtime/metrics /gc/heap/allocs:bytes, client and server in this
// process): an upper bound of how much the heap can have grown, whatever
// the garbage collector did meanwhile, so the test does not depend on its
// timing. The bound is 4 times the body.

const worstBody = 31 << 20

func heapAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// allocatedBy runs f and returns the bytes allocated meanwhile.
func allocatedBy(f func()) uint64 {
	runtime.GC()
	before := heapAllocs()
	f()
	return heapAllocs() - before
}

// jsonBody builds {"vectors":[...]} of records made by rec(i), at most
// records of them, padded with spaces to size bytes.
func jsonBody(size, records int, rec func(i int) string) []byte {
	var b bytes.Buffer
	b.Grow(size)
	b.WriteString(`{"vectors":[`)
	for i := 0; i < records; i++ {
		r := rec(i)
		if b.Len()+len(r)+3 > size {
			break
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(r)
	}
	b.WriteString(`]}`)
	for b.Len() < size {
		b.WriteByte(' ')
	}
	return b.Bytes()
}

// repeatJSON is n copies of elem joined by commas.
func repeatJSON(elem string, n int) string {
	return strings.TrimSuffix(strings.Repeat(elem+",", n), ",")
}

// memoryCase is one worst-case body for a collection of dim dimensions.
type memoryCase struct {
	name   string
	dim    int
	status int // the REST answer
	body   func() []byte
}

func memoryCases() []memoryCase {
	dense := "[" + repeatJSON("1", 4096) + "]"
	return []memoryCase{
		{"tiny vectors past the batch limit", 1, http.StatusRequestEntityTooLarge, func() []byte {
			return jsonBody(worstBody, worstBody, func(int) string { return `{"id":"a","vector":[1]}` })
		}},
		{"largest vectors, metadata strings", 4096, http.StatusForbidden, func() []byte {
			pad := strings.Repeat("m", worstBody/1000-len(dense)-100)
			return jsonBody(worstBody, 1000, func(i int) string {
				return fmt.Sprintf(`{"id":"d%d","vector":%s,"metadata":{"pad":"%s"}}`, i, dense, pad)
			})
		}},
		{"metadata of small numbers", 1, http.StatusRequestEntityTooLarge, func() []byte {
			meta := `{"n":[` + repeatJSON("1", 15000) + `]}`
			return jsonBody(worstBody, 1000, func(i int) string {
				return fmt.Sprintf(`{"id":"n%d","vector":[1],"metadata":%s}`, i, meta)
			})
		}},
		{"metadata of short strings, under the memory bound", 1, http.StatusForbidden, func() []byte {
			meta := `{"s":[` + repeatJSON(`"`+strings.Repeat("s", 48)+`"`, 600) + `]}`
			return jsonBody(worstBody, 1000, func(i int) string {
				return fmt.Sprintf(`{"id":"s%d","vector":[1],"metadata":%s}`, i, meta)
			})
		}},
	}
}

func TestWorstCaseBodyMemoryREST(t *testing.T) {
	cfg := testConfig(t)
	cfg.Auth.Disabled = true
	s := startServer(t, cfg)
	client := newClient(t)
	noWrites(t, s, client)
	for i, c := range memoryCases() {
		t.Run(c.name, func(t *testing.T) {
			col := fmt.Sprintf("m%d", i)
			mustStatus(t, do(t, client, "POST", s.restURL("/api/v1/collections"), "", map[string]any{"name": col, "dimension": c.dim, "metric": "l2"}), http.StatusCreated, "")
			body := c.body()
			url := s.restURL("/api/v1/collections/" + col + "/insert")
			var status int
			used := allocatedBy(func() { status, _ = postRaw(t, client, url, body) })
			ratio := float64(used) / float64(len(body))
			t.Logf("%d-byte body: %d, %d bytes allocated (%.2f× the body)", len(body), status, used, ratio)
			if status != c.status {
				t.Fatalf("status %d, want %d", status, c.status)
			}
			if ratio >= 4 {
				t.Fatalf("the request allocated %.2f× its body, want under 4×", ratio)
			}
		})
	}
}

// noWrites sets the default tenant's max_vectors quota to 0, so a batch
// that passes every request limit is refused after it is decoded, before
// the engine.
func noWrites(t *testing.T, s *started, client *http.Client) {
	t.Helper()
	mustStatus(t, do(t, client, "POST", s.restURL("/admin/tenants/default/quota"), "", map[string]any{"max_vectors": 0}), http.StatusOK, "")
}

// rawBytes is a gRPC codec that sends and receives bytes as they are, so
// the test's own marshalling does not count.
type rawBytes struct{}

func (rawBytes) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawBytes) Unmarshal(data []byte, v any) error {
	*(v.(*[]byte)) = append((*(v.(*[]byte)))[:0], data...)
	return nil
}
func (rawBytes) Name() string { return "proto" }

// protoUpsert builds an UpsertRequest in wire form from at most records
// records made by rec(i), at most size bytes.
func protoUpsert(collection string, size, records int, rec func(i int) []byte) []byte {
	out := protowire.AppendTag(nil, 1, protowire.BytesType)
	out = protowire.AppendString(out, collection)
	for i := 0; i < records; i++ {
		r := rec(i)
		if len(out)+len(r)+8 > size {
			break
		}
		out = protowire.AppendTag(out, 2, protowire.BytesType)
		out = protowire.AppendBytes(out, r)
	}
	return out
}

// protoVector is a Vector message: id, packed values, and a Struct.
func protoVector(id string, values []float32, meta []byte) []byte {
	out := protowire.AppendTag(nil, 1, protowire.BytesType)
	out = protowire.AppendString(out, id)
	packed := make([]byte, 0, 4*len(values))
	for _, v := range values {
		packed = protowire.AppendFixed32(packed, math.Float32bits(v))
	}
	out = protowire.AppendTag(out, 2, protowire.BytesType)
	out = protowire.AppendBytes(out, packed)
	if meta != nil {
		out = protowire.AppendTag(out, 3, protowire.BytesType)
		out = protowire.AppendBytes(out, meta)
	}
	return out
}

// protoStruct is a Struct with one field holding a list of values (each
// a Value message in wire form).
func protoStruct(key string, values [][]byte) []byte {
	var list []byte
	for _, v := range values {
		list = protowire.AppendTag(list, 1, protowire.BytesType)
		list = protowire.AppendBytes(list, v)
	}
	value := protowire.AppendTag(nil, 6, protowire.BytesType)
	value = protowire.AppendBytes(value, list)
	entry := protowire.AppendTag(nil, 1, protowire.BytesType)
	entry = protowire.AppendString(entry, key)
	entry = protowire.AppendTag(entry, 2, protowire.BytesType)
	entry = protowire.AppendBytes(entry, value)
	out := protowire.AppendTag(nil, 1, protowire.BytesType)
	return protowire.AppendBytes(out, entry)
}

func numberValue(f float64) []byte {
	return protowire.AppendFixed64(protowire.AppendTag(nil, 2, protowire.Fixed64Type), math.Float64bits(f))
}

func stringValue(s string) []byte {
	return protowire.AppendString(protowire.AppendTag(nil, 3, protowire.BytesType), s)
}

func fill(n int, v []byte) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestWorstCaseBodyMemoryGRPC(t *testing.T) {
	cfg := testConfig(t)
	cfg.Auth.Disabled = true
	s := startServer(t, cfg)
	noWrites(t, s, newClient(t))
	conn, err := grpc.NewClient(s.GRPCAddr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	col := akidbv1.NewCollectionServiceClient(conn)
	dense := make([]float32, 4096)
	for i := range dense {
		dense[i] = 1
	}
	cases := []struct {
		name string
		dim  int
		code codes.Code
		msg  func(name string) []byte
	}{
		{"tiny vectors past the batch limit", 1, codes.InvalidArgument, func(name string) []byte {
			return protoUpsert(name, worstBody, worstBody, func(int) []byte { return protoVector("a", []float32{1}, nil) })
		}},
		{"largest vectors, metadata strings", 4096, codes.ResourceExhausted, func(name string) []byte {
			pad := protoStruct("pad", [][]byte{stringValue(strings.Repeat("m", worstBody/1000-4*4096-100))})
			return protoUpsert(name, worstBody, 1000, func(i int) []byte { return protoVector(fmt.Sprintf("d%d", i), dense, pad) })
		}},
		{"metadata of small numbers", 1, codes.InvalidArgument, func(name string) []byte {
			meta := protoStruct("n", fill(15000, numberValue(1)))
			return protoUpsert(name, worstBody, 1000, func(i int) []byte { return protoVector(fmt.Sprintf("n%d", i), []float32{1}, meta) })
		}},
		{"metadata of short strings, under the memory bound", 1, codes.ResourceExhausted, func(name string) []byte {
			meta := protoStruct("s", fill(600, stringValue(strings.Repeat("s", 48))))
			return protoUpsert(name, worstBody, 1000, func(i int) []byte { return protoVector(fmt.Sprintf("s%d", i), []float32{1}, meta) })
		}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			name := fmt.Sprintf("g%d", i)
			if _, err := col.CreateCollection(context.Background(), &akidbv1.CreateCollectionRequest{Name: name, Dimension: int32(c.dim), Metric: "l2"}); err != nil {
				t.Fatal(err)
			}
			msg := c.msg(name)
			var resp []byte
			// One small call first, so the connection's buffers exist.
			if _, err := col.GetCollection(context.Background(), &akidbv1.GetCollectionRequest{Name: name}); err != nil {
				t.Fatal(err)
			}
			var callErr error
			used := allocatedBy(func() {
				callErr = conn.Invoke(context.Background(), akidbv1.CollectionService_Upsert_FullMethodName, &msg, &resp, grpc.ForceCodec(rawBytes{}))
			})
			ratio := float64(used) / float64(len(msg))
			t.Logf("%d-byte message: %v, %d bytes allocated (%.2f× the message)", len(msg), status.Code(callErr), used, ratio)
			if status.Code(callErr) != c.code {
				t.Fatalf("upsert: %v, want %v", callErr, c.code)
			}
			if ratio >= 4 {
				t.Fatalf("the request allocated %.2f× its message, want under 4×", ratio)
			}
		})
	}
}
