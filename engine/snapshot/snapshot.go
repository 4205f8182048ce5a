package snapshot

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/akidb/akidb/engine/wal"
)

const (
	magic      = "AKIDBSNP"
	version    = 1
	headerSize = 32
	// MaxChunk is the largest chunk payload written or accepted.
	MaxChunk   = 1 << 20
	suffix     = ".snap"
	tempSuffix = ".snap.tmp"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CorruptError says which snapshot file is damaged, where and how.
type CorruptError struct {
	Path   string
	Offset int64
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("snapshot %s is corrupt at offset %d: %s", e.Path, e.Offset, e.Reason)
}

// FileName returns the file name of the snapshot covering seq.
func FileName(seq uint64) string { return fmt.Sprintf("%020d%s", seq, suffix) }

// List returns the sequence numbers of the snapshots in dir, newest first.
// Temporary files of unfinished snapshots are ignored (see RemoveTemps).
func List(fsys wal.FS, dir string) ([]uint64, error) {
	names, err := fsys.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("list snapshots in %s: %w", dir, err)
	}
	var seqs []uint64
	for _, n := range names {
		if !strings.HasSuffix(n, suffix) || strings.HasPrefix(n, ".") || len(n) != 20+len(suffix) {
			continue
		}
		seq, err := strconv.ParseUint(strings.TrimSuffix(n, suffix), 10, 64)
		if err != nil {
			continue
		}
		seqs = append(seqs, seq)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] > seqs[j] })
	return seqs, nil
}

// RemoveTemps deletes leftovers of snapshots that were being written when
// the process stopped. They were never renamed into place, so nothing
// refers to them.
func RemoveTemps(fsys wal.FS, dir string) error {
	names, err := fsys.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("list snapshots in %s: %w", dir, err)
	}
	for _, n := range names {
		if strings.HasSuffix(n, tempSuffix) {
			if err := fsys.Remove(filepath.Join(dir, n)); err != nil {
				return fmt.Errorf("remove unfinished snapshot %s: %w", n, err)
			}
		}
	}
	return nil
}

// Writer streams a snapshot's payload into a temporary file; Commit makes
// it visible atomically.
type Writer struct {
	fsys      wal.FS
	dir       string
	seq       uint64
	tmp       string
	f         wal.File
	off       int64
	buf       []byte // pending chunk payload
	frame     []byte
	total     uint64
	err       error
	committed bool
}

// Create starts writing the snapshot for seq in dir (created if missing,
// durably: its entry in its parent is fsynced, or a power cut could take
// the directory and every snapshot in it while the log they replaced is
// already gone).
func Create(fsys wal.FS, dir string, seq uint64) (*Writer, error) {
	if err := wal.MkdirAllDurable(fsys, dir, 0o700); err != nil {
		return nil, fmt.Errorf("snapshot dir: %w", err)
	}
	tmp := filepath.Join(dir, "."+strings.TrimSuffix(FileName(seq), suffix)+tempSuffix)
	f, err := fsys.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create snapshot %s: %w", tmp, err)
	}
	w := &Writer{fsys: fsys, dir: dir, seq: seq, tmp: tmp, f: f, buf: make([]byte, 0, MaxChunk), frame: make([]byte, 8+MaxChunk)}
	hdr := make([]byte, headerSize)
	copy(hdr, magic)
	binary.LittleEndian.PutUint32(hdr[8:], version)
	binary.LittleEndian.PutUint64(hdr[16:], seq)
	binary.LittleEndian.PutUint32(hdr[28:], crc32.Checksum(hdr[:28], castagnoli))
	w.writeRaw(hdr)
	if w.err != nil {
		w.Abort()
		return nil, w.err
	}
	return w, nil
}

func (w *Writer) writeRaw(b []byte) {
	if w.err != nil {
		return
	}
	n, err := w.f.WriteAt(b, w.off)
	w.off += int64(n)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.err = fmt.Errorf("write snapshot %s: %w", w.tmp, err)
	}
}

func (w *Writer) flushChunk() {
	if len(w.buf) == 0 || w.err != nil {
		return
	}
	frame := w.frame[:8+len(w.buf)]
	binary.LittleEndian.PutUint32(frame[0:], uint32(len(w.buf)))
	binary.LittleEndian.PutUint32(frame[4:], crc32.Checksum(w.buf, castagnoli))
	copy(frame[8:], w.buf)
	w.writeRaw(frame)
	w.total += uint64(len(w.buf))
	w.buf = w.buf[:0]
}

// Write adds payload bytes.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n := 0
	for len(p) > 0 {
		room := MaxChunk - len(w.buf)
		take := min(room, len(p))
		w.buf = append(w.buf, p[:take]...)
		p = p[take:]
		n += take
		if len(w.buf) == MaxChunk {
			w.flushChunk()
			if w.err != nil {
				return n, w.err
			}
		}
	}
	return n, nil
}

// Commit seals the snapshot: trailer, fsync, rename into place, directory
// fsync. On error the temporary file is removed and no snapshot appears.
func (w *Writer) Commit() error {
	w.flushChunk()
	tr := make([]byte, 16)
	binary.LittleEndian.PutUint64(tr[8:], w.total)
	binary.LittleEndian.PutUint32(tr[4:], crc32.Checksum(tr[8:16], castagnoli))
	w.writeRaw(tr)
	if w.err == nil {
		if err := w.f.Sync(); err != nil {
			w.err = fmt.Errorf("sync snapshot %s: %w", w.tmp, err)
		}
	}
	if w.err != nil {
		w.Abort()
		return w.err
	}
	if err := w.f.Close(); err != nil {
		w.err = fmt.Errorf("close snapshot %s: %w", w.tmp, err)
		_ = w.fsys.Remove(w.tmp)
		return w.err
	}
	w.f = nil
	final := filepath.Join(w.dir, FileName(w.seq))
	if err := w.fsys.Rename(w.tmp, final); err != nil {
		_ = w.fsys.Remove(w.tmp)
		return fmt.Errorf("install snapshot %s: %w", final, err)
	}
	if err := w.fsys.SyncDir(w.dir); err != nil {
		return fmt.Errorf("sync snapshot dir %s: %w", w.dir, err)
	}
	w.committed = true
	return nil
}

// Abort abandons an uncommitted snapshot and removes its temporary file.
func (w *Writer) Abort() {
	if w.committed {
		return
	}
	if w.f != nil {
		_ = w.f.Close()
		w.f = nil
	}
	_ = w.fsys.Remove(w.tmp)
}
