package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"strconv"

	"github.com/im-websocket-go/im-websocket-go/pkg/store/internal/storeutil"
)

// migrationFS holds the schema scripts, named NNNN_description.sql and
// numbered from 0001 without gaps. Script N brings the schema from version
// N-1 to version N. Applied scripts are never edited: a change of schema
// is a new script.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one schema script.
type migration = storeutil.Migration

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
func migrations() ([]migration, error) { return storeutil.ReadMigrations(migrationFS, "migrations") }

// LatestSchemaVersion is the schema version this build creates and
// understands.
func LatestSchemaVersion() int { return storeutil.LatestVersion(migrations()) }

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
		return fmt.Errorf("migration %s: begin: %w", m.Name, err)
	}
	defer func() { _ = tx.Rollback() }()
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("migration %s: read schema version: %w", m.Name, err)
	}
	switch {
	case v > latest:
		return &SchemaVersionError{Database: v, Latest: latest}
	case v >= m.Version:
		return nil // applied meanwhile by another process
	case v != m.Version-1:
		return fmt.Errorf("migration %s: schema version is %d, want %d", m.Name, v, m.Version-1)
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return fmt.Errorf("migration %s: %w", m.Name, err)
	}
	// PRAGMA takes no bound parameters; the version is an integer.
	if _, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(m.Version)); err != nil {
		return fmt.Errorf("migration %s: set schema version: %w", m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %s: commit: %w", m.Name, err)
	}
	return nil
}

func userVersion(ctx context.Context, db *sql.DB) (int, error) {
	var v int
	err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
	return v, err
}
