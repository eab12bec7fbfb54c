package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// TestMapErr checks the mapping of each kind of error, without a server.
func TestMapErr(t *testing.T) {
	live := context.Background()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithTimeout(context.Background(), -1)
	defer cancel2()
	pg := func(code string) error {
		return fmt.Errorf("query: %w", &pgconn.PgError{Severity: "ERROR", Code: code, Message: "m"})
	}
	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		want error // nil: none of the store errors nor a cancellation
	}{
		{"no rows", live, pgx.ErrNoRows, store.ErrNotFound},
		{"unique violation", live, pg("23505"), store.ErrDuplicate},
		{"unique violation, ctx ended meanwhile", cancelled, pg("23505"), store.ErrDuplicate},
		{"statement timeout", live, pg("57014"), store.ErrUnavailable},
		{"cancelled by the caller", cancelled, pg("57014"), context.Canceled},
		{"statement timeout past the deadline", expired, pg("57014"), store.ErrUnavailable},
		{"admin shutdown", live, pg("57P01"), store.ErrUnavailable},
		{"crash shutdown", live, pg("57P02"), store.ErrUnavailable},
		{"cannot connect now", live, pg("57P03"), store.ErrUnavailable},
		{"connection failure", live, pg("08006"), store.ErrUnavailable},
		{"connection exception", live, pg("08000"), store.ErrUnavailable},
		{"too many connections", live, pg("53300"), store.ErrUnavailable},
		{"disk full", live, pg("53100"), store.ErrUnavailable},
		{"read-only standby", live, pg("25006"), store.ErrUnavailable},
		{"syntax error", live, pg("42601"), nil},
		{"check violation", live, pg("23514"), nil},
		{"deadline", expired, context.DeadlineExceeded, store.ErrUnavailable},
		{"pool wait past the deadline", expired, fmt.Errorf("acquire: %w", context.DeadlineExceeded), store.ErrUnavailable},
		{"cancelled", cancelled, context.Canceled, context.Canceled},
		{"connection lost", live, io.ErrUnexpectedEOF, store.ErrUnavailable},
		{"closed pool", live, puddle.ErrClosedPool, store.ErrUnavailable},
		{"other", live, errors.New("boom"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Store{}
			got := s.mapErr(tc.ctx, "op", tc.err)
			all := []error{store.ErrNotFound, store.ErrDuplicate, store.ErrUnavailable, context.Canceled}
			for _, e := range all {
				if is := errors.Is(got, e); is != (e == tc.want) {
					t.Errorf("mapErr(%v) = %v: errors.Is(%v) = %v", tc.err, got, e, is)
				}
			}
			if !errors.Is(got, tc.err) && !errors.Is(tc.err, pgx.ErrNoRows) {
				t.Errorf("mapErr(%v) = %v lost the cause", tc.err, got)
			}
		})
	}
	if err := (&Store{}).mapErr(live, "op", nil); err != nil {
		t.Errorf("mapErr(nil) = %v", err)
	}
	s := &Store{}
	s.closed.Store(true)
	if err := s.mapErr(live, "op", errors.New("boom")); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("closed store: %v, want ErrUnavailable", err)
	}
}
