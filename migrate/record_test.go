package migrate

import (
	"strings"
	"testing"
	"time"

	"github.com/akidb/akidb/engine/distance"
)

func TestParseLine(t *testing.T) {
	cos := shape{dim: 3, metric: distance.Cosine}
	for _, tc := range []struct {
		line string
		kind lineKind
		prob Kind
		msg  string
	}{
		{`{"id": "a", "vector": [1, 2, 3], "metadata": {"x": 1}}`, lineUpsert, "", ""},
		{`{"id": "a", "vector": [1e-3,-2E2 , 3.5]}`, lineUpsert, "", ""},
		{`{"id": "a", "deleted": true}`, lineDelete, "", ""},
		{`{"id": "a", "deleted": false, "vector": [1, 2, 3]}`, lineUpsert, "", ""},
		{`   `, lineBlank, "", ""},
		{`{"id": "a", "vector": [1, 2`, lineInvalid, KindMalformedJSON, "column"},
		{`[1, 2, 3]`, lineInvalid, KindMalformedJSON, "JSON object"},
		{`{"id": "a", "vector": [1, NaN, 3]}`, lineInvalid, KindNotFinite, "NaN"},
		{`{"id": "a", "vector": [Infinity, 1, 3]}`, lineInvalid, KindNotFinite, "Infinity"},
		{`{"id": "a", "vector": [1, -Infinity, 3]}`, lineInvalid, KindNotFinite, "-Infinity"},
		{`{"id": "a", "vector": [1, 2, 1e39]}`, lineInvalid, KindNotFinite, "vector[2] = 1e39"},
		{`{"id": "a", "vector": [1, 2]}`, lineInvalid, KindWrongDimension, "has 2 numbers"},
		{`{"id": "a", "vector": [1, 2, 3, 4, 5]}`, lineInvalid, KindWrongDimension, "has 5 numbers"},
		{`{"id": "a", "vector": [0, 0, 0]}`, lineInvalid, KindZeroVector, "zero vector"},
		{`{"id": "a", "vector": [1, "2", 3]}`, lineInvalid, KindInvalidRecord, "vector[1] is not a number"},
		{`{"id": "a", "vector": [1, [2], 3]}`, lineInvalid, KindInvalidRecord, "vector[1] is not a number"},
		{`{"id": "a", "vector": "1,2,3"}`, lineInvalid, KindInvalidRecord, "array of numbers"},
		{`{"id": "a"}`, lineInvalid, KindInvalidRecord, "no vector"},
		{`{"id": "a", "deleted": "yes"}`, lineInvalid, KindInvalidRecord, "true or false"},
		{`{"vector": [1, 2, 3]}`, lineInvalid, KindInvalidID, "no id"},
		{`{"id": 7, "vector": [1, 2, 3]}`, lineInvalid, KindInvalidID, "must be a string"},
		{`{"id": "", "vector": [1, 2, 3]}`, lineInvalid, KindInvalidID, "empty"},
		{`{"id": "` + strings.Repeat("é", 129) + `", "vector": [1, 2, 3]}`, lineInvalid, KindIDTooLong, "258 bytes"},
		{`{"id": "a", "vector": [1, 2, 3], "metadata": [1]}`, lineInvalid, KindInvalidMetadata, "object or null"},
		{`{"id": "a", "vector": [1, 2, 3], "metadata": {"s": "` + strings.Repeat("<", 11000) + `"}}`, lineInvalid, KindMetadataTooLarge, "as compact JSON"},
		{"{\"id\": \"a\xff\", \"vector\": [1, 2, 3]}", lineInvalid, KindInvalidUTF8, "UTF-8"},
	} {
		p := parseLine([]byte(tc.line), int32(len(tc.line)), "f.jsonl", 9, cos, parseOptions{})
		if p.kind != tc.kind {
			t.Errorf("%.60s: kind %d, want %d (%v)", tc.line, p.kind, tc.kind, p.problem)
			continue
		}
		if tc.prob == "" {
			continue
		}
		if p.problem.Kind != tc.prob || !strings.Contains(p.problem.Message, tc.msg) || p.problem.Pos() != "f.jsonl:9" || p.problem.Scope != ScopeRecord {
			t.Errorf("%.60s: %s [%s], want %s containing %q", tc.line, p.problem, p.problem.Kind, tc.prob, tc.msg)
		}
	}
	// A line longer than the cap is reported without being read.
	p := parseLine(nil, maxLineBytes+1, "f.jsonl", 3, cos, parseOptions{})
	if p.kind != lineInvalid || !strings.Contains(p.problem.Message, "longer than") {
		t.Fatalf("long line: %+v", p.problem)
	}
	// Metadata is decoded as the engine stores it.
	p = parseLine([]byte(`{"id":"a","vector":[1,2,3],"metadata":{"n":1,"m":{}}}`), 0, "f", 1, cos, parseOptions{metadata: true})
	if p.metadata["n"] != float64(1) {
		t.Fatalf("metadata %v", p.metadata)
	}
}

func TestLineProgress(t *testing.T) {
	var b strings.Builder
	now := time.Unix(0, 0)
	clock := func() time.Time { return now }
	p := NewLineProgress(&b, 5*time.Second, clock)
	p.Start(1000, 100)
	p.Collection("acme/docs")
	now = now.Add(time.Second)
	p.Add(100) // not yet: less than 5 s since the last line
	now = now.Add(5 * time.Second)
	p.Add(200) // 400/1000 after 6 s: 300 records in 6 s = 50/s, 600 left = 12 s
	p.Finish()
	want := "loading: resuming at 100/1000 records\n" +
		"loading acme/docs\n" +
		"loading: 400/1000 records (40.0%), 50 records/s, ETA 12s; acme/docs\n" +
		"loading: 400/1000 records (40.0%), 50 records/s, ETA 12s; acme/docs\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}
