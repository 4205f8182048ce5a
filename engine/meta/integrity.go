package meta

import (
	"context"
	"database/sql"
	"fmt"
)

// IntegrityCheck runs PRAGMA integrity_check and PRAGMA foreign_key_check
// and returns the problems they report, or nil for a healthy database. An
// error means the check itself could not run (a database too damaged to
// read fails with an error wrapping ErrCorrupt); fsck treats both as
// damage.
func (s *Store) IntegrityCheck(ctx context.Context) ([]string, error) {
	var problems []string
	rows, err := s.db.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return nil, fmt.Errorf("integrity check of %s: %w", s.path, TranslateError(err))
	}
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			rows.Close()
			return nil, fmt.Errorf("integrity check of %s: %w", s.path, TranslateError(err))
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := closeRows(rows); err != nil {
		return nil, fmt.Errorf("integrity check of %s: %w", s.path, err)
	}

	// Rows written while foreign keys were off (a sqlite3 shell, say)
	// can point at nothing; integrity_check does not look.
	rows, err = s.db.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		return nil, fmt.Errorf("foreign key check of %s: %w", s.path, TranslateError(err))
	}
	for rows.Next() {
		var (
			table, parent string
			rowid         sql.NullInt64
			fkid          int
		)
		if err := rows.Scan(&table, &rowid, &parent, &fkid); err != nil {
			rows.Close()
			return nil, fmt.Errorf("foreign key check of %s: %w", s.path, TranslateError(err))
		}
		problems = append(problems, fmt.Sprintf("foreign key violation: %s row %d refers to a missing %s row",
			table, rowid.Int64, parent))
	}
	if err := closeRows(rows); err != nil {
		return nil, fmt.Errorf("foreign key check of %s: %w", s.path, err)
	}
	return problems, nil
}
