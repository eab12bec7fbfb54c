package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

func presenceTests() []test {
	return []test{
		{"Defaults", testPresenceDefaults},
		{"CreateWithSettings", testPresenceCreateWithSettings},
		{"SetHidePresence", testSetHidePresence},
		{"SetLastSeen", testSetLastSeen},
		{"NotFound", testPresenceNotFound},
		{"ConcurrentFields", testPresenceConcurrentFields},
	}
}

// testPresenceDefaults: a user created without presence settings reads
// back visible and never seen.
func testPresenceDefaults(t *testing.T, s store.Store) {
	createUser(t, s, newUser("u1", "alice"))
	got := mustUser(t, s, "u1")
	if got.HidePresence || !got.LastSeenAt.IsZero() {
		t.Fatalf("new user: HidePresence %v LastSeenAt %v, want false and zero", got.HidePresence, got.LastSeenAt)
	}
}

func testPresenceCreateWithSettings(t *testing.T, s store.Store) {
	u := newUser("u1", "alice")
	u.HidePresence, u.LastSeenAt = true, at(5)
	createUser(t, s, u)
	sameTime(t, "LastSeenAt normalised in place", u.LastSeenAt, stored(at(5)))
	same(t, "user with presence settings", mustUser(t, s, "u1"), u)
	userReads(t, s, u)
}

func testSetHidePresence(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := createUser(t, s, newUser("u1", "alice"))
	other := createUser(t, s, newUser("u2", "bob"))
	mustNil(t, "SetHidePresence true", s.SetHidePresence(ctx, "u1", true))
	want := *u
	want.HidePresence = true
	same(t, "after SetHidePresence true", mustUser(t, s, "u1"), &want)
	userReads(t, s, &want)
	mustNil(t, "SetHidePresence true again", s.SetHidePresence(ctx, "u1", true))
	mustNil(t, "SetHidePresence false", s.SetHidePresence(ctx, "u1", false))
	same(t, "after SetHidePresence false", mustUser(t, s, "u1"), u)
	same(t, "other user untouched", mustUser(t, s, "u2"), other)
}

func testSetLastSeen(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := createUser(t, s, newUser("u1", "alice"))
	mustNil(t, "SetLastSeen", s.SetLastSeen(ctx, "u1", at(9)))
	want := *u
	want.LastSeenAt = stored(at(9))
	same(t, "after SetLastSeen", mustUser(t, s, "u1"), &want)
	// The same time again is no error; an earlier one is written (the
	// last write wins).
	mustNil(t, "SetLastSeen same time", s.SetLastSeen(ctx, "u1", at(9)))
	mustNil(t, "SetLastSeen earlier", s.SetLastSeen(ctx, "u1", at(3)))
	sameTime(t, "LastSeenAt after an earlier write", mustUser(t, s, "u1").LastSeenAt, stored(at(3)))
	got, err := s.UsersByIDs(ctx, []string{"u1"})
	mustNil(t, "UsersByIDs", err)
	if len(got) != 1 {
		t.Fatalf("UsersByIDs: %d users", len(got))
	}
	sameTime(t, "LastSeenAt by UsersByIDs", got[0].LastSeenAt, stored(at(3)))
}

func testPresenceNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	wantErr(t, "SetHidePresence of a missing user", s.SetHidePresence(ctx, "nobody", true), store.ErrNotFound)
	wantErr(t, "SetLastSeen of a missing user", s.SetLastSeen(ctx, "nobody", at(1)), store.ErrNotFound)
	_, err := s.UserByID(ctx, "nobody")
	wantErr(t, "UserByID after presence writes to a missing user", err, store.ErrNotFound)
}

// testPresenceConcurrentFields: concurrent writers of the two presence
// fields and of the profile, on one user, never undo each other (each
// write sets its own field only), and every write succeeds.
func testPresenceConcurrentFields(t *testing.T, s store.Store) {
	ctx := t.Context()
	createUser(t, s, newUser("u1", "alice"))
	const racers = 12
	last := at(30)
	errs := Race(racers, func(i int) error {
		switch i % 3 {
		case 0:
			return s.SetHidePresence(ctx, "u1", true)
		case 1:
			return s.SetLastSeen(ctx, "u1", last)
		default:
			nick := fmt.Sprintf("nick%d", i)
			_, err := s.UpdateProfile(ctx, "u1", &nick, nil, nil)
			return err
		}
	})
	for i, err := range errs {
		mustNil(t, fmt.Sprintf("racer %d", i), err)
	}
	got := mustUser(t, s, "u1")
	if !got.HidePresence {
		t.Fatal("HidePresence lost to a concurrent write")
	}
	sameTime(t, "LastSeenAt after the race", got.LastSeenAt, stored(last))
	if got.Nickname == "nick alice" {
		t.Fatal("nickname lost to a concurrent write")
	}
	if d := time.Since(got.UpdatedAt); d < 0 {
		t.Fatalf("UpdatedAt in the future: %v", got.UpdatedAt)
	}
}
