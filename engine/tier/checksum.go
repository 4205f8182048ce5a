package tier

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"

	"github.com/akidb/akidb/engine/wal"
)

// ErrChecksumMismatch: bytes read or stored do not have the SHA-256 they
// were announced with. Shipping treats it as a failed upload; a restore
// refuses the object.
var ErrChecksumMismatch = errors.New("sha-256 mismatch")

// hashFile returns the hex SHA-256 and size of a file.
func hashFile(fsys wal.FS, path string) (sum string, size int64, err error) {
	f, err := fsys.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return "", 0, fmt.Errorf("hash %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(h, &fileReader{f: f}, make([]byte, 1<<20))
	if err != nil {
		return "", 0, fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// VerifyingReader passes r through, hashing what it yields, and at the end
// of the stream checks the count and the SHA-256 against the expected
// ones: a mismatch is returned in place of io.EOF, so an upload fed by it
// fails (and is aborted) instead of completing with other bytes than the
// ones announced, and a download fed by it is refused.
type VerifyingReader struct {
	r      io.Reader
	h      hash.Hash
	n      int64
	size   int64
	sum    string
	failed error
}

// NewVerifyingReader wraps r, which must yield exactly size bytes with
// the hex SHA-256 sum.
func NewVerifyingReader(r io.Reader, size int64, sum string) *VerifyingReader {
	return &VerifyingReader{r: r, h: sha256.New(), size: size, sum: sum}
}

// Read implements io.Reader.
func (v *VerifyingReader) Read(p []byte) (int, error) {
	if v.failed != nil {
		return 0, v.failed
	}
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if v.n > v.size {
		v.failed = fmt.Errorf("%w: more than the %d bytes announced", ErrChecksumMismatch, v.size)
		return n, v.failed
	}
	if errors.Is(err, io.EOF) {
		if got := hex.EncodeToString(v.h.Sum(nil)); v.n != v.size || got != v.sum {
			v.failed = fmt.Errorf("%w: read %d bytes with sha-256 %s, expected %d bytes with %s", ErrChecksumMismatch, v.n, got, v.size, v.sum)
			return n, v.failed
		}
	}
	return n, err
}

// Sum is the hex SHA-256 of the bytes read so far.
func (v *VerifyingReader) Sum() string { return hex.EncodeToString(v.h.Sum(nil)) }
