package meta

import (
	"context"
	"fmt"
	"time"
)

// PayloadIndex is a row of payload_indexes: an index declared on one
// metadata field of a collection.
type PayloadIndex struct {
	CollectionID string
	Field        string // dot path, as filters name fields
	Type         string // keyword, integer or float
	CreatedAt    time.Time
}

// MaxPayloadIndexFieldBytes is the longest field name the table accepts.
const MaxPayloadIndexFieldBytes = 256

func validatePayloadIndex(p PayloadIndex) error {
	switch {
	case p.CollectionID == "":
		return fmt.Errorf("collection id is empty: %w", ErrInvalidArgument)
	case p.Field == "" || len(p.Field) > MaxPayloadIndexFieldBytes:
		return fmt.Errorf("field name of %d bytes (want 1..%d): %w", len(p.Field), MaxPayloadIndexFieldBytes, ErrInvalidArgument)
	case p.Type != "keyword" && p.Type != "integer" && p.Type != "float":
		return fmt.Errorf("index type %q is not keyword, integer or float: %w", p.Type, ErrInvalidArgument)
	}
	return nil
}

// InsertPayloadIndex declares an index and returns the row as stored. A
// field that already has one fails with ErrAlreadyExists, an unknown
// collection with ErrNotFound.
func (s *Store) InsertPayloadIndex(ctx context.Context, p PayloadIndex) (PayloadIndex, error) {
	if err := validatePayloadIndex(p); err != nil {
		return PayloadIndex{}, fmt.Errorf("insert payload index %q: %w", p.Field, err)
	}
	p.CreatedAt = fromMillis(s.now().UnixMilli())
	_, err := s.db.ExecContext(ctx, `INSERT INTO payload_indexes (collection_id, field, type, created_at) VALUES (?, ?, ?, ?)`,
		p.CollectionID, p.Field, p.Type, p.CreatedAt.UnixMilli())
	if IsForeignKeyViolation(err) {
		return PayloadIndex{}, fmt.Errorf("insert payload index %q: collection %s: %w", p.Field, p.CollectionID, ErrNotFound)
	}
	if err != nil {
		return PayloadIndex{}, fmt.Errorf("insert payload index %q on collection %s: %w", p.Field, p.CollectionID, TranslateError(err))
	}
	return p, nil
}

// DeletePayloadIndex removes the index on field; ErrNotFound if there is none.
func (s *Store) DeletePayloadIndex(ctx context.Context, collectionID, field string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM payload_indexes WHERE collection_id = ? AND field = ?`, collectionID, field)
	if err != nil {
		return fmt.Errorf("delete payload index %q on collection %s: %w", field, collectionID, TranslateError(err))
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("delete payload index %q on collection %s: %w", field, collectionID, TranslateError(err))
	} else if n == 0 {
		return fmt.Errorf("payload index %q on collection %s: %w", field, collectionID, ErrNotFound)
	}
	return nil
}

// ListPayloadIndexes returns a collection's indexes ordered by field.
func (s *Store) ListPayloadIndexes(ctx context.Context, collectionID string) ([]PayloadIndex, error) {
	out, err := queryAll(ctx, s.db, func(sc scanner) (PayloadIndex, error) {
		var (
			p       PayloadIndex
			created int64
		)
		if err := sc.Scan(&p.CollectionID, &p.Field, &p.Type, &created); err != nil {
			return PayloadIndex{}, TranslateError(err)
		}
		p.CreatedAt = fromMillis(created)
		return p, nil
	}, `SELECT collection_id, field, type, created_at FROM payload_indexes WHERE collection_id = ? ORDER BY field`, collectionID)
	if err != nil {
		return nil, fmt.Errorf("list payload indexes of collection %s: %w", collectionID, err)
	}
	return out, nil
}
