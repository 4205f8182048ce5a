package wal

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

func TestChunkRoundTrip(t *testing.T) {
	var b bytes.Buffer
	cw, err := NewChunkWriter(&b, 41)
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint64(41); seq <= 45; seq++ {
		if err := cw.Append(seq, byte(seq), bytes.Repeat([]byte{byte(seq)}, int(seq))); err != nil {
			t.Fatal(err)
		}
	}
	if err := cw.Append(47, 1, nil); !errors.Is(err, ErrBadChunk) {
		t.Fatalf("a gap: %v", err)
	}
	if cw.Size() != int64(b.Len()) || cw.LastSeq() != 45 {
		t.Fatalf("size %d (buffer %d), last %d", cw.Size(), b.Len(), cw.LastSeq())
	}
	var got []string
	first, last, err := ReadChunk(bytes.NewReader(b.Bytes()), func(seq uint64, typ byte, p []byte) error {
		got = append(got, fmt.Sprintf("%d/%d/%d", seq, typ, len(p)))
		return nil
	})
	if err != nil || first != 41 || last != 45 || fmt.Sprint(got) != "[41/41/41 42/42/42 43/43/43 44/44/44 45/45/45]" {
		t.Fatalf("read: %d..%d %v %v", first, last, got, err)
	}
	// Every cut and every flipped byte is refused, never read as less.
	data := b.Bytes()
	for cut := 1; cut < len(data); cut++ {
		n := 0
		_, last, err := ReadChunk(bytes.NewReader(data[:cut]), func(uint64, byte, []byte) error { n++; return nil })
		boundary := err == nil
		if !boundary && !errors.Is(err, ErrBadChunk) {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		if boundary && uint64(n) != last-40 {
			t.Fatalf("cut at %d: %d records, last %d", cut, n, last)
		}
	}
	for i := 0; i < len(data); i += 7 {
		bad := bytes.Clone(data)
		bad[i] ^= 0x40
		if _, _, err := ReadChunk(bytes.NewReader(bad), func(uint64, byte, []byte) error { return nil }); !errors.Is(err, ErrBadChunk) {
			t.Fatalf("byte %d flipped: %v", i, err)
		}
	}
	// An empty chunk is a header only.
	var e bytes.Buffer
	if _, err := NewChunkWriter(&e, 9); err != nil {
		t.Fatal(err)
	}
	if first, last, err := ReadChunk(&e, nil); err != nil || first != 9 || last != 8 {
		t.Fatalf("empty chunk: %d %d %v", first, last, err)
	}
}
