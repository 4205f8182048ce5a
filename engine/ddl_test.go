package engine

import (
	"errors"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/akidb/akidb/engine/distance"
	"github.com/akidb/akidb/engine/wal"
)

// gate blocks the first filesystem call a FaultFS hook picks until it is
// opened, and tells the test when that call is waiting.
type gate struct {
	once    sync.Once
	reached chan struct{}
	release chan struct{}
}

func newGate() *gate { return &gate{reached: make(chan struct{}), release: make(chan struct{})} }

// hold blocks the caller the first time it is called.
func (g *gate) hold() {
	first := false
	g.once.Do(func() { first = true })
	if !first {
		return
	}
	close(g.reached)
	<-g.release
}

// stepSignal returns a Config.crashAt that closes the returned channel the
// first time the named step is reached.
func stepSignal(step string) (func(string), chan struct{}) {
	ch := make(chan struct{})
	var once sync.Once
	return func(s string) {
		if s == step {
			once.Do(func() { close(ch) })
		}
	}, ch
}

// TestDropWaitsForRunningCheckpoint: a checkpoint that is writing its
// snapshot when the collection is dropped must not recreate the dropped
// directory (or make the drop fail with ENOTEMPTY). The checkpoint is held
// at its mkdir of snapshots/ while the drop starts; it is let go only once
// the drop has finished or has reached the point where it waits for
// running checkpoints.
func TestDropWaitsForRunningCheckpoint(t *testing.T) {
	dir := t.TempDir()
	ff := wal.NewFaultFS(nil)
	atStep, closing := stepSignal("drop:closing")
	db := openTestDB(t, dir, Config{FS: ff, crashAt: atStep})
	defer db.Close()
	if _, err := db.CreateCollection(bg, DefaultTenant, CollectionConfig{Name: "c", Dimension: 4, Metric: distance.L2}); err != nil {
		t.Fatal(err)
	}
	h, _ := db.Collection(DefaultTenant, "c")
	if err := h.Upsert(bg, recs("r", 0, 50, 4)); err != nil {
		t.Fatal(err)
	}
	g := newGate()
	ff.SetHook(func(op wal.Op, path string) {
		if op == wal.OpMkdir && strings.HasSuffix(path, "/snapshots") {
			g.hold()
		}
	})
	ckptErr := make(chan error, 1)
	go func() { ckptErr <- h.Checkpoint() }()
	<-g.reached
	dropErr := make(chan error, 1)
	go func() { dropErr <- db.DropCollection(bg, DefaultTenant, "c") }()
	var derr error
	dropped := false
	select {
	case derr = <-dropErr:
		dropped = true
	case <-closing:
	}
	close(g.release)
	if !dropped {
		derr = <-dropErr
	}
	cerr := <-ckptErr
	if derr != nil {
		t.Fatalf("drop during a checkpoint: %v", derr)
	}
	if cerr != nil && !errors.Is(cerr, ErrClosed) {
		t.Fatalf("the interrupted checkpoint: %v, want nil or ErrClosed", cerr)
	}
	if _, err := os.Stat(h.dir); !errors.Is(err, os.ErrNotExist) {
		entries, _ := os.ReadDir(h.dir)
		t.Fatalf("the dropped collection's directory is on disk after the checkpoint ended (%v): %v", err, entries)
	}
}
