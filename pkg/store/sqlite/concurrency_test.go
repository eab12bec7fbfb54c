package sqlite_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/sqlite"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/storetest"
)

// The "create once" rules rest on unique indexes: of N racing inserts of
// the same key exactly one must win, the rest get ErrDuplicate.

func TestConcurrentOpen(t *testing.T) {
	path := dbPath(t)
	ctx := testCtx(t)
	stores := make([]*sqlite.Store, 4)
	errs := storetest.Race(len(stores), func(i int) error {
		var err error
		stores[i], err = sqlite.Open(ctx, path, sqlite.Options{})
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
		}
	}
	for _, s := range stores {
		if s != nil {
			defer func() { _ = s.Close(context.Background()) }()
		}
	}
	if t.Failed() {
		return
	}
	mustNil(t, "CreateUser", stores[0].CreateUser(ctx, newUser("u1", "alice")))
	wantErr(t, "constraint across stores", stores[1].CreateUser(ctx, newUser("u2", "alice")), store.ErrDuplicate)
	got, err := stores[3].UserByAccount(ctx, "alice")
	mustNil(t, "read through another store", err)
	if got.ID != "u1" {
		t.Fatalf("read %s, want u1", got.ID)
	}
}

func TestTwoStoresWriteConcurrently(t *testing.T) {
	path := dbPath(t)
	a, b := openAt(t, path, sqlite.Options{}), openAt(t, path, sqlite.Options{})
	ctx := testCtx(t)
	const n = 100
	errs := storetest.Race(2, func(w int) error {
		s := []*sqlite.Store{a, b}[w]
		for i := 0; i < n; i++ {
			m := newMessage(fmt.Sprintf("r%d", w), int64(i+1), "u1")
			if err := s.InsertMessage(ctx, m); err != nil {
				return err
			}
		}
		return nil
	})
	for i, err := range errs {
		mustNil(t, fmt.Sprintf("writer %d", i), err)
	}
	for _, room := range []string{"r0", "r1"} {
		c, err := a.CountAfter(ctx, room, 0, "")
		mustNil(t, "CountAfter", err)
		if c != n {
			t.Fatalf("room %s: %d messages, want %d", room, c, n)
		}
	}
}
