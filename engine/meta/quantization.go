package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Quantization settings (migration 0007).
const (
	QuantNone = "none"
	QuantInt8 = "int8"

	OriginalsMemory = "memory"
	OriginalsDisk   = "disk"

	RangesAuto       = "auto"
	RangesCollection = "collection"
	RangesDimension  = "dimension"
)

// Quantization is a collection's quantization settings.
type Quantization struct {
	Type      string // QuantNone or QuantInt8
	Originals string // OriginalsMemory or OriginalsDisk (only with QuantInt8)
	Ranges    string // RangesAuto, RangesCollection or RangesDimension
}

// DefaultQuantization is what a collection without a row has.
var DefaultQuantization = Quantization{Type: QuantNone, Originals: OriginalsMemory, Ranges: RangesAuto}

// Validate checks settings the catalog would refuse, so the caller gets
// ErrInvalidArgument instead of a constraint failure.
func (q Quantization) Validate() error {
	switch {
	case q.Type != QuantNone && q.Type != QuantInt8:
		return fmt.Errorf("quantization type %q (want none or int8): %w", q.Type, ErrInvalidArgument)
	case q.Originals != OriginalsMemory && q.Originals != OriginalsDisk:
		return fmt.Errorf("originals %q (want memory or disk): %w", q.Originals, ErrInvalidArgument)
	case q.Ranges != RangesAuto && q.Ranges != RangesCollection && q.Ranges != RangesDimension:
		return fmt.Errorf("ranges %q (want auto, collection or dimension): %w", q.Ranges, ErrInvalidArgument)
	case q.Type == QuantNone && q.Originals == OriginalsDisk:
		return fmt.Errorf("originals on disk need int8 quantization: %w", ErrInvalidArgument)
	}
	return nil
}

// SetCollectionQuantization stores collection id's settings (replacing
// any); durable when it returns. An unknown id is ErrNotFound.
func (s *Store) SetCollectionQuantization(ctx context.Context, id string, q Quantization) error {
	if err := q.Validate(); err != nil {
		return fmt.Errorf("set quantization of collection %s: %w", id, err)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO collection_quantization (collection_id, type, originals, ranges, updated_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (collection_id) DO UPDATE SET type = excluded.type, originals = excluded.originals,
			ranges = excluded.ranges, updated_at = excluded.updated_at`,
		id, q.Type, q.Originals, q.Ranges, s.now().UnixMilli())
	if IsForeignKeyViolation(err) {
		return fmt.Errorf("set quantization of collection %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("set quantization of collection %s: %w", id, TranslateError(err))
	}
	return nil
}

// GetCollectionQuantization returns collection id's settings
// (DefaultQuantization when none were stored).
func (s *Store) GetCollectionQuantization(ctx context.Context, id string) (Quantization, error) {
	var q Quantization
	err := s.db.QueryRowContext(ctx, `SELECT type, originals, ranges FROM collection_quantization WHERE collection_id = ?`, id).
		Scan(&q.Type, &q.Originals, &q.Ranges)
	if errors.Is(err, sql.ErrNoRows) {
		return DefaultQuantization, nil
	}
	if err != nil {
		return Quantization{}, fmt.Errorf("quantization of collection %s: %w", id, TranslateError(err))
	}
	return q, nil
}
