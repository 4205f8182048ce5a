package mapped

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"unsafe"
)

func open(t *testing.T, opts Options) *Arena {
	t.Helper()
	a, err := Open(filepath.Join(t.TempDir(), "mapped"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

func aligned(b []byte) bool { return uintptr(unsafe.Pointer(unsafe.SliceData(b)))%Align == 0 }

func TestFreeReusesZeroed(t *testing.T) {
	a := open(t, Options{SegmentBytes: 64 << 10})
	b := a.Alloc(1000)
	for i := range b {
		b[i] = 0xff
	}
	before := a.Stats()
	a.Free(b)
	if got := a.Stats().InUseBytes; runtime.GOOS == "linux" && got != before.InUseBytes-roundUpInt(1000) {
		t.Fatalf("in use %d after free, want %d", got, before.InUseBytes-roundUpInt(1000))
	}
	c := a.Alloc(1000)
	if runtime.GOOS == "linux" && unsafe.SliceData(c) != unsafe.SliceData(b) {
		t.Fatal("a freed region of the same size was not reused")
	}
	for _, x := range c {
		if x != 0 {
			t.Fatal("a reused region is not zeroed")
		}
	}
}

func roundUpInt(n int) int64 { return int64(roundUp(n)) }

// TestFallbackToHeap: a filesystem that cannot reserve the blocks (ENOSPC,
// or no fallocate) makes regions come from the heap, counted and logged
// once, and usable like any other.
func TestFallbackToHeap(t *testing.T) {
	for _, cause := range []error{syscall.ENOSPC, syscall.EOPNOTSUPP} {
		t.Run(cause.Error(), func(t *testing.T) {
			var logged bytes.Buffer
			calls := 0
			a := open(t, Options{
				SegmentBytes: 64 << 10,
				Logger:       slog.New(slog.NewTextHandler(&logged, nil)),
				Fallocate: func(*os.File, int64) error {
					calls++
					return cause
				},
			})
			var regions [][]byte
			for i := 0; i < 5; i++ {
				b := a.Alloc(3000)
				if len(b) != 3000 || !aligned(b) {
					t.Fatalf("fallback region: len %d aligned %v", len(b), aligned(b))
				}
				for j := range b {
					b[j] = byte(i)
				}
				regions = append(regions, b)
			}
			for i, b := range regions {
				if b[0] != byte(i) || b[2999] != byte(i) {
					t.Fatalf("fallback region %d overwritten", i)
				}
			}
			st := a.Stats()
			if st.Fallbacks != 5 || st.HeapBytes != 5*roundUpInt(3000) || st.MappedBytes != 0 || st.Segments != 0 {
				t.Fatalf("stats %+v", st)
			}
			if calls != 5 {
				t.Fatalf("fallocate called %d times, want 5 (each Alloc tries again)", calls)
			}
			if n := bytes.Count(logged.Bytes(), []byte("using the heap")); n != 1 {
				t.Fatalf("logged %d warnings, want 1:\n%s", n, logged.String())
			}
			if !bytes.Contains(logged.Bytes(), []byte(cause.Error())) {
				t.Fatalf("the warning does not name the cause: %s", logged.String())
			}
			ents, _ := os.ReadDir(a.Dir())
			if len(ents) != 0 {
				t.Fatalf("failed segments left files: %v", ents)
			}
			a.Free(regions[0])
			if got := a.Stats().HeapBytes; got != 4*roundUpInt(3000) {
				t.Fatalf("heap bytes %d after freeing a heap region", got)
			}
		})
	}
}

func TestOpenEmptiesAndCloseRemoves(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mapped")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "seg-000000")
	if err := os.WriteFile(stale, []byte("left by a crashed process"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale segment survived Open: %v", err)
	}
	// Only segment files go: a directory given by mistake loses nothing.
	other := filepath.Join(t.TempDir(), "precious")
	if err := os.MkdirAll(other, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "data"), []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	o, err := Open(other, Options{})
	if err != nil {
		t.Fatal(err)
	}
	o.Alloc(10)[0] = 1
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if raw, err := os.ReadFile(filepath.Join(other, "data")); err != nil || string(raw) != "keep" {
		t.Fatalf("a file that is not a segment was touched: %q %v", raw, err)
	}
	if ents, _ := os.ReadDir(other); len(ents) != 1 {
		t.Fatalf("left in the directory: %v", ents)
	}
	b := a.Alloc(100)
	b[0] = 1
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("directory survived Close: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	// After Close regions come from the heap (a late allocation does not
	// bring the directory back or fail).
	if c := a.Alloc(100); len(c) != 100 {
		t.Fatal("alloc after close")
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("alloc after close made the directory again")
	}
}

// TestConcurrentAllocFree runs allocations and frees from many goroutines
// (run with -race): regions never overlap while held.
func TestConcurrentAllocFree(t *testing.T) {
	a := open(t, Options{SegmentBytes: 32 << 10})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var held [][]byte
			for i := 0; i < 300; i++ {
				b := a.Alloc(64 * (1 + i%5))
				for j := range b {
					b[j] = byte(w)
				}
				held = append(held, b)
				if len(held) > 10 {
					old := held[0]
					held = held[1:]
					for _, x := range old {
						if x != byte(w) {
							errs <- errors.New("a held region was handed to another goroutine")
							return
						}
					}
					a.Free(old)
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
