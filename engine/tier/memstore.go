package tier

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"
)

// MemStore is an ObjectStore in memory, for unit tests of the shipping
// logic. Objects larger than PartSize go through a simulated multipart
// upload: the upload is listed as incomplete while its bytes are read and
// aborted if reading fails, as minio-go does.
type MemStore struct {
	// PartSize is the multipart threshold (default 5 MiB, S3's minimum
	// part size).
	PartSize int64

	mu         sync.Mutex
	objects    map[string]memObject
	incomplete map[string]string // upload id -> key
	nextUpload int
}

type memObject struct {
	data     []byte
	sha      string
	modified time.Time
}

var _ ObjectStore = (*MemStore)(nil)

// NewMemStore returns an empty store.
func NewMemStore() *MemStore {
	return &MemStore{PartSize: 5 << 20, objects: map[string]memObject{}, incomplete: map[string]string{}}
}

// Name implements ObjectStore.
func (m *MemStore) Name() string { return "memory" }

// Put implements ObjectStore.
func (m *MemStore) Put(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	uploadID := ""
	if size > m.PartSize {
		uploadID = m.LeaveIncompleteUpload(key)
	}
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r, size+1))
	if err == nil && n != size {
		err = fmt.Errorf("put %s: read %d bytes, expected %d", key, n, size)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if uploadID != "" {
		delete(m.incomplete, uploadID)
	}
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	m.objects[key] = memObject{data: buf.Bytes(), sha: opts.SHA256, modified: time.Now()}
	return nil
}

// LeaveIncompleteUpload starts a multipart upload of key that nobody will
// finish, as a process killed mid-upload does, and returns its id.
func (m *MemStore) LeaveIncompleteUpload(key string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nextUpload++
	id := fmt.Sprintf("upload-%d", m.nextUpload)
	m.incomplete[id] = key
	return id
}

// Get implements ObjectStore.
func (m *MemStore) Get(ctx context.Context, key string) (io.ReadCloser, ObjectInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, ObjectInfo{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objects[key]
	if !ok {
		return nil, ObjectInfo{}, fmt.Errorf("get %s: %w", key, ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(o.data)), o.info(key), nil
}

// Head implements ObjectStore.
func (m *MemStore) Head(ctx context.Context, key string) (ObjectInfo, error) {
	if err := ctx.Err(); err != nil {
		return ObjectInfo{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objects[key]
	if !ok {
		return ObjectInfo{}, fmt.Errorf("head %s: %w", key, ErrNotFound)
	}
	return o.info(key), nil
}

func (o memObject) info(key string) ObjectInfo {
	return ObjectInfo{Key: key, Size: int64(len(o.data)), SHA256: o.sha, LastModified: o.modified}
}

// List implements ObjectStore.
func (m *MemStore) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []ObjectInfo
	for k, o := range m.objects {
		if strings.HasPrefix(k, prefix) {
			info := o.info(k)
			info.SHA256 = ""
			out = append(out, info)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Delete implements ObjectStore.
func (m *MemStore) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objects, key)
	return nil
}

// ListIncompleteUploads implements ObjectStore.
func (m *MemStore) ListIncompleteUploads(ctx context.Context, prefix string) ([]IncompleteUpload, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []IncompleteUpload
	for id, k := range m.incomplete {
		if strings.HasPrefix(k, prefix) {
			out = append(out, IncompleteUpload{Key: k, UploadID: id})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Key < out[j].Key || out[i].Key == out[j].Key && out[i].UploadID < out[j].UploadID
	})
	return out, nil
}

// AbortIncompleteUploads implements ObjectStore.
func (m *MemStore) AbortIncompleteUploads(ctx context.Context, prefix string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for id, k := range m.incomplete {
		if strings.HasPrefix(k, prefix) {
			delete(m.incomplete, id)
			n++
		}
	}
	return n, nil
}

// checkKey refuses keys S3 would refuse or that would not round-trip.
func checkKey(key string) error {
	if key == "" || strings.HasPrefix(key, "/") || len(key) > 1024 {
		return fmt.Errorf("object key %q: must be 1 to 1024 bytes and not start with /", key)
	}
	return nil
}
