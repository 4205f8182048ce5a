package migratetest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Record is one record as v2 must hold it (the vector as written in v1).
type Record struct {
	ID       string
	Vector   []float32
	Metadata map[string]any
}

// Tenant is a tenants/*.json manifest.
type Tenant struct {
	ID       string         `json:"tenant_id"`
	Name     string         `json:"name"`
	Status   string         `json:"status"`
	Quotas   map[string]any `json:"quotas"`
	Metadata map[string]any `json:"metadata"`
	Created  string         `json:"created_at"`
	Updated  string         `json:"updated_at"`
	// V2Name is the name the rename rule gives it ("" when not migrated).
	V2Name string `json:"-"`
}

// Collection is a collections/<Dir>/ directory.
type Collection struct {
	Dir      string
	Name     string
	Dim      int
	Metric   string
	TenantID string // "" : no tenant_id in the manifest
	// V2Tenant and V2Name are where it must land ("" when it is not
	// migrated, e.g. its tenant is deleted).
	V2Tenant, V2Name string
	// Final is what v2 must hold: the last line of each id, minus deletes.
	Final map[string]Record
	// Lines is the number of lines written.
	Lines int
}

// Fixture is a v1 directory on disk and what migrating it must give.
type Fixture struct {
	Dir         string
	Tenants     []*Tenant
	Collections []*Collection
}

// Migrated returns the collections that must be in v2.
func (f *Fixture) Migrated() []*Collection {
	var out []*Collection
	for _, c := range f.Collections {
		if c.V2Name != "" {
			out = append(out, c)
		}
	}
	return out
}

// Records counts the records v2 must hold.
func (f *Fixture) Records() int {
	n := 0
	for _, c := range f.Migrated() {
		n += len(c.Final)
	}
	return n
}

// Collection finds a collection by its v1 directory name.
func (f *Fixture) Collection(dir string) *Collection {
	for _, c := range f.Collections {
		if c.Dir == dir {
			return c
		}
	}
	return nil
}

// Tenant IDs of the standard fixture.
const (
	TenantAcme       = "tenant_0123456789abcdef0123456789abcdef"
	TenantGlobex     = "5f0c7d3e-2b1a-4c8e-9d6f-1a2b3c4d5e6f"
	TenantInitech    = "tenant_11111111111111111111111111111111"
	TenantUmbrella   = "tenant_22222222222222222222222222222222"
	TenantDefaultish = "tenant_33333333333333333333333333333333"
	TenantUnicode    = "tenant_44444444444444444444444444444444"
)

// Standard writes a multi-tenant v1 directory with about `records` lines
// in total (at least a few hundred), spread over seven collections.
func Standard(dir string, records int, seed uint64) (*Fixture, error) {
	f := &Fixture{Dir: dir}
	f.Tenants = []*Tenant{
		{ID: TenantAcme, Name: "Acme Corp", Status: "active", V2Name: "Acme_Corp",
			Quotas:   map[string]any{"max_storage_bytes": 1 << 30, "max_collections": 10, "max_vectors_per_collection": 100000, "api_rate_limit_per_second": 50, "max_concurrent_searches": 8},
			Metadata: map[string]any{"contact_email": "ops@acme.example", "billing_plan": "enterprise", "organization": "Acme Corporation", "custom": map[string]any{"region": "eu-west", "tier": 3}}},
		{ID: TenantGlobex, Name: "globex", Status: "active", V2Name: "globex",
			Quotas:   map[string]any{"max_vectors_per_collection": 5000, "api_rate_limit_per_second": 20000},
			Metadata: map[string]any{"contact_email": "it@globex.example", "billing_plan": "free"}},
		{ID: TenantInitech, Name: "initech", Status: "suspended", V2Name: "initech",
			Quotas: map[string]any{"max_collections": 2, "max_vectors_per_collection": 100}},
		{ID: TenantUmbrella, Name: "umbrella", Status: "deleted"},
		{ID: TenantDefaultish, Name: "default", Status: "active", V2Name: "default-2", Quotas: map[string]any{}},
		{ID: TenantUnicode, Name: "Ünïcode Tenant", Status: "active", V2Name: "n_code_Tenant",
			Metadata: map[string]any{"organization": "株式会社ユニコード", "custom": map[string]any{"emoji": "🚀"}}},
	}
	for _, t := range f.Tenants {
		t.Created, t.Updated = "2023-04-01T10:00:00Z", "2024-01-15T08:30:00.123Z"
	}
	per := max(records/7, 50)
	f.Collections = []*Collection{
		{Dir: "docs", Name: "docs", Dim: 16, Metric: "cosine", TenantID: TenantAcme, V2Tenant: "Acme_Corp", V2Name: "docs"},
		{Dir: "images", Name: "images", Dim: 12, Metric: "l2", TenantID: TenantAcme, V2Tenant: "Acme_Corp", V2Name: "images"},
		{Dir: "my docs", Name: "my docs", Dim: 8, Metric: "dot", TenantID: TenantGlobex, V2Tenant: "globex", V2Name: "my_docs"},
		{Dir: "suspended-coll", Name: "notes", Dim: 8, Metric: "cosine", TenantID: TenantInitech, V2Tenant: "initech", V2Name: "notes"},
		{Dir: "gone", Name: "gone", Dim: 8, Metric: "l2", TenantID: TenantUmbrella},
		{Dir: "legacy", Name: "legacy", Dim: 24, Metric: "l2", V2Tenant: "default", V2Name: "legacy"},
		{Dir: "unicode", Name: "ドキュメント", Dim: 10, Metric: "cosine", TenantID: TenantUnicode, V2Tenant: "n_code_Tenant", V2Name: "collection"},
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	if err := f.writeTenants(); err != nil {
		return nil, err
	}
	for _, c := range f.Collections {
		if err := f.writeCollection(c, per, rng, true); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// SingleTenant writes a v1 directory without tenants/: every collection
// belongs to v2's default tenant.
func SingleTenant(dir string, records int, seed uint64) (*Fixture, error) {
	f := &Fixture{Dir: dir}
	f.Collections = []*Collection{
		{Dir: "alpha", Name: "alpha", Dim: 8, Metric: "cosine", V2Tenant: "default", V2Name: "alpha"},
		{Dir: "beta", Name: "beta.v1", Dim: 6, Metric: "l2", V2Tenant: "default", V2Name: "beta_v1"},
		{Dir: "gamma", Name: "gamma", Dim: 5, Metric: "dot", V2Tenant: "default", V2Name: "gamma"},
	}
	rng := rand.New(rand.NewPCG(seed, 9))
	if err := os.MkdirAll(filepath.Join(dir, "collections"), 0o755); err != nil {
		return nil, err
	}
	for _, c := range f.Collections {
		if err := f.writeCollection(c, max(records/3, 20), rng, true); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// Large writes one collection of n records of dim dimensions, each id
// once (no repeats or deletes), shaped like real embeddings: points of a
// 16-dimensional mixture of clusters mapped into dim dimensions, plus a
// little noise, so their intrinsic dimension is low (noise in all dim
// dimensions would make every point almost equally far from every other,
// which no embedding model produces). The speed measurement's input.
func Large(dir string, n, dim int, seed uint64) (*Fixture, error) {
	f := &Fixture{Dir: dir, Collections: []*Collection{{Dir: "embeddings", Name: "embeddings", Dim: dim, Metric: "cosine", V2Tenant: "default", V2Name: "embeddings"}}}
	c := f.Collections[0]
	path := filepath.Join(dir, "collections", c.Dir)
	if err := os.MkdirAll(path, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(path, "manifest.json"), Manifest(c.Name, dim, c.Metric, ""), 0o644); err != nil {
		return nil, err
	}
	out, err := os.Create(filepath.Join(path, "vectors.jsonl"))
	if err != nil {
		return nil, err
	}
	defer out.Close()
	rng := rand.New(rand.NewPCG(seed, 11))
	const latent = 16
	proj := make([][]float32, latent)
	for i := range proj {
		proj[i] = make([]float32, dim)
		for j := range proj[i] {
			proj[i][j] = float32(rng.NormFloat64())
		}
	}
	centres := make([][]float64, 32)
	for i := range centres {
		centres[i] = make([]float64, latent)
		for j := range centres[i] {
			centres[i][j] = rng.NormFloat64() * 3
		}
	}
	c.Final = make(map[string]Record, n)
	w := bufio.NewWriterSize(out, 1<<20)
	z := make([]float64, latent)
	for i := 0; i < n; i++ {
		ctr := centres[rng.IntN(len(centres))]
		for j := range z {
			z[j] = ctr[j] + rng.NormFloat64()
		}
		v := make([]float32, dim)
		for j := range v {
			x := rng.NormFloat64() * 0.05
			for k := range z {
				x += z[k] * float64(proj[k][j])
			}
			v[j] = float32(x)
		}
		id := fmt.Sprintf("emb-%07d", i)
		fmt.Fprintf(w, `{"id": %q, "vector": [`, id)
		for j, x := range v {
			if j > 0 {
				w.WriteString(", ")
			}
			w.WriteString(strconv.FormatFloat(float64(x), 'g', -1, 32))
		}
		w.WriteString("], \"metadata\": {\"n\": " + strconv.Itoa(i) + "}}\n")
		c.Final[id] = Record{ID: id, Vector: v, Metadata: map[string]any{"n": float64(i)}}
		c.Lines++
	}
	if err := w.Flush(); err != nil {
		return nil, err
	}
	return f, out.Close()
}

func (f *Fixture) writeTenants() error {
	td := filepath.Join(f.Dir, "tenants")
	if err := os.MkdirAll(td, 0o755); err != nil {
		return err
	}
	for _, t := range f.Tenants {
		data, err := json.MarshalIndent(t, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(td, t.ID+".json"), append(data, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Manifest is a collection's manifest.json, indented (one field a line),
// so problems in it have distinct line numbers.
func Manifest(name string, dim int, metric, tenantID string) []byte {
	m := map[string]any{"name": name, "dimension": dim, "metric": metric, "created_at": "2023-05-06T07:08:09Z"}
	if tenantID != "" {
		m["tenant_id"] = tenantID
	}
	data, _ := json.MarshalIndent(m, "", "  ")
	return append(data, '\n')
}

// writeCollection writes n lines. With churn, some lines repeat an
// earlier id (the later line wins), some delete one (and some of those are
// written again later), and a share of ids and metadata are unicode.
func (f *Fixture) writeCollection(c *Collection, n int, rng *rand.Rand, churn bool) error {
	dir := filepath.Join(f.Dir, "collections", c.Dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), Manifest(c.Name, c.Dim, c.Metric, c.TenantID), 0o644); err != nil {
		return err
	}
	out, err := os.Create(filepath.Join(dir, "vectors.jsonl"))
	if err != nil {
		return err
	}
	defer out.Close()
	c.Final = map[string]Record{}
	var ids []string
	centres := make([][]float32, 8)
	for i := range centres {
		centres[i] = make([]float32, c.Dim)
		for j := range centres[i] {
			centres[i][j] = float32(rng.NormFloat64() * 2)
		}
	}
	var sb strings.Builder
	for i := 0; i < n; i++ {
		sb.Reset()
		switch {
		case churn && i > 20 && i%15 == 0:
			// Delete an earlier id.
			id := ids[rng.IntN(len(ids))]
			fmt.Fprintf(&sb, `{"id": %s, "deleted": true}`, quote(id))
			delete(c.Final, id)
		default:
			id := fmt.Sprintf("%s-%06d", c.Dir, i)
			if churn && i > 20 && i%10 == 0 {
				id = ids[rng.IntN(len(ids))] // a repeat: this line wins
			} else if churn && i%7 == 0 {
				id = fmt.Sprintf("文書-%d-ü-😀", i)
			}
			ctr := centres[rng.IntN(len(centres))]
			v := make([]float32, c.Dim)
			for j := range v {
				v[j] = ctr[j] + float32(rng.NormFloat64())
			}
			var meta map[string]any
			switch i % 4 {
			case 1:
				meta = map[string]any{"i": float64(i), "tag": "t" + strconv.Itoa(i%5)}
			case 2:
				meta = map[string]any{"title": "Grüße aus Köln №" + strconv.Itoa(i), "nested": map[string]any{"ok": true, "list": []any{1.5, "x", nil}}}
			case 3:
				meta = map[string]any{} // written as {}: no metadata in v2
			}
			sb.WriteString(`{"id": ` + quote(id) + `, "vector": [`)
			for j, x := range v {
				if j > 0 {
					sb.WriteString(", ")
				}
				sb.WriteString(strconv.FormatFloat(float64(x), 'g', -1, 32))
			}
			sb.WriteString("]")
			if meta != nil || i%8 == 0 {
				raw, _ := json.Marshal(meta) // nil map: null
				sb.WriteString(`, "metadata": `)
				sb.Write(raw)
			}
			sb.WriteString("}")
			if len(meta) == 0 {
				meta = nil
			}
			c.Final[id] = Record{ID: id, Vector: v, Metadata: meta}
			ids = append(ids, id)
		}
		sb.WriteString("\n")
		if _, err := out.WriteString(sb.String()); err != nil {
			return err
		}
		c.Lines++
	}
	return out.Close()
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// IDs returns a collection's final ids, sorted.
func (c *Collection) IDs() []string {
	out := make([]string, 0, len(c.Final))
	for id := range c.Final {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}
