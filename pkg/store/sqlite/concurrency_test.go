package sqlite_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/sqlite"
)

// The "create once" rules rest on unique indexes: of N racing inserts of
// the same key exactly one must win, the rest get ErrDuplicate.

func TestConcurrentCreateUserSameAccount(t *testing.T) {
	s, ctx := openStore(t), testCtx(t)
	errs := race(20, func(i int) error {
		u := newUser(fmt.Sprintf("u%d", i), "alice")
		u.Email = fmt.Sprintf("alice%d@example.com", i)
		return s.CreateUser(ctx, u)
	})
	w := exactlyOne(t, "same account", errs)
	got, err := s.UserByAccount(ctx, "alice")
	mustNil(t, "UserByAccount", err)
	if got.ID != fmt.Sprintf("u%d", w) {
		t.Fatalf("stored user %s, winner u%d", got.ID, w)
	}
}

func TestConcurrentCreateUserSameEmail(t *testing.T) {
	s, ctx := openStore(t), testCtx(t)
	errs := race(20, func(i int) error {
		u := newUser(fmt.Sprintf("u%d", i), fmt.Sprintf("acct%d", i))
		u.Email = "same@example.com"
		return s.CreateUser(ctx, u)
	})
	w := exactlyOne(t, "same email", errs)
	got, err := s.UserByEmail(ctx, "same@example.com")
	mustNil(t, "UserByEmail", err)
	if got.ID != fmt.Sprintf("u%d", w) {
		t.Fatalf("stored user %s, winner u%d", got.ID, w)
	}
}

func TestConcurrentCreateFriendship(t *testing.T) {
	s, ctx := openStore(t), testCtx(t)
	errs := race(16, func(i int) error {
		f := &store.Friendship{UserA: "ua", UserB: "ub", RoomID: fmt.Sprintf("r%d", i)}
		if i%2 == 1 {
			f.UserA, f.UserB = f.UserB, f.UserA
		}
		return s.CreateFriendship(ctx, f)
	})
	w := exactlyOne(t, "same pair", errs)
	all, err := s.FriendshipsOf(ctx, "ua")
	mustNil(t, "FriendshipsOf", err)
	if len(all) != 1 || all[0].RoomID != fmt.Sprintf("r%d", w) {
		t.Fatalf("stored %+v, winner r%d", all, w)
	}
}

func TestConcurrentInsertMessageSameSeq(t *testing.T) {
	s, ctx := openStore(t), testCtx(t)
	errs := race(20, func(i int) error {
		m := newMessage("r1", 1, fmt.Sprintf("u%d", i))
		m.ID, m.ClientMsgID = fmt.Sprintf("m%d", i), fmt.Sprintf("c%d", i)
		return s.InsertMessage(ctx, m)
	})
	w := exactlyOne(t, "same (room, seq)", errs)
	ms, err := s.MessagesAfter(ctx, "r1", 0, 100)
	mustNil(t, "MessagesAfter", err)
	if len(ms) != 1 || ms[0].ID != fmt.Sprintf("m%d", w) {
		t.Fatalf("stored %+v, winner m%d", ms, w)
	}
}

func TestConcurrentInsertMessageSameClientID(t *testing.T) {
	s, ctx := openStore(t), testCtx(t)
	errs := race(20, func(i int) error {
		m := newMessage("r1", int64(i+1), "u1")
		m.ID, m.ClientMsgID = fmt.Sprintf("m%d", i), "same"
		return s.InsertMessage(ctx, m)
	})
	w := exactlyOne(t, "same (from, client id)", errs)
	got, err := s.MessageByClientID(ctx, "u1", "same")
	mustNil(t, "MessageByClientID", err)
	if got.ID != fmt.Sprintf("m%d", w) {
		t.Fatalf("stored %s, winner m%d", got.ID, w)
	}
	n, err := s.CountAfter(ctx, "r1", 0, "")
	mustNil(t, "CountAfter", err)
	if n != 1 {
		t.Fatalf("%d messages stored, want 1", n)
	}
}

func TestConcurrentConsumeRefreshToken(t *testing.T) {
	s, ctx := openStore(t), testCtx(t)
	mustNil(t, "InsertRefreshToken", s.InsertRefreshToken(ctx, &store.RefreshToken{Hash: "h", Family: "f", UserID: "u"}))
	errs := race(16, func(int) error { return s.ConsumeRefreshToken(ctx, "h") })
	exactlyOne(t, "consume", errs)
}

func TestConcurrentCreateDirectRoom(t *testing.T) {
	s, ctx := openStore(t), testCtx(t)
	errs := race(16, func(i int) error {
		a, b := "ua", "ub"
		if i%2 == 1 {
			a, b = b, a
		}
		return s.CreateRoom(ctx, newDirect(fmt.Sprintf("d%d", i), a, b))
	})
	w := exactlyOne(t, "same pair key", errs)
	got, err := s.RoomByPairKey(ctx, "ua:ub")
	mustNil(t, "RoomByPairKey", err)
	if got.ID != fmt.Sprintf("d%d", w) {
		t.Fatalf("stored room %s, winner d%d", got.ID, w)
	}
}

func TestConcurrentAddMember(t *testing.T) {
	s, ctx := openStore(t), testCtx(t)
	errs := race(16, func(int) error {
		return s.AddMember(ctx, &store.Member{RoomID: "r1", UserID: "u1", RoomType: store.RoomGroup})
	})
	exactlyOne(t, "same membership", errs)
	n, err := s.CountMembers(ctx, "r1")
	mustNil(t, "CountMembers", err)
	if n != 1 {
		t.Fatalf("%d memberships stored, want 1", n)
	}
}

// Several stores (as several processes would) may open one new database
// at once: each migration must be applied once, and the constraints must
// hold across them.
func TestConcurrentOpen(t *testing.T) {
	path := dbPath(t)
	ctx := testCtx(t)
	stores := make([]*sqlite.Store, 4)
	errs := race(len(stores), func(i int) error {
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

// Writes from two stores on one file (two processes) contend for the
// database lock; busy_timeout makes them wait instead of failing.
func TestTwoStoresWriteConcurrently(t *testing.T) {
	path := dbPath(t)
	a, b := openAt(t, path, sqlite.Options{}), openAt(t, path, sqlite.Options{})
	ctx := testCtx(t)
	const n = 100
	errs := race(2, func(w int) error {
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
