package sqlite_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

func newUser(id, account string) *store.User {
	return &store.User{
		ID: id, Account: account, Email: account + "@example.com",
		PasswordHash: "hash-" + id, Nickname: "nick " + account, Avatar: "a.png", Sex: 1,
		CreatedAt: at(1), UpdatedAt: at(2),
	}
}

func TestUsersRoundTrip(t *testing.T) {
	s, ctx := openStore(t), testCtx(t)
	u := newUser("u1", "alice")
	mustNil(t, "CreateUser", s.CreateUser(ctx, u))
	sameTime(t, "normalised CreatedAt", u.CreatedAt, at(1).Truncate(1e6))

	for name, get := range map[string]func() (*store.User, error){
		"UserByID":      func() (*store.User, error) { return s.UserByID(ctx, "u1") },
		"UserByAccount": func() (*store.User, error) { return s.UserByAccount(ctx, "alice") },
		"UserByEmail":   func() (*store.User, error) { return s.UserByEmail(ctx, "alice@example.com") },
	} {
		got, err := get()
		mustNil(t, name, err)
		if !reflect.DeepEqual(got, u) {
			t.Fatalf("%s: got %+v, want %+v", name, got, u)
		}
	}

	_, err := s.UserByID(ctx, "nobody")
	wantErr(t, "UserByID missing", err, store.ErrNotFound)
	_, err = s.UserByAccount(ctx, "nobody")
	wantErr(t, "UserByAccount missing", err, store.ErrNotFound)
	_, err = s.UserByEmail(ctx, "nobody@example.com")
	wantErr(t, "UserByEmail missing", err, store.ErrNotFound)
}

func TestCreateUserDuplicates(t *testing.T) {
	s, ctx := openStore(t), testCtx(t)
	mustNil(t, "CreateUser", s.CreateUser(ctx, newUser("u1", "alice")))

	sameAccount := newUser("u2", "alice")
	sameAccount.Email = "other@example.com"
	wantErr(t, "same account", s.CreateUser(ctx, sameAccount), store.ErrDuplicate)

	sameEmail := newUser("u3", "bob")
	sameEmail.Email = "alice@example.com"
	wantErr(t, "same email", s.CreateUser(ctx, sameEmail), store.ErrDuplicate)

	wantErr(t, "same id", s.CreateUser(ctx, newUser("u1", "carol")), store.ErrDuplicate)
	if err := s.CreateUser(ctx, nil); err == nil {
		t.Fatal("CreateUser(nil): no error")
	}
}

func TestCreateUserDefaultsTimes(t *testing.T) {
	s, ctx := openStore(t), testCtx(t)
	u := newUser("u1", "alice")
	u.CreatedAt, u.UpdatedAt = time.Time{}, time.Time{}
	before := time.Now().Add(-time.Second)
	mustNil(t, "CreateUser", s.CreateUser(ctx, u))
	if u.CreatedAt.Before(before) || !u.UpdatedAt.Equal(u.CreatedAt) {
		t.Fatalf("times not defaulted: %v %v", u.CreatedAt, u.UpdatedAt)
	}
	got, err := s.UserByID(ctx, "u1")
	mustNil(t, "UserByID", err)
	sameTime(t, "CreatedAt", got.CreatedAt, u.CreatedAt)
}

func TestUsersByIDs(t *testing.T) {
	s, ctx := openStore(t), testCtx(t)
	for _, u := range []*store.User{newUser("u1", "a"), newUser("u2", "b"), newUser("u3", "c")} {
		mustNil(t, "CreateUser", s.CreateUser(ctx, u))
	}
	got, err := s.UsersByIDs(ctx, []string{"u3", "missing", "u1", "u3"})
	mustNil(t, "UsersByIDs", err)
	var ids []string
	for _, u := range got {
		ids = append(ids, u.ID)
	}
	if !reflect.DeepEqual(ids, []string{"u3", "u1"}) {
		t.Fatalf("UsersByIDs: got %v, want [u3 u1]", ids)
	}
	got, err = s.UsersByIDs(ctx, nil)
	if got != nil || err != nil {
		t.Fatalf("UsersByIDs(nil) = %v, %v; want nil, nil", got, err)
	}
	got, err = s.UsersByIDs(ctx, []string{"missing"})
	if len(got) != 0 || err != nil {
		t.Fatalf("UsersByIDs(missing) = %v, %v; want empty", got, err)
	}
}

func TestUpdateProfile(t *testing.T) {
	s, ctx := openStore(t), testCtx(t)
	u := newUser("u1", "alice")
	mustNil(t, "CreateUser", s.CreateUser(ctx, u))

	nick := "Alice"
	got, err := s.UpdateProfile(ctx, "u1", &nick, nil, nil)
	mustNil(t, "UpdateProfile nickname", err)
	if got.Nickname != "Alice" || got.Avatar != u.Avatar || got.Sex != u.Sex {
		t.Fatalf("after nickname update: %+v", got)
	}
	if !got.UpdatedAt.After(u.UpdatedAt) {
		t.Fatalf("UpdatedAt not advanced: %v <= %v", got.UpdatedAt, u.UpdatedAt)
	}
	sameTime(t, "CreatedAt kept", got.CreatedAt, u.CreatedAt)

	avatar, sex := "b.png", 2
	got, err = s.UpdateProfile(ctx, "u1", nil, &avatar, &sex)
	mustNil(t, "UpdateProfile avatar+sex", err)
	if got.Nickname != "Alice" || got.Avatar != "b.png" || got.Sex != 2 {
		t.Fatalf("after avatar update: %+v", got)
	}
	reread, err := s.UserByID(ctx, "u1")
	mustNil(t, "UserByID", err)
	if !reflect.DeepEqual(reread, got) {
		t.Fatalf("stored %+v, returned %+v", reread, got)
	}

	got, err = s.UpdateProfile(ctx, "u1", nil, nil, nil)
	mustNil(t, "UpdateProfile nothing", err)
	if !reflect.DeepEqual(got, reread) {
		t.Fatalf("no-op update changed the user: %+v", got)
	}

	_, err = s.UpdateProfile(ctx, "nobody", &nick, nil, nil)
	wantErr(t, "UpdateProfile missing", err, store.ErrNotFound)
	_, err = s.UpdateProfile(ctx, "nobody", nil, nil, nil)
	wantErr(t, "UpdateProfile missing no-op", err, store.ErrNotFound)
}
