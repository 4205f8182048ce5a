package meta

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// API key roles, as stored. What a role may do is serve/auth's business;
// the catalog only refuses a role it does not know.
const (
	RoleAdmin  = "admin"
	RoleWriter = "writer"
	RoleReader = "reader"
)

// APIKeyIDLen is the length of an API key's public id.
const APIKeyIDLen = 16

// SecretHashLen is the length of a stored secret hash (SHA-256).
const SecretHashLen = 32

// maxKeyCollections bounds the collections a key can be limited to.
const maxKeyCollections = 1000

// APIKey is a row of the api_keys table. It holds the hash of the key's
// secret, never the secret itself.
type APIKey struct {
	ID          string // APIKeyIDLen characters of lowercase base32
	TenantID    string
	Role        string // RoleAdmin, RoleWriter or RoleReader
	Name        string // may be empty
	SecretHash  []byte // SHA-256 of the secret
	Collections []string
	CreatedAt   time.Time // UTC, millisecond precision
	ExpiresAt   time.Time // zero: never expires
	RevokedAt   time.Time // zero: not revoked
}

const apiKeyColumns = `id, tenant_id, role, name, secret_hash, collections, created_at, expires_at, revoked_at`

// ValidAPIKeyID reports whether s has the form of an API key's public id:
// APIKeyIDLen characters of lowercase RFC 4648 base32 (a-z, 2-7).
func ValidAPIKeyID(s string) bool {
	if len(s) != APIKeyIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '2' <= c && c <= '7') {
			return false
		}
	}
	return true
}

func knownRole(role string) bool {
	return role == RoleAdmin || role == RoleWriter || role == RoleReader
}

func validateAPIKey(k APIKey) error {
	switch {
	case !ValidAPIKeyID(k.ID):
		return fmt.Errorf("key id %q is not %d characters of lowercase base32: %w", k.ID, APIKeyIDLen, ErrInvalidArgument)
	case k.TenantID == "":
		return fmt.Errorf("tenant id is empty: %w", ErrInvalidArgument)
	case !knownRole(k.Role):
		return fmt.Errorf("role %q is not admin, writer or reader: %w", k.Role, ErrInvalidArgument)
	case len(k.SecretHash) != SecretHashLen:
		return fmt.Errorf("secret hash is %d bytes, not %d: %w", len(k.SecretHash), SecretHashLen, ErrInvalidArgument)
	case len(k.Collections) > maxKeyCollections:
		return fmt.Errorf("key is limited to %d collections, more than %d: %w", len(k.Collections), maxKeyCollections, ErrInvalidArgument)
	}
	if k.Name != "" {
		if err := validateName("key", k.Name); err != nil {
			return err
		}
	}
	for _, c := range k.Collections {
		if err := validateName("collection", c); err != nil {
			return err
		}
	}
	return nil
}

// InsertAPIKey adds k and returns the row as stored. k.CreatedAt, if zero,
// is the store's clock; k.RevokedAt is ignored (a new key is live). An id
// already taken fails with ErrAlreadyExists, an unknown tenant with
// ErrNotFound, a malformed field with ErrInvalidArgument.
func (s *Store) InsertAPIKey(ctx context.Context, k APIKey) (APIKey, error) {
	k, err := s.prepareAPIKey(k)
	if err != nil {
		return APIKey{}, fmt.Errorf("insert api key %s: %w", k.ID, err)
	}
	if err := insertAPIKey(ctx, s.db, k); err != nil {
		return APIKey{}, fmt.Errorf("insert api key %s (tenant %s): %w", k.ID, k.TenantID, err)
	}
	return k, nil
}

func (s *Store) prepareAPIKey(k APIKey) (APIKey, error) {
	if err := validateAPIKey(k); err != nil {
		return k, err
	}
	if k.CreatedAt.IsZero() {
		k.CreatedAt = s.now()
	}
	k.CreatedAt = fromMillis(k.CreatedAt.UnixMilli())
	if !k.ExpiresAt.IsZero() {
		k.ExpiresAt = fromMillis(k.ExpiresAt.UnixMilli())
	}
	k.RevokedAt = time.Time{}
	if k.Collections == nil {
		k.Collections = []string{}
	}
	return k, nil
}

// execer is a *sql.DB or a *sql.Tx.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func insertAPIKey(ctx context.Context, db execer, k APIKey) error {
	cols, err := json.Marshal(k.Collections)
	if err != nil {
		return fmt.Errorf("encode collections: %w", err)
	}
	_, err = db.ExecContext(ctx, `INSERT INTO api_keys (`+apiKeyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)`,
		k.ID, k.TenantID, k.Role, k.Name, k.SecretHash, string(cols), k.CreatedAt.UnixMilli(), nullMillis(k.ExpiresAt))
	if IsForeignKeyViolation(err) {
		return fmt.Errorf("tenant %s: %w", k.TenantID, ErrNotFound)
	}
	return TranslateError(err)
}

// GetAPIKey returns the key with this public id, or ErrNotFound.
func (s *Store) GetAPIKey(ctx context.Context, id string) (APIKey, error) {
	k, err := scanAPIKey(s.db.QueryRowContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE id = ?`, id))
	if err != nil {
		return APIKey{}, fmt.Errorf("api key %s: %w", id, err)
	}
	return k, nil
}

// ListAPIKeys returns the keys of one tenant, or of all tenants when
// tenantID is empty, oldest first. Revoked and expired keys are included.
func (s *Store) ListAPIKeys(ctx context.Context, tenantID string) ([]APIKey, error) {
	q := `SELECT ` + apiKeyColumns + ` FROM api_keys`
	var args []any
	if tenantID != "" {
		q += ` WHERE tenant_id = ?`
		args = append(args, tenantID)
	}
	q += ` ORDER BY created_at, id`
	out, err := queryAll(ctx, s.db, scanAPIKey, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	return out, nil
}

// CountAPIKeys returns how many keys exist, revoked and expired ones
// included.
func (s *Store) CountAPIKeys(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM api_keys`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count api keys: %w", TranslateError(err))
	}
	return n, nil
}

// RevokeAPIKey marks the key revoked at the given time and returns the row.
// Revoking a revoked key changes nothing (the first revocation time
// stays). An unknown id fails with ErrNotFound.
func (s *Store) RevokeAPIKey(ctx context.Context, id string, at time.Time) (APIKey, error) {
	if _, err := s.db.ExecContext(ctx, `UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`,
		at.UnixMilli(), id); err != nil {
		return APIKey{}, fmt.Errorf("revoke api key %s: %w", id, TranslateError(err))
	}
	k, err := s.GetAPIKey(ctx, id)
	if err != nil {
		return APIKey{}, fmt.Errorf("revoke: %w", err)
	}
	return k, nil
}

// RotateAPIKey says how to rotate a key: see Store.RotateAPIKey.
type RotateAPIKey struct {
	OldID string
	// New carries the new key's ID, SecretHash and CreatedAt (zero: the
	// store's clock); its other fields are copied from the old key.
	New APIKey
	// OldExpiresAt is when the old key stops working: its expiry becomes
	// the earlier of this and its current one. A time not after
	// New.CreatedAt revokes the old key at New.CreatedAt instead.
	OldExpiresAt time.Time
}

// RotateAPIKey replaces a key by a new one in one transaction: the new key
// gets the old one's tenant, role, name, collections and lifetime (a key
// created to live 30 days is replaced by one that lives 30 days from now),
// and the old key stops working at r.OldExpiresAt. It returns the old key
// as updated and the new one. An unknown old id fails with ErrNotFound; a
// revoked or expired old key with ErrInvalidTransition.
func (s *Store) RotateAPIKey(ctx context.Context, r RotateAPIKey) (old, created APIKey, err error) {
	tx, err := s.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: the old key cannot change under us
	if err != nil {
		return APIKey{}, APIKey{}, fmt.Errorf("rotate api key %s: begin: %w", r.OldID, TranslateError(err))
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	old, err = scanAPIKey(tx.QueryRowContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE id = ?`, r.OldID))
	if err != nil {
		return APIKey{}, APIKey{}, fmt.Errorf("rotate api key %s: %w", r.OldID, err)
	}
	n := r.New
	if n.CreatedAt.IsZero() {
		n.CreatedAt = s.now()
	}
	now := n.CreatedAt
	if !old.RevokedAt.IsZero() {
		return APIKey{}, APIKey{}, fmt.Errorf("rotate api key %s: it is revoked: %w", r.OldID, ErrInvalidTransition)
	}
	if !old.ExpiresAt.IsZero() && !now.Before(old.ExpiresAt) {
		return APIKey{}, APIKey{}, fmt.Errorf("rotate api key %s: it has expired: %w", r.OldID, ErrInvalidTransition)
	}
	n.TenantID, n.Role, n.Name, n.Collections = old.TenantID, old.Role, old.Name, old.Collections
	n.ExpiresAt = time.Time{}
	if !old.ExpiresAt.IsZero() {
		n.ExpiresAt = now.Add(old.ExpiresAt.Sub(old.CreatedAt))
	}
	if n, err = s.prepareAPIKey(n); err != nil {
		return APIKey{}, APIKey{}, fmt.Errorf("rotate api key %s: new key %s: %w", r.OldID, n.ID, err)
	}
	if err = insertAPIKey(ctx, tx, n); err != nil {
		return APIKey{}, APIKey{}, fmt.Errorf("rotate api key %s: insert new key %s: %w", r.OldID, n.ID, err)
	}
	if r.OldExpiresAt.After(now) {
		if old.ExpiresAt.IsZero() || r.OldExpiresAt.Before(old.ExpiresAt) {
			old.ExpiresAt = fromMillis(r.OldExpiresAt.UnixMilli())
		}
		_, err = tx.ExecContext(ctx, `UPDATE api_keys SET expires_at = ? WHERE id = ?`, old.ExpiresAt.UnixMilli(), old.ID)
	} else {
		old.RevokedAt = fromMillis(now.UnixMilli())
		_, err = tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = ? WHERE id = ?`, old.RevokedAt.UnixMilli(), old.ID)
	}
	if err != nil {
		return APIKey{}, APIKey{}, fmt.Errorf("rotate api key %s: update old key: %w", r.OldID, TranslateError(err))
	}
	if err = tx.Commit(); err != nil {
		return APIKey{}, APIKey{}, fmt.Errorf("rotate api key %s: commit: %w", r.OldID, TranslateError(err))
	}
	return old, n, nil
}

func scanAPIKey(sc scanner) (APIKey, error) {
	var (
		k                APIKey
		cols             string
		created          int64
		expires, revoked sql.NullInt64
	)
	if err := sc.Scan(&k.ID, &k.TenantID, &k.Role, &k.Name, &k.SecretHash, &cols, &created, &expires, &revoked); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return APIKey{}, ErrNotFound
		}
		return APIKey{}, TranslateError(err)
	}
	if err := json.Unmarshal([]byte(cols), &k.Collections); err != nil {
		return APIKey{}, fmt.Errorf("api key %s: collections column: %v: %w", k.ID, err, ErrCorrupt)
	}
	if k.Collections == nil {
		k.Collections = []string{}
	}
	k.CreatedAt = fromMillis(created)
	if expires.Valid {
		k.ExpiresAt = fromMillis(expires.Int64)
	}
	if revoked.Valid {
		k.RevokedAt = fromMillis(revoked.Int64)
	}
	return k, nil
}

// nullMillis stores a zero time as NULL.
func nullMillis(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}
