package dataset

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// WriteFvecs writes m as texmex .fvecs. It refuses what ReadFvecs would
// reject (no rows, dim outside [1, MaxDim]), so every file it writes reads back.
func WriteFvecs(w io.Writer, m Matrix) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("write fvecs: %w", err)
	}
	if err := checkWritable(m.N, m.Dim); err != nil {
		return fmt.Errorf("write fvecs: %w", err)
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	buf := make([]byte, 4+4*m.Dim)
	binary.LittleEndian.PutUint32(buf, uint32(m.Dim))
	for i := 0; i < m.N; i++ {
		for j, v := range m.Row(i) {
			binary.LittleEndian.PutUint32(buf[4+4*j:], math.Float32bits(v))
		}
		if _, err := bw.Write(buf); err != nil {
			return fmt.Errorf("write fvecs row %d: %w", i, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write fvecs: %w", err)
	}
	return nil
}

// WriteIvecs writes rows as texmex .ivecs. All rows must have the same
// length in [1, MaxDim] and there must be at least one row.
func WriteIvecs(w io.Writer, rows [][]int32) error {
	if len(rows) == 0 {
		return fmt.Errorf("write ivecs: no rows")
	}
	dim := len(rows[0])
	if err := checkWritable(len(rows), dim); err != nil {
		return fmt.Errorf("write ivecs: %w", err)
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	buf := make([]byte, 4+4*dim)
	binary.LittleEndian.PutUint32(buf, uint32(dim))
	for i, row := range rows {
		if len(row) != dim {
			return fmt.Errorf("write ivecs row %d: length %d differs from length %d of row 0", i, len(row), dim)
		}
		for j, v := range row {
			binary.LittleEndian.PutUint32(buf[4+4*j:], uint32(v))
		}
		if _, err := bw.Write(buf); err != nil {
			return fmt.Errorf("write ivecs row %d: %w", i, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write ivecs: %w", err)
	}
	return nil
}

func checkWritable(n, dim int) error {
	if n == 0 {
		return fmt.Errorf("no rows")
	}
	if dim < 1 || dim > MaxDim {
		return fmt.Errorf("dim %d out of range [1, %d]", dim, MaxDim)
	}
	return nil
}
