package s3_test

// End-to-end tests of the object storage tier against a real MinIO server
// on 127.0.0.1: shipping and retention, restore on a fresh directory, an
// outage with MinIO killed mid-upload, and a SIGKILL of akidb mid-upload.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/engine/tier"
	"github.com/akidb/akidb/engine/tier/s3"
	"github.com/akidb/akidb/engine/tier/s3/s3test"
	"github.com/akidb/akidb/export"
)

var bg = context.Background()

const prefix = "edge/box1"

func vectorFor(id string, dim int) []float32 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(id))
	rng := rand.New(rand.NewPCG(h.Sum64(), 7))
	v := make([]float32, dim)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

func records(pfx string, from, to, dim int) []engine.Record {
	out := make([]engine.Record, 0, to-from)
	for i := from; i < to; i++ {
		id := fmt.Sprintf("%s-%d", pfx, i)
		out = append(out, engine.Record{ID: id, Vector: vectorFor(id, dim), Metadata: map[string]any{"i": float64(i), "p": pfx}})
	}
	return out
}

func tierConfig(store tier.ObjectStore, clock tier.Clock, tune func(*tier.Config)) engine.Config {
	tc := tier.Config{Store: store, Prefix: prefix, Clock: clock, ChunkBytes: 64 << 10, Jitter: func() float64 { return 0 }}
	if tune != nil {
		tune(&tc)
	}
	return engine.Config{CheckpointRecords: -1, CheckpointBytes: -1, SegmentSize: 64 << 10,
		Tier: &engine.TierConfig{Tier: tc, NoBackground: true, ShutdownShipTimeout: -1}}
}

func open(t testing.TB, dir string, cfg engine.Config) *engine.DB {
	t.Helper()
	db, err := engine.Open(dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// checkHolds checks that h holds exactly the ids in want, each with its
// vector and metadata.
func checkHolds(t testing.TB, h *engine.Handle, want map[string]bool, dim int) {
	t.Helper()
	if h.Count() != len(want) {
		t.Fatalf("%d records, want %d", h.Count(), len(want))
	}
	for id := range want {
		r, err := h.Get(id)
		if err != nil {
			t.Fatalf("record %s: %v", id, err)
		}
		v := vectorFor(id, dim)
		for i := range v {
			if r.Vector[i] != v[i] {
				t.Fatalf("record %s: vector differs at %d", id, i)
			}
		}
		if pfx, _ := r.Metadata["p"].(string); !strings.HasPrefix(id, pfx+"-") {
			t.Fatalf("record %s: metadata %v", id, r.Metadata)
		}
	}
}

func TestShipRetentionAndRestoreThroughMinIO(t *testing.T) {
	srv := s3test.Start(t)
	store := srv.Store(t, "akidb")
	dir := filepath.Join(t.TempDir(), "original")
	cfg := tierConfig(store, nil, func(c *tier.Config) { c.KeepSnapshots = 2 })
	cfg.Tier.Parquet = func(ctx context.Context, w io.Writer, v *engine.RecordView) error {
		_, err := export.WriteParquet(ctx, w, v, export.Options{})
		return err
	}
	db := open(t, dir, cfg)
	if _, err := db.CreateCollection(bg, engine.DefaultTenant, engine.CollectionConfig{Name: "docs", Dimension: 32, Metric: distance.L2, EfConstruction: 40, TierPolicy: engine.TierMemoryS3}); err != nil {
		t.Fatal(err)
	}
	h, _ := db.Collection(engine.DefaultTenant, "docs")
	want := map[string]bool{}
	write := func(pfx string, from, to int) {
		for i := from; i < to; i += 50 {
			rs := records(pfx, i, min(i+50, to), 32)
			if err := h.Upsert(bg, rs); err != nil {
				t.Fatal(err)
			}
			for _, r := range rs {
				want[r.ID] = true
			}
		}
	}
	var lastCheckpointCount int
	for round := range 4 {
		write(fmt.Sprintf("r%d", round), 0, 300)
		if err := h.Checkpoint(); err != nil {
			t.Fatal(err)
		}
		lastCheckpointCount = h.Count()
		write(fmt.Sprintf("t%d", round), 0, 50)
		if err := db.Tier().ShipOnce(bg); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := h.Delete(bg, []string{"r0-1", "r3-2"}); err != nil || n != 2 {
		t.Fatalf("delete: %d %v", n, err)
	}
	delete(want, "r0-1")
	delete(want, "r3-2")
	write("last", 0, 20)
	if err := db.Tier().ShipOnce(bg); err != nil {
		t.Fatal(err)
	}
	st, _ := db.Tier().CollectionStatus(h.Info().ID)
	if st.ShippedSeq != st.DurableSeq || st.ShipLag != 0 || st.PendingUploads != 0 {
		t.Fatalf("status: %+v", st)
	}
	found, err := tier.FindShipped(bg, store, prefix, "default", "docs", "")
	if err != nil {
		t.Fatal(err)
	}
	m := found.Manifest
	if len(m.Snapshots) != 2 || m.ShippedSeq != st.DurableSeq || len(m.Parquet) != 2 {
		t.Fatalf("manifest: %d snapshots, %d Parquet exports, shipped %d", len(m.Snapshots), len(m.Parquet), m.ShippedSeq)
	}
	// The newest Parquet export is the newest snapshot's records, readable
	// by parquet-go's generic reader.
	pq := m.Parquet[len(m.Parquet)-1]
	if pq.LastSeq != m.NewestSnapshot() {
		t.Fatalf("newest Parquet export at %d, newest snapshot at %d", pq.LastSeq, m.NewestSnapshot())
	}
	data, err := tier.DownloadBytes(bg, store, found.Key, pq)
	if err != nil {
		t.Fatal(err)
	}
	pf, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("open the shipped Parquet: %v", err)
	}
	if v, _ := pf.Lookup(export.KeySeq); v != strconv.FormatUint(pq.LastSeq, 10) {
		t.Fatalf("Parquet %s = %q, want %d", export.KeySeq, v, pq.LastSeq)
	}
	type pqRow struct {
		ID       string    `parquet:"id"`
		Vector   []float32 `parquet:"vector,list"`
		Metadata string    `parquet:"metadata"`
	}
	rd := parquet.NewGenericReader[pqRow](bytes.NewReader(data))
	rows := make([]pqRow, lastCheckpointCount+1)
	n, err := rd.Read(rows)
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	rd.Close()
	if n != lastCheckpointCount {
		t.Fatalf("%d rows in the newest Parquet export, the collection had %d at that checkpoint", n, lastCheckpointCount)
	}
	for _, r := range rows[:n] {
		v := vectorFor(r.ID, 32)
		if len(r.Vector) != 32 || r.Vector[3] != v[3] || !strings.Contains(r.Metadata, `"p":`) {
			t.Fatalf("row %s: %v %s", r.ID, r.Vector[:4], r.Metadata)
		}
	}
	// Retention: the bucket holds what the manifest lists, nothing more.
	colPrefix := strings.TrimSuffix(found.Key, tier.ManifestName)
	listed := map[string]bool{tier.ManifestName: true}
	for _, list := range [][]tier.Object{m.Snapshots, m.Segments, m.Parquet} {
		for _, o := range list {
			listed[o.Key] = true
		}
	}
	objs, _ := store.List(bg, colPrefix)
	if len(objs) != len(listed) {
		var keys []string
		for _, o := range objs {
			keys = append(keys, strings.TrimPrefix(o.Key, colPrefix))
		}
		t.Fatalf("bucket holds %v, manifest lists %d objects", keys, len(listed))
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}

	// A fresh box: a new client, a new directory.
	store2 := srv.Store(t, "akidb")
	list, err := engine.ListShipped(bg, store2, prefix)
	if err != nil || len(list) != 1 || list[0].Manifest.Name != "docs" {
		t.Fatalf("list: %+v %v", list, err)
	}
	fresh := filepath.Join(t.TempDir(), "fresh")
	res, err := engine.Restore(bg, fresh, engine.Config{}, engine.RestoreOptions{Store: store2, Prefix: prefix, Name: "docs"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != len(want) || res.ToSeq != m.ShippedSeq {
		t.Fatalf("restore: %+v", res)
	}
	rdb := open(t, fresh, engine.Config{})
	defer rdb.Close()
	rh, err := rdb.Collection(engine.DefaultTenant, "docs")
	if err != nil {
		t.Fatal(err)
	}
	checkHolds(t, rh, want, 32)
	// The restored collection answers queries.
	q, err := rh.Search(context.Background(), engine.SearchRequest{Vector: vectorFor("r2-5", 32), K: 1})
	if err != nil || len(q.Hits) != 1 || q.Hits[0].ID != "r2-5" {
		t.Fatalf("search after restore: %+v %v", q, err)
	}
}

// The outage: MinIO is killed in the middle of a snapshot upload, while
// the breaker is closed. Writes go on being acknowledged, failed uploads
// land in the DLQ, and the breaker opens once the failures reach its
// threshold; while it is open nothing reaches the store. MinIO comes back
// and is killed again under the half-open probe's upload: the breaker
// opens again, for twice the cool-down, counting no entry's retry. MinIO
// comes back for good: after the cool-down the DLQ's next run is the
// half-open probe, the breaker closes, the DLQ drains, and a restore holds
// every acknowledged write. The tier's clock is a manual one: nothing
// sleeps.
func TestOutageMinIOKilledMidUploadLosesNothing(t *testing.T) {
	srv := s3test.Start(t)
	fs := tier.NewFaultStore(srv.Store(t, "akidb"))
	clock := tier.NewManualClock(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	db := open(t, t.TempDir(), tierConfig(fs, clock, nil))
	defer db.Close()
	const dim = 64
	var hs []*engine.Handle
	for _, name := range []string{"alpha", "beta"} {
		if _, err := db.CreateCollection(bg, engine.DefaultTenant, engine.CollectionConfig{Name: name, Dimension: dim, Metric: distance.L2, EfConstruction: 40, TierPolicy: engine.TierMemoryS3}); err != nil {
			t.Fatal(err)
		}
		h, _ := db.Collection(engine.DefaultTenant, name)
		hs = append(hs, h)
	}
	want := []map[string]bool{{}, {}}
	write := func(pfx string, n int) {
		t.Helper()
		for i, h := range hs {
			rs := records(fmt.Sprintf("%s%d", pfx, i), 0, n, dim)
			for j := 0; j < len(rs); j += 100 {
				if err := h.Upsert(bg, rs[j:min(j+100, len(rs))]); err != nil {
					t.Fatalf("a write was refused during the outage: %v", err)
				}
			}
			for _, r := range rs {
				want[i][r.ID] = true
			}
		}
	}
	write("base", 500)
	if err := db.Tier().ShipOnce(bg); err != nil {
		t.Fatal(err)
	}
	// Kill MinIO half-way through the next snapshot's upload.
	write("before", 2000)
	for _, h := range hs {
		if err := h.Checkpoint(); err != nil {
			t.Fatal(err)
		}
	}
	var killed atomic.Bool
	fs.OnPutProgress(func(key string, sent int64) {
		if strings.HasSuffix(key, ".snap") && sent > 100<<10 && killed.CompareAndSwap(false, true) {
			srv.Kill()
		}
	})
	if err := db.Tier().ShipOnce(bg); err == nil {
		t.Fatal("a pass with MinIO killed mid-upload reported no error")
	}
	if !killed.Load() {
		t.Fatal("MinIO was not killed: no snapshot upload got past 100 KiB")
	}
	fs.OnPutProgress(nil)
	// Writes go on; the breaker opens within its threshold of consecutive
	// failures.
	passes := 0
	for db.Tier().Breaker().State() == tier.BreakerClosed {
		if passes++; passes > 5 {
			t.Fatalf("the breaker is still closed after %d failing passes: %+v", passes, db.Tier().Breaker().Status())
		}
		write(fmt.Sprintf("down%d", passes), 100)
		_ = db.Tier().ShipOnce(bg)
	}
	bst := db.Tier().Breaker().Status()
	if bst.State != tier.BreakerOpen || bst.Failures < 5 || bst.LastError == "" {
		t.Fatalf("breaker: %+v", bst)
	}
	calls := fs.Calls(tier.OpAny)
	write("open", 300)
	for _, h := range hs {
		if err := h.Checkpoint(); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Tier().ShipOnce(bg); !errors.Is(err, tier.ErrBreakerOpen) {
		t.Fatalf("a pass with the breaker open: %v", err)
	}
	if res, _ := db.Tier().DLQ().RunOnce(bg); res.Attempted != 0 || res.Deferred == 0 {
		t.Fatalf("a DLQ run with the breaker open: %+v", res)
	}
	if got := fs.Calls(tier.OpAny); got != calls {
		t.Fatalf("%d calls reached the store while the breaker was open", got-calls)
	}
	pending, _ := db.Meta().ListDLQ(bg, meta.DLQFilter{Status: meta.DLQPending}, 0, 100)
	if len(pending) == 0 {
		t.Fatal("the DLQ is empty during the outage")
	}
	for _, e := range pending {
		if _, err := os.Stat(e.LocalFile); err != nil {
			t.Fatalf("the file of queued upload %s is gone: %v", e.ObjectKey, err)
		}
	}
	clock.Advance(time.Minute)
	st, _ := db.Tier().Status(bg)
	var maxLag time.Duration
	for _, c := range st.Collections {
		if c.ShippedSeq >= c.DurableSeq || c.ShipLag < time.Minute || c.OldestUnshippedAt.IsZero() {
			t.Fatalf("%s during the outage: shipped %d of %d, ship lag %v", c.Name, c.ShippedSeq, c.DurableSeq, c.ShipLag)
		}
		maxLag = max(maxLag, c.ShipLag)
	}
	// What a metrics scrape reads agrees with the status.
	if tot, err := db.Tier().Totals(bg); err != nil || tot.Store != st.Store || tot.Breaker != st.Breaker.State || tot.ShipLag != maxLag || !slices.Equal(tot.DLQ, st.DLQ) || len(tot.DLQ) == 0 {
		t.Fatalf("totals during the outage: %+v, %v (status: breaker %v, largest lag %v, dlq %+v)", tot, err, st.Breaker.State, maxLag, st.DLQ)
	}

	// MinIO comes back, and is killed again in the middle of the half-open
	// probe's upload: the breaker opens again for twice the cool-down, and
	// no entry is counted as a failed retry (the store is down, the
	// entries are not bad).
	counts := map[int64]int{}
	for _, e := range pending {
		counts[e.ID] = e.RetryCount
	}
	srv.Restart()
	clock.Advance(bst.Cooldown)
	if db.Tier().Breaker().State() != tier.BreakerHalfOpen {
		t.Fatalf("after the cool-down: %v", db.Tier().Breaker().State())
	}
	killed.Store(false)
	fs.OnPutProgress(func(key string, sent int64) {
		if sent > 0 && killed.CompareAndSwap(false, true) {
			srv.Kill()
		}
	})
	if _, err := db.Tier().DLQ().RunOnce(bg); err != nil {
		t.Fatal(err)
	}
	fs.OnPutProgress(nil)
	if !killed.Load() {
		t.Fatal("the half-open probe uploaded nothing: MinIO was not killed under it")
	}
	probe := db.Tier().Breaker().Status()
	if probe.State != tier.BreakerOpen || probe.Opens != 2 || probe.Cooldown != 2*bst.Cooldown {
		t.Fatalf("breaker after a probe killed mid-upload: %+v (first opening: %+v)", probe, bst)
	}
	after, _ := db.Meta().ListDLQ(bg, meta.DLQFilter{}, 0, 100)
	for _, e := range after {
		if e.Status != meta.DLQPending || e.RetryCount != counts[e.ID] {
			t.Fatalf("entry %d (%s) after the failed probe: %s, %d retries (was %d)", e.ID, e.ObjectKey, e.Status, e.RetryCount, counts[e.ID])
		}
	}
	write("probe", 100)

	// MinIO is back for good.
	srv.Restart()
	clock.Advance(probe.Cooldown)
	if db.Tier().Breaker().State() != tier.BreakerHalfOpen {
		t.Fatalf("after the second cool-down: %v", db.Tier().Breaker().State())
	}
	for i := 0; ; i++ {
		res, err := db.Tier().DLQ().RunOnce(bg)
		if err != nil {
			t.Fatal(err)
		}
		if left, _ := db.Meta().ListDLQ(bg, meta.DLQFilter{}, 0, 100); len(left) == 0 {
			break
		} else if i == 3 {
			t.Fatalf("the DLQ does not drain: %+v, last run %+v, breaker %+v", left, res, db.Tier().Breaker().Status())
		}
		clock.Advance(time.Hour)
	}
	if s := db.Tier().Breaker().Status(); s.State != tier.BreakerClosed || s.Opens != 2 {
		t.Fatalf("breaker after recovery: %+v", s)
	}
	write("after", 100)
	if err := db.Tier().ShipOnce(bg); err != nil {
		t.Fatal(err)
	}
	st, _ = db.Tier().Status(bg)
	for _, c := range st.Collections {
		if c.ShippedSeq != c.DurableSeq || c.ShipLag != 0 || c.PendingUploads != 0 {
			t.Fatalf("%s after recovery: %+v", c.Name, c)
		}
	}
	if tot, err := db.Tier().Totals(bg); err != nil || tot.Breaker != tier.BreakerClosed || tot.ShipLag != 0 || len(tot.DLQ) != 0 {
		t.Fatalf("totals after recovery: %+v, %v", tot, err)
	}
	for i, name := range []string{"alpha", "beta"} {
		fresh := t.TempDir()
		if _, err := engine.Restore(bg, fresh, engine.Config{}, engine.RestoreOptions{Store: fs.Inner(), Prefix: prefix, Name: name}); err != nil {
			t.Fatal(err)
		}
		rdb := open(t, fresh, engine.Config{})
		rh, _ := rdb.Collection(engine.DefaultTenant, name)
		checkHolds(t, rh, want[i], dim)
		rdb.Close()
	}
}

// The crash test: an akidb process (this test binary, re-run as a child)
// writes and ships with MinIO, and is SIGKILLed while a multipart
// snapshot upload is under way. The restarted process must hold every
// acknowledged write, clean up what the kill left (the unfinished upload,
// staged files nobody queued), and ship everything, so that a restore has
// every acknowledged write too.
const (
	envChild    = "AKIDB_TIER_CRASH_CHILD"
	envDir      = "AKIDB_TIER_CRASH_DIR"
	envEndpoint = "AKIDB_TIER_CRASH_ENDPOINT"
	crashDim    = 512
)

func TestMain(m *testing.M) {
	if os.Getenv(envChild) == "1" {
		os.Exit(crashChild())
	}
	if os.Getenv(envResChild) != "" {
		os.Exit(residencyCrashChild())
	}
	os.Exit(m.Run())
}

func crashStore(endpoint string) (*s3.Store, error) {
	return s3.Open(bg, s3.Config{Endpoint: endpoint, Bucket: "crash", Region: "us-east-1", AccessKey: s3test.AccessKey, SecretKey: s3test.SecretKey,
		PathStyle: true, CreateBucket: true, PartSize: s3.MinPartSize, MaxRetries: 1})
}

// crashChild writes batches and prints "ACK <last id>" after each
// acknowledged one; once 4000 records are in it checkpoints and ships,
// and prints UPLOADING when a snapshot upload is past its first part,
// where it stops (writes go on) until it is killed.
func crashChild() int {
	store, err := crashStore(os.Getenv(envEndpoint))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child store:", err)
		return 2
	}
	fs := tier.NewFaultStore(store)
	var out sync.Mutex
	say := func(format string, args ...any) {
		out.Lock()
		fmt.Printf(format+"\n", args...)
		out.Unlock()
	}
	fs.OnPutProgress(func(key string, sent int64) {
		if strings.HasSuffix(key, ".snap") && sent > 6<<20 {
			say("UPLOADING")
			select {} // hold the upload open until the kill
		}
	})
	db, err := engine.Open(os.Getenv(envDir), tierConfig(fs, nil, nil))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		return 2
	}
	if _, err := db.CreateCollection(bg, engine.DefaultTenant, engine.CollectionConfig{Name: "crash", Dimension: crashDim, Metric: distance.L2, M: 8, EfConstruction: 20, TierPolicy: engine.TierMemoryS3}); err != nil {
		fmt.Fprintln(os.Stderr, "child create:", err)
		return 2
	}
	h, _ := db.Collection(engine.DefaultTenant, "crash")
	for i := 0; ; i += 100 {
		if err := h.Upsert(bg, records("k", i, i+100, crashDim)); err != nil {
			fmt.Fprintln(os.Stderr, "child upsert:", err)
			return 2
		}
		say("ACK k-%d", i+99)
		if i+100 == 4000 {
			if err := h.Checkpoint(); err != nil {
				fmt.Fprintln(os.Stderr, "child checkpoint:", err)
				return 2
			}
			go func() { _ = db.Tier().ShipOnce(bg) }()
		}
	}
}

func TestSIGKILLDuringUploadLosesNothingAndLeavesNoOrphans(t *testing.T) {
	srv := s3test.Start(t)
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"=1", envDir+"="+dir, envEndpoint+"="+srv.Endpoint())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := 0
	uploading, afterUpload := false, 0
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "UPLOADING":
			uploading = true
		case strings.HasPrefix(line, "ACK k-"):
			var n int
			fmt.Sscanf(line, "ACK k-%d", &n)
			acked = n + 1
			if uploading {
				afterUpload++
			}
		}
		if uploading && afterUpload >= 3 {
			break
		}
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	if !uploading {
		t.Fatalf("the child never reached the upload; stderr:\n%s", stderr.String())
	}
	store, err := crashStore(srv.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	ups, _ := store.ListIncompleteUploads(bg, prefix)
	if len(ups) == 0 {
		t.Fatal("the kill left no unfinished upload: the test did not kill mid-upload")
	}

	db := open(t, dir, tierConfig(store, nil, nil))
	h, err := db.Collection(engine.DefaultTenant, "crash")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for i := range acked {
		want[fmt.Sprintf("k-%d", i)] = true
	}
	if h.Count() < acked {
		t.Fatalf("%d records after the restart, %d were acknowledged", h.Count(), acked)
	}
	for id := range want {
		if _, err := h.Get(id); err != nil {
			t.Fatalf("acknowledged record %s lost: %v", id, err)
		}
	}
	if err := db.Tier().ShipOnce(bg); err != nil {
		t.Fatal(err)
	}
	if ups, _ := store.ListIncompleteUploads(bg, prefix); len(ups) != 0 {
		t.Fatalf("unfinished uploads after the restart's first pass: %+v", ups)
	}
	staged, _ := os.ReadDir(filepath.Join(dir, "collections", h.Info().ID, "tier", "staging"))
	if len(staged) != 0 {
		t.Fatalf("staged files left after a clean pass: %v", staged)
	}
	count := h.Count()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	fresh := t.TempDir()
	res, err := engine.Restore(bg, fresh, engine.Config{}, engine.RestoreOptions{Store: store, Prefix: prefix, Name: "crash"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != count {
		t.Fatalf("restored %d records, the collection had %d", res.Records, count)
	}
	rdb := open(t, fresh, engine.Config{})
	defer rdb.Close()
	rh, _ := rdb.Collection(engine.DefaultTenant, "crash")
	ids := make([]string, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if _, err := rh.Get(id); err != nil {
			t.Fatalf("acknowledged record %s missing after the restore: %v", id, err)
		}
	}
}
