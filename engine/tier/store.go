package tier

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrNotFound is returned by Get, Head and Delete implementations when
// the object does not exist (Delete may also succeed: S3 does).
var ErrNotFound = errors.New("object not found")

// MetaSHA256 is the user metadata key under which Put stores the object's
// SHA-256 (lowercase hex). S3 returns it as X-Amz-Meta-Sha256; a multipart
// upload's ETag is not an MD5 of the object, so this is what a reader
// checks the bytes against.
const MetaSHA256 = "sha256"

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Key  string
	Size int64
	// SHA256 is the hex SHA-256 stored with the object by Put ("" for an
	// object written by something else).
	SHA256       string
	LastModified time.Time
}

// IncompleteUpload is a multipart upload that was started and neither
// completed nor aborted (its process died, say). It holds storage until
// aborted.
type IncompleteUpload struct {
	Key      string
	UploadID string
}

// PutOptions qualify a Put.
type PutOptions struct {
	// SHA256 is the hex SHA-256 of the bytes the reader yields; it is
	// stored as object metadata. Required: callers hash before they
	// upload (the local files shipped are immutable), and the upload
	// verifies the bytes it sent against it (VerifyingReader).
	SHA256 string
	// ContentType, if set, is stored with the object.
	ContentType string
}

// ObjectStore is the object storage the tier ships to: S3 or MinIO in
// production (engine/tier/s3), memory in unit tests (MemStore), either
// wrapped by FaultStore in the deterministic failure tests. Every
// implementation passes the one conformance suite in engine/tier/tiertest.
//
// Keys are slash-separated paths without a leading slash. Implementations
// must be safe for concurrent use.
type ObjectStore interface {
	// Name identifies the store in status, logs and metrics
	// ("s3://bucket/prefix", "memory").
	Name() string
	// Put stores size bytes read from r under key, replacing any object
	// there, with opts.SHA256 as metadata. Large objects go up in parts
	// (multipart upload); a failed Put never leaves a visible object or a
	// partial one, though a process killed mid-upload can leave an
	// incomplete upload behind (AbortIncompleteUploads).
	Put(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) error
	// Get opens the object for reading. A missing object is ErrNotFound.
	Get(ctx context.Context, key string) (io.ReadCloser, ObjectInfo, error)
	// Head describes the object without reading it (ErrNotFound if
	// missing).
	Head(ctx context.Context, key string) (ObjectInfo, error)
	// List returns the objects whose keys start with prefix, sorted by
	// key. SHA256 is not filled in (S3 listings carry no metadata).
	List(ctx context.Context, prefix string) ([]ObjectInfo, error)
	// Delete removes the object; deleting a missing object succeeds.
	Delete(ctx context.Context, key string) error
	// ListIncompleteUploads returns the unfinished multipart uploads of
	// keys under prefix.
	ListIncompleteUploads(ctx context.Context, prefix string) ([]IncompleteUpload, error)
	// AbortIncompleteUploads aborts every unfinished multipart upload of
	// keys under prefix and returns how many it aborted.
	AbortIncompleteUploads(ctx context.Context, prefix string) (int, error)
}
