package snapshot

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/akidb/akidb/engine/wal"
)

// Reader streams a snapshot's payload, checking every chunk's CRC before
// handing out its bytes.
type Reader struct {
	path  string
	f     wal.File
	size  int64
	off   int64 // file offset of the next chunk header
	seq   uint64
	chunk []byte // verified payload not yet read
	buf   []byte
	total uint64
	done  bool
}

// Open opens the snapshot for seq in dir and checks its header.
func Open(fsys wal.FS, dir string, seq uint64) (*Reader, error) {
	return OpenFile(fsys, filepath.Join(dir, FileName(seq)))
}

// OpenFile opens a snapshot by path and checks its header.
func OpenFile(fsys wal.FS, path string) (*Reader, error) {
	f, err := fsys.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("open snapshot %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("stat snapshot %s: %w", path, err)
	}
	r := &Reader{path: path, f: f, size: st.Size(), buf: make([]byte, 8+MaxChunk)}
	hdr := make([]byte, headerSize)
	if err := r.readAt(hdr, 0, "header"); err != nil {
		_ = f.Close()
		return nil, err
	}
	switch {
	case string(hdr[:8]) != magic:
		err = r.corrupt(0, "not a snapshot file (bad magic)")
	case binary.LittleEndian.Uint32(hdr[28:]) != crc32.Checksum(hdr[:28], castagnoli):
		err = r.corrupt(0, "header checksum mismatch")
	case binary.LittleEndian.Uint32(hdr[8:]) != version:
		err = r.corrupt(8, fmt.Sprintf("version %d, this binary reads %d", binary.LittleEndian.Uint32(hdr[8:]), version))
	}
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	r.seq = binary.LittleEndian.Uint64(hdr[16:])
	if want := strings.TrimSuffix(filepath.Base(path), suffix); want != fmt.Sprintf("%020d", r.seq) && !strings.HasPrefix(filepath.Base(path), ".") {
		_ = f.Close()
		return nil, r.corrupt(16, fmt.Sprintf("header says sequence %d but the file is named %s", r.seq, filepath.Base(path)))
	}
	r.off = headerSize
	return r, nil
}

// Seq is the log sequence number the snapshot covers.
func (r *Reader) Seq() uint64 { return r.seq }

// Path is the snapshot's file path.
func (r *Reader) Path() string { return r.path }

func (r *Reader) corrupt(off int64, reason string) error {
	return &CorruptError{Path: r.path, Offset: off, Reason: reason}
}

func (r *Reader) readAt(b []byte, off int64, what string) error {
	if off+int64(len(b)) > r.size {
		return r.corrupt(off, fmt.Sprintf("file ends inside the %s (truncated)", what))
	}
	n, err := r.f.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return r.corrupt(off, fmt.Sprintf("file ends inside the %s (truncated)", what))
	}
	return fmt.Errorf("read snapshot %s at %d: %w", r.path, off, err)
}

// nextChunk loads and verifies the next chunk, or the trailer.
func (r *Reader) nextChunk() error {
	var hdr [8]byte
	if err := r.readAt(hdr[:], r.off, "chunk header"); err != nil {
		return err
	}
	n := binary.LittleEndian.Uint32(hdr[0:])
	sum := binary.LittleEndian.Uint32(hdr[4:])
	if n == 0 {
		var tot [8]byte
		if err := r.readAt(tot[:], r.off+8, "trailer"); err != nil {
			return err
		}
		if crc32.Checksum(tot[:], castagnoli) != sum {
			return r.corrupt(r.off, "trailer checksum mismatch")
		}
		if got := binary.LittleEndian.Uint64(tot[:]); got != r.total {
			return r.corrupt(r.off, fmt.Sprintf("trailer says %d payload bytes, chunks hold %d", got, r.total))
		}
		if end := r.off + 16; end != r.size {
			return r.corrupt(end, fmt.Sprintf("%d bytes after the trailer", r.size-end))
		}
		r.done = true
		return nil
	}
	if n > MaxChunk {
		return r.corrupt(r.off, fmt.Sprintf("chunk length %d exceeds %d", n, MaxChunk))
	}
	payload := r.buf[:n]
	if err := r.readAt(payload, r.off+8, "chunk"); err != nil {
		return err
	}
	if crc32.Checksum(payload, castagnoli) != sum {
		return r.corrupt(r.off, "chunk checksum mismatch")
	}
	r.off += 8 + int64(n)
	r.total += uint64(n)
	r.chunk = payload
	return nil
}

// Read returns verified payload bytes; io.EOF after an intact trailer.
func (r *Reader) Read(p []byte) (int, error) {
	for len(r.chunk) == 0 {
		if r.done {
			return 0, io.EOF
		}
		if err := r.nextChunk(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.chunk)
	r.chunk = r.chunk[n:]
	return n, nil
}

// Finish checks that the payload was consumed exactly and the trailer is
// intact; call it after decoding to know the whole file was good.
func (r *Reader) Finish() error {
	if len(r.chunk) > 0 {
		return r.corrupt(r.off, fmt.Sprintf("%d payload bytes left unread", len(r.chunk)))
	}
	if !r.done {
		if err := r.nextChunk(); err != nil {
			return err
		}
		if !r.done {
			return r.corrupt(r.off, "payload continues past the end of the state")
		}
	}
	return nil
}

// Close releases the file.
func (r *Reader) Close() error { return r.f.Close() }

// Verify reads a whole snapshot file and checks every checksum, without
// interpreting the payload (for fsck).
func Verify(fsys wal.FS, path string) (seq uint64, payloadBytes uint64, err error) {
	r, err := OpenFile(fsys, path)
	if err != nil {
		return 0, 0, err
	}
	defer r.Close()
	if _, err := io.Copy(io.Discard, r); err != nil {
		return r.seq, r.total, err
	}
	return r.seq, r.total, nil
}
