package engine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/engine/tier"
)

// The crash tests re-run this test binary as a child process (selected by
// environment variables in TestMain) that writes to a data directory and
// reports each acknowledged write on stdout; the parent kills it with
// SIGKILL and checks the data directory.
const (
	envChild     = "AKIDB_CRASH_CHILD"
	envDir       = "AKIDB_CRASH_DIR"
	envCycle     = "AKIDB_CRASH_CYCLE"
	envCrashStep = "AKIDB_CRASH_STEP"
	// envCrashQuant: "disk" makes the ingest child's collection int8 with
	// its originals on disk.
	envCrashQuant = "AKIDB_CRASH_QUANT"
	crashDim      = 16
)

func TestMain(m *testing.M) {
	switch os.Getenv(envChild) {
	case "ingest":
		os.Exit(crashIngestChild())
	case "ddl":
		os.Exit(crashDDLChild())
	case "residency":
		os.Exit(crashResidencyChild())
	}
	os.Exit(m.Run())
}

// crashIngestChild upserts and deletes from 4 goroutines until killed,
// printing "U <id>" after each acknowledged upsert and "D <id>" after each
// acknowledged delete.
func crashIngestChild() int {
	dir, cycle := os.Getenv(envDir), os.Getenv(envCycle)
	db, err := Open(dir, Config{CheckpointRecords: 300, SegmentSize: 32 << 10})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		return 2
	}
	if _, err := db.Collection(DefaultTenant, "crash"); err != nil {
		cfg := CollectionConfig{Name: "crash", Dimension: crashDim, Metric: distance.L2, Indexes: map[string]string{"w": "integer"}}
		if os.Getenv(envCrashQuant) == "disk" {
			cfg.Quantization = Quantization{Type: QuantInt8, Originals: OriginalsDisk}
		}
		if _, err := db.CreateCollection(context.Background(), DefaultTenant, cfg); err != nil {
			fmt.Fprintln(os.Stderr, "child create:", err)
			return 2
		}
	}
	h, err := db.Collection(DefaultTenant, "crash")
	if err != nil {
		fmt.Fprintln(os.Stderr, "child collection:", err)
		return 2
	}
	if n, _ := strconv.Atoi(cycle); n%3 == 1 {
		// A payload index declared and built while the writers run, and
		// perhaps killed half built: the next open must build it.
		go func() { _, _ = h.CreateIndex(context.Background(), "b", "keyword") }()
	}
	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex
	report := func(lines []string) {
		mu.Lock()
		defer mu.Unlock()
		for _, l := range lines {
			_, _ = out.WriteString(l + "\n")
		}
		_ = out.Flush()
	}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for b := 0; ; b++ {
				var batch []Record
				n := 1 + (b*7+w)%6
				for i := 0; i < n; i++ {
					id := fmt.Sprintf("c%s-w%d-b%d-%d", cycle, w, b, i)
					batch = append(batch, Record{ID: id, Vector: vectorFor(id, crashDim),
						Metadata: map[string]any{"w": float64(w), "b": strconv.Itoa(b % 5)}})
				}
				if err := h.Upsert(context.Background(), batch); err != nil {
					fmt.Fprintln(os.Stderr, "child upsert:", err)
					os.Exit(3)
				}
				lines := make([]string, len(batch))
				for i, r := range batch {
					lines[i] = "U " + r.ID
				}
				report(lines)
				if b%5 == 4 {
					del := batch[0].ID
					// Announce the delete first: once it is issued the
					// record may be gone even if the ack never arrives.
					report([]string{"d " + del})
					if _, err := h.Delete(context.Background(), []string{del}); err != nil {
						fmt.Fprintln(os.Stderr, "child delete:", err)
						os.Exit(3)
					}
					report([]string{"D " + del})
				}
			}
		}(w)
	}
	wg.Wait()
	return 0
}

func crashCycles() int {
	if s := os.Getenv("AKIDB_CRASH_CYCLES"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n
		}
	}
	return 20
}

// TestCrashKillNeverLosesAcknowledgedWrites kills a writing child with
// SIGKILL at random moments and checks, after every kill, that the data
// directory opens and holds every acknowledged write with its vector and
// none of the acknowledged deletes.
func TestCrashKillNeverLosesAcknowledgedWrites(t *testing.T) {
	runKillCycles(t, "")
}

// TestCrashKillQuantizedOnDisk is the same with an int8 collection whose
// originals are on disk: kills land in training, encoding, the move of
// the vectors to their file, checkpoints that commit it and vacuums that
// compact it, and every acknowledged vector must read back exactly from
// the vectors file.
func TestCrashKillQuantizedOnDisk(t *testing.T) {
	runKillCycles(t, "disk")
}

func runKillCycles(t *testing.T, quantMode string) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(2026, 11))
	// present is the acknowledged state across cycles; an id with a delete
	// in flight ("d" seen, "D" not) is uncertain and not checked.
	present := map[string]bool{}
	uncertain := map[string]bool{}
	apply := func(line string) {
		switch {
		case strings.HasPrefix(line, "U "):
			present[line[2:]] = true
		case strings.HasPrefix(line, "d "):
			uncertain[line[2:]] = true
		case strings.HasPrefix(line, "D "):
			present[line[2:]] = false
			delete(uncertain, line[2:])
		}
	}
	cycles := crashCycles()
	for cycle := 0; cycle < cycles; cycle++ {
		killAfter := 1 + rng.IntN(400) // acknowledgements before the kill
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), envChild+"=ingest", envDir+"="+dir, envCycle+"="+strconv.Itoa(cycle), envCrashQuant+"="+quantMode)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		seen := 0
		for seen < killAfter && sc.Scan() {
			apply(sc.Text())
			seen++
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		// Lines already written before the kill are acknowledgements too.
		for sc.Scan() {
			apply(sc.Text())
		}
		_ = cmd.Wait()
		if seen < killAfter {
			t.Fatalf("cycle %d: child stopped after %d acks: %s", cycle, seen, stderr.String())
		}
		db, err := Open(dir, Config{})
		if err != nil {
			t.Fatalf("cycle %d: reopen after SIGKILL failed: %v", cycle, err)
		}
		h, err := db.Collection(DefaultTenant, "crash")
		if err != nil {
			t.Fatalf("cycle %d: %v", cycle, err)
		}
		for id, want := range present {
			if uncertain[id] {
				continue
			}
			r, err := h.Get(id)
			switch {
			case want && err != nil:
				t.Fatalf("cycle %d: acknowledged %s lost: %v", cycle, id, err)
			case want && !slices.Equal(r.Vector, vectorFor(id, crashDim)):
				t.Fatalf("cycle %d: %s has the wrong vector", cycle, id)
			case !want && err == nil:
				t.Fatalf("cycle %d: acknowledged delete of %s undone", cycle, id)
			}
		}
		if quantMode != "" && cycle == cycles-1 {
			// By now the collection has been trained and its vectors
			// moved to disk, and the checks above read them from there.
			st := h.WaitQuantization()
			if st.State != QuantStateReady || !st.Traversing || !st.OriginalsOnDisk {
				t.Fatalf("after %d cycles (%d records): quantization %+v", cycles, h.Count(), st)
			}
		}
		// Payload indexes are whole and agree with the records.
		for _, in := range h.Indexes() {
			if in.State != "ready" {
				t.Fatalf("cycle %d: index %+v after reopen", cycle, in)
			}
		}
		if err := h.c.CheckIndexes(); err != nil {
			t.Fatalf("cycle %d: %v", cycle, err)
		}
		// Alternate clean closes (checkpoint) with crash-style abandonment.
		if cycle%2 == 0 {
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
		} else {
			if err := db.closeWithoutCheckpoint(); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("%d kill cycles, %d acknowledged ids checked", cycles, len(present))
}

// crashDDLChild creates or drops a collection and dies at the named step.
func crashDDLChild() int {
	dir, step := os.Getenv(envDir), os.Getenv(envCrashStep)
	cfg := Config{crashAt: func(s string) {
		if s == step {
			os.Exit(7) // as abrupt as a kill: no deferred cleanup runs
		}
	}}
	db, err := Open(dir, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		return 2
	}
	if strings.HasPrefix(step, "create:") {
		_, err = db.CreateCollection(context.Background(), DefaultTenant, CollectionConfig{Name: "ddl", Dimension: 4, Metric: distance.L2})
	} else {
		err = db.DropCollection(context.Background(), DefaultTenant, "ddl")
	}
	fmt.Fprintln(os.Stderr, "child: step never reached:", err)
	return 2
}

// TestCrashDuringCreateAndDrop dies at every step of create and drop and
// checks that the next Open leaves no orphan directory and no ghost entry.
func TestCrashDuringCreateAndDrop(t *testing.T) {
	steps := []struct {
		step       string
		existsNext bool // is the collection there after recovery?
	}{
		{"create:row", false},
		{"create:dir", false},
		{"create:opened", false},
		{"create:ready", true},
		{"drop:marked", false},
		{"drop:closing", false},
		{"drop:removed", false},
	}
	for _, s := range steps {
		t.Run(s.step, func(t *testing.T) {
			dir := t.TempDir()
			if strings.HasPrefix(s.step, "drop:") {
				db := openTestDB(t, dir, Config{})
				if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "ddl", Dimension: 4, Metric: distance.L2}); err != nil {
					t.Fatal(err)
				}
				h, _ := db.Collection(DefaultTenant, "ddl")
				if err := h.Upsert(bg, recs("r", 0, 10, 4)); err != nil {
					t.Fatal(err)
				}
				db.Close()
			}
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), envChild+"=ddl", envDir+"="+dir, envCrashStep+"="+s.step)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 7 {
				t.Fatalf("child did not die at %s: %v %s", s.step, err, out)
			}
			db := openTestDB(t, dir, Config{})
			defer db.Close()
			_, err = db.Collection(DefaultTenant, "ddl")
			if s.existsNext != (err == nil) {
				t.Fatalf("after crash at %s: collection exists=%v, want %v", s.step, err == nil, s.existsNext)
			}
			rows, err := db.meta.ListCollections(bg, "")
			if err != nil {
				t.Fatal(err)
			}
			entries, _ := os.ReadDir(filepath.Join(dir, "collections"))
			want := 0
			if s.existsNext {
				want = 1
			}
			if len(rows) != want || len(entries) != want {
				t.Fatalf("after crash at %s: %d catalog rows, %d directories, want %d of each", s.step, len(rows), len(entries), want)
			}
			for _, r := range rows {
				if r.State != meta.StateReady {
					t.Fatalf("row left in state %s", r.State)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "lost+found")); err == nil {
				t.Fatal("recovery moved something to lost+found: the protocol left an orphan")
			}
			// The name is usable again (or still in use) as expected.
			_, err = db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "ddl", Dimension: 4, Metric: distance.L2})
			if s.existsNext != errors.Is(err, ErrAlreadyExists) {
				t.Fatalf("create after recovery: %v", err)
			}
		})
	}
}

// crashResidencyRecords is what the residency crash child writes (all of
// it acknowledged before the step it dies at).
const crashResidencyRecords = 300

// crashResidencyChild writes a tiered collection, then evicts it, loads it
// or switches it to memory, and dies at the named step of that. Its object
// store lives in its memory only, so the restart sees none of it: what the
// local copy holds must be enough (the MinIO tests cover loads from the
// store, engine/tier/s3).
func crashResidencyChild() int {
	dir, step := os.Getenv(envDir), os.Getenv(envCrashStep)
	cfg := residencyConfig(tier.NewMemStore(), nil, 1)
	cfg.Tier.EvictAfter = time.Nanosecond
	cfg.crashAt = func(s string) {
		if s == step {
			os.Exit(7) // as abrupt as a kill: no deferred cleanup runs
		}
	}
	db, err := Open(dir, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		return 2
	}
	policy := TierMemoryS3
	if strings.HasPrefix(step, "policy:") {
		policy = TierS3Only
	}
	if _, err := db.CreateCollection(context.Background(), DefaultTenant, CollectionConfig{Name: "t", Dimension: 8, Metric: distance.Cosine, TierPolicy: policy}); err != nil {
		fmt.Fprintln(os.Stderr, "child create:", err)
		return 2
	}
	h, _ := db.Collection(DefaultTenant, "t")
	for i := 0; i < crashResidencyRecords; i += 50 {
		if err := h.Upsert(context.Background(), recs("r", i, i+50, 8)); err != nil {
			fmt.Fprintln(os.Stderr, "child upsert:", err)
			return 2
		}
		if i == 100 {
			if err := h.Checkpoint(); err != nil {
				fmt.Fprintln(os.Stderr, "child checkpoint:", err)
				return 2
			}
		}
	}
	switch {
	case strings.HasPrefix(step, "evict:"):
		_, err = db.EvictCollection(context.Background(), DefaultTenant, "t")
	case strings.HasPrefix(step, "load:"):
		if _, err = db.EvictCollection(context.Background(), DefaultTenant, "t"); err == nil {
			_, err = h.Get("r-1")
		}
	default:
		if _, err = db.EvictCollection(context.Background(), DefaultTenant, "t"); err == nil {
			_, err = db.SetTierPolicy(context.Background(), DefaultTenant, "t", TierMemory)
		}
	}
	fmt.Fprintln(os.Stderr, "child: step never reached:", err)
	return 2
}

// TestCrashDuringEvictionLoadAndPolicyChange dies at every step of an
// eviction, a load and a switch to memory, and checks that the next start
// cleans up and holds every acknowledged write.
func TestCrashDuringEvictionLoadAndPolicyChange(t *testing.T) {
	for _, step := range []string{"evict:checkpointed", "evict:shipped", "evict:closed", "evict:marked",
		"load:opened", "load:cleared", "policy:checkpointed", "policy:catalog"} {
		t.Run(step, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), envChild+"=residency", envDir+"="+dir, envCrashStep+"="+step)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 7 {
				t.Fatalf("child did not die at %s: %v %s", step, err, out)
			}
			for _, budget := range []int64{1, 0} { // lazy start, then eager
				db := openTestDB(t, dir, residencyConfig(tier.NewMemStore(), nil, budget))
				h, err := db.Collection(DefaultTenant, "t")
				if err != nil {
					t.Fatal(err)
				}
				for i := range crashResidencyRecords {
					if _, err := h.Get(fmt.Sprintf("r-%d", i)); err != nil {
						t.Fatalf("budget %d: acknowledged r-%d lost: %v", budget, i, err)
					}
				}
				if h.Count() != crashResidencyRecords {
					t.Fatalf("budget %d: %d records", budget, h.Count())
				}
				wantPolicy := TierMemoryS3
				switch step {
				case "policy:checkpointed":
					wantPolicy = TierS3Only
				case "policy:catalog":
					wantPolicy = TierMemory
				}
				if p := h.TierPolicy(); p != wantPolicy {
					t.Fatalf("policy %s after a crash at %s, want %s", p, step, wantPolicy)
				}
				leftovers, _ := filepath.Glob(filepath.Join(dir, "collections", "*", "*.tmp"))
				more, _ := filepath.Glob(filepath.Join(dir, "collections", "*", "snapshots", "*"+downloadSuffix))
				if len(leftovers)+len(more) != 0 {
					t.Fatalf("left behind: %v %v", leftovers, more)
				}
				if err := db.Close(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
