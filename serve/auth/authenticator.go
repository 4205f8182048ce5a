package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/serve/api"
)

// Defaults of Config.
const (
	DefaultCacheTTL  = 5 * time.Minute
	DefaultCacheSize = 10000
	DefaultTokenTTL  = 24 * time.Hour
	DefaultIssuer    = "akidb"
)

// MaxCredentialLen bounds a credential (API key or JWT). Longer ones are
// refused before any parsing, so a huge header costs nothing but its read.
const MaxCredentialLen = 4096

// Config configures an Authenticator. Zero fields take the defaults.
type Config struct {
	// DataDir holds secrets/jwt.key, used when JWTSecret is nil.
	DataDir string
	// JWTSecret signs tokens (HS256); at least MinJWTSecretLen bytes.
	// Nil: read from, or generated once into, <DataDir>/secrets/jwt.key.
	JWTSecret []byte
	// Issuer is the tokens' iss claim (default "akidb").
	Issuer string
	// TokenTTL is how long an issued token lives (default 24h); never
	// past its key's expiry.
	TokenTTL time.Duration
	// CacheTTL is how long a key row read from SQLite is trusted
	// (default 5 minutes). Revoke and Rotate through this Authenticator
	// take effect at once regardless; a change made by another process
	// is seen after at most CacheTTL.
	CacheTTL time.Duration
	// CacheSize bounds the cached key rows (default 10000).
	CacheSize int
	// Throttle slows down repeated failures from one address.
	Throttle ThrottleConfig
	// Logger gets failures (debug), throttling (warn) and key changes
	// (info), never a secret. Nil discards.
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Rand is the source of key ids, secrets and the generated JWT
	// secret (default crypto/rand).
	Rand io.Reader
}

// Authenticator verifies credentials and manages API keys and tokens. It
// is safe for concurrent use; use one per server, so that a revocation
// reaches its cache.
type Authenticator struct {
	store    *meta.Store
	cfg      Config
	logger   *slog.Logger
	now      func() time.Time
	secret   []byte
	cache    *keyCache
	throttle *throttle

	randMu sync.Mutex // cfg.Rand need not be safe for concurrent use
	// bootstrapMu serialises EnsureBootstrapAdmin within the process; the
	// data directory's LOCK keeps other processes out.
	bootstrapMu sync.Mutex
}

// New returns an Authenticator over store's api_keys table.
func New(store *meta.Store, cfg Config) (*Authenticator, error) {
	if store == nil {
		return nil, errors.New("new authenticator: nil store")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Issuer == "" {
		cfg.Issuer = DefaultIssuer
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = DefaultTokenTTL
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = DefaultCacheTTL
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	a := &Authenticator{store: store, cfg: cfg, logger: cfg.Logger, now: cfg.Now}
	switch {
	case cfg.JWTSecret != nil:
		if len(cfg.JWTSecret) < MinJWTSecretLen {
			return nil, fmt.Errorf("new authenticator: the jwt secret is %d bytes, fewer than %d", len(cfg.JWTSecret), MinJWTSecretLen)
		}
		a.secret = append([]byte(nil), cfg.JWTSecret...)
	case cfg.DataDir != "":
		s, err := loadOrCreateJWTSecret(cfg.DataDir, a.lockedRand(), cfg.Logger)
		if err != nil {
			return nil, fmt.Errorf("new authenticator: %w", err)
		}
		a.secret = s
	default:
		return nil, errors.New("new authenticator: neither a jwt secret nor a data directory to keep one in")
	}
	var err error
	if a.cache, err = newKeyCache(cfg.CacheSize, cfg.CacheTTL); err != nil {
		return nil, fmt.Errorf("new authenticator: %w", err)
	}
	if a.throttle, err = newThrottle(cfg.Throttle); err != nil {
		return nil, fmt.Errorf("new authenticator: %w", err)
	}
	return a, nil
}

// lockedRand reads cfg.Rand under randMu.
func (a *Authenticator) lockedRand() io.Reader { return lockedReader{a} }

type lockedReader struct{ a *Authenticator }

func (r lockedReader) Read(p []byte) (int, error) {
	r.a.randMu.Lock()
	defer r.a.randMu.Unlock()
	return io.ReadFull(r.a.cfg.Rand, p)
}

// errUnauthenticated is the one answer to a bad credential: it does not
// say whether the key exists, is revoked or expired, or the secret or
// signature is wrong (the log at debug level does, without the secret).
func errUnauthenticated() *api.Error {
	return api.Errorf(api.CodeUnauthenticated, "invalid or expired credential")
}

// Authenticate verifies a credential, an API key or a JWT (what follows
// "Bearer " in Authorization, or X-API-Key, or gRPC's authorization
// metadata), and returns the caller it speaks for. remoteAddr is the
// peer's address ("host:port"), for throttling failures. Errors are
// *api.Error: unauthenticated (with one generic message), rate_limited
// with RetryAfterSeconds when the address failed too often; anything else
// (the database failing) is an internal error for api.AsError.
func (a *Authenticator) Authenticate(ctx context.Context, credential, remoteAddr string) (api.Caller, error) {
	row, err := a.authenticate(ctx, credential, remoteAddr, true)
	if err != nil {
		return api.Caller{}, err
	}
	return callerOf(row), nil
}

// authenticate is Authenticate returning the key row; tokensOK says
// whether a JWT is accepted.
func (a *Authenticator) authenticate(ctx context.Context, credential, remoteAddr string, tokensOK bool) (meta.APIKey, error) {
	now := a.now()
	addr := addrKey(remoteAddr)
	credential = strings.TrimSpace(credential)
	keyID := ""
	if len(credential) <= MaxCredentialLen {
		keyID = credentialKeyID(credential)
	}
	if b := a.throttle.blocked(addr, keyID, now); b.wait > 0 {
		secs := int(math.Ceil(b.wait.Seconds()))
		var e *api.Error
		if b.source {
			e = api.Errorf(api.CodeRateLimited, "too many failed authentication attempts from this address; retry in %d seconds", secs)
		} else {
			e = api.Errorf(api.CodeRateLimited, "too many failed authentication attempts with this key from this address; other keys still work; retry in %d seconds", secs)
		}
		e.RetryAfterSeconds = secs
		return meta.APIKey{}, e
	}
	if credential == "" {
		// Not a guess: not counted.
		return meta.APIKey{}, api.Errorf(api.CodeUnauthenticated, "missing credential: send Authorization: Bearer <api-key-or-token>")
	}
	var (
		row    meta.APIKey
		reason string
		err    error
	)
	switch {
	case len(credential) > MaxCredentialLen:
		reason = fmt.Sprintf("credential is %d bytes, more than %d", len(credential), MaxCredentialLen)
	case looksLikeAPIKey(credential):
		row, reason, err = a.verifyKey(ctx, credential, now)
	case !tokensOK:
		reason = "a token where an api key is required"
	default:
		row, reason, err = a.verifyToken(ctx, credential, now)
	}
	if err != nil {
		return meta.APIKey{}, fmt.Errorf("authenticate: %w", err)
	}
	if reason != "" {
		a.logger.Debug("authentication failed", "remote", addr, "reason", reason)
		pairBlocked, sourceBlocked := a.throttle.fail(addr, keyID, now)
		if pairBlocked {
			a.logger.Warn("throttling authentication with one key id from an address after repeated failures (a stale key?); other keys from it still work",
				"remote", addr, "key_id", keyID, "failures", a.throttle.cfg.MaxFailures, "for", a.throttle.cfg.Window)
		}
		if sourceBlocked {
			a.logger.Warn("throttling all authentication from an address after repeated failures across key ids", "remote", addr,
				"failures", a.throttle.cfg.MaxSourceFailures, "for", a.throttle.cfg.Window)
		}
		return meta.APIKey{}, errUnauthenticated()
	}
	return row, nil
}

// dummyHash is compared against when the key id is unknown, so that case
// does the same work as a wrong secret.
var dummyHash = make([]byte, sha256.Size)

// verifyKey checks an API key. A non-empty reason is a refusal; err is the
// database failing.
func (a *Authenticator) verifyKey(ctx context.Context, credential string, now time.Time) (meta.APIKey, string, error) {
	id, secret, ok := parseAPIKey(credential)
	if !ok {
		return meta.APIKey{}, "malformed api key", nil
	}
	row, found, err := a.lookup(ctx, id, now)
	if err != nil {
		return meta.APIKey{}, "", err
	}
	want := dummyHash
	if found {
		want = row.SecretHash
	}
	sum := sha256.Sum256(secret)
	if subtle.ConstantTimeCompare(sum[:], want) != 1 || !found {
		return meta.APIKey{}, "unknown api key id or wrong secret (key " + id + ")", nil
	}
	if reason := notLive(row, now); reason != "" {
		return meta.APIKey{}, reason, nil
	}
	return row, "", nil
}

// notLive says why a key cannot be used at now, or "".
func notLive(row meta.APIKey, now time.Time) string {
	switch {
	case !row.RevokedAt.IsZero() && !now.Before(row.RevokedAt):
		return "key " + row.ID + " is revoked"
	case !row.ExpiresAt.IsZero() && !now.Before(row.ExpiresAt):
		return "key " + row.ID + " has expired"
	}
	return ""
}

// lookup returns the row of key id, from the cache or the database.
func (a *Authenticator) lookup(ctx context.Context, id string, now time.Time) (meta.APIKey, bool, error) {
	if row, ok := a.cache.get(id, now); ok {
		return row, true, nil
	}
	epoch := a.cache.snapshot()
	row, err := a.store.GetAPIKey(ctx, id)
	if errors.Is(err, meta.ErrNotFound) {
		return meta.APIKey{}, false, nil
	}
	if err != nil {
		return meta.APIKey{}, false, err
	}
	a.cache.put(row, now, epoch)
	return row, true, nil
}

func callerOf(row meta.APIKey) api.Caller {
	c := api.Caller{TenantID: row.TenantID, KeyID: row.ID, Role: row.Role}
	if len(row.Collections) > 0 {
		c.Collections = append([]string(nil), row.Collections...)
	}
	c.Operator = IsOperator(c)
	return c
}
