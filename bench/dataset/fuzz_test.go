package dataset

import (
	"bytes"
	"math"
	"testing"
)

func FuzzReadFvecs(f *testing.F) {
	f1 := int32(math.Float32bits(1.5))
	f.Add(rawVecs([]int32{2, f1, f1}, []int32{2, 0, -1}))
	f.Add(rawVecs([]int32{1, f1}))
	f.Add(rawVecs([]int32{2, f1, f1}, []int32{3, 0, 0, 0}))
	f.Add(rawVecs([]int32{2, f1, f1}, []int32{2, 0})) // truncated
	f.Add(rawVecs([]int32{-1}))
	f.Add(rawVecs([]int32{MaxDim + 1, 0}))
	f.Add(rawVecs([]int32{0x7fffffff}))
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeFvecs(bytes.NewReader(data), int64(len(data)), 0)
		if err != nil {
			if m.N != 0 || m.Data != nil {
				t.Fatalf("error %v returned with data", err)
			}
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatal(err)
		}
		if m.N < 1 || m.Dim < 1 || m.Dim > MaxDim {
			t.Fatalf("accepted shape %dx%d", m.N, m.Dim)
		}
		// A file that decodes re-encodes to the same bytes.
		var buf bytes.Buffer
		if err := WriteFvecs(&buf, m); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), data) {
			t.Fatalf("round trip changed %d bytes into %d", len(data), buf.Len())
		}
		// A limited read is a prefix of the full one.
		h, err := DecodeFvecs(bytes.NewReader(data), int64(len(data)), 1)
		if err != nil || h.N != 1 || !equalF32(h.Data, m.Data[:m.Dim]) {
			t.Fatalf("maxRows=1: N=%d err=%v", h.N, err)
		}
	})
}

func FuzzDecodeIDX(f *testing.F) {
	pix := []byte{0, 1, 2, 3, 4, 5, 6, 7}
	f.Add(idxBytes(0x803, 2, 2, 2, pix))
	f.Add(idxBytes(0x803, 3, 2, 2, pix))
	f.Add(idxBytes(0x801, 2, 2, 2, pix))
	f.Add(idxBytes(0x803, 0xffffffff, 0xffff, 0xffff, pix))
	f.Add(gzipBytesF(idxBytes(0x803, 2, 2, 2, pix)))
	f.Add([]byte{0x1f, 0x8b, 8, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeIDX(bytes.NewReader(data), int64(len(data)), 0)
		if err != nil {
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatal(err)
		}
		if m.N < 1 || m.Dim < 1 || m.Dim > MaxDim {
			t.Fatalf("accepted shape %dx%d", m.N, m.Dim)
		}
		for i, v := range m.Data {
			if v < 0 || v > 255 || v != float32(int(v)) {
				t.Fatalf("value %d = %v is not a byte", i, v)
			}
		}
	})
}
