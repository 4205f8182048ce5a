package tier

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// Op names an ObjectStore operation, for FaultStore.
type Op string

// The operations of ObjectStore.
const (
	OpAny                   Op = ""
	OpPut                   Op = "put"
	OpGet                   Op = "get"
	OpHead                  Op = "head"
	OpList                  Op = "list"
	OpDelete                Op = "delete"
	OpListIncompleteUploads Op = "list_incomplete_uploads"
	OpAbortIncompleteUpload Op = "abort_incomplete_uploads"
)

// ErrInjected is the error FaultStore fails calls with unless told another.
var ErrInjected = errors.New("injected object store failure")

// ErrTransferCut is what a Put's reader returns where FaultStore cut the
// transfer.
var ErrTransferCut = errors.New("injected: transfer cut half-way")

// FaultStore wraps an ObjectStore and fails, slows or cuts its calls on
// command, deterministically: the tests of the breaker, the DLQ and
// shipping use it to say "the next 3 puts fail" and count the calls made.
type FaultStore struct {
	inner ObjectStore

	mu       sync.Mutex
	failNext map[Op][]error // per op (OpAny: every op), consumed in order
	failAll  map[Op]error   // every call fails until Heal
	latency  time.Duration
	cutAfter int64 // the next Put's reader fails after this many bytes; -1: no cut
	calls    map[Op]int
	putHook  func(key string, sent int64)
	getHook  func(key string)
}

var _ ObjectStore = (*FaultStore)(nil)

// NewFaultStore wraps inner; until told otherwise it passes every call on.
func NewFaultStore(inner ObjectStore) *FaultStore {
	return &FaultStore{inner: inner, failNext: map[Op][]error{}, failAll: map[Op]error{}, cutAfter: -1, calls: map[Op]int{}}
}

// Inner is the wrapped store.
func (f *FaultStore) Inner() ObjectStore { return f.inner }

// FailNext makes the next n calls of op (OpAny: of any operation) fail
// with err (nil: ErrInjected) without reaching the wrapped store.
func (f *FaultStore) FailNext(op Op, n int, err error) {
	if err == nil {
		err = ErrInjected
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.failNext[op] = append(f.failNext[op], err)
	}
}

// FailAlways makes every call of op (OpAny: every call) fail with err
// (nil: ErrInjected) until Heal.
func (f *FaultStore) FailAlways(op Op, err error) {
	if err == nil {
		err = ErrInjected
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failAll[op] = err
}

// Heal removes every injected failure, latency and cut.
func (f *FaultStore) Heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failNext = map[Op][]error{}
	f.failAll = map[Op]error{}
	f.latency = 0
	f.cutAfter = -1
}

// SetLatency delays every call by d (honouring the call's context).
func (f *FaultStore) SetLatency(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.latency = d
}

// CutNextPut makes the next Put's transfer fail after n bytes were read
// from its reader, as a connection dropped half-way does.
func (f *FaultStore) CutNextPut(n int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cutAfter = n
}

// OnPutProgress calls hook as a Put's body is read, with the bytes read so
// far (hook may block, or stop the store under the upload: the tests kill
// MinIO mid-upload this way). nil removes it.
func (f *FaultStore) OnPutProgress(hook func(key string, sent int64)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.putHook = hook
}

// Calls is how many calls of op (OpAny: all) were made, failed ones
// included.
func (f *FaultStore) Calls(op Op) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if op == OpAny {
		n := 0
		for _, c := range f.calls {
			n += c
		}
		return n
	}
	return f.calls[op]
}

// enter counts the call, applies the latency and returns the injected
// failure, if any.
func (f *FaultStore) enter(ctx context.Context, op Op) error {
	f.mu.Lock()
	f.calls[op]++
	var err error
	for _, o := range []Op{op, OpAny} {
		if q := f.failNext[o]; len(q) > 0 {
			err, f.failNext[o] = q[0], q[1:]
			break
		}
		if e := f.failAll[o]; e != nil {
			err = e
			break
		}
	}
	d := f.latency
	f.mu.Unlock()
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// Name implements ObjectStore.
func (f *FaultStore) Name() string { return f.inner.Name() }

// Put implements ObjectStore.
func (f *FaultStore) Put(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) error {
	if err := f.enter(ctx, OpPut); err != nil {
		return err
	}
	f.mu.Lock()
	cut, hook := f.cutAfter, f.putHook
	f.cutAfter = -1
	f.mu.Unlock()
	if cut >= 0 {
		r = &cutReader{r: r, left: cut}
	}
	if hook != nil {
		r = &progressReader{r: r, key: key, hook: hook}
	}
	return f.inner.Put(ctx, key, r, size, opts)
}

type progressReader struct {
	r    io.Reader
	key  string
	sent int64
	hook func(string, int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.sent += int64(n)
	p.hook(p.key, p.sent)
	return n, err
}

type cutReader struct {
	r    io.Reader
	left int64
}

func (c *cutReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, ErrTransferCut
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// OnGet calls hook with the key of every Get that gets through (after
// the injected failures), before the wrapped store is asked: a test holds
// a download (a load of an evicted collection, say) by blocking in it.
// nil removes the hook.
func (f *FaultStore) OnGet(hook func(key string)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.getHook = hook
}

// Get implements ObjectStore.
func (f *FaultStore) Get(ctx context.Context, key string) (io.ReadCloser, ObjectInfo, error) {
	if err := f.enter(ctx, OpGet); err != nil {
		return nil, ObjectInfo{}, err
	}
	f.mu.Lock()
	hook := f.getHook
	f.mu.Unlock()
	if hook != nil {
		hook(key)
	}
	return f.inner.Get(ctx, key)
}

// Head implements ObjectStore.
func (f *FaultStore) Head(ctx context.Context, key string) (ObjectInfo, error) {
	if err := f.enter(ctx, OpHead); err != nil {
		return ObjectInfo{}, err
	}
	return f.inner.Head(ctx, key)
}

// List implements ObjectStore.
func (f *FaultStore) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	if err := f.enter(ctx, OpList); err != nil {
		return nil, err
	}
	return f.inner.List(ctx, prefix)
}

// Delete implements ObjectStore.
func (f *FaultStore) Delete(ctx context.Context, key string) error {
	if err := f.enter(ctx, OpDelete); err != nil {
		return err
	}
	return f.inner.Delete(ctx, key)
}

// ListIncompleteUploads implements ObjectStore.
func (f *FaultStore) ListIncompleteUploads(ctx context.Context, prefix string) ([]IncompleteUpload, error) {
	if err := f.enter(ctx, OpListIncompleteUploads); err != nil {
		return nil, err
	}
	return f.inner.ListIncompleteUploads(ctx, prefix)
}

// AbortIncompleteUploads implements ObjectStore.
func (f *FaultStore) AbortIncompleteUploads(ctx context.Context, prefix string) (int, error) {
	if err := f.enter(ctx, OpAbortIncompleteUpload); err != nil {
		return 0, err
	}
	return f.inner.AbortIncompleteUploads(ctx, prefix)
}
