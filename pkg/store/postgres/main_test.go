package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/postgres"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// openAt opens a Store on url, closed when the test ends.
func openAt(t testing.TB, url string, opts postgres.Options) *postgres.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := postgres.Open(ctx, url, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { closeStore(t, s) })
	return s
}

func closeStore(t testing.TB, s *postgres.Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// openStore opens a Store on an empty database of the test's own.
func openStore(t testing.TB) *postgres.Store {
	t.Helper()
	return openAt(t, testenv.PostgresURL(t), postgres.Options{})
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

func newUser(id, account string) *store.User {
	return &store.User{
		ID: id, Account: account, Email: account + "@example.com",
		PasswordHash: "hash-" + id, Nickname: "nick " + account, Avatar: "a.png", Sex: 1,
	}
}

func newMessage(room string, seq int64, from string) *store.Message {
	return &store.Message{
		ID: fmt.Sprintf("m-%s-%d", room, seq), RoomID: room, Seq: seq, From: from,
		Body: fmt.Sprintf("body %d", seq), ClientMsgID: fmt.Sprintf("c-%s-%d", room, seq),
	}
}
