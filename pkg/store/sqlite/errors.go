package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// mapErr translates an error of database/sql or of the driver into the
// errors of package store, with op as context, keeping the cause:
//
//   - no row (sql.ErrNoRows) is store.ErrNotFound;
//   - a UNIQUE or PRIMARY KEY violation is store.ErrDuplicate;
//   - a busy or locked database, an I/O error, a full disk, a read-only or
//     unopenable file, a missed deadline and any use of a closed Store are
//     store.ErrUnavailable;
//   - a cancelled context stays a cancellation (context.Canceled).
func (s *Store) mapErr(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlite: %s: %w", op, store.ErrNotFound)
	}
	if s.closed.Load() {
		return fmt.Errorf("sqlite: %s: %w: store is closed: %w", op, store.ErrUnavailable, err)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch code := se.Code(); {
		case code == sqlite3.SQLITE_CONSTRAINT_UNIQUE, code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("sqlite: %s: %w: %w", op, store.ErrDuplicate, err)
		case code == sqlite3.SQLITE_INTERRUPT:
			// The driver interrupts a statement when its context ends.
			if cerr := ctx.Err(); errors.Is(cerr, context.Canceled) {
				return fmt.Errorf("sqlite: %s: %w: %w", op, cerr, err)
			} else if cerr != nil {
				return fmt.Errorf("sqlite: %s: %w: %w: %w", op, store.ErrUnavailable, cerr, err)
			}
		case unavailableCode(code):
			return fmt.Errorf("sqlite: %s: %w: %w", op, store.ErrUnavailable, err)
		}
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("sqlite: %s: %w: %w", op, store.ErrUnavailable, err)
	case errors.Is(err, sql.ErrConnDone):
		return fmt.Errorf("sqlite: %s: %w: %w", op, store.ErrUnavailable, err)
	default:
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
}

// unavailableCode reports the result codes (primary or extended) that mean
// the database cannot serve the request now, as opposed to a bad request.
func unavailableCode(code int) bool {
	switch code & 0xff { // the primary code of an extended one
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL,
		sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PROTOCOL, sqlite3.SQLITE_NOLFS:
		return true
	}
	return false
}

// openErr describes a failure of Open on the database at path, naming the
// usual causes: not a database, corrupt, newer schema.
func openErr(path string, err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_NOTADB:
			return fmt.Errorf("sqlite: open %s: the file is not a database (or is corrupt or encrypted): %w", path, err)
		case sqlite3.SQLITE_CORRUPT:
			return fmt.Errorf("sqlite: open %s: the database is corrupt: %w", path, err)
		}
		if unavailableCode(se.Code()) {
			return fmt.Errorf("sqlite: open %s: %w: %w", path, store.ErrUnavailable, err)
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("sqlite: open %s: %w: %w", path, store.ErrUnavailable, err)
	}
	return fmt.Errorf("sqlite: open %s: %w", path, err)
}

// isBusy reports whether err is SQLite's "database is locked".
func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && (se.Code()&0xff == sqlite3.SQLITE_BUSY || se.Code()&0xff == sqlite3.SQLITE_LOCKED)
}
