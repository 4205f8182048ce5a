package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/serve/api"
)

const addr = "192.0.2.1:4000"

func TestCreateAndAuthenticate(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	info, key := mustCreate(t, e, meta.DefaultTenantID, RoleWriter, []string{"docs", "docs", "img"}, 0)
	if info.ID != key.ID() || info.Role != RoleWriter || info.TenantID != "default" || !info.CreatedAt.Equal(t0) ||
		!info.ExpiresAt.IsZero() || !reflect.DeepEqual(info.Collections, []string{"docs", "img"}) {
		t.Fatalf("created %+v", info)
	}
	c, err := e.a.Authenticate(ctx, key.Reveal(), addr)
	if err != nil {
		t.Fatal(err)
	}
	want := api.Caller{TenantID: "default", KeyID: info.ID, Role: "writer", Collections: []string{"docs", "img"}}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("caller %+v, want %+v", c, want)
	}
	// Whitespace around the credential is not part of it.
	if _, err := e.a.Authenticate(ctx, " "+key.Reveal()+"\t", addr); err != nil {
		t.Fatal(err)
	}

	// A wrong secret for a real id, and an unknown id, get the same answer.
	other := APIKey(key.Reveal()[:20] + base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32)))
	_, unknown, _, _ := generateKey(seededRand(99))
	var msgs []string
	for _, cred := range []string{other.Reveal(), unknown.Reveal(), "ak_nope", "not a key"} {
		_, err := e.a.Authenticate(ctx, cred, addr)
		msgs = append(msgs, wantCode(t, err, api.CodeUnauthenticated).Message)
	}
	for _, m := range msgs[1:] {
		if m != msgs[0] {
			t.Fatalf("refusals differ: %q", msgs)
		}
	}
	_, err = e.a.Authenticate(ctx, "", addr)
	wantCode(t, err, api.CodeUnauthenticated)

	// Bad arguments.
	for name, f := range map[string]func() error{
		"role":       func() error { _, _, err := e.a.Create(ctx, "default", "root", "", nil, 0); return err },
		"tenant":     func() error { _, _, err := e.a.Create(ctx, "", RoleReader, "", nil, 0); return err },
		"expiry":     func() error { _, _, err := e.a.Create(ctx, "default", RoleReader, "", nil, -time.Second); return err },
		"collection": func() error { _, _, err := e.a.Create(ctx, "default", RoleReader, "", []string{""}, 0); return err },
		"name":       func() error { _, _, err := e.a.Create(ctx, "default", RoleReader, "a\x00b", nil, 0); return err },
		"overlap":    func() error { _, err := e.a.Rotate(ctx, info.ID, -time.Second); return err },
	} {
		t.Run(name, func(t *testing.T) { wantCode(t, f(), api.CodeInvalidArgument) })
	}
	_, _, err = e.a.Create(ctx, "nope", RoleReader, "", nil, 0)
	wantCode(t, err, api.CodeNotFound)
	_, err = e.a.Get(ctx, "zzzzzzzzzzzzzzzz")
	wantCode(t, err, api.CodeNotFound)
	_, err = e.a.Revoke(ctx, "zzzzzzzzzzzzzzzz")
	wantCode(t, err, api.CodeNotFound)
	_, err = e.a.Rotate(ctx, "zzzzzzzzzzzzzzzz", 0)
	wantCode(t, err, api.CodeNotFound)
}

func TestListHasNoSecrets(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	tn, err := e.store.CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	a1, _ := mustCreate(t, e, "default", RoleAdmin, nil, 0)
	e.clock.Advance(time.Second)
	a2, _ := mustCreate(t, e, tn.ID, RoleReader, []string{"x"}, time.Hour)
	all, err := e.a.List(ctx, "")
	if err != nil || len(all) != 2 || all[0].ID != a1.ID || !reflect.DeepEqual(all[1], a2) {
		t.Fatalf("list all: %+v, %v", all, err)
	}
	mine, err := e.a.List(ctx, tn.ID)
	if err != nil || len(mine) != 1 || mine[0].ID != a2.ID {
		t.Fatalf("list acme: %+v, %v", mine, err)
	}
	if got, err := e.a.Get(ctx, a2.ID); err != nil || !reflect.DeepEqual(got, a2) {
		t.Fatalf("get: %+v, %v", got, err)
	}
}

func TestExpiryWithFakeClock(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	info, key := mustCreate(t, e, "default", RoleReader, nil, time.Hour)
	if !info.ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("expires at %v", info.ExpiresAt)
	}
	e.clock.Advance(time.Hour - time.Millisecond)
	if _, err := e.a.Authenticate(ctx, key.Reveal(), addr); err != nil {
		t.Fatalf("just before expiry: %v", err)
	}
	e.clock.Advance(time.Millisecond) // the cached row does not outlive the expiry
	_, err := e.a.Authenticate(ctx, key.Reveal(), addr)
	wantCode(t, err, api.CodeUnauthenticated)
	if info.Live(e.clock.Now()) {
		t.Fatal("KeyInfo.Live says an expired key is live")
	}
}

func TestRevokeIsImmediateWithWarmCache(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	info, key := mustCreate(t, e, "default", RoleWriter, nil, 0)
	tok, err := e.a.IssueToken(info, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ { // warm the cache
		if _, err := e.a.Authenticate(ctx, key.Reveal(), addr); err != nil {
			t.Fatal(err)
		}
		if _, err := e.a.Authenticate(ctx, tok.Token, addr); err != nil {
			t.Fatal(err)
		}
	}
	if e.a.cache.len() != 1 {
		t.Fatalf("cache holds %d rows, want 1", e.a.cache.len())
	}
	revoked, err := e.a.Revoke(ctx, info.ID)
	if err != nil || !revoked.RevokedAt.Equal(t0) {
		t.Fatalf("revoke: %+v, %v", revoked, err)
	}
	_, err = e.a.Authenticate(ctx, key.Reveal(), addr)
	wantCode(t, err, api.CodeUnauthenticated)
	_, err = e.a.Authenticate(ctx, tok.Token, addr)
	wantCode(t, err, api.CodeUnauthenticated)
	if _, err := e.a.Revoke(ctx, info.ID); err != nil {
		t.Fatalf("revoking again: %v", err)
	}
}

// A revocation by another process (here: straight into the database) is
// seen when the cached row's TTL runs out.
func TestCacheTTL(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, func(c *Config) { c.CacheTTL = time.Minute })
	info, key := mustCreate(t, e, "default", RoleWriter, nil, 0)
	if _, err := e.a.Authenticate(ctx, key.Reveal(), addr); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.RevokeAPIKey(ctx, info.ID, e.clock.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute - time.Millisecond)
	if _, err := e.a.Authenticate(ctx, key.Reveal(), addr); err != nil {
		t.Fatalf("within the cache TTL the cached row is used: %v", err)
	}
	e.clock.Advance(time.Millisecond)
	_, err := e.a.Authenticate(ctx, key.Reveal(), addr)
	wantCode(t, err, api.CodeUnauthenticated)
}

// A row read before an invalidation must not enter the cache after it.
func TestCacheEpochKeepsStaleRowsOut(t *testing.T) {
	c, err := newKeyCache(10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	row := meta.APIKey{ID: "aaaaaaaaaaaaaaaa", TenantID: "t"}
	epoch := c.snapshot()
	c.invalidate(row.ID) // a Revoke lands while the loader reads
	c.put(row, t0, epoch)
	if _, ok := c.get(row.ID, t0); ok {
		t.Fatal("a row read before the invalidation was cached")
	}
	c.put(row, t0, c.snapshot())
	if _, ok := c.get(row.ID, t0); !ok {
		t.Fatal("a fresh row was not cached")
	}
	c.invalidateTenant("other")
	if _, ok := c.get(row.ID, t0); !ok {
		t.Fatal("invalidating another tenant dropped the row")
	}
	c.invalidateTenant("t")
	if _, ok := c.get(row.ID, t0); ok {
		t.Fatal("invalidating the tenant kept the row")
	}
}

func TestForgetTenant(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	tn, err := e.store.CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	_, key := mustCreate(t, e, tn.ID, RoleWriter, nil, 0)
	if _, err := e.a.Authenticate(ctx, key.Reveal(), addr); err != nil {
		t.Fatal(err)
	}
	if err := e.store.DeleteTenant(ctx, tn.ID); err != nil {
		t.Fatal(err)
	}
	e.a.ForgetTenant(tn.ID)
	_, err = e.a.Authenticate(ctx, key.Reveal(), addr)
	wantCode(t, err, api.CodeUnauthenticated)
}

func TestRotateWithOverlap(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	info, oldKey := mustCreate(t, e, "default", RoleReader, []string{"docs"}, 30*24*time.Hour)
	if _, err := e.a.Authenticate(ctx, oldKey.Reveal(), addr); err != nil { // warm the cache
		t.Fatal(err)
	}
	e.clock.Advance(24 * time.Hour)
	r, err := e.a.Rotate(ctx, info.ID, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now()
	if r.New.ID == info.ID || r.Key.ID() != r.New.ID || r.New.TenantID != info.TenantID || r.New.Role != info.Role ||
		r.New.Name != info.Name || !reflect.DeepEqual(r.New.Collections, info.Collections) ||
		!r.New.ExpiresAt.Equal(now.Add(30*24*time.Hour)) || !r.Old.ExpiresAt.Equal(now.Add(10*time.Minute)) {
		t.Fatalf("rotation %+v", r)
	}
	// Both work during the overlap, only the new one after it.
	for _, k := range []APIKey{oldKey, r.Key} {
		if _, err := e.a.Authenticate(ctx, k.Reveal(), addr); err != nil {
			t.Fatalf("during the overlap %s: %v", k, err)
		}
	}
	e.clock.Advance(10 * time.Minute)
	_, err = e.a.Authenticate(ctx, oldKey.Reveal(), addr)
	wantCode(t, err, api.CodeUnauthenticated)
	if _, err := e.a.Authenticate(ctx, r.Key.Reveal(), addr); err != nil {
		t.Fatal(err)
	}
	// The expired key cannot be rotated.
	_, err = e.a.Rotate(ctx, info.ID, 0)
	wantCode(t, err, api.CodeInvalidArgument)

	// Overlap 0 revokes at once, even with a warm cache.
	r2, err := e.a.Rotate(ctx, r.New.ID, 0)
	if err != nil || !r2.Old.RevokedAt.Equal(e.clock.Now()) {
		t.Fatalf("rotate without overlap: %+v, %v", r2, err)
	}
	_, err = e.a.Authenticate(ctx, r.Key.Reveal(), addr)
	wantCode(t, err, api.CodeUnauthenticated)
	if _, err := e.a.Authenticate(ctx, r2.Key.Reveal(), addr); err != nil {
		t.Fatal(err)
	}
}

// Neither the database (main file and WAL) nor the log holds a key or its
// secret.
func TestNoSecretAtRest(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	var keys []APIKey
	for i := 0; i < 5; i++ {
		_, k := mustCreate(t, e, "default", RoleWriter, nil, time.Hour)
		keys = append(keys, k)
		if _, err := e.a.Authenticate(ctx, k.Reveal(), addr); err != nil {
			t.Fatal(err)
		}
	}
	r, err := e.a.Rotate(ctx, keys[0].ID(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	keys = append(keys, r.Key)
	boot, err := e.a.EnsureBootstrapAdmin(ctx, e.dir)
	if err != nil || boot != "" { // keys exist: no bootstrap
		t.Fatalf("bootstrap: %q, %v", boot, err)
	}
	// A failed attempt with a real id and a wrong secret is logged too.
	_, _ = e.a.Authenticate(ctx, keys[1].Reveal()[:20]+keys[2].Reveal()[20:], addr)

	path := filepath.Join(e.dir, meta.FileName)
	db, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	wal, err := os.ReadFile(path + "-wal")
	if err != nil {
		t.Fatalf("read the WAL (it should exist while the store is open): %v", err)
	}
	logs := e.logs.Bytes()
	for _, k := range keys {
		s := k.Reveal()
		secretText := s[20:]
		secretRaw, err := base64.RawURLEncoding.DecodeString(secretText)
		if err != nil {
			t.Fatal(err)
		}
		for name, b := range map[string][]byte{"akidb.db": db, "akidb.db-wal": wal, "log": logs} {
			if bytes.Contains(b, []byte(s)) || bytes.Contains(b, []byte(secretText)) || bytes.Contains(b, secretRaw) {
				t.Errorf("%s holds key %s or its secret", name, k)
			}
		}
		// The test can fail: the public id is there to be found.
		if !bytes.Contains(append(db, wal...), []byte(k.ID())) {
			t.Errorf("the database does not hold key id %s: wrong file read?", k.ID())
		}
	}
	if !bytes.Contains(logs, []byte("created api key")) {
		t.Errorf("log output was not captured:\n%s", logs)
	}
}

// Authentications racing a revocation: once Revoke has returned, no
// request succeeds with the key (run with -race).
func TestConcurrentAuthenticateAndRevoke(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	info, key := mustCreate(t, e, "default", RoleWriter, nil, 0)
	tok, err := e.a.IssueToken(info, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	var revoked atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			cred := key.Reveal()
			if g%2 == 1 {
				cred = tok.Token
			}
			// Runs until 20 attempts after the revocation (which the
			// main goroutine makes without waiting on these).
			for after := 0; after < 20; {
				wasRevoked := revoked.Load()
				_, err := e.a.Authenticate(ctx, cred, addr)
				if wasRevoked {
					after++
					if err == nil {
						errs <- fmt.Errorf("goroutine %d: accepted after Revoke returned", g)
						return
					}
				}
			}
		}(g)
	}
	if _, err := e.a.Revoke(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	revoked.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
