// Package tiertest is the conformance suite every tier.ObjectStore passes:
// the in-memory store, the fault-injecting wrapper and the MinIO/S3 store
// against a real MinIO server (engine/tier/s3). It is imported by tests
// only.
package tiertest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/akidb/akidb/engine/tier"
)

// Harness says how to make a store and what it needs.
type Harness struct {
	// New returns an empty store (a fresh prefix or bucket is enough).
	New func(t *testing.T) tier.ObjectStore
	// LargeSize is a size that the store uploads in several parts.
	LargeSize int64
	// LeaveIncompleteUpload starts a multipart upload of key in s and
	// leaves it unfinished, as a killed process would.
	LeaveIncompleteUpload func(t *testing.T, s tier.ObjectStore, key string)
}

// Data returns n pseudo-random bytes and their hex SHA-256.
func Data(seed uint64, n int64) ([]byte, string) {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	s := sha256.Sum256(b)
	return b, hex.EncodeToString(s[:])
}

func put(t *testing.T, s tier.ObjectStore, key string, data []byte, sum string) {
	t.Helper()
	if err := s.Put(context.Background(), key, bytes.NewReader(data), int64(len(data)), tier.PutOptions{SHA256: sum}); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func getAll(t *testing.T, s tier.ObjectStore, key string) ([]byte, tier.ObjectInfo) {
	t.Helper()
	rc, info, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return b, info
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	ctx := context.Background()
	t.Run("PutGetHeadRoundTrip", func(t *testing.T) {
		s := h.New(t)
		data, sum := Data(1, 1000)
		put(t, s, "a/b/one.bin", data, sum)
		got, info := getAll(t, s, "a/b/one.bin")
		if !bytes.Equal(got, data) || info.Size != 1000 || info.SHA256 != sum {
			t.Fatalf("get: %d bytes (equal %v), info %+v, want sha %s", len(got), bytes.Equal(got, data), info, sum)
		}
		hi, err := s.Head(ctx, "a/b/one.bin")
		if err != nil || hi.Size != 1000 || hi.SHA256 != sum || hi.Key != "a/b/one.bin" {
			t.Fatalf("head: %+v %v", hi, err)
		}
	})
	t.Run("EmptyObject", func(t *testing.T) {
		s := h.New(t)
		_, sum := Data(0, 0)
		put(t, s, "empty", nil, sum)
		got, info := getAll(t, s, "empty")
		if len(got) != 0 || info.Size != 0 || info.SHA256 != sum {
			t.Fatalf("empty object: %d bytes, %+v", len(got), info)
		}
	})
	t.Run("PutReplaces", func(t *testing.T) {
		s := h.New(t)
		d1, s1 := Data(2, 100)
		d2, s2 := Data(3, 50)
		put(t, s, "k", d1, s1)
		put(t, s, "k", d2, s2)
		got, info := getAll(t, s, "k")
		if !bytes.Equal(got, d2) || info.SHA256 != s2 {
			t.Fatalf("after replacing: %d bytes, sha %s", len(got), info.SHA256)
		}
	})
	t.Run("MissingIsNotFound", func(t *testing.T) {
		s := h.New(t)
		if _, err := s.Head(ctx, "nope"); !errors.Is(err, tier.ErrNotFound) {
			t.Fatalf("head of a missing object: %v, want ErrNotFound", err)
		}
		if _, _, err := s.Get(ctx, "nope"); !errors.Is(err, tier.ErrNotFound) {
			t.Fatalf("get of a missing object: %v, want ErrNotFound", err)
		}
		if err := s.Delete(ctx, "nope"); err != nil {
			t.Fatalf("delete of a missing object: %v", err)
		}
	})
	t.Run("DeleteRemoves", func(t *testing.T) {
		s := h.New(t)
		d, sum := Data(4, 10)
		put(t, s, "x/1", d, sum)
		put(t, s, "x/2", d, sum)
		if err := s.Delete(ctx, "x/1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Head(ctx, "x/1"); !errors.Is(err, tier.ErrNotFound) {
			t.Fatalf("head after delete: %v", err)
		}
		if _, err := s.Head(ctx, "x/2"); err != nil {
			t.Fatalf("the other object: %v", err)
		}
	})
	t.Run("ListByPrefixSorted", func(t *testing.T) {
		s := h.New(t)
		d, sum := Data(5, 7)
		for _, k := range []string{"p/c/3", "p/a/1", "q/1", "p/b/2", "pp/1"} {
			put(t, s, k, d, sum)
		}
		list, err := s.List(ctx, "p/")
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, o := range list {
			keys = append(keys, o.Key)
			if o.Size != 7 {
				t.Errorf("%s: size %d", o.Key, o.Size)
			}
		}
		if fmt.Sprint(keys) != "[p/a/1 p/b/2 p/c/3]" {
			t.Fatalf("list p/: %v", keys)
		}
		if list, err := s.List(ctx, "none/"); err != nil || len(list) != 0 {
			t.Fatalf("list of an empty prefix: %v %v", list, err)
		}
	})
	t.Run("LargeObjectInParts", func(t *testing.T) {
		s := h.New(t)
		data, sum := Data(6, h.LargeSize)
		put(t, s, "big/object", data, sum)
		got, info := getAll(t, s, "big/object")
		if !bytes.Equal(got, data) || info.SHA256 != sum || info.Size != h.LargeSize {
			t.Fatalf("large object: %d bytes (equal %v), %+v", len(got), bytes.Equal(got, data), info)
		}
		if ups, err := s.ListIncompleteUploads(ctx, "big/"); err != nil || len(ups) != 0 {
			t.Fatalf("a finished upload is listed as incomplete: %v %v", ups, err)
		}
	})
	t.Run("WrongChecksumIsRefused", func(t *testing.T) {
		s := h.New(t)
		data, _ := Data(7, 300)
		_, other := Data(8, 300)
		r := tier.NewVerifyingReader(bytes.NewReader(data), 300, other)
		err := s.Put(ctx, "bad", r, 300, tier.PutOptions{SHA256: other})
		if err == nil {
			t.Fatal("a put whose bytes do not match their announced SHA-256 succeeded")
		}
		if _, err := s.Head(ctx, "bad"); !errors.Is(err, tier.ErrNotFound) {
			t.Fatalf("the refused object is visible: %v", err)
		}
	})
	t.Run("CutTransferLeavesNoObject", func(t *testing.T) {
		for _, size := range []int64{300, h.LargeSize} {
			s := h.New(t)
			data, sum := Data(9, size)
			r := io.MultiReader(bytes.NewReader(data[:size/2]), errReader{})
			if err := s.Put(ctx, "cut", r, size, tier.PutOptions{SHA256: sum}); err == nil {
				t.Fatalf("size %d: a put whose transfer broke half-way succeeded", size)
			}
			if _, err := s.Head(ctx, "cut"); !errors.Is(err, tier.ErrNotFound) {
				t.Fatalf("size %d: a half-sent object is visible: %v", size, err)
			}
			if _, err := s.AbortIncompleteUploads(ctx, ""); err != nil {
				t.Fatal(err)
			}
			if ups, err := s.ListIncompleteUploads(ctx, ""); err != nil || len(ups) != 0 {
				t.Fatalf("size %d: uploads left after abort: %v %v", size, ups, err)
			}
		}
	})
	t.Run("AbortIncompleteUploads", func(t *testing.T) {
		s := h.New(t)
		d, sum := Data(10, 20)
		put(t, s, "keep/obj", d, sum)
		h.LeaveIncompleteUpload(t, s, "keep/left-behind")
		h.LeaveIncompleteUpload(t, s, "other/left-behind")
		ups, err := s.ListIncompleteUploads(ctx, "keep/")
		if err != nil || len(ups) != 1 || ups[0].Key != "keep/left-behind" || ups[0].UploadID == "" {
			t.Fatalf("incomplete uploads under keep/: %+v %v", ups, err)
		}
		n, err := s.AbortIncompleteUploads(ctx, "keep/")
		if err != nil || n != 1 {
			t.Fatalf("abort under keep/: %d %v", n, err)
		}
		if ups, _ := s.ListIncompleteUploads(ctx, "keep/"); len(ups) != 0 {
			t.Fatalf("left after abort: %+v", ups)
		}
		if ups, _ := s.ListIncompleteUploads(ctx, "other/"); len(ups) != 1 {
			t.Fatalf("abort under keep/ touched other/: %+v", ups)
		}
		if _, err := s.Head(ctx, "keep/obj"); err != nil {
			t.Fatalf("abort touched a finished object: %v", err)
		}
		if _, err := s.Head(ctx, "keep/left-behind"); !errors.Is(err, tier.ErrNotFound) {
			t.Fatalf("an aborted upload is visible: %v", err)
		}
	})
	t.Run("CancelledContext", func(t *testing.T) {
		s := h.New(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		d, sum := Data(11, 10)
		if err := s.Put(cctx, "c", bytes.NewReader(d), 10, tier.PutOptions{SHA256: sum}); err == nil {
			t.Fatal("put with a cancelled context succeeded")
		}
		if _, err := s.Head(ctx, "c"); !errors.Is(err, tier.ErrNotFound) {
			t.Fatalf("put with a cancelled context left an object: %v", err)
		}
	})
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset (test)") }
