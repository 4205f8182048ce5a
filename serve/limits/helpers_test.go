package limits

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"

	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/serve/api"
)

// openStore opens a metadata store in dir (a fresh one when dir is "")
// and closes it at cleanup. It returns the directory for reopening.
func openStore(t *testing.T, dir string) (*meta.Store, string) {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	s, err := meta.Open(context.Background(), filepath.Join(dir, meta.FileName), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

func newRuntimeConfig(t *testing.T, s ConfigStore) *RuntimeConfig {
	t.Helper()
	rc, err := NewRuntimeConfig(context.Background(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

func newQuotas(t *testing.T, s QuotaStore, rc *RuntimeConfig, d Defaults) *Quotas {
	t.Helper()
	q, err := NewQuotas(context.Background(), s, rc, d)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// wantAPIError checks err is an *api.Error with code (and, if field is
// not empty, details.field) and returns it.
func wantAPIError(t *testing.T, err error, code api.Code, field string) *api.Error {
	t.Helper()
	var ae *api.Error
	if !errors.As(err, &ae) || ae == nil {
		t.Fatalf("error %v (%T), want an *api.Error %s", err, err, code)
	}
	if ae.Code != code {
		t.Fatalf("code %s (%s), want %s", ae.Code, ae.Message, code)
	}
	if field != "" {
		if ae.Details["field"] != field || ae.Details["reason"] == "" {
			t.Fatalf("details %v, want field %q and a reason", ae.Details, field)
		}
	}
	return ae
}

func ptr[T any](v T) *T { return &v }

// failingConfigStore fails every write.
type failingConfigStore struct{ ConfigStore }

func (failingConfigStore) PutRuntimeSetting(context.Context, string, []byte) (meta.RuntimeSetting, error) {
	return meta.RuntimeSetting{}, errors.New("disk full")
}

// logBuffer is a concurrency-safe log sink.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }
