package wal

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"syscall"
	"testing"
)

func memWrite(t *testing.T, m FS, path string, data []byte, sync bool) File {
	t.Helper()
	f, err := m.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		t.Fatal(err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func memRead(t *testing.T, m FS, path string) ([]byte, bool) {
	t.Helper()
	fi, err := m.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	f, err := m.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, fi.Size())
	if len(b) > 0 {
		if _, err := f.ReadAt(b, 0); err != nil {
			t.Fatal(err)
		}
	}
	return b, true
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestMemFSCrashKeepsOnlyWhatWasSynced walks the durability model: file
// data up to the last fsync, directory entries up to the last directory
// fsync, new directories only once their parent is synced.
func TestMemFSCrashKeepsOnlyWhatWasSynced(t *testing.T) {
	m := NewMemFS()
	mustDo(t, m.MkdirAll("/d", 0o700))
	m.MakeDurable()

	// Synced data in a synced directory survives; later writes do not.
	f := memWrite(t, m, "/d/a", []byte("hello"), true)
	mustDo(t, m.SyncDir("/d"))
	if _, err := f.WriteAt([]byte("HELLO world"), 0); err != nil {
		t.Fatal(err)
	}
	// Synced data whose name was never made durable is lost.
	memWrite(t, m, "/d/b", []byte("orphan"), true)
	// A new directory whose parent was not synced is lost with what it holds,
	// even if the directory itself was synced.
	mustDo(t, m.MkdirAll("/d/sub", 0o700))
	memWrite(t, m, "/d/sub/c", []byte("inside"), true)
	mustDo(t, m.SyncDir("/d/sub"))

	after := m.Crash()
	if got, ok := memRead(t, after, "/d/a"); !ok || string(got) != "hello" {
		t.Fatalf("/d/a after crash = %q %v, want the synced %q", got, ok, "hello")
	}
	if _, ok := memRead(t, after, "/d/b"); ok {
		t.Fatal("a file whose directory entry was never synced survived the crash")
	}
	if _, err := after.Stat("/d/sub"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a directory whose parent was never synced survived the crash: %v", err)
	}

	// The crashed filesystem and its open files refuse everything.
	if _, err := f.WriteAt([]byte("x"), 0); !errors.Is(err, ErrCrashed) {
		t.Fatalf("write after the crash: %v", err)
	}
	if err := m.SyncDir("/d"); !errors.Is(err, ErrCrashed) {
		t.Fatalf("syncdir after the crash: %v", err)
	}
}

func TestMemFSRenameAndRemoveNeedDirSync(t *testing.T) {
	m := NewMemFS()
	mustDo(t, m.MkdirAll("/d", 0o700))
	memWrite(t, m, "/d/old", []byte("v1"), true).Close()
	memWrite(t, m, "/d/gone", []byte("keep"), true).Close()
	m.MakeDurable()

	// Not synced: both changes are undone by a crash.
	mustDo(t, m.Rename("/d/old", "/d/new"))
	mustDo(t, m.Remove("/d/gone"))
	after := m.Crash()
	if _, ok := memRead(t, after, "/d/new"); ok {
		t.Fatal("an unsynced rename survived")
	}
	if got, ok := memRead(t, after, "/d/old"); !ok || string(got) != "v1" {
		t.Fatalf("old name after crash: %q %v", got, ok)
	}
	if got, ok := memRead(t, after, "/d/gone"); !ok || string(got) != "keep" {
		t.Fatalf("an unsynced remove was not undone: %q %v", got, ok)
	}

	// Synced: both stick.
	mustDo(t, after.Rename("/d/old", "/d/new"))
	mustDo(t, after.Remove("/d/gone"))
	mustDo(t, after.SyncDir("/d"))
	again := after.Crash()
	names, err := again.ReadDir("/d")
	mustDo(t, err)
	if len(names) != 1 || names[0] != "new" {
		t.Fatalf("after synced rename and remove: %v", names)
	}
	if err := again.Remove("/"); err == nil {
		t.Fatal("removed the root")
	}
	mustDo(t, again.MkdirAll("/d/e", 0o700))
	if err := again.Remove("/d"); !errors.Is(err, syscall.ENOTEMPTY) {
		t.Fatalf("remove of a non-empty directory: %v", err)
	}
}

func TestMemFSTruncateAndAllocateAreDurableOnlyAfterSync(t *testing.T) {
	m := NewMemFS()
	mustDo(t, m.MkdirAll("/d", 0o700))
	f := memWrite(t, m, "/d/f", []byte("0123456789"), true)
	m.MakeDurable()
	mustDo(t, f.Truncate(4))
	mustDo(t, f.Allocate(8))
	b := make([]byte, 8)
	if _, err := f.ReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, []byte("0123\x00\x00\x00\x00")) {
		t.Fatalf("after truncate and allocate: %q", b)
	}
	if got, _ := memRead(t, m.Crash(), "/d/f"); string(got) != "0123456789" {
		t.Fatalf("unsynced truncate survived: %q", got)
	}
}

// TestMemFSCapacity: a full disk refuses allocations whole and takes what
// fits of a write, like write(2); freeing space lets growth resume.
func TestMemFSCapacity(t *testing.T) {
	m := NewMemFS()
	m.SetCapacity(100)
	mustDo(t, m.MkdirAll("/d", 0o700))
	f := memWrite(t, m, "/d/f", make([]byte, 60), false)
	if err := f.Allocate(120); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("allocate past capacity: %v", err)
	}
	if fi, _ := f.Stat(); fi.Size() != 60 {
		t.Fatalf("a refused allocate changed the size to %d", fi.Size())
	}
	g := memWrite(t, m, "/d/g", nil, false)
	n, err := g.WriteAt(make([]byte, 50), 0)
	if n != 40 || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write past capacity: %d, %v; want 40 bytes and ENOSPC", n, err)
	}
	if _, err := g.WriteAt([]byte{1}, 40); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write on a full disk: %v", err)
	}
	if m.Used() != 100 {
		t.Fatalf("used %d", m.Used())
	}
	mustDo(t, m.Remove("/d/f"))
	if _, err := g.WriteAt([]byte{1}, 40); err != nil {
		t.Fatalf("write after freeing space: %v", err)
	}
	if m.Used() != 41 {
		t.Fatalf("used %d after remove and write, want 41", m.Used())
	}
}

// TestFaultFSCrashRule: a Crash rule cuts the power just before the Nth
// call of any kind; that call and every later one fail, and AfterCrash has
// the durable state as of the call before.
func TestFaultFSCrashRule(t *testing.T) {
	m := NewMemFS()
	mustDo(t, m.MkdirAll("/d", 0o700))
	m.MakeDurable()
	ff := NewFaultFS(m)
	var seen []Op
	ff.SetHook(func(op Op, _ string) { seen = append(seen, op) })
	ff.AddRule(Rule{Op: OpAny, Nth: 4, Crash: true})
	f := memWrite(t, ff, "/d/a", []byte("one"), true) // open, write, sync
	if err := ff.SyncDir("/d"); !errors.Is(err, ErrCrashed) {
		t.Fatalf("the 4th call: %v, want ErrCrashed", err)
	}
	if _, err := f.WriteAt([]byte("two"), 0); !errors.Is(err, ErrCrashed) {
		t.Fatalf("a call after the crash: %v", err)
	}
	if len(seen) != 5 || seen[3] != OpSyncDir {
		t.Fatalf("hook saw %v", seen)
	}
	after := ff.AfterCrash()
	if after == nil {
		t.Fatal("AfterCrash is nil after the crash rule fired")
	}
	// The file was fsynced but its directory entry never was.
	if _, ok := memRead(t, after, "/d/a"); ok {
		t.Fatal("the file survived without a directory sync")
	}
}
