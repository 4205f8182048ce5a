package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/engine/tier/s3/s3test"
	"github.com/akidb/akidb/serve"
	"github.com/akidb/akidb/serve/access"
	"github.com/akidb/akidb/serve/api"
)

func TestServeTierFlags(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--tier-policy", "memory-s3"}, nil, "needs an object store"},
		{[]string{"--tier-policy", "s3-only"}, nil, "needs an object store"},
		{[]string{"--tier-policy", "tape"}, nil, "want memory, memory-s3 or s3-only"},
		{[]string{"--tier-memory-budget", "512MiB"}, nil, "--tier-memory-budget needs an object store"},
		{[]string{"--s3-endpoint", "http://127.0.0.1:9000", "--s3-bucket", "bkt", "--tier-memory-budget", "lots"}, nil, "--tier-memory-budget \"lots\""},
		{[]string{"--s3-endpoint", "http://127.0.0.1:9000", "--s3-bucket", "bkt", "--s3-cache-bytes", "-1"}, nil, "--s3-cache-bytes"},
		{[]string{"--s3-endpoint", "http://127.0.0.1:9000", "--s3-bucket", "bkt", "--tier-evict-after", "0s"}, nil, "--tier-evict-after must be positive"},
		{[]string{"--s3-bucket", "bkt"}, nil, "--s3-endpoint is not"},
		{[]string{"--s3-endpoint", "http://127.0.0.1:9000", "--s3-bucket", "bm"}, nil, `bucket "bm": Bucket name cannot be shorter than 3 characters`},
		{[]string{"--s3-endpoint", "http://127.0.0.1:9000", "--s3-bucket", "My_Bucket"}, nil, `bucket "My_Bucket"`},
		{[]string{"--s3-endpoint", "127.0.0.1:9000", "--s3-bucket", "bkt"}, nil, "want http://host:port"},
		{[]string{"--s3-endpoint", "http://127.0.0.1:9000"}, nil, "--s3-bucket is required"},
		{[]string{"--s3-endpoint", "http://127.0.0.1:9000", "--s3-bucket", "bkt"}, map[string]string{"AKIDB_S3_ACCESS_KEY": "a"}, "go together"},
		{[]string{"--s3-endpoint", "http://127.0.0.1:9000", "--s3-bucket", "bkt", "--s3-access-key-file", "/x"}, map[string]string{"AKIDB_S3_ACCESS_KEY": "a"}, "use one"},
		{[]string{"--s3-endpoint", "http://127.0.0.1:9000", "--s3-bucket", "bkt", "--s3-insecure-skip-verify"}, nil, "https endpoint"},
		{[]string{"--s3-endpoint", "https://127.0.0.1:9000", "--s3-bucket", "bkt", "--s3-insecure-skip-verify", "--s3-ca-file", "/ca.pem"}, nil, "contradict"},
		{[]string{"--s3-endpoint", "http://127.0.0.1:9000", "--s3-bucket", "bkt", "--s3-ship-interval", "0s"}, nil, "--s3-ship-interval"},
		{[]string{"--s3-endpoint", "http://127.0.0.1:9000", "--s3-bucket", "bkt", "--dlq-batch", "0"}, nil, "--dlq-batch"},
	} {
		code, _, errs := runCLI(t, c.env, append([]string{"serve", "--data-dir", dir}, c.args...)...)
		if code == 0 || !strings.Contains(errs, c.want) {
			t.Errorf("serve %v: exit %d, %q; want an error with %q", c.args, code, errs, c.want)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"restore", "--collection", "x"}, "--s3-endpoint"},
		{[]string{"restore", "--from", "http://b/p", "--s3-endpoint", "http://127.0.0.1:1"}, "want s3://bucket"},
		{[]string{"restore", "--from", "s3://b/p"}, "--from needs --s3-endpoint"},
		{[]string{"dlq", "list"}, "needs a running server"},
		{[]string{"dlq", "discard", "x", "--server", "http://127.0.0.1:1", "--api-key", "k"}, "not a DLQ entry id"},
		{[]string{"checkpoint"}, "accepts 1 arg"},
		{[]string{"load"}, "accepts 1 arg"},
		{[]string{"evict", "a", "b"}, "accepts 1 arg"},
		{[]string{"evict", "docs"}, "needs a running server"},
	} {
		code, _, errs := runCLI(t, nil, c.args...)
		if code == 0 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, %q; want an error with %q", c.args, code, errs, c.want)
		}
	}
}

// TestTierCommandsWithMinIO runs a server shipping to a real MinIO, drives
// it with `akidb checkpoint`, `akidb storage status` and `akidb dlq`, then
// restores the collection with `akidb restore` on a fresh directory.
func TestTierCommandsWithMinIO(t *testing.T) {
	minio := s3test.Start(t)
	s3cfg := minio.Config("akidb")
	env := map[string]string{"AKIDB_S3_ACCESS_KEY": s3test.AccessKey, "AKIDB_S3_SECRET_KEY": s3test.SecretKey}
	dir := filepath.Join(t.TempDir(), "data")
	s, stop := startServerWith(t, dir, func(cfg *serve.Config) {
		cfg.Tier = serve.TierConfig{S3: &s3cfg, Prefix: "edge/box1", ShipInterval: 50 * time.Millisecond, DefaultPolicy: engine.TierMemoryS3}
	})
	key := readBootstrap(t, dir)
	server := "http://" + s.RESTAddr().String()
	env["AKIDB_API_KEY"] = key
	post := func(path string, body any) {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", server+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			t.Fatalf("POST %s: %d", path, resp.StatusCode)
		}
	}
	// memory-s3 by --tier-policy; the payload index comes back with a
	// restore (the manifest records it).
	post("/api/v1/collections", api.CreateCollectionRequest{Name: "docs", Dimension: 3, Metric: "l2", Indexes: map[string]string{"i": "integer"}})
	var vs []api.Vector
	for i := range 50 {
		vs = append(vs, api.Vector{ID: fmt.Sprint("v", i), Vector: []float32{float32(i), 1, 0}, Metadata: map[string]any{"i": i}})
	}
	post("/api/v1/collections/docs/insert", api.UpsertRequest{Vectors: vs})
	out := mustCLI(t, env, "checkpoint", "--server", server, "docs")
	if !strings.Contains(out, "checkpointed docs") || !strings.Contains(out, "upload queued") {
		t.Fatalf("checkpoint: %q", out)
	}
	// Ten more after the snapshot: shipped as log, and left out by a
	// restore --to-seq at the snapshot.
	var more []api.Vector
	for i := range 10 {
		more = append(more, api.Vector{ID: fmt.Sprint("w", i), Vector: []float32{float32(i), 2, 0}})
	}
	post("/api/v1/collections/docs/insert", api.UpsertRequest{Vectors: more})
	// The ship loop runs every 50ms: wait, with a deadline, until the
	// status shows everything shipped.
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var st access.StorageStatus
	for {
		st = decode[access.StorageStatus](t, mustCLI(t, env, "storage", "status", "--server", server, "-o", "json"))
		if len(st.Collections) == 1 && st.Collections[0].NewestSnapshot != nil && st.Collections[0].ShippedSeq == st.Collections[0].DurableSeq {
			break
		}
		select {
		case <-deadline.C:
			t.Fatalf("not shipped in time: %+v", st)
		case <-tick.C:
		}
	}
	if out := mustCLI(t, env, "storage", "status", "--server", server); !strings.Contains(out, "circuit breaker closed") || !strings.Contains(out, "memory-s3") {
		t.Fatalf("storage status: %q", out)
	}
	if out := mustCLI(t, env, "dlq", "list", "--server", server); !strings.Contains(out, "empty") {
		t.Fatalf("dlq list: %q", out)
	}
	if out := mustCLI(t, env, "dlq", "retry", "--server", server); !strings.Contains(out, "attempted 0") {
		t.Fatalf("dlq retry: %q", out)
	}
	if code, _, errs := runCLI(t, env, "dlq", "discard", "42", "--server", server); code == 0 || !strings.Contains(errs, "not found") {
		t.Fatalf("discard of an unknown entry: %d %q", code, errs)
	}
	// The operator evicts it and loads it back; the status shows where it
	// is; a load or an eviction of an unknown collection is refused.
	if out := mustCLI(t, env, "evict", "--server", server, "docs"); !strings.Contains(out, "docs (memory-s3): evicted") || !strings.Contains(out, "1 evictions") {
		t.Fatalf("evict: %q", out)
	}
	if out := mustCLI(t, env, "storage", "status", "--server", server); !strings.Contains(out, "evicted") || !strings.Contains(out, "0 of 1 collections in memory") {
		t.Fatalf("storage status after the eviction: %q", out)
	}
	loaded := decode[api.ResidencyResponse](t, mustCLI(t, env, "load", "--server", server, "docs", "-o", "json"))
	if loaded.LoadState != "resident" || loaded.LoadSource != "local" || loaded.Loads != 1 {
		t.Fatalf("load: %+v", loaded)
	}
	if code, _, errs := runCLI(t, env, "evict", "--server", server, "nope"); code == 0 || !strings.Contains(errs, "not found") {
		t.Fatalf("evict of an unknown collection: %d %q", code, errs)
	}
	snapSeq := st.Collections[0].NewestSnapshot.Seq
	if snapSeq >= st.Collections[0].DurableSeq {
		t.Fatalf("the log after the snapshot was not shipped: %+v", st.Collections[0])
	}
	stop()
	// The box is gone: its data directory with it.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}

	from := "s3://akidb/edge/box1"
	out = mustCLI(t, env, "restore", "--s3-endpoint", minio.Endpoint(), "--from", from, "--list")
	if !strings.Contains(out, "docs") || !strings.Contains(out, "memory-s3") {
		t.Fatalf("restore --list: %q", out)
	}
	fresh := filepath.Join(t.TempDir(), "fresh")
	out = mustCLI(t, env, "restore", "--s3-endpoint", minio.Endpoint(), "--from", from, "--collection", "docs", "--data-dir", fresh, "-o", "json")
	res := decode[engine.RestoreResult](t, out)
	if res.Records != 60 || res.Name != "docs" || fmt.Sprint(res.PayloadIndexes) != "[i]" || res.Quantization != "" {
		t.Fatalf("restore: %+v", res)
	}
	// --to-seq at the snapshot: the state the checkpoint saw.
	early := filepath.Join(t.TempDir(), "early")
	out = mustCLI(t, env, "restore", "--s3-endpoint", minio.Endpoint(), "--from", from, "--collection", "docs", "--data-dir", early,
		"--to-seq", fmt.Sprint(snapSeq))
	if !strings.Contains(out, "50 records") || !strings.Contains(out, fmt.Sprintf("up to sequence %d", snapSeq)) || !strings.Contains(out, "payload indexes on i") {
		t.Fatalf("restore --to-seq %d: %q", snapSeq, out)
	}
	if code, _, errs := runCLI(t, env, "restore", "--s3-endpoint", minio.Endpoint(), "--from", from, "--collection", "docs", "--data-dir", fresh); code == 0 || !strings.Contains(errs, "never replaces") {
		t.Fatalf("restore over an existing collection: %d %q", code, errs)
	}
	db, err := engine.Open(fresh, engine.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	h, err := db.Collection(engine.DefaultTenant, "docs")
	if err != nil || h.Count() != 60 {
		t.Fatalf("restored collection: %v", err)
	}
	if r, err := h.Get("v7"); err != nil || r.Metadata["i"] != float64(7) {
		t.Fatalf("record v7: %+v %v", r, err)
	}
	if _, err := h.Get("w9"); err != nil {
		t.Fatalf("record w9, written after the checkpoint: %v", err)
	}
	h.WaitIndexBuilds()
	if idx := h.Indexes(); len(idx) != 1 || idx[0].Field != "i" || idx[0].Type != "integer" || idx[0].State != "ready" || idx[0].Records != 50 {
		t.Fatalf("payload indexes after the restore: %+v", idx)
	}
}

// An https object store whose certificate the server cannot verify stops
// the start with the reason (it is a setting to fix, not an outage to
// wait out); --s3-insecure-skip-verify, given explicitly, lets it start.
func TestServeRefusesAnObjectStoreItCannotVerify(t *testing.T) {
	minio := s3test.StartTLS(t)
	s3cfg := minio.Config("akidb")
	s3cfg.CAFile = ""
	cfg := serve.DefaultConfig()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.RESTAddr, cfg.GRPCAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Tier = serve.TierConfig{S3: &s3cfg, Prefix: "p"}
	s, err := serve.Start(cfg, nil)
	if err == nil { // the listeners are up; the engine (and the store) open behind them
		select {
		case <-s.Ready():
			err = errors.New("the server started with an object store whose certificate it cannot verify")
		case err = <-s.Errors():
		case <-time.After(waitTimeout):
			err = errors.New("the server neither started nor failed")
		}
		_ = s.Shutdown(context.Background())
	}
	if !strings.Contains(err.Error(), "certificate") || !strings.Contains(err.Error(), "--s3-ca-file") {
		t.Fatalf("start with an unverified certificate: %v; want the reason and --s3-ca-file", err)
	}
	s3cfg.InsecureSkipVerify = true
	_, stop := startServerConfig(t, cfg)
	stop()
}
