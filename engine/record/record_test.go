package record

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func sampleUpsert() Upsert {
	return Upsert{
		Dim:      3,
		IDs:      []string{"a", strings.Repeat("x", MaxIDBytes), "ü"},
		Vectors:  []float32{1, 2, 3, -1, 0.5, 1e30, 0, 0, 0},
		Metadata: [][]byte{[]byte(`{"k":1}`), nil, []byte(`{}`)},
	}
}

func TestUpsertRoundTrip(t *testing.T) {
	u := sampleUpsert()
	b, err := EncodeUpsert(nil, u)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeUpsert(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, u) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, u)
	}
}

func TestDeleteRoundTrip(t *testing.T) {
	d := Delete{IDs: []string{"a", "bb", strings.Repeat("z", 256)}}
	b, err := EncodeDelete(nil, d)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeDelete(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, d) {
		t.Fatalf("got %+v want %+v", got, d)
	}
}

func TestEncodeRefusesBadInput(t *testing.T) {
	u := sampleUpsert()
	u.IDs[0] = ""
	if _, err := EncodeUpsert(nil, u); err == nil {
		t.Fatal("empty id accepted")
	}
	u = sampleUpsert()
	u.Vectors = u.Vectors[:5]
	if _, err := EncodeUpsert(nil, u); err == nil {
		t.Fatal("short vectors accepted")
	}
	u = sampleUpsert()
	u.Metadata[0] = make([]byte, MaxMetadataBytes+1)
	if _, err := EncodeUpsert(nil, u); err == nil {
		t.Fatal("oversized metadata accepted")
	}
	if _, err := EncodeDelete(nil, Delete{IDs: []string{strings.Repeat("a", 257)}}); err == nil {
		t.Fatal("oversized id accepted")
	}
}

// Every truncation and every single-byte change of a valid record either
// decodes to something or fails with ErrCorrupt; never a panic.
func TestDecodeTruncatedAndFlipped(t *testing.T) {
	b, _ := EncodeUpsert(nil, sampleUpsert())
	for i := 0; i < len(b); i++ {
		if _, err := DecodeUpsert(b[:i]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated at %d: err %v, want ErrCorrupt", i, err)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < len(b); i++ {
		c := append([]byte(nil), b...)
		c[i] ^= byte(1 + rng.IntN(255))
		_, err := DecodeUpsert(c)
		if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("flip at %d: unexpected error type %v", i, err)
		}
	}
	d, _ := EncodeDelete(nil, Delete{IDs: []string{"a", "b"}})
	for i := 0; i < len(d); i++ {
		if _, err := DecodeDelete(d[:i]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("delete truncated at %d: err %v", i, err)
		}
	}
	if _, err := DecodeDelete(append(d, 0)); !errors.Is(err, ErrCorrupt) {
		t.Fatal("trailing byte accepted")
	}
}

func TestDecodeHugeCountsDoNotAllocate(t *testing.T) {
	// dim 1, count 2^32-1 in 8 bytes: must fail before allocating.
	b := []byte{1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 10 {
		if _, err := DecodeUpsert(b); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("lying upsert count: %v", err)
		}
	}
	runtime.ReadMemStats(&after)
	// Only the error values: a count honoured would be 4 GiB * 4 floats.
	if got := after.TotalAlloc - before.TotalAlloc; got > 64<<10 {
		t.Fatalf("%d bytes allocated decoding a lying count", got)
	}
	if _, err := DecodeDelete([]byte{0xff, 0xff, 0xff, 0x7f}); !errors.Is(err, ErrCorrupt) {
		t.Fatal("lying delete count accepted")
	}
}

func FuzzDecode(f *testing.F) {
	u, _ := EncodeUpsert(nil, sampleUpsert())
	d, _ := EncodeDelete(nil, Delete{IDs: []string{"a", "bc"}})
	f.Add(u)
	f.Add(d)
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		if up, err := DecodeUpsert(b); err == nil {
			again, err := EncodeUpsert(nil, up)
			if err != nil {
				t.Fatalf("decoded upsert does not re-encode: %v", err)
			}
			if string(again) != string(b) {
				t.Fatal("upsert re-encoding differs")
			}
		}
		if del, err := DecodeDelete(b); err == nil {
			again, err := EncodeDelete(nil, del)
			if err != nil || string(again) != string(b) {
				t.Fatalf("delete re-encoding differs: %v", err)
			}
		}
	})
}
