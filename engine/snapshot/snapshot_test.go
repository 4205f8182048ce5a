package snapshot

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/akidb/akidb/engine/wal"
)

var osfs = wal.OSFS{}

func payload(n int) []byte {
	b := make([]byte, n)
	rng := rand.New(rand.NewPCG(uint64(n), 9))
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	return b
}

func writeSnap(t *testing.T, dir string, seq uint64, data []byte) string {
	t.Helper()
	w, err := Create(osfs, dir, seq)
	if err != nil {
		t.Fatal(err)
	}
	// Odd-sized writes exercise chunk boundaries.
	for p := data; len(p) > 0; {
		n := min(len(p), 77777)
		if _, err := w.Write(p[:n]); err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, FileName(seq))
}

func readAll(t *testing.T, path string) ([]byte, error) {
	t.Helper()
	r, err := OpenFile(osfs, path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return b, r.Finish()
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{0, 1, MaxChunk - 1, MaxChunk, MaxChunk + 1, 3*MaxChunk + 12345} {
		data := payload(n)
		path := writeSnap(t, dir, uint64(n+1), data)
		got, err := readAll(t, path)
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("n=%d: payload differs", n)
		}
		seq, total, err := Verify(osfs, path)
		if err != nil || seq != uint64(n+1) || total != uint64(n) {
			t.Fatalf("verify n=%d: seq %d total %d err %v", n, seq, total, err)
		}
	}
	seqs, err := List(osfs, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(seqs) != 6 || seqs[0] != 3*MaxChunk+12346 || seqs[5] != 1 {
		t.Fatalf("list %v", seqs)
	}
	if fi, _ := os.Stat(filepath.Join(dir, FileName(1))); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
}

func TestFinishDetectsUnreadOrMissingPayload(t *testing.T) {
	dir := t.TempDir()
	path := writeSnap(t, dir, 5, payload(1000))
	r, err := OpenFile(osfs, path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	buf := make([]byte, 10)
	if _, err := io.ReadFull(r, buf); err != nil {
		t.Fatal(err)
	}
	var ce *CorruptError
	if err := r.Finish(); !errors.As(err, &ce) {
		t.Fatalf("finish with unread payload: %v", err)
	}
}

// Every truncation and every byte flip is refused with a CorruptError.
func TestTruncationAndCorruptionRefused(t *testing.T) {
	dir := t.TempDir()
	data := payload(3000)
	path := writeSnap(t, dir, 9, data)
	whole, _ := os.ReadFile(path)
	check := func(what string, b []byte) {
		t.Helper()
		// The header names seq 9; give the file a matching name.
		p := filepath.Join(t.TempDir(), FileName(9))
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := readAll(t, p)
		var ce *CorruptError
		if !errors.As(err, &ce) {
			t.Fatalf("%s: err %v, want CorruptError", what, err)
		}
		if ce.Path != p {
			t.Fatalf("%s: error names %s", what, ce.Path)
		}
	}
	for cut := 0; cut < len(whole); cut += 1 + cut/50 {
		check("truncated", whole[:cut])
	}
	check("truncated by one", whole[:len(whole)-1])
	for i := 0; i < len(whole); i += 1 + i/40 {
		b := append([]byte(nil), whole...)
		b[i] ^= 0x40
		check("flipped", b)
	}
	check("trailing garbage", append(append([]byte(nil), whole...), 0))
}

func TestRenamedFileRefused(t *testing.T) {
	dir := t.TempDir()
	path := writeSnap(t, dir, 9, payload(10))
	other := filepath.Join(dir, FileName(11))
	if err := os.Rename(path, other); err != nil {
		t.Fatal(err)
	}
	if _, err := readAll(t, other); err == nil {
		t.Fatal("a snapshot under another sequence number's name was accepted")
	}
}

func TestAbortAndTempsLeaveNothing(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(osfs, dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(payload(100)); err != nil {
		t.Fatal(err)
	}
	w.Abort()
	// A crash mid-write leaves a temp file: List ignores it, RemoveTemps removes it.
	w2, err := Create(osfs, dir, 4)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w2.Write(payload(100)); err != nil {
		t.Fatal(err)
	}
	if seqs, _ := List(osfs, dir); len(seqs) != 0 {
		t.Fatalf("unfinished snapshot listed: %v", seqs)
	}
	if err := RemoveTemps(osfs, dir); err != nil {
		t.Fatal(err)
	}
	names, _ := osfs.ReadDir(dir)
	if len(names) != 0 {
		t.Fatalf("left behind: %v", names)
	}
	if seqs, err := List(osfs, filepath.Join(dir, "missing")); err != nil || seqs != nil {
		t.Fatalf("missing dir: %v %v", seqs, err)
	}
}

func FuzzReader(f *testing.F) {
	dir := f.TempDir()
	w, _ := Create(osfs, dir, 1)
	_, _ = w.Write([]byte("hello snapshot"))
	_ = w.Commit()
	good, _ := os.ReadFile(filepath.Join(dir, FileName(1)))
	f.Add(good)
	f.Add(good[:40])
	f.Add([]byte("AKIDBSNP"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), FileName(1))
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		_, _ = readAll(t, p)
	})
}
