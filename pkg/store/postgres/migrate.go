package postgres

import (
	"context"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

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
// version (the highest in schema_version) is newer than this build knows:
// it was written by a newer server, and using it could misread or damage
// it.
type SchemaVersionError struct {
	Database int // the database's version
	Latest   int // the latest version this build knows
}

func (e *SchemaVersionError) Error() string {
	return fmt.Sprintf("postgres: database schema version %d is newer than this build supports (%d); upgrade the server",
		e.Database, e.Latest)
}

// migrations returns the embedded scripts in version order, checking that
// they are numbered 1, 2, ... without gaps.
func migrations() ([]migration, error) { return storeutil.ReadMigrations(migrationFS, "migrations") }

// LatestSchemaVersion is the schema version this build creates and
// understands.
func LatestSchemaVersion() int { return storeutil.LatestVersion(migrations()) }

// migrate brings the schema up to the latest of the scripts list returns,
// in one transaction holding an advisory lock: concurrent calls from
// several processes queue on the lock, and each finds the version the one
// before it left, so every script is applied once. A version above the
// latest fails with a *SchemaVersionError and changes nothing.
func migrate(ctx context.Context, pool *pgxpool.Pool, list func() ([]migration, error)) error {
	ms, err := list()
	if err != nil {
		return err
	}
	latest := len(ms)
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, migNoTimeout); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if _, err := tx.Exec(ctx, migLock, migLockKey); err != nil {
			return fmt.Errorf("migrate: take the migration lock: %w", err)
		}
		if _, err := tx.Exec(ctx, migCreateVersionTable); err != nil {
			return fmt.Errorf("migrate: create schema_version: %w", err)
		}
		var v int
		if err := tx.QueryRow(ctx, migVersion).Scan(&v); err != nil {
			return fmt.Errorf("migrate: read schema version: %w", err)
		}
		if v > latest {
			return &SchemaVersionError{Database: v, Latest: latest}
		}
		for _, m := range ms[v:] {
			// Simple protocol: a script is several statements.
			if _, err := tx.Exec(ctx, m.SQL, pgx.QueryExecModeSimpleProtocol); err != nil {
				return fmt.Errorf("migration %s: %w", m.Name, err)
			}
			if _, err := tx.Exec(ctx, migRecordVersion, m.Version, m.Name); err != nil {
				return fmt.Errorf("migration %s: record version: %w", m.Name, err)
			}
		}
		return nil
	})
}
