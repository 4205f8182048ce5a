package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/serve/api"
)

// FuzzStreamBodies: any bytes sent to insert, query or delete get a
// complete JSON answer that is a success or a client error (400, 404,
// 413), never a 500 or a panic, and an accepted insert's records are the
// ones encoding/json reads from the same body.
func FuzzStreamBodies(f *testing.F) {
	for _, s := range []string{
		`{"vectors":[{"id":"a","vector":[1,2],"metadata":{"k":"v","n":[1,{"x":null}]}}]}`,
		`{"vectors":[{"id":"a","vector":[1,2,3]}]}`, `{"vectors":[{"id":"\ud800","vector":[1,2]}]}`,
		"{\"vectors\":[{\"id\":\"\xff\",\"vector\":[1,2]}]}", `{"vectors":[{"vector":[1,2],"id":"b","id":"c"}]}`,
		`{"vector":[1,0],"k":2,"filter":{"k":{"$in":["v"]}},"include_metadata":null}`, `{"vector":[1e39],"k":1}`,
		`{"ids":["a","b"]}`, `{"filter":{"n":{"$gt":1}}}`, `{"ids":null}`, `{}`, `[]`, ` `, `{"vectors":[{"id":"a","vector":[1,2],"metadata":[]}]}`,
	} {
		for route := range byte(3) {
			f.Add(route, []byte(s))
		}
	}
	svc := api.New(api.Options{})
	db, err := engine.Open(f.TempDir(), engine.Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = db.Close() })
	svc.SetDB(db)
	if _, err := svc.CreateCollection(context.Background(), api.CreateCollectionRequest{Name: "c", Dimension: 2, Metric: "l2"}); err != nil {
		f.Fatal(err)
	}
	h := NewHandler(svc, Options{})
	paths := []string{"/api/v1/collections/c/insert", "/api/v1/collections/c/query", "/api/v1/collections/c/delete"}
	f.Fuzz(func(t *testing.T, route byte, body []byte) {
		path := paths[int(route)%len(paths)]
		req := httptest.NewRequest("POST", path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusNotFound, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("%s %q: %d %s", path, body, rec.Code, rec.Body)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %q: answer is not JSON: %q", path, body, rec.Body)
		}
		if rec.Code == http.StatusOK && path == paths[0] {
			var want api.UpsertRequest
			if err := json.Unmarshal(body, &want); err != nil {
				t.Fatalf("accepted %q, which encoding/json refuses: %v", body, err)
			}
			var got api.UpsertResponse
			if json.Unmarshal(rec.Body.Bytes(), &got) != nil || got.Upserted != len(want.Vectors) {
				t.Fatalf("%q: upserted %s, encoding/json reads %d records", body, rec.Body, len(want.Vectors))
			}
		}
	})
}
