package sqlite

import "context"

// Queries returns every SQL statement the store runs on its tables.
func Queries() map[string]string { return queries() }

// ExecWriter runs a statement on the writer connection, for tests that
// seed data or set a connection pragma.
func (s *Store) ExecWriter(ctx context.Context, query string, args ...any) error {
	_, err := s.writer.ExecContext(ctx, query, args...)
	return err
}

// QueryPlan returns the detail lines of EXPLAIN QUERY PLAN for query, its
// parameters bound to NULL (the plan does not depend on their values).
func (s *Store) QueryPlan(ctx context.Context, query string) ([]string, error) {
	args := make([]any, 32) // more than any statement has; extra ones are ignored
	rows, err := s.writer.QueryContext(ctx, "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, parent, notUsed int
		var detail string
		if err := rows.Scan(&id, &parent, &notUsed, &detail); err != nil {
			return nil, err
		}
		out = append(out, detail)
	}
	return out, rows.Err()
}

// WriterPragma returns the value of a pragma on the writer connection.
func (s *Store) WriterPragma(ctx context.Context, name string) (string, error) {
	var v string
	err := s.writer.QueryRowContext(ctx, "PRAGMA "+name).Scan(&v)
	return v, err
}

// ReaderPragma returns the value of a pragma on a reader connection.
func (s *Store) ReaderPragma(ctx context.Context, name string) (string, error) {
	var v string
	err := s.reader.QueryRowContext(ctx, "PRAGMA "+name).Scan(&v)
	return v, err
}

// ExecReader runs a statement on a reader connection.
func (s *Store) ExecReader(ctx context.Context, query string, args ...any) error {
	_, err := s.reader.ExecContext(ctx, query, args...)
	return err
}
