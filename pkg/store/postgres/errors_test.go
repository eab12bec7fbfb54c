package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/postgres"
)

// wantCode checks that err carries a server error with this SQLSTATE.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if pe, ok := errors.AsType[*pgconn.PgError](err); !ok || pe.Code != code {
		t.Fatalf("error %v: want SQLSTATE %s in the chain", err, code)
	}
}

func TestStatementTimeoutIsUnavailable(t *testing.T) {
	s := openAt(t, testenv.PostgresURL(t), postgres.Options{StatementTimeout: 100 * time.Millisecond})
	ctx := testCtx(t)
	start := time.Now()
	err := s.ExecMapped(ctx, "SELECT pg_sleep(3)")
	wantErr(t, "statement past statement_timeout", err, store.ErrUnavailable)
	wantCode(t, err, "57014")
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("statement cancelled after %v, want about 100ms", d)
	}
	mustNil(t, "Ping after the timeout", s.Ping(ctx))
}

func TestPoolExhaustedIsUnavailable(t *testing.T) {
	s := openAt(t, testenv.PostgresURL(t), postgres.Options{MaxConns: 1})
	ctx := testCtx(t)
	held, err := s.Pool().Acquire(ctx)
	mustNil(t, "Acquire", err)
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = s.UserByID(short, "u1")
	wantErr(t, "UserByID with no free connection", err, store.ErrUnavailable)
	if d := time.Since(start); d < 150*time.Millisecond || d > 5*time.Second {
		t.Errorf("failed after %v, want at the 200ms deadline", d)
	}
	held.Release()
	_, err = s.UserByID(ctx, "u1")
	wantErr(t, "UserByID once the connection is back", err, store.ErrNotFound)
}

func TestUseAfterCloseIsUnavailable(t *testing.T) {
	s := openAt(t, testenv.PostgresURL(t), postgres.Options{})
	ctx := testCtx(t)
	mustNil(t, "Close", s.Close(ctx))
	mustNil(t, "Close again", s.Close(ctx))
	wantErr(t, "Ping", s.Ping(ctx), store.ErrUnavailable)
	_, err := s.UserByID(ctx, "u1")
	wantErr(t, "UserByID", err, store.ErrUnavailable)
	wantErr(t, "InsertMessage", s.InsertMessage(ctx, newMessage("r1", 1, "u1")), store.ErrUnavailable)
	wantErr(t, "RevokeFamily", s.RevokeFamily(ctx, "f1"), store.ErrUnavailable)
	_, err = s.MessagesAfter(ctx, "r1", 0, 10)
	wantErr(t, "MessagesAfter", err, store.ErrUnavailable)
}

func TestContextEnds(t *testing.T) {
	s, ctx := openStore(t), testCtx(t)

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err := s.UserByID(cancelled, "u1")
	wantErr(t, "cancelled before", err, context.Canceled)
	if errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("cancelled before: %v is ErrUnavailable", err)
	}

	during, cancel := context.WithCancel(ctx)
	time.AfterFunc(100*time.Millisecond, cancel)
	err = s.ExecMapped(during, "SELECT pg_sleep(3)")
	wantErr(t, "cancelled during a statement", err, context.Canceled)
	if errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("cancelled during: %v is ErrUnavailable", err)
	}

	deadline, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	err = s.ExecMapped(deadline, "SELECT pg_sleep(3)")
	wantErr(t, "deadline during a statement", err, store.ErrUnavailable)

	mustNil(t, "Ping afterwards", s.Ping(ctx))
}

// TestTerminatedConnection: a connection the server ends (57P01
// admin_shutdown, as in a restart or failover) fails the operation on it
// with ErrUnavailable; the pool then connects again.
func TestTerminatedConnection(t *testing.T) {
	url := testenv.PostgresURL(t)
	s := openAt(t, url, postgres.Options{MaxConns: 1})
	ctx := testCtx(t)
	var pid uint32
	c, err := s.Pool().Acquire(ctx)
	mustNil(t, "Acquire", err)
	pid = c.Conn().PgConn().PID()
	c.Release()

	admin, err := pgx.Connect(ctx, url)
	mustNil(t, "connect", err)
	defer admin.Close(ctx)
	var ok bool
	mustNil(t, "pg_terminate_backend", admin.QueryRow(ctx, "SELECT pg_terminate_backend($1)", pid).Scan(&ok))
	if !ok {
		t.Fatal("pg_terminate_backend returned false")
	}
	time.Sleep(100 * time.Millisecond) // let the FATAL message arrive

	_, err = s.UserByID(ctx, "u1")
	wantErr(t, "UserByID on a terminated connection", err, store.ErrUnavailable)
	_, err = s.UserByID(ctx, "u1")
	wantErr(t, "UserByID on a new connection", err, store.ErrNotFound)
}
