package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// migrationFS holds the schema scripts, named NNNN_description.sql and
// numbered from 0001 without gaps. Script N brings the schema from version
// N-1 to version N. Applied scripts are never edited: a change of schema
// is a new script.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one schema script.
type migration struct {
	version int
	name    string
	sql     string
}

// SchemaVersionError is the error of Open on a database whose schema
// version (PRAGMA user_version) is newer than this build knows: it was
// written by a newer server, and reading it could misread or damage it.
type SchemaVersionError struct {
	Database int // the database's version
	Latest   int // the latest version this build knows
}

func (e *SchemaVersionError) Error() string {
	return fmt.Sprintf("sqlite: database schema version %d is newer than this build supports (%d); upgrade the server",
		e.Database, e.Latest)
}

// migrations returns the embedded scripts in version order, checking that
// they are numbered 1, 2, ... without gaps.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []migration
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_description.sql", name)
		}
		b, err := migrationFS.ReadFile(path.Join("migrations", name))
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", name, err)
		}
		out = append(out, migration{version: v, name: name, sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: version %d, want %d (versions must run 1, 2, ... without gaps)", m.name, m.version, i+1)
		}
	}
	return out, nil
}

// LatestSchemaVersion is the schema version this build creates and
// understands.
func LatestSchemaVersion() int {
	ms, err := migrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// migrate brings the schema of db up to the latest version, one script per
// transaction, each transaction also setting PRAGMA user_version. The
// version is read again inside each (immediate, so exclusive for writers)
// transaction, so that several processes opening one database at once
// apply each script once. It fails with a *SchemaVersionError when the
// database is newer than this build.
func migrate(ctx context.Context, db *sql.DB) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	latest := len(ms)
	v, err := userVersion(ctx, db)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if v > latest {
		return &SchemaVersionError{Database: v, Latest: latest}
	}
	for _, m := range ms[v:] {
		if err := apply(ctx, db, m, latest); err != nil {
			return err
		}
	}
	return nil
}

// apply runs one migration in a transaction, unless another process
// already did.
func apply(ctx context.Context, db *sql.DB, m migration, latest int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migration %s: begin: %w", m.name, err)
	}
	defer func() { _ = tx.Rollback() }()
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("migration %s: read schema version: %w", m.name, err)
	}
	switch {
	case v > latest:
		return &SchemaVersionError{Database: v, Latest: latest}
	case v >= m.version:
		return nil // applied meanwhile by another process
	case v != m.version-1:
		return fmt.Errorf("migration %s: schema version is %d, want %d", m.name, v, m.version-1)
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("migration %s: %w", m.name, err)
	}
	// PRAGMA takes no bound parameters; the version is an integer.
	if _, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(m.version)); err != nil {
		return fmt.Errorf("migration %s: set schema version: %w", m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %s: commit: %w", m.name, err)
	}
	return nil
}

func userVersion(ctx context.Context, db *sql.DB) (int, error) {
	var v int
	err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
	return v, err
}
