// Package dataset reads and writes the vector files used by the ANN benchmark
// and computes exact ground truth and recall. It imports only the standard
// library so it can be used by any benchmark, test or tool without pulling in
// the engine.
//
// # Formats
//
// texmex .fvecs / .ivecs / .bvecs (http://corpus-texmex.irisa.fr/): a file is a
// sequence of rows, each row
//
//	offset 0  int32 little-endian  dim (number of components in this row)
//	offset 4  dim components       float32 LE (.fvecs), int32 LE (.ivecs), uint8 (.bvecs)
//
// There is no file header and no row count: the count is file size / row size.
// Invariants enforced by the readers (violations are a *FormatError naming the
// file, row, byte offset and reason, never a silent skip):
//
//   - every row has the same dim, and 1 <= dim <= MaxDim;
//   - the file size is an exact multiple of 4+dim*elemSize and is not empty;
//   - the bytes actually present match the size the reader was given
//     (a short read is reported as truncation at the row where it happened).
//
// Allocation is bounded by the input size: the row count is derived from the
// file size, never from data inside the file.
//
// MNIST IDX image files (train-images-idx3-ubyte, optionally gzipped; gzip is
// detected from the magic bytes 1f 8b, not the file name):
//
//	offset 0   uint32 big-endian  magic 0x00000803 (unsigned byte, 3 dimensions)
//	offset 4   uint32 BE          n     (number of images)
//	offset 8   uint32 BE          rows
//	offset 12  uint32 BE          cols
//	offset 16  n*rows*cols bytes  pixels, row-major per image
//
// Each image becomes one row of dim rows*cols with float32 values 0..255.
// Invariants: the magic is exactly 0x00000803, rows and cols are >= 1 and
// rows*cols <= MaxDim, exactly n images follow and nothing follows them (for
// gzip the stream must also end with a valid gzip trailer). Because n cannot
// be checked against the size of a compressed stream up front, the reader
// grows its buffer as images actually arrive instead of trusting n.
//
// # Ground truth and recall
//
// GroundTruth is a parallel brute-force exact top-k; ties in distance are
// broken by the lower row index so the output does not depend on the thread
// count. Recall is the mean over queries of |got[:k] ∩ gt[:k]| / min(k, len(gt)).
package dataset
