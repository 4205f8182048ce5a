package meta

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// Many goroutines writing at once (through the pool, so through several
// SQLite connections) must all succeed: BEGIN IMMEDIATE plus the busy
// timeout queue them instead of failing with "database is locked".
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	const writers, perWriter, readers = 8, 25, 2

	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter+readers)
	done := make(chan struct{})
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				if err := lifecycle(ctx, s, w, i); err != nil {
					errs <- fmt.Errorf("writer %d op %d: %w", w, i, err)
					return
				}
			}
		}(w)
	}
	var rg sync.WaitGroup
	for r := 0; r < readers; r++ {
		rg.Add(1)
		go func() {
			defer rg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				if _, err := s.ListCollections(ctx, ""); err != nil {
					errs <- fmt.Errorf("reader: %w", err)
					return
				}
				if _, err := s.ListTenants(ctx); err != nil {
					errs <- fmt.Errorf("reader: %w", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	rg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	tenants, err := s.ListTenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(tenants) != writers*perWriter+1 {
		t.Fatalf("%d tenants, want %d", len(tenants), writers*perWriter+1)
	}
	// Every writer left its odd-numbered collections ready.
	ready, err := s.ListCollectionsByState(ctx, StateReady)
	if err != nil {
		t.Fatal(err)
	}
	if want := writers * (perWriter / 2); len(ready) != want {
		t.Fatalf("%d ready collections, want %d", len(ready), want)
	}
	left, err := s.ListCollectionsByState(ctx, StateCreating, StateDropping)
	if err != nil || len(left) != 0 {
		t.Fatalf("%d collections mid-way (%v), want 0", len(left), err)
	}
}

// lifecycle creates a tenant and a collection and drops the collection
// again when i is even.
func lifecycle(ctx context.Context, s *Store, w, i int) error {
	tn, err := s.CreateTenant(ctx, fmt.Sprintf("t-%d-%d", w, i))
	if err != nil {
		return err
	}
	c, err := s.InsertCollection(ctx, sampleCollection(tn.ID, "docs"))
	if err != nil {
		return err
	}
	if err := s.MarkCollectionReady(ctx, c.ID); err != nil {
		return err
	}
	if i%2 == 1 {
		return nil
	}
	if err := s.MarkCollectionDropping(ctx, c.ID); err != nil {
		return err
	}
	return s.DeleteCollection(ctx, c.ID)
}

// Racing creates of one name: exactly one wins, the others get
// ErrAlreadyExists (not "database is locked").
func TestConcurrentSameName(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	const n = 8
	results := make(chan error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.InsertCollection(ctx, sampleCollection(DefaultTenantID, "contested"))
			results <- err
		}()
	}
	wg.Wait()
	close(results)
	wins := 0
	for err := range results {
		switch {
		case err == nil:
			wins++
		case errors.Is(err, ErrAlreadyExists):
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d inserts won, want 1", wins)
	}
}
