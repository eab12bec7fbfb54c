package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// Account changes: password, email, deletion and the release of a deleted
// account's name and email.
func accountTests() []test {
	return []test{
		{"SetPasswordHash", testSetPasswordHash},
		{"SetPasswordHashNotFound", testSetPasswordHashNotFound},
		{"SetPasswordHashCycle", testSetPasswordHashCycle},
		{"SetEmail", testSetEmail},
		{"SetEmailTaken", testSetEmailTaken},
		{"SetEmailNotFound", testSetEmailNotFound},
		{"DeletedAtRoundTrip", testDeletedAtRoundTrip},
		{"MarkDeleted", testMarkDeleted},
		{"MarkDeletedNotFound", testMarkDeletedNotFound},
		{"ReleaseDeleted", testReleaseDeleted},
		{"ReleaseDeletedNothing", testReleaseDeletedNothing},
	}
}

// Sessions: one signed-in device each, the refresh family of its tokens.
func sessionTests() []test {
	return []test{
		{"RoundTrip", testSessionRoundTrip},
		{"DefaultTimes", testSessionDefaultTimes},
		{"Duplicate", testSessionDuplicate},
		{"NotFound", testSessionNotFound},
		{"SessionsOf", testSessionsOf},
		{"Touch", testTouchSession},
		{"RevokeFamily", testRevokeFamilySession},
		{"PurgeExpired", testPurgeExpired},
		{"PurgeExpiredNothing", testPurgeExpiredNothing},
	}
}

// exactlyOne checks that one error is nil and every other one is loser
// (store.ErrDuplicate, store.ErrConflict), and returns the index of the
// winner.
func exactlyOne(t testing.TB, what string, errs []error, loser error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("%s: callers %d and %d both succeeded", what, winner, i)
			}
			winner = i
		case errors.Is(err, loser):
		default:
			t.Fatalf("%s: caller %d: got %v, want nil or %v", what, i, err, loser)
		}
	}
	if winner < 0 {
		t.Fatalf("%s: no caller succeeded", what)
	}
	return winner
}

// userReads reads one user through every read method and checks that each
// returns want.
func userReads(t *testing.T, s store.Store, want *store.User) {
	t.Helper()
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		get  func() (*store.User, error)
	}{
		{"UserByID", func() (*store.User, error) { return s.UserByID(ctx, want.ID) }},
		{"UserByAccount", func() (*store.User, error) { return s.UserByAccount(ctx, want.Account) }},
		{"UserByEmail", func() (*store.User, error) { return s.UserByEmail(ctx, want.Email) }},
		{"UsersByIDs", func() (*store.User, error) {
			list, err := s.UsersByIDs(ctx, []string{want.ID})
			if err != nil {
				return nil, err
			}
			if len(list) != 1 {
				return nil, fmt.Errorf("%d users, want 1", len(list))
			}
			return &list[0], nil
		}},
	} {
		got, err := tc.get()
		mustNil(t, tc.name+" "+want.ID, err)
		same(t, tc.name+" "+want.ID, got, want)
	}
}

func testSetPasswordHash(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := createUser(t, s, newUser("u1", "alice"))
	other := createUser(t, s, newUser("u2", "bob"))

	before := time.Now()
	mustNil(t, "SetPasswordHash", s.SetPasswordHash(ctx, "u1", "hash-u1", "new-hash"))
	got := mustUser(t, s, "u1")
	recent(t, "UpdatedAt after SetPasswordHash", got.UpdatedAt, before)
	want := *u
	want.PasswordHash, want.UpdatedAt = "new-hash", got.UpdatedAt
	same(t, "after SetPasswordHash", got, &want)

	// The old hash is no longer current: the change fails and changes
	// nothing.
	wantErr(t, "SetPasswordHash from a stale hash", s.SetPasswordHash(ctx, "u1", "hash-u1", "other"), store.ErrConflict)
	wantErr(t, "SetPasswordHash from a wrong hash", s.SetPasswordHash(ctx, "u1", "nonsense", "other"), store.ErrConflict)
	same(t, "after failed changes", mustUser(t, s, "u1"), &want)
	same(t, "other user untouched", mustUser(t, s, "u2"), other)
}

func testSetPasswordHashNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUser(t, s, newUser("u1", "alice"))
	wantErr(t, "SetPasswordHash of a missing user", s.SetPasswordHash(ctx, "nobody", "hash-u1", "x"), store.ErrNotFound)
	wantErr(t, "SetPasswordHash of a missing user, empty hash", s.SetPasswordHash(ctx, "nobody", "", "x"), store.ErrNotFound)
	_, err := s.UserByID(ctx, "nobody")
	wantErr(t, "UserByID after SetPasswordHash of a missing user", err, store.ErrNotFound)
}

// testSetPasswordHashCycle: a hash may come back (A, B, A, C): nothing of
// an earlier change (a lock, a marker) blocks a later one from the same
// hash.
func testSetPasswordHashCycle(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUser(t, s, newUser("u1", "alice"))
	steps := []string{"hash-u1", "B", "hash-u1", "C", "B", "hash-u1"}
	for i := 1; i < len(steps); i++ {
		mustNil(t, fmt.Sprintf("SetPasswordHash %s -> %s", steps[i-1], steps[i]),
			s.SetPasswordHash(ctx, "u1", steps[i-1], steps[i]))
		if got := mustUser(t, s, "u1").PasswordHash; got != steps[i] {
			t.Fatalf("step %d: hash %q, want %q", i, got, steps[i])
		}
	}
	wantErr(t, "SetPasswordHash from a hash of the past", s.SetPasswordHash(ctx, "u1", "C", "D"), store.ErrConflict)
}

// testRaceSetPasswordHash: of racing changes from the same hash exactly
// one wins, the others get ErrConflict, and the winner's hash is stored.
func testRaceSetPasswordHash(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := createUser(t, s, newUser("u1", "alice"))
	errs := Race(racers, func(i int) error {
		return s.SetPasswordHash(ctx, "u1", "hash-u1", fmt.Sprintf("new-%d", i))
	})
	w := exactlyOne(t, "SetPasswordHash from the same hash", errs, store.ErrConflict)
	got := mustUser(t, s, "u1")
	if got.PasswordHash != fmt.Sprintf("new-%d", w) {
		t.Fatalf("stored hash %q, winner new-%d", got.PasswordHash, w)
	}
	want := *u
	want.PasswordHash, want.UpdatedAt = got.PasswordHash, got.UpdatedAt
	same(t, "after the race", got, &want)
	// The next change starts from the winner's hash.
	mustNil(t, "SetPasswordHash after the race", s.SetPasswordHash(ctx, "u1", got.PasswordHash, "next"))
}

func testSetEmail(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := createUser(t, s, newUser("u1", "alice"))
	other := createUser(t, s, newUser("u2", "bob"))

	before := time.Now()
	mustNil(t, "SetEmail", s.SetEmail(ctx, "u1", "new@example.com"))
	got := mustUser(t, s, "u1")
	recent(t, "UpdatedAt after SetEmail", got.UpdatedAt, before)
	want := *u
	want.Email, want.UpdatedAt = "new@example.com", got.UpdatedAt
	same(t, "after SetEmail", got, &want)
	userReads(t, s, &want)
	_, err := s.UserByEmail(ctx, "alice@example.com")
	wantErr(t, "UserByEmail of the old email", err, store.ErrNotFound)

	// Setting the current email again is no change, and no error.
	mustNil(t, "SetEmail to the current email", s.SetEmail(ctx, "u1", "new@example.com"))
	if got := mustUser(t, s, "u1"); got.Email != "new@example.com" {
		t.Fatalf("email %q after setting it again", got.Email)
	}
	// The old email is free.
	v := newUser("u3", "carol")
	v.Email = "alice@example.com"
	createUser(t, s, v)
	same(t, "other user untouched", mustUser(t, s, "u2"), other)
}

func testSetEmailTaken(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := createUser(t, s, newUser("u1", "alice"))
	bob := createUser(t, s, newUser("u2", "bob"))
	wantErr(t, "SetEmail to another user's email", s.SetEmail(ctx, "u1", "bob@example.com"), store.ErrDuplicate)
	same(t, "user kept", mustUser(t, s, "u1"), alice)
	same(t, "email owner kept", mustUser(t, s, "u2"), bob)
	got, err := s.UserByEmail(ctx, "bob@example.com")
	mustNil(t, "UserByEmail", err)
	same(t, "UserByEmail of the taken email", got, bob)
}

func testSetEmailNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUser(t, s, newUser("u1", "alice"))
	wantErr(t, "SetEmail of a missing user", s.SetEmail(ctx, "nobody", "x@example.com"), store.ErrNotFound)
	_, err := s.UserByEmail(ctx, "x@example.com")
	wantErr(t, "UserByEmail after SetEmail of a missing user", err, store.ErrNotFound)
	// A missing user with a taken email: either error says the call
	// failed, but nothing may change.
	if err := s.SetEmail(ctx, "nobody", "alice@example.com"); err == nil {
		t.Fatal("SetEmail of a missing user to a taken email: no error")
	}
	same(t, "email owner kept", mustUser(t, s, "u1"), newUserStored("u1", "alice"))
}

// testRaceSetEmail: users racing for one address: exactly one gets it,
// the others keep their own.
func testRaceSetEmail(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i := range racers {
		createUser(t, s, newUser(fmt.Sprintf("u%d", i), fmt.Sprintf("acct%d", i)))
	}
	errs := Race(racers, func(i int) error { return s.SetEmail(ctx, fmt.Sprintf("u%d", i), "same@example.com") })
	w := ExactlyOne(t, "SetEmail to the same address", errs)
	got, err := s.UserByEmail(ctx, "same@example.com")
	mustNil(t, "UserByEmail", err)
	if got.ID != fmt.Sprintf("u%d", w) {
		t.Fatalf("address owned by %s, winner u%d", got.ID, w)
	}
	for i := range racers {
		if i == w {
			continue
		}
		if got := mustUser(t, s, fmt.Sprintf("u%d", i)); got.Email != fmt.Sprintf("acct%d@example.com", i) {
			t.Fatalf("loser %d: email %q", i, got.Email)
		}
	}
}

// testDeletedAtRoundTrip: DeletedAt is stored by CreateUser (normalised in
// place) and read back by every read.
func testDeletedAtRoundTrip(t *testing.T, s store.Store) {
	live := createUser(t, s, newUser("u1", "alice"))
	if live.Deleted() || !live.DeletedAt.IsZero() {
		t.Fatalf("new user deleted: %+v", live)
	}
	userReads(t, s, live)
	gone := newUser("u2", "bob")
	gone.DeletedAt = at(5)
	createUser(t, s, gone)
	sameTime(t, "DeletedAt normalised in place", gone.DeletedAt, stored(at(5)))
	userReads(t, s, gone)
	list, err := s.UsersByIDs(t.Context(), []string{"u2", "u1"})
	mustNil(t, "UsersByIDs", err)
	same(t, "UsersByIDs", list, []store.User{*gone, *live})
}

func testMarkDeleted(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := createUser(t, s, newUser("u1", "alice"))
	other := createUser(t, s, newUser("u2", "bob"))
	mustNil(t, "MarkDeleted", s.MarkDeleted(ctx, "u1", at(10)))
	want := *u
	want.DeletedAt = stored(at(10))
	got := mustUser(t, s, "u1")
	sameTime(t, "DeletedAt", got.DeletedAt, stored(at(10)))
	if !got.Deleted() {
		t.Fatal("Deleted() false after MarkDeleted")
	}
	// Only DeletedAt changes; the account name and email stay taken.
	userReads(t, s, &want)
	wantErr(t, "CreateUser with the deleted user's account", s.CreateUser(ctx, newUser("u3", "alice")), store.ErrDuplicate)

	// A second call keeps the first time, earlier or later.
	mustNil(t, "MarkDeleted again, later", s.MarkDeleted(ctx, "u1", at(20)))
	mustNil(t, "MarkDeleted again, earlier", s.MarkDeleted(ctx, "u1", at(0)))
	userReads(t, s, &want)
	same(t, "other user untouched", mustUser(t, s, "u2"), other)
}

func testMarkDeletedNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUser(t, s, newUser("u1", "alice"))
	wantErr(t, "MarkDeleted of a missing user", s.MarkDeleted(ctx, "nobody", at(1)), store.ErrNotFound)
	_, err := s.UserByID(ctx, "nobody")
	wantErr(t, "UserByID after MarkDeleted of a missing user", err, store.ErrNotFound)
}

func testReleaseDeleted(t *testing.T, s store.Store) {
	ctx := t.Context()
	users := map[string]*store.User{}
	for i, id := range []string{"U1", "u2", "u3", "u4", "u5"} {
		users[id] = createUser(t, s, newUser(id, fmt.Sprintf("acct%d", i+1)))
	}
	// Deleted in the order u3, U1, u2 before the cut; u4 after it; u5
	// live.
	for id, sec := range map[string]int{"u3": 10, "U1": 11, "u2": 12, "u4": 40} {
		mustNil(t, "MarkDeleted "+id, s.MarkDeleted(ctx, id, at(sec)))
		users[id].DeletedAt = stored(at(sec))
	}
	cut := at(30)

	released := func(id string) *store.User {
		u := *users[id]
		u.Account, u.Email = store.ReleasedAccount(id), store.ReleasedEmail(id)
		return &u
	}
	// Oldest deletion first, at most limit a call.
	for i, want := range []struct {
		n   int
		ids []string
	}{{2, []string{"u3", "U1"}}, {1, []string{"u2"}}, {0, nil}, {0, nil}} {
		n, err := s.ReleaseDeleted(ctx, cut, 2)
		mustNil(t, fmt.Sprintf("ReleaseDeleted call %d", i+1), err)
		if n != want.n {
			t.Fatalf("ReleaseDeleted call %d released %d, want %d", i+1, n, want.n)
		}
		for _, id := range want.ids {
			users[id] = released(id)
			userReads(t, s, users[id])
		}
	}
	if u := users["U1"]; u.Account != "~u1" || u.Email != "u1@deleted.invalid" {
		t.Fatalf("released as %q, %q", u.Account, u.Email)
	}
	for _, id := range []string{"U1", "u2", "u3", "u4", "u5"} {
		same(t, "after the release: "+id, mustUser(t, s, id), users[id])
	}
	// The original names and emails are free again; u4's is still taken.
	for i := 1; i <= 3; i++ {
		_, err := s.UserByAccount(ctx, fmt.Sprintf("acct%d", i))
		wantErr(t, fmt.Sprintf("UserByAccount acct%d", i), err, store.ErrNotFound)
		createUser(t, s, newUser(fmt.Sprintf("new%d", i), fmt.Sprintf("acct%d", i)))
	}
	wantErr(t, "CreateUser with the account of a deleted, unreleased user",
		s.CreateUser(ctx, newUser("new4", "acct4")), store.ErrDuplicate)

	// A later cut releases u4 too, and only u4.
	n, err := s.ReleaseDeleted(ctx, at(50), 10)
	mustNil(t, "ReleaseDeleted with a later cut", err)
	if n != 1 {
		t.Fatalf("ReleaseDeleted with a later cut released %d, want 1", n)
	}
	userReads(t, s, released("u4"))
	same(t, "live user untouched", mustUser(t, s, "u5"), users["u5"])
}

// testReleaseDeletedNothing: a limit <= 0 releases nothing, nor does a cut
// at or before every deletion (the cut is exclusive, to the millisecond).
func testReleaseDeletedNothing(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := createUser(t, s, newUser("u1", "alice"))
	mustNil(t, "MarkDeleted", s.MarkDeleted(ctx, "u1", at(10)))
	u.DeletedAt = stored(at(10))
	for _, tc := range []struct {
		cut   time.Time
		limit int
	}{{at(30), 0}, {at(30), -1}, {at(10), 10}, {at(9), 10}} {
		n, err := s.ReleaseDeleted(ctx, tc.cut, tc.limit)
		mustNil(t, "ReleaseDeleted", err)
		if n != 0 {
			t.Fatalf("ReleaseDeleted(%v, %d) released %d, want 0", tc.cut, tc.limit, n)
		}
	}
	same(t, "user kept", mustUser(t, s, "u1"), u)
}

// testSetOwner: SetOwner changes the owner and UpdatedAt only.
func testSetOwner(t *testing.T, s store.Store) {
	ctx := t.Context()
	g := createRoom(t, s, newGroup("r1", "1"))
	other := createRoom(t, s, newGroup("r2", "2"))
	before := time.Now()
	mustNil(t, "SetOwner", s.SetOwner(ctx, "r1", "u9"))
	got := mustRoom(t, s, "r1")
	recent(t, "UpdatedAt after SetOwner", got.UpdatedAt, before)
	want := *g
	want.Owner, want.UpdatedAt = "u9", got.UpdatedAt
	same(t, "after SetOwner", got, &want)
	same(t, "other room", mustRoom(t, s, "r2"), other)
	wantErr(t, "SetOwner of a missing room", s.SetOwner(ctx, "missing", "u9"), store.ErrNotFound)
	_, err := s.RoomByID(ctx, "missing")
	wantErr(t, "RoomByID after SetOwner of a missing room", err, store.ErrNotFound)
}

func newSession(id, user string, sec int) *store.Session {
	return &store.Session{
		ID: id, UserID: user, Device: "phone " + id, IP: "192.0.2.1",
		CreatedAt: at(sec), LastUsedAt: at(sec + 1), ExpiresAt: at(sec + 60),
	}
}

func createSession(t *testing.T, s store.Store, ss *store.Session) *store.Session {
	t.Helper()
	mustNil(t, "CreateSession "+ss.ID, s.CreateSession(t.Context(), ss))
	return ss
}

func mustSession(t *testing.T, s store.Store, id string) *store.Session {
	t.Helper()
	ss, err := s.Session(t.Context(), id)
	mustNil(t, "Session "+id, err)
	return ss
}

func testSessionRoundTrip(t *testing.T, s store.Store) {
	ss := createSession(t, s, newSession("s1", "u1", 1))
	sameTime(t, "CreatedAt normalised in place", ss.CreatedAt, stored(at(1)))
	sameTime(t, "LastUsedAt normalised in place", ss.LastUsedAt, stored(at(2)))
	sameTime(t, "ExpiresAt normalised in place", ss.ExpiresAt, stored(at(61)))
	revoked := newSession("s2", "u1", 2)
	revoked.Revoked, revoked.IP, revoked.Device = true, "", ""
	createSession(t, s, revoked)
	same(t, "Session", mustSession(t, s, "s1"), ss)
	same(t, "Session revoked", mustSession(t, s, "s2"), revoked)
}

// testSessionDefaultTimes: a zero CreatedAt is the current time, a zero
// LastUsedAt is CreatedAt.
func testSessionDefaultTimes(t *testing.T, s store.Store) {
	ss := newSession("s1", "u1", 1)
	ss.CreatedAt, ss.LastUsedAt = time.Time{}, time.Time{}
	before := time.Now()
	createSession(t, s, ss)
	recent(t, "defaulted CreatedAt", ss.CreatedAt, before)
	sameTime(t, "defaulted LastUsedAt", ss.LastUsedAt, ss.CreatedAt)
	same(t, "stored session", mustSession(t, s, "s1"), ss)

	v := newSession("s2", "u1", 1)
	v.LastUsedAt = time.Time{}
	createSession(t, s, v)
	sameTime(t, "defaulted LastUsedAt", v.LastUsedAt, stored(at(1)))
	same(t, "stored session", mustSession(t, s, "s2"), v)
}

func testSessionDuplicate(t *testing.T, s store.Store) {
	ss := createSession(t, s, newSession("s1", "u1", 1))
	wantErr(t, "CreateSession with a taken id", s.CreateSession(t.Context(), newSession("s1", "u2", 5)), store.ErrDuplicate)
	same(t, "session kept", mustSession(t, s, "s1"), ss)
	list, err := s.SessionsOf(t.Context(), "u2")
	mustNil(t, "SessionsOf the loser", err)
	if len(list) != 0 {
		t.Fatalf("loser has sessions %+v", list)
	}
}

func testSessionNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	createSession(t, s, newSession("s1", "u1", 1))
	_, err := s.Session(ctx, "missing")
	wantErr(t, "Session of a missing id", err, store.ErrNotFound)
	_, err = s.Session(ctx, "u1")
	wantErr(t, "Session of a user id", err, store.ErrNotFound)
	wantErr(t, "TouchSession of a missing id",
		s.TouchSession(ctx, "missing", at(5), at(90), "192.0.2.9"), store.ErrNotFound)
	_, err = s.Session(ctx, "missing")
	wantErr(t, "Session after TouchSession of a missing id", err, store.ErrNotFound)
}

func testSessionsOf(t *testing.T, s store.Store) {
	ctx := t.Context()
	s1 := createSession(t, s, newSession("s1", "u1", 3))
	s2 := createSession(t, s, newSession("s2", "u1", 1))
	s3 := createSession(t, s, newSession("s3", "u1", 2))
	s0 := createSession(t, s, newSession("s0", "u1", 1)) // ties with s2: by id
	createSession(t, s, newSession("s4", "u1", 4))
	gone := newSession("s5", "u1", 0)
	gone.Revoked = true
	createSession(t, s, gone)
	expired := createSession(t, s, newSession("s6", "u1", 5))
	expired.LastUsedAt, expired.ExpiresAt = stored(at(5)), stored(at(-3600))
	mustNil(t, "TouchSession", s.TouchSession(ctx, "s6", at(5), at(-3600), ""))
	other := createSession(t, s, newSession("s7", "u2", 1))
	mustNil(t, "RevokeFamily s4", s.RevokeFamily(ctx, "s4"))

	// Revoked sessions are left out; expired ones are not (the caller
	// filters by time).
	list, err := s.SessionsOf(ctx, "u1")
	mustNil(t, "SessionsOf u1", err)
	same(t, "SessionsOf u1", list, []store.Session{*s0, *s2, *s3, *s1, *expired})
	list, err = s.SessionsOf(ctx, "u2")
	mustNil(t, "SessionsOf u2", err)
	same(t, "SessionsOf u2", list, []store.Session{*other})
	list, err = s.SessionsOf(ctx, "nobody")
	mustNil(t, "SessionsOf nobody", err)
	if len(list) != 0 {
		t.Fatalf("SessionsOf nobody: %+v", list)
	}
}

func testTouchSession(t *testing.T, s store.Store) {
	ctx := t.Context()
	ss := createSession(t, s, newSession("s1", "u1", 1))
	other := createSession(t, s, newSession("s2", "u1", 2))

	mustNil(t, "TouchSession", s.TouchSession(ctx, "s1", at(10), at(100), "198.51.100.7"))
	want := *ss
	want.LastUsedAt, want.ExpiresAt, want.IP = stored(at(10)), stored(at(100)), "198.51.100.7"
	got := mustSession(t, s, "s1")
	sameTime(t, "LastUsedAt", got.LastUsedAt, stored(at(10)))
	sameTime(t, "ExpiresAt", got.ExpiresAt, stored(at(100)))
	same(t, "after TouchSession", got, &want)

	// An empty ip keeps the last one seen.
	mustNil(t, "TouchSession without ip", s.TouchSession(ctx, "s1", at(20), at(110), ""))
	want.LastUsedAt, want.ExpiresAt = stored(at(20)), stored(at(110))
	same(t, "after TouchSession without ip", mustSession(t, s, "s1"), &want)
	same(t, "other session", mustSession(t, s, "s2"), other)

	// Touching a revoked session does not bring it back.
	mustNil(t, "RevokeFamily", s.RevokeFamily(ctx, "s1"))
	mustNil(t, "TouchSession of a revoked session", s.TouchSession(ctx, "s1", at(30), at(120), "203.0.113.1"))
	want.LastUsedAt, want.ExpiresAt, want.IP, want.Revoked = stored(at(30)), stored(at(120)), "203.0.113.1", true
	same(t, "after TouchSession of a revoked session", mustSession(t, s, "s1"), &want)
}

// testRevokeFamilySession: RevokeFamily of a session's id marks the
// session revoked, records the family and deletes the family's tokens.
func testRevokeFamilySession(t *testing.T, s store.Store) {
	ctx := t.Context()
	ss := createSession(t, s, newSession("s1", "u1", 1))
	other := createSession(t, s, newSession("s2", "u1", 2))
	insertToken(t, s, newToken("h1", "s1", 1))
	h2 := insertToken(t, s, newToken("h2", "s2", 2))

	mustNil(t, "RevokeFamily", s.RevokeFamily(ctx, "s1"))
	mustNil(t, "RevokeFamily again", s.RevokeFamily(ctx, "s1"))
	want := *ss
	want.Revoked = true
	same(t, "revoked session", mustSession(t, s, "s1"), &want)
	for _, tc := range []struct {
		family string
		want   bool
	}{{"s1", true}, {"s2", false}} {
		r, err := s.FamilyRevoked(ctx, tc.family)
		mustNil(t, "FamilyRevoked "+tc.family, err)
		if r != tc.want {
			t.Fatalf("FamilyRevoked(%s) = %v, want %v", tc.family, r, tc.want)
		}
	}
	_, err := s.RefreshToken(ctx, "h1")
	wantErr(t, "RefreshToken of the revoked session", err, store.ErrNotFound)
	same(t, "token of another session", mustToken(t, s, "h2"), h2)
	same(t, "other session", mustSession(t, s, "s2"), other)
	list, err := s.SessionsOf(ctx, "u1")
	mustNil(t, "SessionsOf", err)
	same(t, "SessionsOf after the revocation", list, []store.Session{*other})
}

// testPurgeExpired: PurgeExpired deletes the tokens (with their used
// records) and the sessions (with their revoked-family records) that
// expired before the cut, at most limit of each per call, and nothing
// else.
func testPurgeExpired(t *testing.T, s store.Store) {
	ctx := t.Context()
	cut := at(30)
	tok := func(hash string, expires int) *store.RefreshToken {
		tk := newToken(hash, "fam-"+hash, 1)
		tk.ExpiresAt = at(expires)
		return insertToken(t, s, tk)
	}
	ses := func(id string, expires int) *store.Session {
		ss := newSession(id, "u1", 1)
		ss.ExpiresAt = at(expires)
		return createSession(t, s, ss)
	}
	// Five tokens expired before the cut, two of them used; three live
	// ones, one used, one expiring at the cut itself (not before it).
	for i, sec := range []int{14, 10, 12, 11, 13} {
		tok(fmt.Sprintf("old%d", i), sec)
	}
	live := []*store.RefreshToken{tok("live0", 50), tok("live1", 51), tok("edge", 30)}
	for _, h := range []string{"old0", "old3", "live0"} {
		mustNil(t, "ConsumeRefreshToken "+h, s.ConsumeRefreshToken(ctx, h))
	}
	// Three sessions expired before the cut (one revoked), two live (one
	// revoked), and a revoked family without a session.
	for i, sec := range []int{12, 10, 11} {
		ses(fmt.Sprintf("sold%d", i), sec)
	}
	liveSessions := []*store.Session{ses("slive0", 50), ses("slive1", 30)}
	for _, f := range []string{"sold0", "slive0", "legacy"} {
		mustNil(t, "RevokeFamily "+f, s.RevokeFamily(ctx, f))
	}
	liveSessions[0].Revoked = true

	// Two tokens and two sessions a call.
	var counts []int
	for range 6 {
		n, err := s.PurgeExpired(ctx, cut, 2)
		mustNil(t, "PurgeExpired", err)
		counts = append(counts, n)
		if n == 0 {
			break
		}
	}
	same(t, "rows deleted by successive calls", counts, []int{4, 3, 1, 0})

	for i := range 5 {
		h := fmt.Sprintf("old%d", i)
		_, err := s.RefreshToken(ctx, h)
		wantErr(t, "RefreshToken of purged "+h, err, store.ErrNotFound)
	}
	// The used records went with their tokens: consuming a purged hash
	// is no reuse.
	for _, h := range []string{"old0", "old3"} {
		if err := s.ConsumeRefreshToken(ctx, h); err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("ConsumeRefreshToken of purged %s: got %v, want nil or %v", h, err, store.ErrNotFound)
		}
	}
	for _, tk := range live {
		same(t, "live token "+tk.Hash, mustToken(t, s, tk.Hash), tk)
	}
	wantErr(t, "ConsumeRefreshToken of a live used token", s.ConsumeRefreshToken(ctx, "live0"), store.ErrDuplicate)
	mustNil(t, "ConsumeRefreshToken of a live token", s.ConsumeRefreshToken(ctx, "live1"))

	for i := range 3 {
		id := fmt.Sprintf("sold%d", i)
		_, err := s.Session(ctx, id)
		wantErr(t, "Session of purged "+id, err, store.ErrNotFound)
	}
	for _, ss := range liveSessions {
		same(t, "live session "+ss.ID, mustSession(t, s, ss.ID), ss)
	}
	for _, tc := range []struct {
		family string
		want   bool
	}{{"sold0", false}, {"slive0", true}, {"legacy", true}} {
		r, err := s.FamilyRevoked(ctx, tc.family)
		mustNil(t, "FamilyRevoked "+tc.family, err)
		if r != tc.want {
			t.Fatalf("after the purge: FamilyRevoked(%s) = %v, want %v", tc.family, r, tc.want)
		}
	}
	list, err := s.SessionsOf(ctx, "u1")
	mustNil(t, "SessionsOf", err)
	same(t, "SessionsOf after the purge", list, []store.Session{*liveSessions[1]})
}

// testPurgeExpiredNothing: a limit <= 0 deletes nothing, nor does a cut at
// or before every expiry.
func testPurgeExpiredNothing(t *testing.T, s store.Store) {
	ctx := t.Context()
	tk := newToken("h1", "s1", 1)
	tk.ExpiresAt = at(10)
	insertToken(t, s, tk)
	ss := newSession("s1", "u1", 1)
	ss.ExpiresAt = at(10)
	createSession(t, s, ss)
	for _, tc := range []struct {
		cut   time.Time
		limit int
	}{{at(30), 0}, {at(30), -1}, {at(10), 10}, {at(9), 10}} {
		n, err := s.PurgeExpired(ctx, tc.cut, tc.limit)
		mustNil(t, "PurgeExpired", err)
		if n != 0 {
			t.Fatalf("PurgeExpired(%v, %d) deleted %d, want 0", tc.cut, tc.limit, n)
		}
	}
	same(t, "token kept", mustToken(t, s, "h1"), tk)
	same(t, "session kept", mustSession(t, s, "s1"), ss)
}
