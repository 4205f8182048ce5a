package dataset

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func randomMatrix(rng *rand.Rand, n, dim int) Matrix {
	m := Matrix{N: n, Dim: dim, Data: make([]float32, n*dim)}
	for i := range m.Data {
		m.Data[i] = rng.Float32()*2 - 1
	}
	return m
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// rawVecs builds a texmex file from explicit per-row dims and int32 payloads.
func rawVecs(rows ...[]int32) []byte {
	var b bytes.Buffer
	for _, r := range rows {
		for _, v := range r {
			_ = binary.Write(&b, binary.LittleEndian, v)
		}
	}
	return b.Bytes()
}

func TestFvecsRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, dim := range []int{1, 3, 128, 960} {
		m := randomMatrix(rng, 37, dim)
		m.Data[0] = float32(math.Inf(-1))
		m.Data[len(m.Data)-1] = -0.0
		var buf bytes.Buffer
		if err := WriteFvecs(&buf, m); err != nil {
			t.Fatal(err)
		}
		if want := 37 * (4 + 4*dim); buf.Len() != want {
			t.Fatalf("dim %d: wrote %d bytes, want %d", dim, buf.Len(), want)
		}
		p := writeTemp(t, "x.fvecs", buf.Bytes())
		got, err := ReadFvecs(p, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got.N != m.N || got.Dim != m.Dim || len(got.Data) != len(m.Data) {
			t.Fatalf("dim %d: shape %dx%d (%d values), want %dx%d", dim, got.N, got.Dim, len(got.Data), m.N, m.Dim)
		}
		for i := range m.Data {
			if math.Float32bits(got.Data[i]) != math.Float32bits(m.Data[i]) {
				t.Fatalf("dim %d: value %d = %v, want %v", dim, i, got.Data[i], m.Data[i])
			}
		}
		head, err := ReadFvecs(p, 5)
		if err != nil {
			t.Fatal(err)
		}
		if head.N != 5 || !equalF32(head.Data, m.Data[:5*dim]) {
			t.Fatalf("dim %d: maxRows=5 gave %d rows", dim, head.N)
		}
		all, err := ReadFvecs(p, 1000) // more than the file holds: all rows
		if err != nil || all.N != 37 {
			t.Fatalf("maxRows=1000: N=%d err=%v", all.N, err)
		}
	}
}

func equalF32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func TestIvecsRoundTrip(t *testing.T) {
	rows := [][]int32{{1, 2, 3}, {-1, math.MaxInt32, math.MinInt32}, {0, 0, 7}}
	var buf bytes.Buffer
	if err := WriteIvecs(&buf, rows); err != nil {
		t.Fatal(err)
	}
	p := writeTemp(t, "gt.ivecs", buf.Bytes())
	got, err := ReadIvecs(p, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(rows) {
		t.Fatalf("%d rows, want %d", len(got), len(rows))
	}
	for i := range rows {
		if !slicesEqual(got[i], rows[i]) {
			t.Fatalf("row %d = %v, want %v", i, got[i], rows[i])
		}
		if cap(got[i]) != len(got[i]) {
			t.Fatalf("row %d has spare capacity %d: an append would overwrite the next row", i, cap(got[i]))
		}
	}
}

func slicesEqual(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestBvecs(t *testing.T) {
	var b bytes.Buffer
	for _, row := range [][]byte{{0, 1, 255}, {9, 8, 7}} {
		_ = binary.Write(&b, binary.LittleEndian, int32(3))
		b.Write(row)
	}
	m, err := ReadBvecs(writeTemp(t, "x.bvecs", b.Bytes()), 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{0, 1, 255, 9, 8, 7}
	if m.N != 2 || m.Dim != 3 || !equalF32(m.Data, want) {
		t.Fatalf("got %dx%d %v, want 2x3 %v", m.N, m.Dim, m.Data, want)
	}
	lm, err := Load(writeTemp(t, "y.bvecs", b.Bytes()), 0)
	if err != nil || lm.N != 2 {
		t.Fatalf("Load bvecs: N=%d err=%v", lm.N, err)
	}
}

func TestWritersRefuseUnreadable(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteFvecs(&buf, Matrix{}); err == nil {
		t.Error("WriteFvecs accepted an empty matrix")
	}
	if err := WriteFvecs(&buf, Matrix{N: 2, Dim: 3, Data: make([]float32, 5)}); err == nil {
		t.Error("WriteFvecs accepted a matrix whose Data does not match its shape")
	}
	if err := WriteIvecs(&buf, [][]int32{{1, 2}, {3}}); err == nil || !strings.Contains(err.Error(), "row 1") {
		t.Errorf("WriteIvecs ragged rows: err = %v, want one naming row 1", err)
	}
	if err := WriteIvecs(&buf, [][]int32{{}}); err == nil {
		t.Error("WriteIvecs accepted dim 0")
	}
}

type wantErr struct {
	row    int
	reason string
}

func TestFvecsBadFiles(t *testing.T) {
	f1 := math.Float32bits(1)
	good := rawVecs([]int32{2, int32(f1), int32(f1)}, []int32{2, 0, 0}, []int32{2, 0, 0})
	cases := []struct {
		name    string
		data    []byte
		maxRows int
		want    wantErr
	}{
		{"empty", nil, 0, wantErr{-1, "empty"}},
		{"short header", []byte{2, 0}, 0, wantErr{0, "truncated"}},
		{"dim zero", rawVecs([]int32{0}), 0, wantErr{0, "dim 0 out of range"}},
		{"dim negative", rawVecs([]int32{-5, 1, 2}), 0, wantErr{0, "dim -5 out of range"}},
		{"dim absurd", rawVecs([]int32{70000, 1}), 0, wantErr{0, "dim 70000 out of range"}},
		{"one row cut", rawVecs([]int32{4, 1, 2}), 0, wantErr{0, "truncated"}},
		{"last row cut in body", good[:len(good)-3], 0, wantErr{2, "truncated: last row has 9 of 12 bytes"}},
		{"last row cut in header", good[:len(good)-10], 0, wantErr{2, "truncated: last row has 2 of 12 bytes"}},
		{"inconsistent dim same size", rawVecs([]int32{2, 0, 0}, []int32{1, 0}, []int32{3, 0, 0, 0}), 0, wantErr{1, "dim 1 differs from dim 2 of row 0"}},
		{"inconsistent dim in tail", rawVecs([]int32{2, 0, 0}, []int32{1, 0}), 0, wantErr{1, "dim 1 differs"}},
		{"limited read still checks size", good[:len(good)-3], 1, wantErr{2, "not a multiple"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := writeTemp(t, "bad.fvecs", tc.data)
			_, err := ReadFvecs(p, tc.maxRows)
			checkFormatErr(t, err, p, tc.want)
		})
	}
}

func checkFormatErr(t *testing.T, err error, file string, want wantErr) {
	t.Helper()
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v (%T), want *FormatError", err, err)
	}
	if fe.File != file || fe.Row != want.row || !strings.Contains(fe.Reason, want.reason) {
		t.Fatalf("err = %+v, want file %s row %d reason containing %q", fe, file, want.row, want.reason)
	}
	if !strings.Contains(err.Error(), file) {
		t.Fatalf("message %q does not name the file", err)
	}
}

func TestDecodeSizeMismatch(t *testing.T) {
	data := rawVecs([]int32{1, 5}, []int32{1, 6})
	// Reader shorter than the declared size: truncation at the row it hits.
	_, err := DecodeFvecs(bytes.NewReader(data[:12]), int64(len(data))+8, 0)
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Row != 1 || !strings.Contains(fe.Reason, "truncated") {
		t.Fatalf("short reader: err = %v", err)
	}
	// Reader longer than the declared size.
	_, err = DecodeFvecs(bytes.NewReader(append(data, data...)), int64(len(data)), 0)
	if !errors.As(err, &fe) || !strings.Contains(fe.Reason, "more data") {
		t.Fatalf("long reader: err = %v", err)
	}
	// The I/O error of the underlying reader is wrapped, not dressed up as a format error.
	boom := errors.New("disk on fire")
	_, err = DecodeIvecs(&failingReader{data: data[:6], err: boom}, int64(len(data)), 0)
	if !errors.Is(err, boom) || errors.As(err, &fe) {
		t.Fatalf("I/O error: err = %v", err)
	}
}

type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestReadMissingFile(t *testing.T) {
	_, err := ReadFvecs(filepath.Join(t.TempDir(), "nope.fvecs"), 0)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want ErrNotExist", err)
	}
	if _, err := Load("data.csv", 0); err == nil || !strings.Contains(err.Error(), "unknown format") {
		t.Fatalf("Load csv: err = %v", err)
	}
}

func TestMatrixHelpers(t *testing.T) {
	m, err := NewMatrix(3, 2)
	if err != nil {
		t.Fatal(err)
	}
	copy(m.Data, []float32{3, 4, 0, 0, 1, 0})
	n := m.NormalizedCopy()
	want := []float32{0.6, 0.8, 0, 0, 1, 0}
	for i := range want {
		if math.Abs(float64(n.Data[i]-want[i])) > 1e-6 {
			t.Fatalf("normalized %v, want %v", n.Data, want)
		}
	}
	if m.Data[0] != 3 {
		t.Fatal("NormalizedCopy modified its input")
	}
	if h := m.Head(2); h.N != 2 || len(h.Data) != 4 {
		t.Fatalf("Head(2) = %+v", h)
	}
	if r := m.Row(1); cap(r) != 2 {
		t.Fatalf("Row cap = %d, want 2", cap(r))
	}
	if _, err := NewMatrix(-1, 2); err == nil {
		t.Fatal("NewMatrix(-1, 2) succeeded")
	}
	if err := (Matrix{N: 2, Dim: 2, Data: make([]float32, 3)}).Validate(); err == nil {
		t.Fatal("Validate accepted a short Data")
	}
}
