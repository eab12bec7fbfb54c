package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// mapErr translates an error of pgx or of the server into the errors of
// package store, with op as context, keeping the cause:
//
//   - no row (pgx.ErrNoRows) is store.ErrNotFound;
//   - a unique violation (23505) is store.ErrDuplicate;
//   - a cancelled ctx stays a cancellation (context.Canceled), also when
//     the server reports the statement as cancelled;
//   - a missed deadline (the pool had no free connection in time, the
//     answer did not come), a statement timeout or cancellation by the
//     server (57014), a server shutting down or starting (57P01, 57P02,
//     57P03), a connection exception (class 08), insufficient resources
//     (class 53), a read-only server (25006, a standby after a
//     failover), a broken or refused connection, and any use of a closed
//     Store are store.ErrUnavailable.
func (s *Store) mapErr(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	if pe, ok := pgErr(err); ok {
		switch {
		case pe.Code == pgerrcode.UniqueViolation:
			return fmt.Errorf("postgres: %s: %w: %w", op, store.ErrDuplicate, err)
		case pe.Code == pgerrcode.QueryCanceled && ctxCanceled(ctx):
			return fmt.Errorf("postgres: %s: %w: %w", op, context.Canceled, err)
		case unavailableCode(pe.Code):
			return fmt.Errorf("postgres: %s: %w: %w", op, store.ErrUnavailable, err)
		}
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	if ctxCanceled(ctx) {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("postgres: %s: %w", op, err)
		}
		return fmt.Errorf("postgres: %s: %w: %w", op, context.Canceled, err)
	}
	switch {
	case s.closed.Load():
		return fmt.Errorf("postgres: %s: %w: store is closed: %w", op, store.ErrUnavailable, err)
	case unavailable(err) || ctx.Err() != nil:
		return fmt.Errorf("postgres: %s: %w: %w", op, store.ErrUnavailable, err)
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// openErr describes a failure of Open.
func (s *Store) openErr(ctx context.Context, err error) error {
	if pe, ok := pgErr(err); ok && pe.Code == pgerrcode.InvalidCatalogName {
		return fmt.Errorf("postgres: open %s: the database does not exist: %w", s.target, err)
	}
	return s.mapErr(ctx, "open "+s.target, err)
}

// ctxCanceled reports whether ctx was cancelled (not timed out).
func ctxCanceled(ctx context.Context) bool {
	return errors.Is(ctx.Err(), context.Canceled)
}

// unavailableCode reports the SQLSTATEs that mean the server cannot serve
// the request now, as opposed to a bad request.
func unavailableCode(code string) bool {
	switch {
	case code == pgerrcode.QueryCanceled, // statement_timeout, pg_cancel_backend
		code == pgerrcode.AdminShutdown, code == pgerrcode.CrashShutdown, code == pgerrcode.CannotConnectNow,
		code == pgerrcode.ReadOnlySQLTransaction,
		code == pgerrcode.IdleSessionTimeout,
		pgerrcode.IsConnectionException(code),   // 08
		pgerrcode.IsInsufficientResources(code): // 53
		return true
	}
	return false
}

// conflict reports a statement PostgreSQL rolled back to break a deadlock
// or a serialization conflict.
func conflict(err error) bool {
	pe, ok := pgErr(err)
	return ok && (pe.Code == pgerrcode.DeadlockDetected || pe.Code == pgerrcode.SerializationFailure)
}

// unavailable reports the client-side errors that mean the server could
// not be reached or the answer was lost.
func unavailable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) || pgconn.SafeToRetry(err) {
		return true
	}
	if _, ok := errors.AsType[*pgconn.ConnectError](err); ok {
		return true
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return true
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, puddle.ErrClosedPool)
}
