package dataset

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// idxLabelMagic is the IDX magic for unsigned-byte data with 1 dimension,
// as used by MNIST label files.
const idxLabelMagic = 0x00000801

// ReadIDXLabels reads an MNIST-style IDX label file (train-labels-idx1-ubyte,
// optionally gzipped): one byte per item. maxRows > 0 reads only the first
// maxRows labels; otherwise all of them, and nothing may follow.
func ReadIDXLabels(path string, maxRows int) ([]uint8, error) {
	var out []uint8
	err := readFile(path, func(r io.Reader, _ int64) error {
		var err error
		out, err = DecodeIDXLabels(r, maxRows)
		return err
	})
	return out, err
}

// DecodeIDXLabels decodes an IDX label stream (gzip detected by its magic).
//
//	offset 0  uint32 BE  magic 0x00000801
//	offset 4  uint32 BE  n
//	offset 8  n bytes    labels
func DecodeIDXLabels(r io.Reader, maxRows int) ([]uint8, error) {
	br := bufio.NewReader(r)
	var src io.Reader = br
	if p, _ := br.Peek(2); len(p) == 2 && p[0] == 0x1f && p[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, idxReadErr(-1, 0, "gzip header", err)
		}
		defer zr.Close()
		src = zr
	}
	var hdr [8]byte
	if _, err := io.ReadFull(src, hdr[:]); err != nil {
		return nil, idxReadErr(-1, 0, "8-byte header", err)
	}
	if magic := binary.BigEndian.Uint32(hdr[0:]); magic != idxLabelMagic {
		return nil, &FormatError{Row: -1, Reason: fmt.Sprintf("wrong IDX magic 0x%08x, want 0x%08x (unsigned-byte labels, 1 dimension)", magic, idxLabelMagic)}
	}
	n := int(binary.BigEndian.Uint32(hdr[4:]))
	want := n
	if maxRows > 0 && maxRows < n {
		want = maxRows
	}
	// Read in pieces: n is not trusted for allocation.
	out := make([]uint8, 0, min(want, 1<<16))
	buf := make([]byte, 1<<16)
	for len(out) < want {
		k := min(want-len(out), len(buf))
		if _, err := io.ReadFull(src, buf[:k]); err != nil {
			return nil, idxReadErr(len(out), 8+int64(len(out)), "labels", err)
		}
		out = append(out, buf[:k]...)
	}
	if want == n {
		var one [1]byte
		k, err := io.ReadFull(src, one[:])
		if k > 0 {
			return nil, &FormatError{Row: n, Offset: 8 + int64(n), Reason: fmt.Sprintf("trailing data after the %d labels the header announces", n)}
		}
		if !errors.Is(err, io.EOF) {
			return nil, idxReadErr(n, 8+int64(n), "stream end (gzip trailer)", err)
		}
	}
	return out, nil
}

// MNISTLabelsFor returns the label file beside an MNIST image file:
// train-images-idx3-ubyte.gz -> train-labels-idx1-ubyte.gz.
func MNISTLabelsFor(images string) (string, error) {
	dir, base := filepath.Split(images)
	if !strings.Contains(base, "images-idx3-ubyte") {
		return "", fmt.Errorf("%s is not named like an MNIST image file (*-images-idx3-ubyte[.gz])", images)
	}
	return filepath.Join(dir, strings.Replace(base, "images-idx3-ubyte", "labels-idx1-ubyte", 1)), nil
}
