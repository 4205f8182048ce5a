package rest

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/akidb/akidb/serve/api"
)

// badCase is one refused request: status and envelope code, and nothing
// may change.
type badCase struct {
	name    string
	method  string
	path    string
	body    any // nil, a raw string, or a value sent as JSON
	headers []string
	status  int
	code    api.Code
	field   string // details.field, when the answer names one
}

func manyVectors(n int) []api.Vector {
	out := make([]api.Vector, n)
	for i := range out {
		out[i] = api.Vector{ID: fmt.Sprintf("b%d", i), Vector: []float32{1, 2, 3}}
	}
	return out
}

func TestBadInputsChangeNothing(t *testing.T) {
	ts := newTestServer(t)
	ts.createCollection("docs", 3, "l2")
	ts.ok(http.StatusOK, nil, "POST", "/api/v1/collections/docs/insert", api.UpsertRequest{Vectors: []api.Vector{
		{ID: "a", Vector: []float32{1, 0, 0}, Metadata: map[string]any{"k": "v"}},
		{ID: "b", Vector: []float32{0, 1, 0}},
	}})

	const (
		P   = "/api/v1/collections"
		ins = P + "/docs/insert"
		qry = P + "/docs/query"
		del = P + "/docs/delete"
	)
	long := strings.Repeat("x", 257)
	name65 := strings.Repeat("n", 65)
	validInsert := `{"vectors":[{"id":"new","vector":[1,2,3]}]}`
	bad := http.StatusBadRequest
	inv := api.CodeInvalidArgument

	cases := []badCase{
		// insert
		{"wrong dimension", "POST", ins, `{"vectors":[{"id":"x","vector":[1,2]}]}`, nil, bad, inv, "vectors[0].vector"},
		{"beyond float32", "POST", ins, `{"vectors":[{"id":"x","vector":[1,1e39,0]}]}`, nil, bad, inv, "vectors[0].vector[1]"},
		{"beyond float32 negative", "POST", ins, `{"vectors":[{"id":"x","vector":[1,-3.5e38,0]}]}`, nil, bad, inv, "vectors[0].vector[1]"},
		{"NaN literal", "POST", ins, `{"vectors":[{"id":"x","vector":[NaN,0,0]}]}`, nil, bad, inv, ""},
		{"Infinity literal", "POST", ins, `{"vectors":[{"id":"x","vector":[Infinity,0,0]}]}`, nil, bad, inv, ""},
		{"empty vector", "POST", ins, `{"vectors":[{"id":"x","vector":[]}]}`, nil, bad, inv, "vectors[0].vector"},
		{"missing vector", "POST", ins, `{"vectors":[{"id":"x"}]}`, nil, bad, inv, "vectors[0].vector"},
		{"empty id", "POST", ins, `{"vectors":[{"id":"","vector":[1,2,3]}]}`, nil, bad, inv, "vectors[0].id"},
		{"id over 256 bytes", "POST", ins, api.UpsertRequest{Vectors: []api.Vector{{ID: long, Vector: []float32{1, 2, 3}}}}, nil, bad, inv, "vectors[0].id"},
		{"metadata over 64 KiB", "POST", ins, api.UpsertRequest{Vectors: []api.Vector{{ID: "x", Vector: []float32{1, 2, 3}, Metadata: map[string]any{"blob": strings.Repeat("m", 64<<10)}}}}, nil, bad, inv, "vectors[0].metadata"},
		{"metadata not an object", "POST", ins, `{"vectors":[{"id":"x","vector":[1,2,3],"metadata":[1]}]}`, nil, bad, inv, "vectors[0].metadata"},
		{"batch over 1000", "POST", ins, api.UpsertRequest{Vectors: manyVectors(1001)}, nil, http.StatusRequestEntityTooLarge, api.CodeTooLarge, "vectors"},
		{"empty batch", "POST", ins, `{"vectors":[]}`, nil, bad, inv, "vectors"},
		{"unknown top-level field", "POST", ins, `{"vectors":[{"id":"x","vector":[1,2,3]}],"upsert":true}`, nil, bad, inv, "upsert"},
		{"unknown nested field", "POST", ins, `{"vectors":[{"id":"x","vector":[1,2,3],"meta":{}}]}`, nil, bad, inv, "vectors[0].meta"},
		{"malformed JSON", "POST", ins, `{"vectors":[{"id":"x",}]}`, nil, bad, inv, ""},
		{"truncated JSON", "POST", ins, `{"vectors":[{"id":"x"`, nil, bad, inv, ""},
		{"trailing garbage", "POST", ins, validInsert + ` x`, nil, bad, inv, ""},
		{"two JSON values", "POST", ins, validInsert + validInsert, nil, bad, inv, ""},
		{"array body", "POST", ins, `[` + validInsert + `]`, nil, bad, inv, ""},
		{"null body", "POST", ins, `null`, nil, bad, inv, ""},
		{"empty body", "POST", ins, ``, nil, bad, inv, ""},
		{"wrong type", "POST", ins, `{"vectors":{"id":"x"}}`, nil, bad, inv, "vectors"},
		{"text/plain", "POST", ins, validInsert, []string{"Content-Type", "text/plain"}, bad, inv, ""},
		{"no content type", "POST", ins, validInsert, []string{"Content-Type", ""}, bad, inv, ""},
		{"form content type", "POST", ins, validInsert, []string{"Content-Type", "application/x-www-form-urlencoded"}, bad, inv, ""},
		{"insert into unknown collection", "POST", P + "/nope/insert", validInsert, nil, http.StatusNotFound, api.CodeNotFound, ""},
		{"insert name with space", "POST", P + "/a%20b/insert", validInsert, nil, bad, inv, "name"},
		{"insert name of 65 chars", "POST", P + "/" + name65 + "/insert", validInsert, nil, bad, inv, "name"},
		{"insert unicode name", "POST", P + "/%C3%A9t%C3%A9/insert", validInsert, nil, bad, inv, "name"},

		// query
		{"k=0", "POST", qry, `{"vector":[1,2,3],"k":0}`, nil, bad, inv, "k"},
		{"k missing", "POST", qry, `{"vector":[1,2,3]}`, nil, bad, inv, "k"},
		{"k over 1000", "POST", qry, `{"vector":[1,2,3],"k":1001}`, nil, bad, inv, "k"},
		{"k a string", "POST", qry, `{"vector":[1,2,3],"k":"5"}`, nil, bad, inv, "k"},
		{"k fractional", "POST", qry, `{"vector":[1,2,3],"k":2.5}`, nil, bad, inv, "k"},
		{"ef over limit", "POST", qry, `{"vector":[1,2,3],"k":1,"ef":10001}`, nil, bad, inv, "ef"},
		{"ef negative", "POST", qry, `{"vector":[1,2,3],"k":1,"ef":-1}`, nil, bad, inv, "ef"},
		{"rerank over limit", "POST", qry, `{"vector":[1,2,3],"k":1,"rerank":10001}`, nil, bad, inv, "rerank"},
		{"rerank negative", "POST", qry, `{"vector":[1,2,3],"k":1,"rerank":-1}`, nil, bad, inv, "rerank"},
		{"rerank a string", "POST", qry, `{"vector":[1,2,3],"k":1,"rerank":"all"}`, nil, bad, inv, "rerank"},
		{"query wrong dimension", "POST", qry, `{"vector":[1,2],"k":1}`, nil, bad, inv, "vector"},
		{"query beyond float32", "POST", qry, `{"vector":[1e39,2,3],"k":1}`, nil, bad, inv, "vector[0]"},
		{"query empty vector", "POST", qry, `{"vector":[],"k":1}`, nil, bad, inv, "vector"},
		{"query bad filter", "POST", qry, `{"vector":[1,2,3],"k":1,"filter":{"$bogus":1}}`, nil, bad, inv, "filter"},
		{"query unknown field", "POST", qry, `{"vector":[1,2,3],"k":1,"top_k":3}`, nil, bad, inv, "top_k"},
		{"query unknown collection", "POST", P + "/nope/query", `{"vector":[1,2,3],"k":1}`, nil, http.StatusNotFound, api.CodeNotFound, ""},

		// create
		{"create name with space", "POST", P, `{"name":"a b","dimension":3}`, nil, bad, inv, "name"},
		{"create name of 65 chars", "POST", P, `{"name":"` + name65 + `","dimension":3}`, nil, bad, inv, "name"},
		{"create unicode name", "POST", P, `{"name":"été","dimension":3}`, nil, bad, inv, "name"},
		{"create empty name", "POST", P, `{"dimension":3}`, nil, bad, inv, "name"},
		{"create dimension 0", "POST", P, `{"name":"c2","dimension":0}`, nil, bad, inv, "dimension"},
		{"create dimension over limit", "POST", P, `{"name":"c2","dimension":5000}`, nil, bad, inv, "dimension"},
		{"create bad metric", "POST", P, `{"name":"c2","dimension":3,"metric":"hamming"}`, nil, bad, inv, "metric"},
		{"create bad m", "POST", P, `{"name":"c2","dimension":3,"hnsw":{"m":1}}`, nil, bad, inv, "hnsw.m"},
		{"create unknown hnsw field", "POST", P, `{"name":"c2","dimension":3,"hnsw":{"ef":1}}`, nil, bad, inv, "ef"},
		{"create bad quantization type", "POST", P, `{"name":"c2","dimension":3,"quantization":{"type":"int4"}}`, nil, bad, inv, "quantization.type"},
		{"create disk originals unquantized", "POST", P, `{"name":"c2","dimension":3,"quantization":{"originals":"disk"}}`, nil, bad, inv, "quantization.originals"},
		{"create unknown quantization field", "POST", P, `{"name":"c2","dimension":3,"quantization":{"bits":4}}`, nil, bad, inv, "bits"},

		// update
		{"update bad quantization type", "PATCH", P + "/docs", `{"quantization":{"type":"pq"}}`, nil, bad, inv, "quantization.type"},
		{"update bad originals", "PATCH", P + "/docs", `{"quantization":{"originals":"tape"}}`, nil, bad, inv, "quantization.originals"},
		{"update disk originals unquantized", "PATCH", P + "/docs", `{"quantization":{"originals":"disk"}}`, nil, bad, inv, "quantization.originals"},
		{"update bad ranges", "PATCH", P + "/docs", `{"quantization":{"ranges":"rows"}}`, nil, bad, inv, "quantization.ranges"},
		{"update unknown field", "PATCH", P + "/docs", `{"hnsw":{"m":8}}`, nil, bad, inv, "hnsw"},
		{"update not an object", "PATCH", P + "/docs", `[1]`, nil, bad, inv, ""},
		{"update unknown collection", "PATCH", P + "/nope", `{"quantization":{"type":"int8"}}`, nil, http.StatusNotFound, api.CodeNotFound, ""},
		{"create duplicate", "POST", P, `{"name":"docs","dimension":3}`, nil, http.StatusConflict, api.CodeAlreadyExists, ""},

		// one record
		{"get id over 256 bytes", "GET", P + "/docs/vectors/" + long, nil, nil, bad, inv, "id"},
		{"delete id over 256 bytes", "DELETE", P + "/docs/vectors/" + long, nil, nil, bad, inv, "id"},
		{"get from unknown collection", "GET", P + "/nope/vectors/a", nil, nil, http.StatusNotFound, api.CodeNotFound, ""},
		{"delete from unknown collection", "DELETE", P + "/nope/vectors/a", nil, nil, http.StatusNotFound, api.CodeNotFound, ""},
		{"delete missing id", "DELETE", P + "/docs/vectors/zzz", nil, nil, http.StatusNotFound, api.CodeNotFound, ""},

		// delete many
		{"ids and filter", "POST", del, `{"ids":["a"],"filter":{"k":"v"}}`, nil, bad, inv, "ids"},
		{"neither ids nor filter", "POST", del, `{}`, nil, bad, inv, "ids"},
		{"too many ids", "POST", del, api.DeleteRequest{IDs: strings.Split(strings.Repeat("q,", 10000)+"q", ",")}, nil, http.StatusRequestEntityTooLarge, api.CodeTooLarge, ""},
		{"empty id in ids", "POST", del, `{"ids":["a",""]}`, nil, bad, inv, "ids[1]"},
		{"long id in ids", "POST", del, api.DeleteRequest{IDs: []string{"a", long}}, nil, bad, inv, "ids[1]"},
		{"delete bad filter", "POST", del, `{"filter":{"k":{"$regex":"v"}}}`, nil, bad, inv, "filter"},
		{"delete unknown field", "POST", del, `{"where":{"k":"v"}}`, nil, bad, inv, "where"},
		{"delete in unknown collection", "POST", P + "/nope/delete", `{"ids":["a"]}`, nil, http.StatusNotFound, api.CodeNotFound, ""},

		// scroll
		{"limit not a number", "GET", P + "/docs/vectors?limit=abc", nil, nil, bad, inv, "limit"},
		{"limit 0", "GET", P + "/docs/vectors?limit=0", nil, nil, bad, inv, "limit"},
		{"limit over 1000", "GET", P + "/docs/vectors?limit=1001", nil, nil, bad, inv, "limit"},
		{"include_vector not a bool", "GET", P + "/docs/vectors?include_vector=maybe", nil, nil, bad, inv, "include_vector"},
		{"garbage cursor", "GET", P + "/docs/vectors?cursor=%21%21", nil, nil, bad, inv, "cursor"},
		{"scroll unknown collection", "GET", P + "/nope/vectors", nil, nil, http.StatusNotFound, api.CodeNotFound, ""},

		// collections by name
		{"get name with space", "GET", P + "/a%20b", nil, nil, bad, inv, "name"},
		{"delete name of 65 chars", "DELETE", P + "/" + name65, nil, nil, bad, inv, "name"},
		{"delete unicode name", "DELETE", P + "/%C3%A9", nil, nil, bad, inv, "name"},
		{"get unknown collection", "GET", P + "/nope", nil, nil, http.StatusNotFound, api.CodeNotFound, ""},

		// tiering policy
		{"create with an unknown policy", "POST", P, `{"name":"x","dimension":3,"tier_policy":"tape"}`, nil, bad, inv, "tier_policy"},
		{"create s3-only", "POST", P, `{"name":"x","dimension":3,"tier_policy":"s3-only"}`, nil, bad, inv, "tier_policy"},
		{"create memory-s3 without a store", "POST", P, `{"name":"x","dimension":3,"tier_policy":"memory-s3"}`, nil, bad, inv, "tier_policy"},
		{"PATCH an unknown policy", "PATCH", P + "/docs", `{"tier_policy":"tape"}`, nil, bad, inv, "tier_policy"},
		{"PATCH to s3-only", "PATCH", P + "/docs", `{"tier_policy":"s3-only"}`, nil, bad, inv, "tier_policy"},
		{"PATCH to memory-s3 without a store", "PATCH", P + "/docs", `{"tier_policy":"memory-s3"}`, nil, bad, inv, "tier_policy"},
		{"PATCH a policy of the wrong type", "PATCH", P + "/docs", `{"tier_policy":3}`, nil, bad, inv, "tier_policy"},
		{"PATCH an unknown field", "PATCH", P + "/docs", `{"dimension":4}`, nil, bad, inv, "dimension"},
		{"PATCH an unknown collection", "PATCH", P + "/nope", `{"tier_policy":"memory"}`, nil, http.StatusNotFound, api.CodeNotFound, ""},
		{"checkpoint an unknown collection", "POST", "/admin/collections/nope/checkpoint", nil, nil, http.StatusNotFound, api.CodeNotFound, ""},

		// routing
		{"PUT on collections", "PUT", P, validInsert, nil, http.StatusMethodNotAllowed, api.CodeMethodNotAllowed, ""},
		{"PUT a collection", "PUT", P + "/docs", `{}`, nil, http.StatusMethodNotAllowed, api.CodeMethodNotAllowed, ""},
		{"GET insert", "GET", ins, nil, nil, http.StatusMethodNotAllowed, api.CodeMethodNotAllowed, ""},
		{"POST a probe", "POST", "/livez", `{}`, nil, http.StatusMethodNotAllowed, api.CodeMethodNotAllowed, ""},
		{"unknown version", "GET", "/api/v2/collections", nil, nil, http.StatusNotFound, api.CodeNotFound, ""},
		{"too deep", "GET", P + "/docs/vectors/a/b", nil, nil, http.StatusNotFound, api.CodeNotFound, ""},
		{"trailing slash", "GET", P + "/", nil, nil, http.StatusNotFound, api.CodeNotFound, ""},
		{"root", "GET", "/", nil, nil, http.StatusNotFound, api.CodeNotFound, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := ts.call(tc.method, tc.path, tc.body, tc.headers...)
			e := resp.envelope(t, tc.status, tc.code)
			if tc.field != "" && e.Details["field"] != tc.field {
				t.Errorf("details.field = %v, want %q (message %q)", e.Details["field"], tc.field, e.Message)
			}
			if resp.header.Get("X-Request-ID") == "" {
				t.Error("no X-Request-ID on an error")
			}
			if tc.status == http.StatusMethodNotAllowed && resp.header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
			if n := ts.count("docs"); n != 2 {
				t.Fatalf("count is %d after a refused request", n)
			}
			if names := ts.collectionNames(); !slices.Equal(names, []string{"docs"}) {
				t.Fatalf("collections are %v after a refused request", names)
			}
		})
	}
	// The records themselves are untouched too.
	var v api.Vector
	ts.ok(http.StatusOK, &v, "GET", P+"/docs/vectors/a", nil)
	if v.Metadata["k"] != "v" || !slices.Equal(v.Vector, []float32{1, 0, 0}) {
		t.Fatalf("record a changed: %+v", v)
	}
	var c api.Collection
	ts.ok(http.StatusOK, &c, "GET", P+"/docs", nil)
	if c.Quantization != (api.QuantizationSettings{Type: "none", Originals: "memory", Ranges: "auto"}) {
		t.Fatalf("refused updates changed the settings: %+v", c.Quantization)
	}
}
