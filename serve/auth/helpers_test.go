package auth

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/serve/api"
)

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock { return &fakeClock{now: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func seededRand(seed uint64) io.Reader {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	return rand.NewChaCha8(key)
}

// syncBuffer collects log output from concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string { return string(b.Bytes()) }

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf.Bytes()...)
}

// testSecret is the JWT secret of tests that sign tokens by hand.
var testSecret = []byte("0123456789abcdef0123456789abcdef")

type env struct {
	a     *Authenticator
	store *meta.Store
	dir   string
	clock *fakeClock
	logs  *syncBuffer
}

// newEnv opens a store in a fresh data directory and an Authenticator over
// it, logging at debug level into env.logs.
func newEnv(t testing.TB, mutate func(*Config)) *env {
	t.Helper()
	e := &env{dir: t.TempDir(), clock: newClock(), logs: &syncBuffer{}}
	logger := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var err error
	e.store, err = meta.Open(context.Background(), filepath.Join(e.dir, meta.FileName), logger, meta.WithClock(e.clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.store.Close() })
	cfg := Config{JWTSecret: testSecret, Logger: logger, Now: e.clock.Now, Rand: seededRand(1)}
	if mutate != nil {
		mutate(&cfg)
	}
	if e.a, err = New(e.store, cfg); err != nil {
		t.Fatal(err)
	}
	return e
}

// wantCode fails unless err is an *api.Error with code.
func wantCode(t testing.TB, err error, code api.Code) *api.Error {
	t.Helper()
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != code {
		t.Fatalf("got error %v, want an *api.Error with code %s", err, code)
	}
	return ae
}

func mustCreate(t testing.TB, e *env, tenant string, role Role, collections []string, expiresIn time.Duration) (KeyInfo, APIKey) {
	t.Helper()
	info, key, err := e.a.Create(context.Background(), tenant, role, "test", collections, expiresIn)
	if err != nil {
		t.Fatal(err)
	}
	return info, key
}
