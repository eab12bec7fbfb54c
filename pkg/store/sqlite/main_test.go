package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/sqlite"
)

// dbPath returns the path of a fresh database file in the test's own
// temporary directory.
func dbPath(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "im.db")
}

// openAt opens a Store on path, closed when the test ends.
func openAt(t testing.TB, path string, opts sqlite.Options) *sqlite.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := sqlite.Open(ctx, path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// openStore opens a Store on a database of the test's own.
func openStore(t testing.TB) *sqlite.Store {
	t.Helper()
	return openAt(t, dbPath(t), sqlite.Options{})
}

func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustNil(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func wantErr(t testing.TB, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

// at returns a fixed time with sub-millisecond digits in a non-UTC zone,
// to check that the store normalises times.
func at(sec int) time.Time {
	return time.Date(2024, 5, 6, 7, 8, sec, 123456789, time.FixedZone("X", 3600))
}

func sameTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
	if got.Location() != time.UTC {
		t.Fatalf("%s: location %v, want UTC", what, got.Location())
	}
}

func newMessage(room string, seq int64, from string) *store.Message {
	return &store.Message{
		ID: fmt.Sprintf("m-%s-%d", room, seq), RoomID: room, Seq: seq, From: from,
		Body: fmt.Sprintf("body %d", seq), ClientMsgID: fmt.Sprintf("c-%s-%d", room, seq), CreatedAt: at(int(seq % 60)),
	}
}

func newUser(id, account string) *store.User {
	return &store.User{
		ID: id, Account: account, Email: account + "@example.com",
		PasswordHash: "hash-" + id, Nickname: "nick " + account, Avatar: "a.png", Sex: 1,
		CreatedAt: at(1), UpdatedAt: at(2),
	}
}
