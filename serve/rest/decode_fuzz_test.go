package rest

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/akidb/akidb/serve/api"
)

// FuzzDecodeJSON: any bytes give either a decoded object or an
// invalid_argument/too_large error, never a panic; whatever is accepted is
// one valid JSON object.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"vectors":[{"id":"a","vector":[1,2,3],"metadata":{"k":"v","n":1.5}}]}`,
		`{"vector":[0.1,0.2],"k":3,"ef":10,"filter":{"k":{"$in":["a","b"]}},"include_metadata":false}`,
		`{"ids":["a","b"]}`, `{"filter":null}`, `  {"k":1}  `, `{"k":1} {"k":2}`, `{"k":1} x`,
		`{"vector":[1e39]}`, `{"vector":[NaN]}`, `{"unknown":1}`, `[]`, `null`, ``, `{`, `{"k":"1"}`,
		"\xef\xbb\xbf{}", `{"vectors":[{"id":"\ud800"}]}`, `{"k":1e400}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const limit = 4096
		for _, target := range []func() any{
			func() any { return new(api.UpsertRequest) },
			func() any { return new(api.QueryRequest) },
			func() any { return new(api.DeleteRequest) },
		} {
			v := target()
			e := decodeJSON(bytes.NewReader(data), limit, v)
			if e != nil {
				if e.Code != api.CodeInvalidArgument && e.Code != api.CodeTooLarge {
					t.Fatalf("code %s for %q", e.Code, data)
				}
				if e.Message == "" {
					t.Fatalf("empty message for %q", data)
				}
				continue
			}
			if !json.Valid(data) || bytes.TrimSpace(data)[0] != '{' {
				t.Fatalf("accepted %q", data)
			}
		}
	})
}
