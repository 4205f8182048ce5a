package meta

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestPayloadIndexes(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	c, err := s.InsertCollection(ctx, Collection{TenantID: DefaultTenantID, Name: "docs", Dimension: 3, Metric: "l2", M: 16, EfConstruction: 200})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []PayloadIndex{{Field: "price", Type: "float"}, {Field: "a.b", Type: "keyword"}, {Field: "year", Type: "integer"}} {
		p.CollectionID = c.ID
		got, err := s.InsertPayloadIndex(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if !got.CreatedAt.Equal(testNow.Truncate(1e6)) {
			t.Errorf("created at %v", got.CreatedAt)
		}
	}
	if _, err := s.InsertPayloadIndex(ctx, PayloadIndex{CollectionID: c.ID, Field: "price", Type: "keyword"}); !errors.Is(err, ErrAlreadyExists) {
		t.Errorf("duplicate field: %v", err)
	}
	if _, err := s.InsertPayloadIndex(ctx, PayloadIndex{CollectionID: "0f0f0f0f-0f0f-4f0f-8f0f-0f0f0f0f0f0f", Field: "x", Type: "keyword"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown collection: %v", err)
	}
	for _, bad := range []PayloadIndex{
		{CollectionID: c.ID, Field: "", Type: "keyword"},
		{CollectionID: c.ID, Field: strings.Repeat("x", 257), Type: "keyword"},
		{CollectionID: c.ID, Field: "x", Type: "text"},
		{Field: "x", Type: "keyword"},
	} {
		if _, err := s.InsertPayloadIndex(ctx, bad); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
	list, err := s.ListPayloadIndexes(ctx, c.ID)
	if err != nil || len(list) != 3 || list[0].Field != "a.b" || list[1].Type != "float" || list[2].Field != "year" {
		t.Fatalf("list %+v %v", list, err)
	}
	if err := s.DeletePayloadIndex(ctx, c.ID, "price"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeletePayloadIndex(ctx, c.ID, "price"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	// Indexes go with their collection.
	if err := s.MarkCollectionDropping(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteCollection(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if list, err := s.ListPayloadIndexes(ctx, c.ID); err != nil || len(list) != 0 {
		t.Fatalf("after drop: %+v %v", list, err)
	}
}
