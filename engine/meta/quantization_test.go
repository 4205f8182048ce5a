package meta

import (
	"context"
	"errors"
	"testing"
)

// TestCollectionQuantization: no row reads as the default; settings are
// stored and replaced; bad settings are ErrInvalidArgument before they
// reach SQLite, and the table's own checks refuse them too; the row goes
// with its collection.
func TestCollectionQuantization(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	c, err := s.InsertCollection(ctx, sampleCollection(DefaultTenantID, "docs"))
	if err != nil {
		t.Fatal(err)
	}
	if q, err := s.GetCollectionQuantization(ctx, c.ID); err != nil || q != DefaultQuantization {
		t.Fatalf("no row: %+v %v", q, err)
	}
	for _, q := range []Quantization{
		{QuantInt8, OriginalsDisk, RangesAuto},
		{QuantInt8, OriginalsMemory, RangesDimension},
		{QuantNone, OriginalsMemory, RangesCollection},
	} {
		if err := s.SetCollectionQuantization(ctx, c.ID, q); err != nil {
			t.Fatal(err)
		}
		if got, err := s.GetCollectionQuantization(ctx, c.ID); err != nil || got != q {
			t.Fatalf("stored %+v, read %+v %v", q, got, err)
		}
	}
	for _, q := range []Quantization{
		{"int4", OriginalsMemory, RangesAuto},
		{QuantInt8, "tape", RangesAuto},
		{QuantInt8, OriginalsMemory, "row"},
		{QuantNone, OriginalsDisk, RangesAuto},
	} {
		if err := s.SetCollectionQuantization(ctx, c.ID, q); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%+v: %v, want ErrInvalidArgument", q, err)
		}
		// The table refuses it too, should a caller skip Validate.
		if _, err := s.db.ExecContext(ctx, `INSERT OR REPLACE INTO collection_quantization VALUES (?, ?, ?, ?, 0)`,
			c.ID, q.Type, q.Originals, q.Ranges); err == nil {
			t.Errorf("%+v: the table accepted it", q)
		}
	}
	if err := s.SetCollectionQuantization(ctx, "3b241101-e2bb-4255-8caf-4136c566a962", DefaultQuantization); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown collection: %v", err)
	}
	if err := s.MarkCollectionDropping(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteCollection(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM collection_quantization`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d rows left after the collection was deleted (%v)", n, err)
	}
}
