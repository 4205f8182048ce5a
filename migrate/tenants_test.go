package migrate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Bad tenant manifests: each problem at its file and line, with the scope
// skip mode gives it; the good parts still map.
func TestPlanTenantsProblems(t *testing.T) {
	dir := t.TempDir()
	td := filepath.Join(dir, "tenants")
	if err := os.MkdirAll(td, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"a.json": "{\n  \"tenant_id\": \"tenant_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\n  \"name\": \"ok\",\n  \"status\": \"active\",\n  \"quotas\": {\n    \"max_collections\": -1,\n    \"api_rate_limit_per_second\": 0.5,\n    \"max_vectors_per_collection\": 10,\n    \"flux\": 3\n  },\n  \"created_at\": \"yesterday\"\n}\n",
		"b.json": "{\n  \"tenant_id\": \"tenant_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\n  \"name\": \"dup\",\n  \"status\": \"active\"\n}\n",
		"c.json": "{\n  \"tenant_id\": \"acme\",\n  \"name\": \"x\",\n  \"status\": \"active\"\n}\n",
		"d.json": "{\n  \"tenant_id\": \"tenant_dddddddddddddddddddddddddddddddd\",\n  \"name\": \"x\",\n  \"status\": \"paused\"\n}\n",
		"e.json": "{\n  \"tenant_id\": \"tenant_eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee\",\n  \"name\": \"x\",\n",
		"f.json": "{\n  \"tenant_id\": \"tenant_ffffffffffffffffffffffffffffffff\",\n  \"name\": \"  \",\n  \"status\": \"active\"\n}\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(td, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var probs Problems
	tenants, present, err := planTenants(dir, Options{}.withDefaults(), &probs, &fingerprint{})
	if err != nil || !present {
		t.Fatal(err, present)
	}
	probs.sort()
	want := []string{
		"a.json:6 invalid_quota field quotas.max_collections",
		"a.json:11 invalid_tenant field not an RFC 3339 time",
		"b.json:2 duplicate_tenant tenant is also the id of",
		"c.json:2 invalid_tenant tenant tenant_id must be",
		"d.json:4 invalid_tenant tenant status must be",
		"e.json:4 invalid_tenant tenant malformed tenant manifest",
		"f.json:3 invalid_tenant tenant name must be a non-empty string",
	}
	if len(probs.List) != len(want) {
		t.Fatalf("problems %v", probs.List)
	}
	for i, w := range want {
		p := probs.List[i]
		f := strings.SplitN(w, " ", 4)
		if filepath.Base(p.Pos()) != f[0] || string(p.Kind) != f[1] || string(p.Scope) != f[2] || !strings.Contains(p.Message, f[3]) {
			t.Errorf("problem %d: %s [%s %s], want %s", i, p, p.Kind, p.Scope, w)
		}
	}
	if len(tenants) != 1 || tenants[0].V2Name != "ok" {
		t.Fatalf("tenants %+v", tenants)
	}
	q := tenants[0].Quota
	if q.MaxCollections != nil || q.MaxVectors != nil || q.QPSLimit == nil || *q.QPSLimit != 1 {
		t.Fatalf("quota %+v", q)
	}
	text := strings.Join(append(q.Dropped, q.Notes...), "\n")
	for _, s := range []string{"max_vectors_per_collection=10", "flux=3: not a 1.x quota", "qps_limit set to 1"} {
		if !strings.Contains(text, s) {
			t.Errorf("quota notes lack %q:\n%s", s, text)
		}
	}
}
