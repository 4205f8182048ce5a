package serve

import (
	"net/http"
	"strings"
	"testing"

	"github.com/akidb/akidb/serve/access"
	"github.com/akidb/akidb/serve/api"
)

// quotaRefusal checks a 403 quota_exceeded for resource and returns its
// details.
func quotaRefusal(t *testing.T, r httpResult, resource string) map[string]any {
	t.Helper()
	env := decodeJSON[struct {
		Error api.Error `json:"error"`
	}](t, mustStatus(t, r, http.StatusForbidden, api.CodeQuotaExceeded))
	if env.Error.Details["resource"] != resource {
		t.Fatalf("refused for %v, want %s: %s", env.Error.Details["resource"], resource, r.body)
	}
	return env.Error.Details
}

// TestStorageQuotaCountsReplacements: replacing a record holds a second
// node until a vacuum, and its metadata counts, so at max_storage_bytes a
// replacement with 60 KB of metadata is refused (it used to pass as
// "adding nothing"). Deleting still works and, with the compaction the
// refusal scheduled, makes room again.
func TestStorageQuotaCountsReplacements(t *testing.T) {
	s, _, boot := limitedServer(t, testConfig(t))
	client := newClient(t)
	_, key, _ := tenantKey(t, s, client, boot, "acme", "writer")
	quota := s.restURL("/admin/tenants/acme/quota")
	mustStatus(t, do(t, client, "POST", s.restURL("/api/v1/collections"), key, map[string]any{"name": "c", "dimension": 4, "metric": "l2"}), http.StatusCreated, "")
	insert := s.restURL("/api/v1/collections/c/insert")
	rec := func(id string, metaBytes int) api.UpsertRequest {
		v := api.Vector{ID: id, Vector: []float32{1, 2, 3, 4}}
		if metaBytes > 0 {
			v.Metadata = map[string]any{"blob": strings.Repeat("m", metaBytes)}
		}
		return api.UpsertRequest{Vectors: []api.Vector{v}}
	}
	mustStatus(t, do(t, client, "POST", insert, key, rec("a", 8000)), http.StatusOK, "")
	mustStatus(t, do(t, client, "POST", insert, key, rec("b", 0)), http.StatusOK, "")
	q := decodeJSON[access.TenantQuota](t, mustStatus(t, do(t, client, "GET", quota, boot, nil), http.StatusOK, ""))
	if q.Usage == nil || q.Usage.StorageBytes < 8000 {
		t.Fatalf("usage %+v: the record's 8 KB of metadata is not counted", q.Usage)
	}
	mustStatus(t, do(t, client, "POST", quota, boot, map[string]any{"max_storage_bytes": q.Usage.StorageBytes}), http.StatusOK, "")

	quotaRefusal(t, do(t, client, "POST", insert, key, rec("b", 60000)), "storage_bytes")
	quotaRefusal(t, do(t, client, "POST", insert, key, rec("b", 0)), "storage_bytes") // the tombstone it leaves
	mustStatus(t, do(t, client, "DELETE", s.restURL("/api/v1/collections/c/vectors/a"), key, nil), http.StatusOK, "")
	// a's 8 KB of metadata went with it: a replacement fits again.
	mustStatus(t, do(t, client, "POST", insert, key, rec("b", 100)), http.StatusOK, "")
}

// TestDiskQuota: max_disk_bytes bounds a tenant's collection files: a new
// collection costs its first 64 KiB log segment, and a write that would
// make a log grow past the maximum is refused; usage and the metric show
// the disk figure.
func TestDiskQuota(t *testing.T) {
	s, _, boot := limitedServer(t, testConfig(t))
	client := newClient(t)
	tenant, key, _ := tenantKey(t, s, client, boot, "acme", "writer")
	quota := s.restURL("/admin/tenants/acme/quota")
	q := decodeJSON[access.TenantQuota](t, mustStatus(t, do(t, client, "POST", quota, boot, map[string]any{"max_disk_bytes": 100 << 10}), http.StatusOK, ""))
	if q.Quota.MaxDiskBytes == nil || *q.Quota.MaxDiskBytes != 100<<10 || q.Effective.MaxDiskBytes == nil {
		t.Fatalf("after setting max_disk_bytes: %+v", q)
	}
	cols := s.restURL("/api/v1/collections")
	mustStatus(t, do(t, client, "POST", cols, key, map[string]any{"name": "c1", "dimension": 16, "metric": "l2"}), http.StatusCreated, "")
	d := quotaRefusal(t, do(t, client, "POST", cols, key, map[string]any{"name": "c2", "dimension": 16, "metric": "l2"}), "disk_bytes")
	if d["current"] != float64(64<<10) || d["requested"] != float64(64<<10) {
		t.Fatalf("collection refusal details %v", d)
	}
	insert := s.restURL("/api/v1/collections/c1/insert")
	var vs []api.Vector
	for i := 0; i < 100; i++ {
		vs = append(vs, api.Vector{ID: strings.Repeat("x", 100) + string(rune('A'+i%26)) + strings.Repeat("y", i), Vector: make([]float32, 16)})
	}
	// About 25 KB a batch: the first fits in the 64 KiB segment, the ones
	// that need it to double to 128 KiB do not.
	var refused map[string]any
	for i := 0; i < 5 && refused == nil; i++ {
		r := do(t, client, "POST", insert, key, api.UpsertRequest{Vectors: vs})
		if r.status == http.StatusOK {
			continue
		}
		refused = quotaRefusal(t, r, "disk_bytes")
	}
	if refused == nil || refused["requested"] != float64(64<<10) {
		t.Fatalf("disk refusal details %v, want the 64 KiB growth", refused)
	}
	// The refusal asked for a compaction (the batches replaced the same
	// ids, whose old vectors stay until a vacuum), which runs in the
	// background: its snapshot joins the 64 KiB log segment on disk. Wait
	// for it, so that the usage and the metric are read from files that
	// hold still (reading them while it ran made this test flaky).
	var disk int64
	waitFor(t, "the compaction after the refusal", func() bool {
		q = decodeJSON[access.TenantQuota](t, mustStatus(t, do(t, client, "GET", quota, key, nil), http.StatusOK, ""))
		if q.Usage == nil {
			t.Fatalf("no usage in %+v", q)
		}
		disk = q.Usage.DiskBytes
		return disk > 64<<10
	})
	if v, want := metricValue(t, s, client, `akidb_quota_usage_ratio{resource="disk_bytes",tenant="`+tenant+`"}`), float64(disk)/float64(100<<10); v != want {
		t.Errorf("disk usage ratio = %v, want %v (disk_bytes %d of 102400)", v, want, disk)
	}
	// Back to the default (unlimited): the write goes through.
	mustStatus(t, do(t, client, "POST", quota, boot, map[string]any{"max_disk_bytes": nil}), http.StatusOK, "")
	mustStatus(t, do(t, client, "POST", insert, key, api.UpsertRequest{Vectors: vs}), http.StatusOK, "")
}
