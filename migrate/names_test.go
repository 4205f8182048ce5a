package migrate

import (
	"strings"
	"testing"

	"github.com/akidb/akidb/engine"
)

func TestRenameRule(t *testing.T) {
	long := strings.Repeat("x", 70)
	reqs := []nameRequest{
		{"a", "docs"},    // valid, kept
		{"b", "my docs"}, // space
		{"c", "my/docs"}, // slash, same sanitised name as b
		{"d", "データ"},     // nothing left
		{"e", long},      // too long
		{"f", "__x__"},   // valid as is (underscores allowed)
		{"g", "café.v2"}, // run of two bad characters
		{"h", ""},        // empty
		{"i", "my_docs"}, // valid and claims my_docs before b and c
		{"j", strings.Repeat("y", 63) + " "},
	}
	got := assignNames(reqs, "collection")
	want := map[string]string{
		"a": "docs",
		"b": "my_docs-2",
		"c": "my_docs-3",
		"d": "collection-2",
		"e": strings.Repeat("x", 64),
		"f": "__x__",
		"g": "caf_v2",
		"h": "collection",
		"i": "my_docs",
		"j": strings.Repeat("y", 63),
	}
	for k, w := range want {
		if got[k].Name != w {
			t.Errorf("%s (%q): got %q, want %q", k, reqs[int(k[0]-'a')].name, got[k].Name, w)
		}
		if err := engine.ValidateName(got[k].Name); err != nil {
			t.Errorf("%s: v2 refuses %q: %v", k, got[k].Name, err)
		}
		if (got[k].Reason == "") != (k == "a" || k == "f" || k == "i") {
			t.Errorf("%s: reason %q", k, got[k].Reason)
		}
	}
	if !strings.Contains(got["b"].Reason, "' '") {
		t.Errorf("reason for b: %q", got["b"].Reason)
	}
	// Deterministic: the same requests in another order map the same way.
	rev := make([]nameRequest, len(reqs))
	for i, r := range reqs {
		rev[len(reqs)-1-i] = r
	}
	again := assignNames(rev, "collection")
	for k := range want {
		if again[k] != got[k] {
			t.Errorf("%s: %v then %v", k, got[k], again[k])
		}
	}
}

func TestTenantNamesNeverDefault(t *testing.T) {
	got := assignNames([]nameRequest{{"t1", "default"}, {"t2", "default-2"}, {"t3", "Default"}}, "tenant", engine.DefaultTenant)
	if got["t1"].Name != "default-3" || got["t2"].Name != "default-2" || got["t3"].Name != "Default" {
		t.Fatalf("got %v", got)
	}
	if !strings.Contains(got["t1"].Reason, "default tenant") {
		t.Fatalf("reason %q", got["t1"].Reason)
	}
	// A suffix never pushes a name past 64 characters.
	long := strings.Repeat("z", 64)
	got = assignNames([]nameRequest{{"a", long}, {"b", long + "!"}}, "tenant")
	if got["b"].Name != strings.Repeat("z", 62)+"-2" {
		t.Fatalf("got %q", got["b"].Name)
	}
}
