package rest

import (
	"bytes"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/akidb/akidb/serve/api"
)

const canonicalOpenAPI = "../../docs/openapi.yaml"

func TestEmbeddedOpenAPIIsTheCanonicalOne(t *testing.T) {
	canon, err := os.ReadFile(canonicalOpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(canon, openAPIDocument) {
		t.Fatal("serve/rest/openapi.yaml differs from docs/openapi.yaml: edit docs/openapi.yaml, then copy it: cp docs/openapi.yaml serve/rest/openapi.yaml")
	}
}

func TestOpenAPIServed(t *testing.T) {
	ts := newTestServer(t)
	r := ts.call("GET", "/api/v1/openapi.yaml", nil)
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/yaml" || !bytes.Equal(r.body, openAPIDocument) {
		t.Fatalf("GET /api/v1/openapi.yaml: %d %q, %d bytes", r.status, r.header.Get("Content-Type"), len(r.body))
	}
}

type openAPIDoc struct {
	OpenAPI string                          `yaml:"openapi"`
	Paths   map[string]map[string]yaml.Node `yaml:"paths"`
}

type openAPIOperation struct {
	Responses map[string]any `yaml:"responses"`
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// documented returns "METHOD /path/{param}" for every operation.
func documented(t *testing.T) []string {
	t.Helper()
	var doc openAPIDoc
	if err := yaml.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatalf("parse openapi.yaml: %v", err)
	}
	if doc.OpenAPI != "3.0.3" {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	var out []string
	for path, item := range doc.Paths {
		for key, node := range item {
			if !slices.Contains(httpMethods, key) {
				continue // parameters, summary...
			}
			var op openAPIOperation
			if err := node.Decode(&op); err != nil {
				t.Fatalf("%s %s: %v", key, path, err)
			}
			if len(op.Responses) == 0 {
				t.Errorf("%s %s documents no responses", key, path)
			}
			out = append(out, strings.ToUpper(key)+" "+path)
		}
	}
	sort.Strings(out)
	return out
}

var ginParam = regexp.MustCompile(`:([A-Za-z_]+)`)

func TestOpenAPIMatchesRegisteredRoutes(t *testing.T) {
	e := newEngine(api.New(api.Options{}), Options{})
	var registered []string
	for _, r := range e.Routes() {
		registered = append(registered, r.Method+" "+ginParam.ReplaceAllString(r.Path, "{$1}"))
	}
	sort.Strings(registered)
	doc := documented(t)
	for _, r := range registered {
		if !slices.Contains(doc, r) {
			t.Errorf("route %s is not in docs/openapi.yaml", r)
		}
	}
	for _, d := range doc {
		if !slices.Contains(registered, d) {
			t.Errorf("docs/openapi.yaml documents %s, which is not registered", d)
		}
	}
	// Routes() is the same set.
	var listed []string
	for _, r := range Routes() {
		listed = append(listed, r.Method+" "+ginParam.ReplaceAllString(r.Path, "{$1}"))
	}
	sort.Strings(listed)
	if !slices.Equal(listed, registered) {
		t.Errorf("Routes() = %v\nregistered %v", listed, registered)
	}
}

// Every error code the service can answer with is in the document's enum.
func TestOpenAPIListsEveryErrorCode(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Enum []string `yaml:"enum"`
				} `yaml:"properties"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatal(err)
	}
	enum := doc.Components.Schemas["ErrorBody"].Properties["code"].Enum
	for _, c := range api.Codes() {
		if !slices.Contains(enum, string(c)) {
			t.Errorf("code %s missing from ErrorBody.code", c)
		}
	}
	if len(enum) != len(api.Codes()) {
		t.Errorf("ErrorBody.code lists %d codes, the server has %d", len(enum), len(api.Codes()))
	}
}
