package tier

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/akidb/akidb/engine/wal"
)

// The tier's files go through the engine's filesystem (wal.FS, Config.FS):
// the same fsync and directory helpers as the log and the snapshots, and,
// in tests, the same in-memory filesystem that a power cut is simulated
// on. wal.File reads and writes at offsets; these adapt it to io.

// fileReader reads a wal.File from its start to its end.
type fileReader struct {
	f   wal.File
	off int64
}

func (r *fileReader) Read(p []byte) (int, error) {
	n, err := r.f.ReadAt(p, r.off)
	r.off += int64(n)
	if errors.Is(err, io.EOF) && n > 0 {
		err = nil // the next Read says EOF
	}
	return n, err
}

// NewFileWriter writes f from its start on, as an io.Writer (the engine
// writes its Parquet exports into the staging directory with it).
func NewFileWriter(f wal.File) io.Writer { return &fileWriter{f: f} }

// fileWriter writes a wal.File from offset 0 on.
type fileWriter struct {
	f   wal.File
	off int64
}

func (w *fileWriter) Write(p []byte) (int, error) {
	n, err := w.f.WriteAt(p, w.off)
	w.off += int64(n)
	return n, err
}

// readAll reads a whole file of at most limit bytes.
func readAll(fsys wal.FS, path string, limit int64) ([]byte, error) {
	f, err := fsys.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(&fileReader{f: f}, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("read %s: more than %d bytes", path, limit)
	}
	return b, nil
}
