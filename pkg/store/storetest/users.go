package storetest

import (
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

func userTests() []test {
	return []test{
		{"RoundTrip", testUserRoundTrip},
		{"DefaultTimes", testUserDefaultTimes},
		{"DuplicateAccount", testUserDuplicateAccount},
		{"DuplicateEmail", testUserDuplicateEmail},
		{"DuplicateID", testUserDuplicateID},
		{"NotFound", testUserNotFound},
		{"UsersByIDs", testUsersByIDs},
		{"UpdateProfile", testUpdateProfile},
		{"UpdateProfileNothing", testUpdateProfileNothing},
		{"UpdateProfileNotFound", testUpdateProfileNotFound},
		{"ValuesNotShared", testUserValuesNotShared},
	}
}

func newUser(id, account string) *store.User {
	return &store.User{
		ID: id, Account: account, Email: account + "@example.com",
		PasswordHash: "hash-" + id, Nickname: "nick " + account, Avatar: "a.png", Sex: 1,
		CreatedAt: at(1), UpdatedAt: at(2),
	}
}

func createUser(t *testing.T, s store.Store, u *store.User) *store.User {
	t.Helper()
	mustNil(t, "CreateUser "+u.ID, s.CreateUser(t.Context(), u))
	return u
}

// mustUser reads a user by id and fails the test if it is missing.
func mustUser(t *testing.T, s store.Store, id string) *store.User {
	t.Helper()
	u, err := s.UserByID(t.Context(), id)
	mustNil(t, "UserByID "+id, err)
	return u
}

func testUserRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := createUser(t, s, newUser("u1", "alice"))
	sameTime(t, "CreatedAt normalised in place", u.CreatedAt, stored(at(1)))
	sameTime(t, "UpdatedAt normalised in place", u.UpdatedAt, stored(at(2)))
	createUser(t, s, newUser("u2", "bob"))

	for _, tc := range []struct {
		name string
		get  func() (*store.User, error)
	}{
		{"UserByID", func() (*store.User, error) { return s.UserByID(ctx, "u1") }},
		{"UserByAccount", func() (*store.User, error) { return s.UserByAccount(ctx, "alice") }},
		{"UserByEmail", func() (*store.User, error) { return s.UserByEmail(ctx, "alice@example.com") }},
	} {
		got, err := tc.get()
		mustNil(t, tc.name, err)
		same(t, tc.name, got, u)
	}
}

func testUserDefaultTimes(t *testing.T, s store.Store) {
	u := newUser("u1", "alice")
	u.CreatedAt, u.UpdatedAt = time.Time{}, time.Time{}
	before := time.Now()
	createUser(t, s, u)
	recent(t, "defaulted CreatedAt", u.CreatedAt, before)
	sameTime(t, "defaulted UpdatedAt", u.UpdatedAt, u.CreatedAt)
	same(t, "stored user", mustUser(t, s, "u1"), u)

	// A zero UpdatedAt alone takes CreatedAt.
	v := newUser("u2", "bob")
	v.UpdatedAt = time.Time{}
	createUser(t, s, v)
	sameTime(t, "defaulted UpdatedAt", v.UpdatedAt, stored(at(1)))
	same(t, "stored user", mustUser(t, s, "u2"), v)
}

func testUserDuplicateAccount(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := createUser(t, s, newUser("u1", "alice"))
	loser := newUser("u2", "alice")
	loser.Email = "other@example.com"
	wantErr(t, "CreateUser with a taken account", s.CreateUser(ctx, loser), store.ErrDuplicate)

	_, err := s.UserByID(ctx, "u2")
	wantErr(t, "UserByID of the loser", err, store.ErrNotFound)
	// The loser's email was not taken by the failed insert.
	_, err = s.UserByEmail(ctx, "other@example.com")
	wantErr(t, "UserByEmail of the loser", err, store.ErrNotFound)
	got, err := s.UserByAccount(ctx, "alice")
	mustNil(t, "UserByAccount", err)
	same(t, "account owner", got, alice)
	v := newUser("u3", "carol")
	v.Email = "other@example.com"
	createUser(t, s, v)
}

func testUserDuplicateEmail(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := createUser(t, s, newUser("u1", "alice"))
	loser := newUser("u2", "bob")
	loser.Email = "alice@example.com"
	wantErr(t, "CreateUser with a taken email", s.CreateUser(ctx, loser), store.ErrDuplicate)

	_, err := s.UserByID(ctx, "u2")
	wantErr(t, "UserByID of the loser", err, store.ErrNotFound)
	// The loser's account was not taken by the failed insert.
	_, err = s.UserByAccount(ctx, "bob")
	wantErr(t, "UserByAccount of the loser", err, store.ErrNotFound)
	got, err := s.UserByEmail(ctx, "alice@example.com")
	mustNil(t, "UserByEmail", err)
	same(t, "email owner", got, alice)
	createUser(t, s, newUser("u3", "bob"))
}

func testUserDuplicateID(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := createUser(t, s, newUser("u1", "alice"))
	wantErr(t, "CreateUser with a taken id", s.CreateUser(ctx, newUser("u1", "carol")), store.ErrDuplicate)
	same(t, "id owner", mustUser(t, s, "u1"), alice)
	_, err := s.UserByAccount(ctx, "carol")
	wantErr(t, "UserByAccount of the loser", err, store.ErrNotFound)
	createUser(t, s, newUser("u2", "carol"))
}

func testUserNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUser(t, s, newUser("u1", "alice"))
	_, err := s.UserByID(ctx, "nobody")
	wantErr(t, "UserByID of a missing user", err, store.ErrNotFound)
	_, err = s.UserByAccount(ctx, "nobody")
	wantErr(t, "UserByAccount of a missing user", err, store.ErrNotFound)
	_, err = s.UserByEmail(ctx, "nobody@example.com")
	wantErr(t, "UserByEmail of a missing user", err, store.ErrNotFound)
	// Lookups are exact: an account is not an id, nor an email.
	_, err = s.UserByID(ctx, "alice")
	wantErr(t, "UserByID of an account", err, store.ErrNotFound)
	_, err = s.UserByEmail(ctx, "alice")
	wantErr(t, "UserByEmail of an account", err, store.ErrNotFound)
}

func testUsersByIDs(t *testing.T, s store.Store) {
	ctx := t.Context()
	u1 := createUser(t, s, newUser("u1", "a"))
	createUser(t, s, newUser("u2", "b"))
	u3 := createUser(t, s, newUser("u3", "c"))

	// In the order of ids, once each, unknown ids skipped.
	got, err := s.UsersByIDs(ctx, []string{"u3", "missing", "u1", "u3"})
	mustNil(t, "UsersByIDs", err)
	same(t, "UsersByIDs", got, []store.User{*u3, *u1})

	for _, ids := range [][]string{nil, {}, {"missing"}} {
		got, err := s.UsersByIDs(ctx, ids)
		mustNil(t, "UsersByIDs", err)
		if len(got) != 0 {
			t.Fatalf("UsersByIDs(%q) = %+v, want none", ids, got)
		}
	}
}

func testUpdateProfile(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := createUser(t, s, newUser("u1", "alice"))
	createUser(t, s, newUser("u2", "bob"))

	nick := "Alice"
	before := time.Now()
	got, err := s.UpdateProfile(ctx, "u1", &nick, nil, nil)
	mustNil(t, "UpdateProfile nickname", err)
	recent(t, "UpdatedAt after an update", got.UpdatedAt, before)
	want := *u
	want.Nickname, want.UpdatedAt = "Alice", got.UpdatedAt
	same(t, "after a nickname update", got, &want)
	same(t, "stored after a nickname update", mustUser(t, s, "u1"), got)

	avatar, sex := "b.png", 2
	got, err = s.UpdateProfile(ctx, "u1", nil, &avatar, &sex)
	mustNil(t, "UpdateProfile avatar and sex", err)
	want.Avatar, want.Sex, want.UpdatedAt = "b.png", 2, got.UpdatedAt
	same(t, "after an avatar and sex update", got, &want)
	same(t, "stored after an avatar and sex update", mustUser(t, s, "u1"), got)

	// Empty values are values: they clear the field.
	empty, zero := "", 0
	got, err = s.UpdateProfile(ctx, "u1", &empty, &empty, &zero)
	mustNil(t, "UpdateProfile to empty values", err)
	want.Nickname, want.Avatar, want.Sex, want.UpdatedAt = "", "", 0, got.UpdatedAt
	same(t, "after clearing", got, &want)
	same(t, "stored after clearing", mustUser(t, s, "u1"), got)

	same(t, "other user untouched", mustUser(t, s, "u2"), newUserStored("u2", "bob"))
}

// newUserStored is newUser as a read returns it.
func newUserStored(id, account string) *store.User {
	u := newUser(id, account)
	u.CreatedAt, u.UpdatedAt = stored(u.CreatedAt), stored(u.UpdatedAt)
	return u
}

// testUpdateProfileNothing: with every field nil UpdateProfile changes
// nothing (not even UpdatedAt) and returns the user.
func testUpdateProfileNothing(t *testing.T, s store.Store) {
	u := createUser(t, s, newUser("u1", "alice"))
	got, err := s.UpdateProfile(t.Context(), "u1", nil, nil, nil)
	mustNil(t, "UpdateProfile with nothing to set", err)
	same(t, "returned user", got, u)
	same(t, "stored user", mustUser(t, s, "u1"), u)
}

func testUpdateProfileNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUser(t, s, newUser("u1", "alice"))
	nick := "x"
	_, err := s.UpdateProfile(ctx, "nobody", &nick, nil, nil)
	wantErr(t, "UpdateProfile of a missing user", err, store.ErrNotFound)
	_, err = s.UpdateProfile(ctx, "nobody", nil, nil, nil)
	wantErr(t, "UpdateProfile of a missing user, nothing to set", err, store.ErrNotFound)
	_, err = s.UserByID(ctx, "nobody")
	wantErr(t, "UserByID after UpdateProfile of a missing user", err, store.ErrNotFound)
}

// testUserValuesNotShared: the store keeps its own copy; neither the value
// given to CreateUser nor the values it returns alias it.
func testUserValuesNotShared(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := createUser(t, s, newUser("u1", "alice"))
	want := *u
	u.Nickname = "changed after create"
	got := mustUser(t, s, "u1")
	same(t, "after changing the created value", got, &want)
	got.Nickname = "changed after read"
	list, err := s.UsersByIDs(ctx, []string{"u1"})
	mustNil(t, "UsersByIDs", err)
	list[0].Nickname = "changed in a list"
	same(t, "after changing read values", mustUser(t, s, "u1"), &want)
}
