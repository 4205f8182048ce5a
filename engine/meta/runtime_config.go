package meta

// Runtime configuration (migration 0003_limits):
//
//	runtime_config(key TEXT PK, value TEXT (valid JSON), updated_at INTEGER)
//
// One JSON document per key (serve/limits keeps "rate_limit" here). The
// catalog stores documents; their shape and validation belong to the
// package that owns the key.

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// maxRuntimeConfigKey bounds a key's length; maxRuntimeConfigValue a
// document's. Both are far above anything akidb writes.
const (
	maxRuntimeConfigKey   = 64
	maxRuntimeConfigValue = 64 << 10
)

// RuntimeSetting is a row of runtime_config.
type RuntimeSetting struct {
	Key       string
	Value     json.RawMessage // compact JSON
	UpdatedAt time.Time       // UTC, millisecond precision
}

func validateRuntimeKey(key string) error {
	if len(key) > maxRuntimeConfigKey {
		return fmt.Errorf("runtime config key is %d bytes long, more than %d: %w", len(key), maxRuntimeConfigKey, ErrInvalidArgument)
	}
	return validateName("runtime config key", key)
}

// PutRuntimeSetting creates or replaces the document under key and returns
// the row as stored (value compacted). A value that is not one valid JSON
// document fails with ErrInvalidArgument.
func (s *Store) PutRuntimeSetting(ctx context.Context, key string, value []byte) (RuntimeSetting, error) {
	if err := validateRuntimeKey(key); err != nil {
		return RuntimeSetting{}, fmt.Errorf("put runtime config: %w", err)
	}
	if len(value) > maxRuntimeConfigValue {
		return RuntimeSetting{}, fmt.Errorf("put runtime config %s: value is %d bytes, more than %d: %w",
			key, len(value), maxRuntimeConfigValue, ErrInvalidArgument)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, value); err != nil { // also refuses invalid JSON
		return RuntimeSetting{}, fmt.Errorf("put runtime config %s: value is not valid JSON: %v: %w", key, err, ErrInvalidArgument)
	}
	r := RuntimeSetting{Key: key, Value: compact.Bytes(), UpdatedAt: fromMillis(s.now().UnixMilli())}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO runtime_config (key, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		r.Key, string(r.Value), r.UpdatedAt.UnixMilli()); err != nil {
		return RuntimeSetting{}, fmt.Errorf("put runtime config %s: %w", key, TranslateError(err))
	}
	return r, nil
}

// GetRuntimeSetting returns the document under key, or ErrNotFound.
func (s *Store) GetRuntimeSetting(ctx context.Context, key string) (RuntimeSetting, error) {
	r, err := scanRuntimeSetting(s.db.QueryRowContext(ctx, `SELECT key, value, updated_at FROM runtime_config WHERE key = ?`, key))
	if err != nil {
		return RuntimeSetting{}, fmt.Errorf("runtime config %s: %w", key, err)
	}
	return r, nil
}

// ListRuntimeSettings returns every document, ordered by key.
func (s *Store) ListRuntimeSettings(ctx context.Context) ([]RuntimeSetting, error) {
	out, err := queryAll(ctx, s.db, scanRuntimeSetting, `SELECT key, value, updated_at FROM runtime_config ORDER BY key`)
	if err != nil {
		return nil, fmt.Errorf("list runtime config: %w", err)
	}
	return out, nil
}

func scanRuntimeSetting(sc scanner) (RuntimeSetting, error) {
	var (
		r       RuntimeSetting
		value   string
		updated int64
	)
	if err := sc.Scan(&r.Key, &value, &updated); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return RuntimeSetting{}, ErrNotFound
		}
		return RuntimeSetting{}, TranslateError(err)
	}
	r.Value = json.RawMessage(value)
	r.UpdatedAt = fromMillis(updated)
	return r, nil
}
