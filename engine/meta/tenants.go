package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// DefaultTenantID is the id (and name) of the tenant that migration 0001
// creates. It cannot be deleted.
const DefaultTenantID = "default"

// Tenant is a row of the tenants table.
type Tenant struct {
	ID        string
	Name      string
	CreatedAt time.Time // UTC, millisecond precision
}

// CreateTenant adds a tenant with a generated id. A name already taken
// fails with ErrAlreadyExists.
func (s *Store) CreateTenant(ctx context.Context, name string) (Tenant, error) {
	if err := validateName("tenant", name); err != nil {
		return Tenant{}, fmt.Errorf("create tenant: %w", err)
	}
	id, err := s.newID()
	if err != nil {
		return Tenant{}, fmt.Errorf("create tenant %q: %w", name, err)
	}
	t := Tenant{ID: id, Name: name, CreatedAt: fromMillis(s.now().UnixMilli())}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)`,
		t.ID, t.Name, t.CreatedAt.UnixMilli()); err != nil {
		return Tenant{}, fmt.Errorf("create tenant %q: %w", name, TranslateError(err))
	}
	return t, nil
}

// GetTenant returns the tenant with this id, or ErrNotFound.
func (s *Store) GetTenant(ctx context.Context, id string) (Tenant, error) {
	t, err := scanTenant(s.db.QueryRowContext(ctx, `SELECT id, name, created_at FROM tenants WHERE id = ?`, id))
	if err != nil {
		return Tenant{}, fmt.Errorf("tenant %s: %w", id, err)
	}
	return t, nil
}

// GetTenantByName returns the tenant with this name, or ErrNotFound.
func (s *Store) GetTenantByName(ctx context.Context, name string) (Tenant, error) {
	t, err := scanTenant(s.db.QueryRowContext(ctx, `SELECT id, name, created_at FROM tenants WHERE name = ?`, name))
	if err != nil {
		return Tenant{}, fmt.Errorf("tenant named %q: %w", name, err)
	}
	return t, nil
}

// ListTenants returns all tenants ordered by name.
func (s *Store) ListTenants(ctx context.Context) ([]Tenant, error) {
	out, err := queryAll(ctx, s.db, scanTenant, `SELECT id, name, created_at FROM tenants ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	return out, nil
}

// DeleteTenant removes a tenant. It fails with ErrNotFound if there is no
// such tenant, ErrInUse while it still has collections (in any state), and
// ErrInvalidArgument for the default tenant.
func (s *Store) DeleteTenant(ctx context.Context, id string) error {
	if id == DefaultTenantID {
		return fmt.Errorf("delete tenant %s: the default tenant cannot be deleted: %w", id, ErrInvalidArgument)
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM tenants WHERE id = ?`, id)
	if IsForeignKeyViolation(err) {
		return fmt.Errorf("delete tenant %s: collections or other rows still refer to it: %w", id, ErrInUse)
	}
	if err != nil {
		return fmt.Errorf("delete tenant %s: %w", id, TranslateError(err))
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("delete tenant %s: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("delete tenant %s: %w", id, ErrNotFound)
	}
	return nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func scanTenant(sc scanner) (Tenant, error) {
	var (
		t       Tenant
		created int64
	)
	if err := sc.Scan(&t.ID, &t.Name, &created); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Tenant{}, ErrNotFound
		}
		return Tenant{}, TranslateError(err)
	}
	t.CreatedAt = fromMillis(created)
	return t, nil
}

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }
