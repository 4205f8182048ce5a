package tier

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/akidb/akidb/engine/wal"
)

// Staged files and what a power cut (or anything else) can do to them.
// Every staged file is fsynced, and its directory, before anything durable
// refers to it (ship.go, the engine's Parquet export), so after a power
// cut a file a DLQ entry names is whole. Still, the tier never uploads a
// file without checking it first (verifyStaged): one that is missing or
// not what was staged is never shipped, and recoverDamaged resolves its
// upload from the file's source instead.

// ErrStagedFileDamaged: the local file of an upload is missing, or no
// longer holds the size and SHA-256 recorded when it was staged. It is
// never uploaded (recoverDamaged decides what becomes of the upload).
var ErrStagedFileDamaged = errors.New("staged file missing or damaged")

// verifyStaged checks that a's file still is what was staged: its size
// and SHA-256, as recorded when it was staged (and in its DLQ entry).
func verifyStaged(c *colState, a *artifact) error {
	sum, size, err := hashFile(c.fs, a.path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s is gone (%d bytes with sha-256 %s were staged)", ErrStagedFileDamaged, a.path, a.size, a.sha)
	}
	if err != nil {
		return err
	}
	if size != a.size || sum != a.sha {
		return fmt.Errorf("%w: %s holds %d bytes with sha-256 %s, %d bytes with %s were staged", ErrStagedFileDamaged, a.path, size, sum, a.size, a.sha)
	}
	return nil
}

// parquetMagic opens and ends every Parquet file; before it the footer
// ends with the footer's length (4 bytes, little-endian).
const parquetMagic = "PAR1"

// checkParquetFile checks a Parquet export's frame (the magic at both
// ends, a footer that fits): what a power cut that emptied or cut short
// the file, or zeroed its tail, breaks. The tier stages only exports that
// pass it; their SHA-256 then guards them until they are uploaded.
func checkParquetFile(fsys wal.FS, path string) error {
	f, err := fsys.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	bad := func(why string) error {
		return fmt.Errorf("%w: %s (%d bytes) is not a whole Parquet file: %s", ErrStagedFileDamaged, path, size, why)
	}
	if size < 12 {
		return bad("too short")
	}
	head := make([]byte, 4)
	tail := make([]byte, 8)
	if _, err := f.ReadAt(head, 0); err != nil {
		return err
	}
	if _, err := f.ReadAt(tail, size-8); err != nil {
		return err
	}
	if string(head) != parquetMagic || string(tail[4:]) != parquetMagic {
		return bad("no magic at its start or end")
	}
	if footer := int64(binary.LittleEndian.Uint32(tail[:4])); footer+12 > size {
		return bad(fmt.Sprintf("a footer of %d bytes does not fit", footer))
	}
	return nil
}

// recoverDamaged resolves an upload whose staged file is missing or
// damaged (cause, from verifyStaged), without uploading it:
//
//   - a log chunk is dropped, with every log chunk after it not yet in the
//     manifest (the manifest takes log objects only in order, so they
//     would wait forever for the lost one): the records are still in the
//     local log, which keeps everything the manifest does not reach, and
//     the next pass cuts them again. Should the local log no longer hold
//     them, stageLog ships from a snapshot that covers them (asking for a
//     checkpoint if none does);
//   - a Parquet export is dropped: its snapshot ships without it (the
//     export is not needed to restore), and the next checkpoint exports
//     again;
//   - a snapshot that a newer one supersedes (queued, or in the manifest)
//     is dropped; any other is an error wrapping ErrStagedFileDamaged,
//     which the DLQ makes permanent at once. A checkpoint is requested:
//     the snapshot it writes supersedes the entry. The log ships
//     meanwhile, so the store never lacks an acknowledged record.
//
// resolved means the upload needs nothing more (a DLQ entry for it is
// removed).
func (t *Tier) recoverDamaged(c *colState, a *artifact, cause error) (resolved bool, err error) {
	switch a.kind {
	case KindLog:
		t.log.Warn("tier: a staged log chunk is missing or damaged; it is not shipped, its records are cut again from the local log",
			"collection", c.info.Name, "file", a.path, "err", cause)
		for _, b := range append([]*artifact(nil), c.queue...) {
			if b == a || b.kind != KindLog || b.first < a.first {
				continue
			}
			if b.state == confirmed {
				t.discardConfirmed(c, b, "a log chunk before it is cut again")
			} else {
				t.drop(c, b, true, "a log chunk before it is cut again")
			}
		}
		t.drop(c, a, false, "its staged file is missing or damaged; the records are cut again from the local log")
		return true, nil
	case KindParquet:
		t.log.Warn("tier: a staged Parquet export is missing or damaged; it is not shipped (its snapshot ships without it, the next checkpoint exports again)",
			"collection", c.info.Name, "file", a.path, "err", cause)
		t.drop(c, a, false, "its staged file is missing or damaged")
		return true, nil
	}
	if why := c.obsolete(a); why != "" {
		t.drop(c, a, false, why)
		return true, nil
	}
	c.src.RequestCheckpoint()
	return false, fmt.Errorf("%w; it is not uploaded. The log after the last shipped snapshot ships meanwhile, so the store misses no record; "+
		"the next checkpoint's snapshot supersedes this entry (after a write, `akidb checkpoint %s`), or discard it (`akidb dlq discard`)",
		cause, c.info.Name)
}
