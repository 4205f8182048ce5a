package dataset

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// ReadFvecs reads a texmex .fvecs file. maxRows > 0 reads only the first
// maxRows rows (the file size must still be a whole number of rows);
// maxRows <= 0 reads and validates every row.
func ReadFvecs(path string, maxRows int) (Matrix, error) {
	var m Matrix
	err := readFile(path, func(r io.Reader, size int64) error {
		var err error
		m, err = DecodeFvecs(r, size, maxRows)
		return err
	})
	return m, err
}

// DecodeFvecs decodes .fvecs rows from r, which must yield exactly size bytes.
// Allocation is bounded by size. See ReadFvecs for maxRows.
func DecodeFvecs(r io.Reader, size int64, maxRows int) (Matrix, error) {
	var m Matrix
	err := decodeVecs(r, size, 4, maxRows,
		func(n, dim int) { m = Matrix{N: n, Dim: dim, Data: make([]float32, n*dim)} },
		func(i int, body []byte) {
			row := m.Row(i)
			for j := range row {
				row[j] = math.Float32frombits(binary.LittleEndian.Uint32(body[4*j:]))
			}
		})
	if err != nil {
		return Matrix{}, err
	}
	return m, nil
}

// ReadBvecs reads a texmex .bvecs file (uint8 components, as in SIFT1B) into
// float32 values 0..255. maxRows as for ReadFvecs.
func ReadBvecs(path string, maxRows int) (Matrix, error) {
	var m Matrix
	err := readFile(path, func(r io.Reader, size int64) error {
		var err error
		m, err = DecodeBvecs(r, size, maxRows)
		return err
	})
	return m, err
}

// DecodeBvecs decodes .bvecs rows from r, which must yield exactly size bytes.
func DecodeBvecs(r io.Reader, size int64, maxRows int) (Matrix, error) {
	var m Matrix
	err := decodeVecs(r, size, 1, maxRows,
		func(n, dim int) { m = Matrix{N: n, Dim: dim, Data: make([]float32, n*dim)} },
		func(i int, body []byte) {
			row := m.Row(i)
			for j := range row {
				row[j] = float32(body[j])
			}
		})
	if err != nil {
		return Matrix{}, err
	}
	return m, nil
}

// ReadIvecs reads a texmex .ivecs file (typically ground truth: one row of
// neighbour ids per query). The rows share one backing array; each row's
// capacity is its length. maxRows as for ReadFvecs.
func ReadIvecs(path string, maxRows int) ([][]int32, error) {
	var rows [][]int32
	err := readFile(path, func(r io.Reader, size int64) error {
		var err error
		rows, err = DecodeIvecs(r, size, maxRows)
		return err
	})
	return rows, err
}

// DecodeIvecs decodes .ivecs rows from r, which must yield exactly size bytes.
func DecodeIvecs(r io.Reader, size int64, maxRows int) ([][]int32, error) {
	var rows [][]int32
	err := decodeVecs(r, size, 4, maxRows,
		func(n, dim int) {
			flat := make([]int32, n*dim)
			rows = make([][]int32, n)
			for i := range rows {
				rows[i] = flat[i*dim : (i+1)*dim : (i+1)*dim]
			}
		},
		func(i int, body []byte) {
			row := rows[i]
			for j := range row {
				row[j] = int32(binary.LittleEndian.Uint32(body[4*j:]))
			}
		})
	if err != nil {
		return nil, err
	}
	return rows, nil
}

// readFile opens path, hands its reader and size to decode and names the file
// in any *FormatError.
func readFile(path string, decode func(r io.Reader, size int64) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err // *os.PathError already says "open <path>: ..."
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	if err := decode(f, st.Size()); err != nil {
		return withFile(err, path)
	}
	return nil
}

// decodeVecs is the shared texmex row reader. It reads the first row's dim,
// derives the row count from size (so allocation never exceeds what the input
// holds), calls alloc once and put for every row with the row's body bytes
// (without the dim header). Every row's dim must match the first.
func decodeVecs(r io.Reader, size int64, elem, maxRows int, alloc func(n, dim int), put func(i int, body []byte)) error {
	if size <= 0 {
		return &FormatError{Row: -1, Reason: "empty file: no rows"}
	}
	br := bufio.NewReaderSize(r, 1<<20)
	var hdr [4]byte
	if size < 4 {
		return &FormatError{Row: 0, Reason: fmt.Sprintf("truncated: file has %d bytes, a row header needs 4", size)}
	}
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return shortRead(0, 0, "dim header", err)
	}
	d := int32(binary.LittleEndian.Uint32(hdr[:]))
	if d <= 0 || d > MaxDim {
		return &FormatError{Row: 0, Reason: fmt.Sprintf("dim %d out of range [1, %d]", d, MaxDim)}
	}
	dim := int(d)
	rowBytes := int64(4 + dim*elem)
	total := int(size / rowBytes) // whole rows the size allows
	rest := size % rowBytes
	n := total
	limited := maxRows > 0 && maxRows < total
	if limited {
		n = maxRows
		// The rows after maxRows are not read, so at least check the size.
		if rest != 0 {
			return &FormatError{Row: total, Offset: int64(total) * rowBytes,
				Reason: fmt.Sprintf("file size %d is not a multiple of the row size %d (dim %d): last row truncated or dims inconsistent", size, rowBytes, dim)}
		}
	}
	if total == 0 {
		return &FormatError{Row: 0, Reason: fmt.Sprintf("truncated: file has %d bytes, one row of dim %d needs %d", size, dim, rowBytes)}
	}
	alloc(n, dim)

	body := make([]byte, dim*elem)
	for i := 0; i < n; i++ {
		off := int64(i) * rowBytes
		if i > 0 {
			if _, err := io.ReadFull(br, hdr[:]); err != nil {
				return shortRead(i, off, "dim header", err)
			}
			if got := int32(binary.LittleEndian.Uint32(hdr[:])); got != d {
				return &FormatError{Row: i, Offset: off, Reason: fmt.Sprintf("dim %d differs from dim %d of row 0", got, d)}
			}
		}
		if _, err := io.ReadFull(br, body); err != nil {
			return shortRead(i, off, "row body", err)
		}
		put(i, body)
	}
	if limited {
		return nil
	}
	if rest != 0 {
		// A partial row follows the whole ones. Say whether it looks like a
		// row of another dim (inconsistent file) or a cut-off row.
		off := int64(total) * rowBytes
		if rest >= 4 {
			if _, err := io.ReadFull(br, hdr[:]); err != nil {
				return shortRead(total, off, "dim header", err)
			}
			if got := int32(binary.LittleEndian.Uint32(hdr[:])); got != d {
				return &FormatError{Row: total, Offset: off, Reason: fmt.Sprintf("dim %d differs from dim %d of row 0", got, d)}
			}
		}
		return &FormatError{Row: total, Offset: off,
			Reason: fmt.Sprintf("truncated: last row has %d of %d bytes (file size %d is not a multiple of the row size)", rest, rowBytes, size)}
	}
	// The caller promised size bytes; more means the size was wrong.
	if _, err := br.ReadByte(); err == nil {
		return &FormatError{Row: total, Offset: size, Reason: fmt.Sprintf("more data than the declared size %d", size)}
	} else if !errors.Is(err, io.EOF) {
		return fmt.Errorf("read after row %d: %w", total-1, err)
	}
	return nil
}

// shortRead turns a read failure inside a row into a truncation FormatError,
// or wraps a genuine I/O error.
func shortRead(row int, off int64, what string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &FormatError{Row: row, Offset: off, Reason: fmt.Sprintf("truncated: input ended inside the %s", what)}
	}
	return fmt.Errorf("read row %d (offset %d) %s: %w", row, off, what, err)
}
