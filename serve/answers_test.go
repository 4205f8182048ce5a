package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/grpc/akidbv1"
)

// both is one server with an HTTP client and a gRPC connection, auth off.
type both struct {
	s      *started
	client *http.Client
	conn   *grpc.ClientConn
	col    akidbv1.CollectionServiceClient
}

func startBoth(t *testing.T, edit func(*Config)) both {
	cfg := testConfig(t)
	cfg.Auth.Disabled = true
	if edit != nil {
		edit(&cfg)
	}
	s := startServer(t, cfg)
	client := newClient(t)
	// The default tenant's rate: these tests send more than the default burst.
	mustStatus(t, do(t, client, "POST", s.restURL("/admin/tenants/default/quota"), "", map[string]any{"qps_limit": 10000, "burst": 100000}), http.StatusOK, "")
	conn, err := grpc.NewClient(s.GRPCAddr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(1<<30), grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return both{s: s, client: client, conn: conn, col: akidbv1.NewCollectionServiceClient(conn)}
}

func (b both) rest(t *testing.T, method, path string, body any) httpResult {
	t.Helper()
	if raw, ok := body.(string); ok {
		req, _ := http.NewRequest(method, b.s.restURL(path), strings.NewReader(raw))
		req.Header.Set("Content-Type", "application/json")
		resp, err := b.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		return httpResult{status: resp.StatusCode, header: resp.Header, body: buf.Bytes()}
	}
	return do(t, b.client, method, b.s.restURL(path), "", body)
}

// wantField checks a REST refusal: status, code, and details.field.
func wantField(t *testing.T, r httpResult, status int, field string) {
	t.Helper()
	var env struct {
		Error api.Error `json:"error"`
	}
	if r.status != status || json.Unmarshal(r.body, &env) != nil || env.Error.Details["field"] != field {
		t.Fatalf("got %d %s, want %d naming field %q", r.status, r.body, status, field)
	}
}

// wantRPCField checks a gRPC refusal: code and the ErrorInfo's field.
func wantRPCField(t *testing.T, err error, code codes.Code, field string) {
	t.Helper()
	st := status.Convert(err)
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && st.Code() == code && info.GetMetadata()["field"] == field {
			return
		}
	}
	t.Fatalf("got %v %q %v, want %v naming field %q", st.Code(), st.Message(), st.Details(), code, field)
}

// TestExtremeVectorsGiveValidAnswers: vectors whose squared norm would
// make a score overflow float32 are refused at insert and query on both
// transports, naming the field; the largest accepted ones give finite
// scores, valid JSON, and the same answer over REST and gRPC. (Before, a
// value near 3.4e38 was stored, an l2 or dot score became infinite, REST
// answered 200 with an empty body and gRPC answered +Inf.)
func TestExtremeVectorsGiveValidAnswers(t *testing.T) {
	b := startBoth(t, nil)
	big := float32(math.Sqrt(math.MaxFloat32/8) * 0.999) // 2·big² just under MaxFloat32/4
	for _, metric := range []string{"l2", "dot", "cosine"} {
		t.Run(metric, func(t *testing.T) {
			name := "x" + metric
			mustStatus(t, b.rest(t, "POST", "/api/v1/collections", map[string]any{"name": name, "dimension": 2, "metric": metric}), http.StatusCreated, "")
			ins := "/api/v1/collections/" + name + "/insert"
			for _, v := range [][]float32{{math.MaxFloat32, 0}, {-3e38, 3e38}, {big * 1.5, big * 1.5}} {
				wantField(t, b.rest(t, "POST", ins, api.UpsertRequest{Vectors: []api.Vector{{ID: "bad", Vector: v}}}), http.StatusBadRequest, "vectors[0].vector")
				_, err := b.col.Upsert(context.Background(), &akidbv1.UpsertRequest{Collection: name, Vectors: []*akidbv1.Vector{{Id: "bad", Vector: v}}})
				wantRPCField(t, err, codes.InvalidArgument, "vectors[0].vector")
			}
			recs := []api.Vector{
				{ID: "pos", Vector: []float32{big, big}}, {ID: "neg", Vector: []float32{-big, -big}},
				{ID: "mix", Vector: []float32{big, -big}}, {ID: "tiny", Vector: []float32{1e-30, 1e-30}},
			}
			mustStatus(t, b.rest(t, "POST", ins, api.UpsertRequest{Vectors: recs}), http.StatusOK, "")
			for _, q := range [][]float32{{big, big}, {-big, -big}, {big, -big}, {1e-30, -1e-30}} {
				r := b.rest(t, "POST", "/api/v1/collections/"+name+"/query", map[string]any{"vector": q, "k": 10, "include_vector": true, "exact": true})
				if r.status != http.StatusOK || !json.Valid(r.body) {
					t.Fatalf("query %v: %d %q", q, r.status, r.body)
				}
				resp := decodeJSON[api.QueryResponse](t, r)
				got, err := b.col.Query(context.Background(), &akidbv1.QueryRequest{Collection: name, Vector: q, K: 10, IncludeVector: true, Exact: true})
				if err != nil {
					t.Fatalf("gRPC query %v: %v", q, err)
				}
				if len(resp.Results) != len(recs) || len(got.GetResults()) != len(recs) {
					t.Fatalf("query %v: %d REST and %d gRPC hits", q, len(resp.Results), len(got.GetResults()))
				}
				for i, h := range resp.Results {
					g := got.GetResults()[i]
					if math.IsInf(float64(g.GetScore()), 0) || math.IsNaN(float64(g.GetScore())) || g.GetId() != h.ID || g.GetScore() != h.Score {
						t.Fatalf("query %v hit %d: REST %s %v, gRPC %s %v", q, i, h.ID, h.Score, g.GetId(), g.GetScore())
					}
				}
			}
			// The same bound at query time.
			wantField(t, b.rest(t, "POST", "/api/v1/collections/"+name+"/query", map[string]any{"vector": []float32{math.MaxFloat32, 0}, "k": 1}), http.StatusBadRequest, "vector")
			_, err := b.col.Query(context.Background(), &akidbv1.QueryRequest{Collection: name, Vector: []float32{math.MaxFloat32, 0}, K: 1})
			wantRPCField(t, err, codes.InvalidArgument, "vector")
		})
	}
}

// TestLargestDocumentedQueryFits: a query at the documented limits (k =
// 1000, vectors of 4096 dimensions, 64 KiB of metadata each) is answered on
// both transports with the default response bound; a response past a
// smaller bound gets response_too_large naming it. (Before, gRPC could
// send no more than the request limit, 32 MiB, and failed this query.)
func TestLargestDocumentedQueryFits(t *testing.T) {
	// The answer is about 115 MB of JSON: on a loaded 2-core machine its
	// search, encoding and transfer can take longer than the bounds other
	// tests use (the 30 s request timeout, the client's 20 s). This test
	// is about sizes, so it gives time generously (bounded all the same).
	b := startBoth(t, func(c *Config) {
		c.Limiting.RequestTimeout = 5 * time.Minute
		c.WriteTimeout = 5 * time.Minute
	})
	b.client.Timeout = 5 * time.Minute
	const dim, n = 4096, 1000
	mustStatus(t, b.rest(t, "POST", "/api/v1/collections", map[string]any{"name": "big", "dimension": dim, "metric": "l2", "hnsw": map[string]any{"m": 2, "ef_construction": 1}}), http.StatusCreated, "")
	text := strings.Repeat("t", api.DefaultLimits().MaxMetadataBytes-len(`{"t":""}`))
	vec := make([]float32, dim)
	for i := range vec {
		vec[i] = -0.12345679 // the longest JSON a float32 takes, near enough
	}
	for start := 0; start < n; start += 100 {
		var batch []api.Vector
		for i := start; i < start+100; i++ {
			batch = append(batch, api.Vector{ID: fmt.Sprintf("%0256d", i), Vector: vec, Metadata: map[string]any{"t": text}})
		}
		if _, err := b.s.svc.Upsert(context.Background(), "big", api.UpsertRequest{Vectors: batch}); err != nil {
			t.Fatalf("load: %v", err)
		}
	}
	query := map[string]any{"vector": vec, "k": n, "include_vector": true, "exact": true}
	r := b.rest(t, "POST", "/api/v1/collections/big/query", query)
	if got := len(decodeJSON[api.QueryResponse](t, r).Results); r.status != http.StatusOK || got != n {
		t.Fatalf("REST: %d, %d bytes, %d results", r.status, len(r.body), got)
	}
	t.Logf("REST answer: %d bytes", len(r.body))
	got, err := b.col.Query(context.Background(), &akidbv1.QueryRequest{Collection: "big", Vector: vec, K: n, IncludeVector: true, Exact: true})
	if err != nil || len(got.GetResults()) != n {
		t.Fatalf("gRPC: %v", err)
	}

	// A server with a smaller bound says so, on both transports.
	small := startBoth(t, func(c *Config) { c.Limits.MaxResponseBytes = 1 << 20 })
	mustStatus(t, small.rest(t, "POST", "/api/v1/collections", map[string]any{"name": "big", "dimension": dim, "metric": "l2", "hnsw": map[string]any{"m": 2, "ef_construction": 1}}), http.StatusCreated, "")
	var batch []api.Vector
	for i := range 100 {
		batch = append(batch, api.Vector{ID: fmt.Sprint(i), Vector: vec, Metadata: map[string]any{"t": text}})
	}
	if _, err := small.s.svc.Upsert(context.Background(), "big", api.UpsertRequest{Vectors: batch}); err != nil {
		t.Fatal(err)
	}
	r = small.rest(t, "POST", "/api/v1/collections/big/query", map[string]any{"vector": vec, "k": 100, "exact": true})
	e := mustStatus(t, r, http.StatusBadRequest, api.CodeResponseTooLarge)
	if !strings.Contains(string(e.body), "1048576") {
		t.Fatalf("refusal does not name the bound: %s", e.body)
	}
	_, err = small.col.Query(context.Background(), &akidbv1.QueryRequest{Collection: "big", Vector: vec, K: 100, Exact: true})
	if st := status.Convert(err); st.Code() != codes.ResourceExhausted || !strings.Contains(st.Message(), "1048576") {
		t.Fatalf("gRPC: %v", err)
	}
	// Fewer records fit.
	mustStatus(t, small.rest(t, "POST", "/api/v1/collections/big/query", map[string]any{"vector": vec, "k": 5, "exact": true}), http.StatusOK, "")
}

// nested is metadata nested depth levels deep (the record's object is 1).
func nested(depth int) string {
	return `{"a":` + strings.Repeat(`[`, depth-2) + `{}` + strings.Repeat(`]`, depth-2) + `}`
}

// TestMetadataDepthAndKeys: metadata nests at most 32 levels and has at
// most 1024 keys, on both transports. (Before, REST accepted 9,000 levels,
// and gRPC reads of such a record failed for every client.)
func TestMetadataDepthAndKeys(t *testing.T) {
	b := startBoth(t, nil)
	mustStatus(t, b.rest(t, "POST", "/api/v1/collections", map[string]any{"name": "m", "dimension": 1}), http.StatusCreated, "")
	ins := func(id, meta string) httpResult {
		return b.rest(t, "POST", "/api/v1/collections/m/insert", fmt.Sprintf(`{"vectors":[{"id":%q,"vector":[1],"metadata":%s}]}`, id, meta))
	}
	mustStatus(t, ins("deep32", nested(32)), http.StatusOK, "")
	for _, depth := range []int{33, 9000} {
		r := ins("deep", nested(depth))
		e := mustStatus(t, r, http.StatusBadRequest, api.CodeInvalidArgument)
		if !strings.Contains(string(e.body), "nested more than 32 levels") {
			t.Fatalf("depth %d: %s", depth, e.body)
		}
	}
	keys := func(n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fmt.Sprintf(`"k%d":1`, i)
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	mustStatus(t, ins("keys1024", keys(1024)), http.StatusOK, "")
	wantField(t, ins("keys1025", keys(1025)), http.StatusBadRequest, "vectors[0].metadata.k1024")

	// gRPC: the same bounds on a Struct.
	deep := structpb.NewStructValue(&structpb.Struct{})
	for range 31 {
		deep = structpb.NewListValue(&structpb.ListValue{Values: []*structpb.Value{deep}})
	}
	up := func(md *structpb.Struct) error {
		_, err := b.col.Upsert(context.Background(), &akidbv1.UpsertRequest{Collection: "m", Vectors: []*akidbv1.Vector{{Id: "g", Vector: []float32{1}, Metadata: md}}})
		return err
	}
	_, err := b.col.Upsert(context.Background(), &akidbv1.UpsertRequest{Collection: "m", Vectors: []*akidbv1.Vector{{Id: "g", Vector: []float32{1}, Metadata: &structpb.Struct{Fields: map[string]*structpb.Value{"a": deep}}}}})
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "nested more than 32 levels") {
		t.Fatalf("gRPC depth 33: %v", err)
	}
	many := &structpb.Struct{Fields: map[string]*structpb.Value{}}
	for i := range 1025 {
		many.Fields[fmt.Sprint(i)] = structpb.NewNumberValue(1)
	}
	if st := status.Convert(up(many)); st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "more than 1024 keys") {
		t.Fatalf("gRPC 1025 keys: %v", st)
	}
	// What was accepted reads back on both transports.
	for _, id := range []string{"deep32", "keys1024"} {
		mustStatus(t, b.rest(t, "GET", "/api/v1/collections/m/vectors/"+id, nil), http.StatusOK, "")
		if _, err := b.col.Get(context.Background(), &akidbv1.GetRequest{Collection: "m", Id: id}); err != nil {
			t.Fatalf("gRPC Get %s: %v", id, err)
		}
	}
}

// TestInvalidUTF8Refused: ids, collection names and metadata keys that
// are not UTF-8 are refused with 400 naming the field, on both transports.
// (Before, REST turned them into U+FFFD, so the ids "\xff" and "\xfe"
// became one record: upserted 2, count 1; gRPC answered INTERNAL.)
func TestInvalidUTF8Refused(t *testing.T) {
	b := startBoth(t, nil)
	mustStatus(t, b.rest(t, "POST", "/api/v1/collections", map[string]any{"name": "u", "dimension": 1}), http.StatusCreated, "")
	ins := "/api/v1/collections/u/insert"
	wantField(t, b.rest(t, "POST", ins, "{\"vectors\":[{\"id\":\"\xff\",\"vector\":[1]},{\"id\":\"\xfe\",\"vector\":[1]}]}"), http.StatusBadRequest, "vectors[0].id")
	wantField(t, b.rest(t, "POST", ins, `{"vectors":[{"id":"ok","vector":[1]},{"id":"\ud800","vector":[1]}]}`), http.StatusBadRequest, "vectors[1].id")
	wantField(t, b.rest(t, "POST", ins, "{\"vectors\":[{\"id\":\"a\",\"vector\":[1],\"metadata\":{\"k\xff\":1}}]}"), http.StatusBadRequest, "vectors[0].metadata")
	wantField(t, b.rest(t, "POST", ins, "{\"vectors\":[{\"id\":\"a\",\"vector\":[1],\"metadata\":{\"k\":[\"\xc3\"]}}]}"), http.StatusBadRequest, "vectors[0].metadata.k[0]")
	wantField(t, b.rest(t, "POST", "/api/v1/collections", "{\"name\":\"n\xff\",\"dimension\":1}"), http.StatusBadRequest, "name")
	wantField(t, b.rest(t, "POST", "/api/v1/collections/u/delete", "{\"ids\":[\"\xff\"]}"), http.StatusBadRequest, "ids[0]")
	if r := b.rest(t, "GET", "/api/v1/collections/u", nil); !strings.Contains(string(r.body), `"count":0`) {
		t.Fatalf("something was written: %s", r.body)
	}

	// gRPC, with messages a careless client could send (proto3 strings
	// must be UTF-8; Go's protobuf refuses to marshal these, so they are
	// built by hand).
	raw := func(method string, msg []byte) error {
		var out []byte
		return b.conn.Invoke(context.Background(), method, &msg, &out, grpc.ForceCodec(rawBytes{}))
	}
	create := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "n\xff")
	create = protowire.AppendVarint(protowire.AppendTag(create, 2, protowire.VarintType), 1)
	wantRPCField(t, raw(akidbv1.CollectionService_CreateCollection_FullMethodName, create), codes.InvalidArgument, "name")
	upsert := func(rec []byte) []byte {
		m := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "u")
		return protowire.AppendBytes(protowire.AppendTag(m, 2, protowire.BytesType), rec)
	}
	wantRPCField(t, raw(akidbv1.CollectionService_Upsert_FullMethodName, upsert(protoVector("\xff", []float32{1}, nil))), codes.InvalidArgument, "vectors[0].id")
	badKey := protoStruct("k\xff", [][]byte{numberValue(1)})
	wantRPCField(t, raw(akidbv1.CollectionService_Upsert_FullMethodName, upsert(protoVector("a", []float32{1}, badKey))), codes.InvalidArgument, "vectors[0].metadata")
	get := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "u")
	get = protowire.AppendString(protowire.AppendTag(get, 2, protowire.BytesType), "\xff")
	wantRPCField(t, raw(akidbv1.CollectionService_Get_FullMethodName, get), codes.InvalidArgument, "id")
}
