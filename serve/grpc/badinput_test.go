package grpc

import (
	"context"
	"math"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/grpc/akidbv1"
)

// vec returns a dim-long vector with a 1 at position i%dim.
func vec(dim, i int) []float32 {
	v := make([]float32, dim)
	v[i%dim] = 1
	return v
}

// badCase is a request that must fail with code/reason and, when field is
// set, name the offending field in ErrorInfo.metadata["field"].
type badCase struct {
	name   string
	call   func(ctx context.Context, c akidbv1.CollectionServiceClient) error
	code   codes.Code
	reason api.Code
	field  string
}

func upsertCall(col string, vs ...*akidbv1.Vector) func(context.Context, akidbv1.CollectionServiceClient) error {
	return func(ctx context.Context, c akidbv1.CollectionServiceClient) error {
		_, err := c.Upsert(ctx, &akidbv1.UpsertRequest{Collection: col, Vectors: vs})
		return err
	}
}

func queryCall(req *akidbv1.QueryRequest) func(context.Context, akidbv1.CollectionServiceClient) error {
	return func(ctx context.Context, c akidbv1.CollectionServiceClient) error {
		_, err := c.Query(ctx, req)
		return err
	}
}

func createCall(name string, dim int32, metric string) func(context.Context, akidbv1.CollectionServiceClient) error {
	return func(ctx context.Context, c akidbv1.CollectionServiceClient) error {
		_, err := c.CreateCollection(ctx, &akidbv1.CreateCollectionRequest{Name: name, Dimension: dim, Metric: metric})
		return err
	}
}

func batch(n, dim int) []*akidbv1.Vector {
	out := make([]*akidbv1.Vector, n)
	for i := range out {
		out[i] = &akidbv1.Vector{Id: "v" + itoa(i), Vector: vec(dim, i)}
	}
	return out
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

// badInputCases run against a server holding collection "c" (dimension
// 4, cosine) with records "a" and "b".
func badInputCases(t *testing.T) []badCase {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	bigMeta, err := structpb.NewStruct(map[string]any{"blob": strings.Repeat("x", 65<<10)})
	if err != nil {
		t.Fatal(err)
	}
	longID := strings.Repeat("i", 257)
	IA := codes.InvalidArgument
	return []badCase{
		{"create bad name", createCall("bad name!", 4, "l2"), IA, api.CodeInvalidArgument, "name"},
		{"create empty name", createCall("", 4, "l2"), IA, api.CodeInvalidArgument, "name"},
		{"create 65-char name", createCall(strings.Repeat("n", 65), 4, "l2"), IA, api.CodeInvalidArgument, "name"},
		{"create dimension 0", createCall("d0", 0, "l2"), IA, api.CodeInvalidArgument, "dimension"},
		{"create dimension too big", createCall("dbig", 4097, "l2"), IA, api.CodeInvalidArgument, "dimension"},
		{"create negative dimension", createCall("dneg", -1, "l2"), IA, api.CodeInvalidArgument, "dimension"},
		{"create bad metric", createCall("m", 4, "manhattan"), IA, api.CodeInvalidArgument, "metric"},
		{"create duplicate", createCall("c", 4, "cosine"), codes.AlreadyExists, api.CodeAlreadyExists, ""},

		{"upsert wrong dimension", upsertCall("c", &akidbv1.Vector{Id: "x", Vector: []float32{1, 2, 3}}), IA, api.CodeInvalidArgument, "vectors[0].vector"},
		{"upsert NaN", upsertCall("c", &akidbv1.Vector{Id: "x", Vector: []float32{1, nan, 0, 0}}), IA, api.CodeInvalidArgument, "vectors[0].vector[1]"},
		{"upsert +Inf", upsertCall("c", &akidbv1.Vector{Id: "x", Vector: []float32{1, 0, inf, 0}}), IA, api.CodeInvalidArgument, "vectors[0].vector[2]"},
		{"upsert -Inf in second record", upsertCall("c", &akidbv1.Vector{Id: "x", Vector: vec(4, 0)}, &akidbv1.Vector{Id: "y", Vector: []float32{-inf, 0, 0, 0}}), IA, api.CodeInvalidArgument, "vectors[1].vector[0]"},
		{"upsert empty vector", upsertCall("c", &akidbv1.Vector{Id: "x"}), IA, api.CodeInvalidArgument, "vectors[0].vector"},
		{"upsert zero vector into cosine", upsertCall("c", &akidbv1.Vector{Id: "x", Vector: make([]float32, 4)}), IA, api.CodeInvalidArgument, "vectors[0].vector"},
		{"upsert empty id", upsertCall("c", &akidbv1.Vector{Vector: vec(4, 0)}), IA, api.CodeInvalidArgument, "vectors[0].id"},
		{"upsert 257-byte id", upsertCall("c", &akidbv1.Vector{Id: longID, Vector: vec(4, 0)}), IA, api.CodeInvalidArgument, "vectors[0].id"},
		{"upsert oversize metadata", upsertCall("c", &akidbv1.Vector{Id: "x", Vector: vec(4, 0), Metadata: bigMeta}), IA, api.CodeInvalidArgument, "vectors[0].metadata"},
		{"upsert no vectors", upsertCall("c"), IA, api.CodeInvalidArgument, "vectors"},
		{"upsert batch of 1001", upsertCall("c", batch(1001, 4)...), IA, api.CodeTooLarge, "vectors"},
		{"upsert unknown collection", upsertCall("nope", &akidbv1.Vector{Id: "x", Vector: vec(4, 0)}), codes.NotFound, api.CodeNotFound, ""},
		{"upsert bad collection name", upsertCall("no/pe", &akidbv1.Vector{Id: "x", Vector: vec(4, 0)}), IA, api.CodeInvalidArgument, "name"},

		{"query k 1001", queryCall(&akidbv1.QueryRequest{Collection: "c", Vector: vec(4, 0), K: 1001}), IA, api.CodeInvalidArgument, "k"},
		{"query k 0", queryCall(&akidbv1.QueryRequest{Collection: "c", Vector: vec(4, 0)}), IA, api.CodeInvalidArgument, "k"},
		{"query ef too big", queryCall(&akidbv1.QueryRequest{Collection: "c", Vector: vec(4, 0), K: 1, Ef: 10001}), IA, api.CodeInvalidArgument, "ef"},
		{"query NaN", queryCall(&akidbv1.QueryRequest{Collection: "c", Vector: []float32{nan, 0, 0, 0}, K: 1}), IA, api.CodeInvalidArgument, "vector[0]"},
		{"query Inf", queryCall(&akidbv1.QueryRequest{Collection: "c", Vector: []float32{0, 0, 0, inf}, K: 1}), IA, api.CodeInvalidArgument, "vector[3]"},
		{"query empty vector", queryCall(&akidbv1.QueryRequest{Collection: "c", K: 1}), IA, api.CodeInvalidArgument, "vector"},
		{"query wrong dimension", queryCall(&akidbv1.QueryRequest{Collection: "c", Vector: []float32{1, 0}, K: 1}), IA, api.CodeInvalidArgument, ""},
		{"query bad filter JSON", queryCall(&akidbv1.QueryRequest{Collection: "c", Vector: vec(4, 0), K: 1, FilterJson: `{"color":`}), IA, api.CodeInvalidArgument, "filter"},
		{"query unknown operator", queryCall(&akidbv1.QueryRequest{Collection: "c", Vector: vec(4, 0), K: 1, FilterJson: `{"n": {"$near": 1}}`}), IA, api.CodeInvalidArgument, "filter"},
		{"query unknown collection", queryCall(&akidbv1.QueryRequest{Collection: "nope", Vector: vec(4, 0), K: 1}), codes.NotFound, api.CodeNotFound, ""},

		{"get missing id", func(ctx context.Context, c akidbv1.CollectionServiceClient) error {
			_, err := c.Get(ctx, &akidbv1.GetRequest{Collection: "c", Id: "zzz"})
			return err
		}, codes.NotFound, api.CodeNotFound, ""},
		{"get 257-byte id", func(ctx context.Context, c akidbv1.CollectionServiceClient) error {
			_, err := c.Get(ctx, &akidbv1.GetRequest{Collection: "c", Id: longID})
			return err
		}, IA, api.CodeInvalidArgument, "id"},
		{"get empty id", func(ctx context.Context, c akidbv1.CollectionServiceClient) error {
			_, err := c.Get(ctx, &akidbv1.GetRequest{Collection: "c"})
			return err
		}, IA, api.CodeInvalidArgument, "id"},
		{"get unknown collection", func(ctx context.Context, c akidbv1.CollectionServiceClient) error {
			_, err := c.Get(ctx, &akidbv1.GetRequest{Collection: "nope", Id: "a"})
			return err
		}, codes.NotFound, api.CodeNotFound, ""},

		{"delete ids and filter", func(ctx context.Context, c akidbv1.CollectionServiceClient) error {
			_, err := c.Delete(ctx, &akidbv1.DeleteRequest{Collection: "c", Ids: []string{"a"}, FilterJson: `{"x": 1}`})
			return err
		}, IA, api.CodeInvalidArgument, "ids"},
		{"delete neither", func(ctx context.Context, c akidbv1.CollectionServiceClient) error {
			_, err := c.Delete(ctx, &akidbv1.DeleteRequest{Collection: "c"})
			return err
		}, IA, api.CodeInvalidArgument, "ids"},
		{"delete 257-byte id", func(ctx context.Context, c akidbv1.CollectionServiceClient) error {
			_, err := c.Delete(ctx, &akidbv1.DeleteRequest{Collection: "c", Ids: []string{longID}})
			return err
		}, IA, api.CodeInvalidArgument, "ids[0]"},
		{"delete 10001 ids", func(ctx context.Context, c akidbv1.CollectionServiceClient) error {
			many := make([]string, 10001)
			for i := range many {
				many[i] = "v" + itoa(i)
			}
			_, err := c.Delete(ctx, &akidbv1.DeleteRequest{Collection: "c", Ids: many})
			return err
		}, IA, api.CodeTooLarge, ""},
		{"delete bad filter", func(ctx context.Context, c akidbv1.CollectionServiceClient) error {
			_, err := c.Delete(ctx, &akidbv1.DeleteRequest{Collection: "c", FilterJson: `[1]`})
			return err
		}, IA, api.CodeInvalidArgument, "filter"},
		{"delete unknown collection", func(ctx context.Context, c akidbv1.CollectionServiceClient) error {
			_, err := c.Delete(ctx, &akidbv1.DeleteRequest{Collection: "nope", Ids: []string{"a"}})
			return err
		}, codes.NotFound, api.CodeNotFound, ""},

		{"scroll limit too big", func(ctx context.Context, c akidbv1.CollectionServiceClient) error {
			_, err := c.Scroll(ctx, &akidbv1.ScrollRequest{Collection: "c", Limit: 1001})
			return err
		}, IA, api.CodeInvalidArgument, "limit"},
		{"scroll negative limit", func(ctx context.Context, c akidbv1.CollectionServiceClient) error {
			_, err := c.Scroll(ctx, &akidbv1.ScrollRequest{Collection: "c", Limit: -1})
			return err
		}, IA, api.CodeInvalidArgument, "limit"},
		{"scroll bad cursor", func(ctx context.Context, c akidbv1.CollectionServiceClient) error {
			_, err := c.Scroll(ctx, &akidbv1.ScrollRequest{Collection: "c", Cursor: "!!not-a-cursor"})
			return err
		}, IA, api.CodeInvalidArgument, ""},
		{"scroll unknown collection", func(ctx context.Context, c akidbv1.CollectionServiceClient) error {
			_, err := c.Scroll(ctx, &akidbv1.ScrollRequest{Collection: "nope"})
			return err
		}, codes.NotFound, api.CodeNotFound, ""},

		{"get collection unknown", func(ctx context.Context, c akidbv1.CollectionServiceClient) error {
			_, err := c.GetCollection(ctx, &akidbv1.GetCollectionRequest{Name: "nope"})
			return err
		}, codes.NotFound, api.CodeNotFound, ""},
		{"get collection bad name", func(ctx context.Context, c akidbv1.CollectionServiceClient) error {
			_, err := c.GetCollection(ctx, &akidbv1.GetCollectionRequest{Name: "a b"})
			return err
		}, IA, api.CodeInvalidArgument, "name"},
		{"delete collection unknown", func(ctx context.Context, c akidbv1.CollectionServiceClient) error {
			_, err := c.DeleteCollection(ctx, &akidbv1.DeleteCollectionRequest{Name: "nope"})
			return err
		}, codes.NotFound, api.CodeNotFound, ""},
	}
}

// seedBadInput makes the state badInputCases expect.
func seedBadInput(t *testing.T, e *env) {
	t.Helper()
	e.mustCreate("c", 4, "cosine")
	if _, err := e.col.Upsert(ctxT(t), &akidbv1.UpsertRequest{Collection: "c", Vectors: batch(2, 4)}); err != nil {
		t.Fatalf("seed upsert: %v", err)
	}
}

func TestBadInput(t *testing.T) {
	e := newDefaultEnv(t)
	seedBadInput(t, e)
	for _, tc := range badInputCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(ctxT(t), e.col)
			info := wantCode(t, err, tc.code, tc.reason)
			if tc.field != "" && info.GetMetadata()["field"] != tc.field {
				t.Fatalf("ErrorInfo metadata = %v, want field %q", info.GetMetadata(), tc.field)
			}
		})
	}
	// Nothing above changed the collection.
	got, err := e.col.GetCollection(ctxT(t), &akidbv1.GetCollectionRequest{Name: "c"})
	if err != nil || got.GetStats().GetCount() != 2 {
		t.Fatalf("after bad input: %v, %v", got, err)
	}
}

func TestTooLargeCarriesLimit(t *testing.T) {
	e := newDefaultEnv(t)
	seedBadInput(t, e)
	err := upsertCall("c", batch(1001, 4)...)(ctxT(t), e.col)
	info := wantCode(t, err, codes.InvalidArgument, api.CodeTooLarge)
	if info.GetMetadata()["limit"] != "1000" {
		t.Fatalf("ErrorInfo metadata = %v, want limit 1000", info.GetMetadata())
	}
}

// TestNonFiniteMetadataNumbers pins the Struct rule: a NaN or infinite
// number_value (which JSON, and so REST, cannot carry) arrives as the
// string "NaN" / "Infinity" / "-Infinity", as in protobuf's JSON mapping.
func TestNonFiniteMetadataNumbers(t *testing.T) {
	e := newDefaultEnv(t)
	seedBadInput(t, e)
	md := &structpb.Struct{Fields: map[string]*structpb.Value{
		"nan":  structpb.NewNumberValue(math.NaN()),
		"inf":  structpb.NewNumberValue(math.Inf(1)),
		"ninf": structpb.NewNumberValue(math.Inf(-1)),
	}}
	if err := upsertCall("c", &akidbv1.Vector{Id: "x", Vector: vec(4, 0), Metadata: md})(ctxT(t), e.col); err != nil {
		t.Fatalf("Upsert: %v", err)
	}
	v, err := e.col.Get(ctxT(t), &akidbv1.GetRequest{Collection: "c", Id: "x"})
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	got := v.GetMetadata().AsMap()
	if got["nan"] != "NaN" || got["inf"] != "Infinity" || got["ninf"] != "-Infinity" {
		t.Fatalf("metadata = %v", got)
	}
}
