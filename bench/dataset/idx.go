package dataset

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// idxImageMagic is the IDX magic for unsigned-byte data with 3 dimensions
// (images x rows x cols), as used by MNIST and Fashion-MNIST image files.
const idxImageMagic = 0x00000803

// ReadIDX reads an MNIST-style IDX image file, gzipped or not, into a matrix
// with one row of rows*cols float32 pixel values (0..255) per image.
// maxRows > 0 reads only the first maxRows images; maxRows <= 0 reads all of
// them and requires the input to end right after the last one.
func ReadIDX(path string, maxRows int) (Matrix, error) {
	var m Matrix
	err := readFile(path, func(r io.Reader, size int64) error {
		var err error
		m, err = DecodeIDX(r, size, maxRows)
		return err
	})
	return m, err
}

// DecodeIDX decodes an IDX image stream from r, which must yield exactly size
// bytes (the compressed size if the stream is gzipped). Gzip is recognised by
// its magic bytes.
func DecodeIDX(r io.Reader, size int64, maxRows int) (Matrix, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	var src io.Reader = br
	compressed := false
	if p, _ := br.Peek(2); len(p) == 2 && p[0] == 0x1f && p[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return Matrix{}, idxReadErr(-1, 0, "gzip header", err)
		}
		defer zr.Close()
		src = zr
		compressed = true
	}

	var hdr [16]byte
	if _, err := io.ReadFull(src, hdr[:]); err != nil {
		return Matrix{}, idxReadErr(-1, 0, "16-byte header", err)
	}
	magic := binary.BigEndian.Uint32(hdr[0:])
	n := uint64(binary.BigEndian.Uint32(hdr[4:]))
	rows := uint64(binary.BigEndian.Uint32(hdr[8:]))
	cols := uint64(binary.BigEndian.Uint32(hdr[12:]))
	if magic != idxImageMagic {
		return Matrix{}, &FormatError{Row: -1, Reason: fmt.Sprintf("wrong IDX magic 0x%08x, want 0x%08x (unsigned-byte images, 3 dimensions)", magic, idxImageMagic)}
	}
	if rows == 0 || cols == 0 || rows*cols > MaxDim {
		return Matrix{}, &FormatError{Row: -1, Offset: 8, Reason: fmt.Sprintf("image size %dx%d out of range (need 1 <= rows*cols <= %d)", rows, cols, MaxDim)}
	}
	if n == 0 {
		return Matrix{}, &FormatError{Row: -1, Offset: 4, Reason: "header says 0 images"}
	}
	dim := int(rows * cols)
	want := n
	limited := maxRows > 0 && uint64(maxRows) < n
	if limited {
		want = uint64(maxRows)
	}

	var data []float32
	if compressed {
		// The decompressed size is unknown until the stream ends, so n is not
		// trusted for allocation: grow as images arrive.
		data = make([]float32, 0, min(want, 4096)*uint64(dim))
	} else {
		payload := size - 16
		if payload < 0 || uint64(payload) != n*uint64(dim) {
			whole := uint64(max(payload, 0)) / uint64(dim)
			reason := fmt.Sprintf("truncated: header says %d images of %d bytes but the file holds %d bytes of pixels (%d whole images)", n, dim, payload, whole)
			if uint64(payload) > n*uint64(dim) {
				reason = fmt.Sprintf("header says %d images of %d bytes but the file holds %d bytes of pixels (%d trailing bytes)", n, dim, payload, uint64(payload)-n*uint64(dim))
			}
			return Matrix{}, &FormatError{Row: int(min(whole, n)), Offset: 16 + int64(min(whole, n))*int64(dim), Reason: reason}
		}
		data = make([]float32, 0, want*uint64(dim))
	}

	img := make([]byte, dim)
	for i := 0; uint64(i) < want; i++ {
		off := 16 + int64(i)*int64(dim)
		if _, err := io.ReadFull(src, img); err != nil {
			return Matrix{}, idxReadErr(i, off, "image", err)
		}
		data = slices.Grow(data, dim)
		for _, b := range img {
			data = append(data, float32(b))
		}
	}
	if !limited {
		var one [1]byte
		k, err := io.ReadFull(src, one[:])
		if k > 0 {
			return Matrix{}, &FormatError{Row: int(n), Offset: 16 + int64(n)*int64(dim), Reason: fmt.Sprintf("trailing data after the %d images the header announces", n)}
		}
		if !errors.Is(err, io.EOF) {
			return Matrix{}, idxReadErr(int(n), 16+int64(n)*int64(dim), "stream end (gzip trailer)", err)
		}
	}
	return Matrix{N: int(want), Dim: dim, Data: data}, nil
}

// idxReadErr classifies a read failure: a short stream or corrupt gzip data is
// a *FormatError, anything else an I/O error.
func idxReadErr(row int, off int64, what string, err error) error {
	var corrupt flate.CorruptInputError
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return &FormatError{Row: row, Offset: off, Reason: fmt.Sprintf("truncated: input ended inside the %s", what)}
	case errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.As(err, &corrupt):
		return &FormatError{Row: row, Offset: off, Reason: fmt.Sprintf("corrupt gzip data in the %s: %v", what, err)}
	}
	return fmt.Errorf("read IDX %s (row %d, offset %d): %w", what, row, off, err)
}
