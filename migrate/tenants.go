package migrate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/serve/limits"
)

// Tenant statuses in 1.x.
const (
	StatusActive    = "active"
	StatusSuspended = "suspended"
	StatusDeleted   = "deleted"
)

var tenantIDPattern = regexp.MustCompile(`^(tenant_[0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$`)

// v1Tenant is tenants/*.json. Fields are raw so each can be checked and
// reported on its own.
type v1Tenant struct {
	TenantID  json.RawMessage            `json:"tenant_id"`
	Name      json.RawMessage            `json:"name"`
	Status    json.RawMessage            `json:"status"`
	Quotas    map[string]json.RawMessage `json:"quotas"`
	Metadata  json.RawMessage            `json:"metadata"`
	CreatedAt json.RawMessage            `json:"created_at"`
	UpdatedAt json.RawMessage            `json:"updated_at"`
}

// The v1 quota names.
const (
	quotaMaxStorage     = "max_storage_bytes"
	quotaMaxCollections = "max_collections"
	quotaMaxPerColl     = "max_vectors_per_collection"
	quotaRate           = "api_rate_limit_per_second"
	quotaConcurrent     = "max_concurrent_searches"
)

// TenantPlan is what happens to one v1 tenant.
type TenantPlan struct {
	File      string `json:"file,omitempty"`
	V1ID      string `json:"v1_tenant_id"`
	V1Name    string `json:"v1_name"`
	Status    string `json:"status"`
	V2Name    string `json:"v2_name,omitempty"`
	Renamed   string `json:"renamed_because,omitempty"`
	Migrate   bool   `json:"migrate"`
	SkipWhy   string `json:"skipped_because,omitempty"`
	CreatedAt string `json:"v1_created_at,omitempty"`
	UpdatedAt string `json:"v1_updated_at,omitempty"`
	// Metadata is the v1 tenant metadata. v2 tenants have no field for
	// it, so it is kept here, in the report (and the report file in the
	// target directory).
	Metadata json.RawMessage `json:"metadata,omitempty"`
	Quota    QuotaMapping    `json:"quota"`
	Notes    []string        `json:"notes,omitempty"`
	// IsDefault marks v2's default tenant (collections with no tenant).
	IsDefault bool `json:"is_default,omitempty"`
}

// QuotaMapping is a v1 tenant's quotas as v2 quotas: nil is "not set"
// (the server default applies).
type QuotaMapping struct {
	QPSLimit        *float64 `json:"qps_limit"`
	MaxCollections  *int64   `json:"max_collections"`
	MaxVectors      *int64   `json:"max_vectors"`
	MaxStorageBytes *int64   `json:"max_storage_bytes"`
	// Dropped lists v1 quotas with no v2 equivalent, with their values.
	Dropped []string `json:"dropped,omitempty"`
	Notes   []string `json:"notes,omitempty"`
}

// Empty reports whether nothing is set.
func (q QuotaMapping) Empty() bool {
	return q.QPSLimit == nil && q.MaxCollections == nil && q.MaxVectors == nil && q.MaxStorageBytes == nil
}

// planTenants reads tenants/*.json. present is false when the directory
// does not exist (a single-tenant install).
func planTenants(v1Dir string, opts Options, probs *Problems, fp *fingerprint) (tenants []*TenantPlan, present bool, err error) {
	dir := filepath.Join(v1Dir, "tenants")
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("list %s: %w", dir, err)
	}
	byID := map[string]string{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, true, fmt.Errorf("read %s: %w", path, err)
		}
		if err := fp.add(v1Dir, path); err != nil {
			return nil, true, err
		}
		t := planTenant(path, data, opts, probs)
		if t == nil {
			continue
		}
		if first, dup := byID[t.V1ID]; dup {
			probs.add(Problem{File: path, Line: lineOfKey(data, "tenant_id"), Kind: KindDuplicateTenant, Scope: ScopeTenant,
				Message: fmt.Sprintf("tenant_id %s is also the id of %s", t.V1ID, first)})
			continue
		}
		byID[t.V1ID] = path
		tenants = append(tenants, t)
	}
	// v2 names: unique, never "default".
	var reqs []nameRequest
	for _, t := range tenants {
		if t.Migrate {
			reqs = append(reqs, nameRequest{key: t.V1ID, name: t.V1Name})
		}
	}
	names := assignNames(reqs, "tenant", engine.DefaultTenant)
	for _, t := range tenants {
		if t.Migrate {
			t.V2Name, t.Renamed = names[t.V1ID].Name, names[t.V1ID].Reason
		}
	}
	sort.Slice(tenants, func(i, j int) bool { return tenants[i].V1ID < tenants[j].V1ID })
	return tenants, true, nil
}

// planTenant checks one manifest; nil when the tenant cannot be used at
// all (its problems are in probs).
func planTenant(path string, data []byte, opts Options, probs *Problems) *TenantPlan {
	bad := func(line int, kind Kind, scope Scope, format string, args ...any) {
		probs.add(Problem{File: path, Line: line, Kind: kind, Scope: scope, Message: fmt.Sprintf(format, args...)})
	}
	var raw v1Tenant
	if err := json.Unmarshal(data, &raw); err != nil {
		line := 1
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			line = lineOf(data, se.Offset)
		case errors.As(err, &te):
			line = lineOf(data, te.Offset)
		}
		bad(line, KindInvalidTenant, ScopeTenant, "malformed tenant manifest: %v", err)
		return nil
	}
	t := &TenantPlan{File: path}
	if !stringField(raw.TenantID, &t.V1ID) || !tenantIDPattern.MatchString(t.V1ID) {
		bad(lineOfKey(data, "tenant_id"), KindInvalidTenant, ScopeTenant, `tenant_id must be "tenant_" followed by 32 hex digits, or a UUID; got %s`, orMissing(raw.TenantID))
		return nil
	}
	if !stringField(raw.Name, &t.V1Name) || strings.TrimSpace(t.V1Name) == "" {
		bad(lineOfKey(data, "name"), KindInvalidTenant, ScopeTenant, "tenant %s: name must be a non-empty string; got %s", t.V1ID, orMissing(raw.Name))
		return nil
	}
	if !stringField(raw.Status, &t.Status) || (t.Status != StatusActive && t.Status != StatusSuspended && t.Status != StatusDeleted) {
		bad(lineOfKey(data, "status"), KindInvalidTenant, ScopeTenant, `tenant %s: status must be "active", "suspended" or "deleted"; got %s`, t.V1ID, orMissing(raw.Status))
		return nil
	}
	for _, f := range []struct {
		key string
		raw json.RawMessage
		dst *string
	}{{"created_at", raw.CreatedAt, &t.CreatedAt}, {"updated_at", raw.UpdatedAt, &t.UpdatedAt}} {
		if len(f.raw) == 0 || string(f.raw) == "null" {
			continue
		}
		var s string
		if !stringField(f.raw, &s) {
			bad(lineOfKey(data, f.key), KindInvalidTenant, ScopeField, "tenant %s: %s must be an RFC 3339 time, got %s", t.V1ID, f.key, clip(f.raw))
			continue
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			bad(lineOfKey(data, f.key), KindInvalidTenant, ScopeField, "tenant %s: %s %q is not an RFC 3339 time", t.V1ID, f.key, s)
		}
		*f.dst = s
	}
	if m := bytes.TrimSpace(raw.Metadata); len(m) > 0 && string(m) != "null" {
		var buf bytes.Buffer
		if err := json.Compact(&buf, m); err == nil {
			t.Metadata = buf.Bytes()
		}
	}
	t.Quota = mapQuotas(path, data, t.V1ID, raw.Quotas, probs)
	switch t.Status {
	case StatusActive:
		t.Migrate = true
	case StatusSuspended:
		t.Migrate = true
		t.Notes = append(t.Notes, "suspended in v1; v2 has no suspended state, so it is an ordinary tenant in v2. No API key of it exists until an administrator creates one (akidb keys create --tenant NAME)")
	case StatusDeleted:
		t.Migrate = opts.IncludeDeletedTenants
		if t.Migrate {
			t.Notes = append(t.Notes, "deleted in v1; migrated because of --include-deleted-tenants")
		} else {
			t.SkipWhy = "deleted in v1 (pass --include-deleted-tenants to migrate it)"
		}
	}
	return t
}

// mapQuotas maps v1 quotas onto v2's (see docs/migration-v1-to-v2.md).
// A value no v2 quota could hold is a problem of scope field: it is left
// out and the rest of the tenant migrates.
func mapQuotas(path string, data []byte, tenantID string, q map[string]json.RawMessage, probs *Problems) QuotaMapping {
	var out QuotaMapping
	bad := func(key, format string, args ...any) {
		probs.add(Problem{File: path, Line: lineOfKey(data, key), Kind: KindInvalidQuota, Scope: ScopeField,
			Message: fmt.Sprintf("tenant %s: quotas.%s: ", tenantID, key) + fmt.Sprintf(format, args...) + "; it is not migrated"})
	}
	count := func(key string) *int64 {
		raw, ok := q[key]
		if !ok || string(raw) == "null" {
			return nil
		}
		var f float64
		if err := json.Unmarshal(raw, &f); err != nil || f < 0 || f != math.Trunc(f) || f > math.MaxInt64/2 {
			bad(key, "must be a whole number of at least 0, got %s", clip(raw))
			return nil
		}
		n := int64(f)
		return &n
	}
	out.MaxCollections = count(quotaMaxCollections)
	out.MaxStorageBytes = count(quotaMaxStorage)
	perColl := count(quotaMaxPerColl)
	switch {
	case perColl != nil && out.MaxCollections != nil:
		mv := *perColl * *out.MaxCollections
		if *out.MaxCollections != 0 && mv / *out.MaxCollections != *perColl {
			mv = math.MaxInt64
		}
		out.MaxVectors = &mv
		out.Notes = append(out.Notes, fmt.Sprintf("max_vectors = max_vectors_per_collection %d x max_collections %d: v2 limits a tenant's vectors, not a collection's", *perColl, *out.MaxCollections))
	case perColl != nil:
		out.Dropped = append(out.Dropped, fmt.Sprintf("max_vectors_per_collection=%d: v2 has no per-collection limit, and without max_collections there is no tenant total to derive", *perColl))
	}
	if out.MaxStorageBytes != nil {
		out.Notes = append(out.Notes, "v2 counts max_storage_bytes against the collections' in-memory size (docs/limits.md), which can differ from what 1.x counted")
	}
	if raw, ok := q[quotaRate]; ok && string(raw) != "null" {
		var f float64
		if err := json.Unmarshal(raw, &f); err != nil || !(f > 0) || math.IsInf(f, 0) {
			bad(quotaRate, "must be a number above 0, got %s", clip(raw))
		} else {
			qps := min(max(f, 1), limits.MaxQPS)
			if qps != f {
				out.Notes = append(out.Notes, fmt.Sprintf("api_rate_limit_per_second %v is outside v2's range 1..%v: qps_limit set to %v", f, limits.MaxQPS, qps))
			}
			out.QPSLimit = &qps
		}
	}
	if raw, ok := q[quotaConcurrent]; ok && string(raw) != "null" {
		out.Dropped = append(out.Dropped, fmt.Sprintf("max_concurrent_searches=%s: v2 has no equivalent (the server bounds requests in flight with --max-in-flight)", clip(raw)))
	}
	var unknown []string
	for k := range q {
		switch k {
		case quotaMaxStorage, quotaMaxCollections, quotaMaxPerColl, quotaRate, quotaConcurrent:
		default:
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		out.Dropped = append(out.Dropped, fmt.Sprintf("%s=%s: not a 1.x quota AkiDB knows", k, clip(q[k])))
	}
	return out
}

func stringField(raw json.RawMessage, dst *string) bool {
	return len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, dst) == nil
}

func orMissing(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "nothing (the field is missing)"
	}
	return clip(raw)
}
