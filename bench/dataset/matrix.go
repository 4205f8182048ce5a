package dataset

import (
	"fmt"
	"math"
)

// MaxDim is the largest vector dimension the readers accept. Real ANN data
// sets stay far below it (GIST is 960, MNIST 784); anything larger in a header
// is almost certainly a corrupt or misidentified file.
const MaxDim = 65536

// Matrix is N row vectors of Dim float32 components stored contiguously:
// row i is Data[i*Dim:(i+1)*Dim].
type Matrix struct {
	N, Dim int
	Data   []float32
}

// NewMatrix returns a zeroed n x dim matrix.
func NewMatrix(n, dim int) (Matrix, error) {
	if n < 0 || dim < 0 {
		return Matrix{}, fmt.Errorf("new matrix %dx%d: negative size", n, dim)
	}
	if dim > 0 && n > math.MaxInt/dim {
		return Matrix{}, fmt.Errorf("new matrix %dx%d: size overflows", n, dim)
	}
	return Matrix{N: n, Dim: dim, Data: make([]float32, n*dim)}, nil
}

// Row returns row i as a sub-slice of Data (not a copy). Its capacity is
// limited to Dim so an append by the caller cannot overwrite row i+1.
func (m Matrix) Row(i int) []float32 {
	return m.Data[i*m.Dim : (i+1)*m.Dim : (i+1)*m.Dim]
}

// Validate reports whether the shape fields agree with Data.
func (m Matrix) Validate() error {
	if m.N < 0 || m.Dim < 0 {
		return fmt.Errorf("matrix %dx%d: negative size", m.N, m.Dim)
	}
	if m.Dim > 0 && m.N > math.MaxInt/m.Dim {
		return fmt.Errorf("matrix %dx%d: size overflows", m.N, m.Dim)
	}
	if len(m.Data) != m.N*m.Dim {
		return fmt.Errorf("matrix %dx%d: data has %d values, want %d", m.N, m.Dim, len(m.Data), m.N*m.Dim)
	}
	return nil
}

// Head returns the first n rows (all rows if n <= 0 or n >= N), sharing Data.
func (m Matrix) Head(n int) Matrix {
	if n <= 0 || n >= m.N {
		return m
	}
	return Matrix{N: n, Dim: m.Dim, Data: m.Data[: n*m.Dim : n*m.Dim]}
}

// NormalizedCopy returns a copy of m with every row scaled to unit L2 norm.
// All-zero rows stay zero (there is no direction to keep). Used to compute
// cosine ground truth as 1 - dot on unit vectors without touching the caller's
// data.
func (m Matrix) NormalizedCopy() Matrix {
	out := Matrix{N: m.N, Dim: m.Dim, Data: make([]float32, len(m.Data))}
	copy(out.Data, m.Data)
	for i := 0; i < m.N; i++ {
		row := out.Row(i)
		var sum float64
		for _, v := range row {
			sum += float64(v) * float64(v)
		}
		if sum == 0 {
			continue
		}
		inv := 1 / math.Sqrt(sum)
		for j, v := range row {
			row[j] = float32(float64(v) * inv)
		}
	}
	return out
}
