package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

func identityTests() []test {
	return []test{
		{"RoundTrip", testIdentityRoundTrip},
		{"DefaultTime", testIdentityDefaultTime},
		{"Duplicate", testIdentityDuplicate},
		{"NotFound", testIdentityNotFound},
		{"Nil", testIdentityNil},
		{"ConcurrentCreateOnce", testIdentityConcurrent},
	}
}

func testIdentityRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	id := &store.Identity{Issuer: "https://idp.example", Subject: "alice", UserID: "u1", CreatedAt: at(1)}
	mustNil(t, "CreateIdentity", s.CreateIdentity(ctx, id))
	sameTime(t, "CreatedAt normalised in place", id.CreatedAt, stored(at(1)))
	// Same subject at another issuer, another subject at the same issuer.
	mustNil(t, "CreateIdentity other issuer", s.CreateIdentity(ctx,
		&store.Identity{Issuer: "https://other.example", Subject: "alice", UserID: "u2", CreatedAt: at(2)}))
	mustNil(t, "CreateIdentity other subject", s.CreateIdentity(ctx,
		&store.Identity{Issuer: "https://idp.example", Subject: "Alice", UserID: "u3", CreatedAt: at(3)}))
	got, err := s.IdentityBySubject(ctx, "https://idp.example", "alice")
	mustNil(t, "IdentityBySubject", err)
	same(t, "IdentityBySubject", got, id)
	got, err = s.IdentityBySubject(ctx, "https://other.example", "alice")
	mustNil(t, "IdentityBySubject other issuer", err)
	same(t, "other issuer's user", got.UserID, "u2")
	got, err = s.IdentityBySubject(ctx, "https://idp.example", "Alice")
	mustNil(t, "IdentityBySubject case", err)
	same(t, "subjects are case-sensitive", got.UserID, "u3")
}

func testIdentityDefaultTime(t *testing.T, s store.Store) {
	before := time.Now().Add(-time.Second)
	id := &store.Identity{Issuer: "i", Subject: "s", UserID: "u1"}
	mustNil(t, "CreateIdentity", s.CreateIdentity(t.Context(), id))
	if id.CreatedAt.Before(before) || id.CreatedAt.After(time.Now().Add(time.Second)) {
		t.Errorf("CreatedAt = %v, want about now", id.CreatedAt)
	}
	got, err := s.IdentityBySubject(t.Context(), "i", "s")
	mustNil(t, "IdentityBySubject", err)
	sameTime(t, "stored CreatedAt", got.CreatedAt, id.CreatedAt)
}

func testIdentityDuplicate(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustNil(t, "CreateIdentity", s.CreateIdentity(ctx, &store.Identity{Issuer: "i", Subject: "s", UserID: "u1", CreatedAt: at(1)}))
	wantErr(t, "CreateIdentity again", s.CreateIdentity(ctx, &store.Identity{Issuer: "i", Subject: "s", UserID: "u2", CreatedAt: at(2)}), store.ErrDuplicate)
	got, err := s.IdentityBySubject(ctx, "i", "s")
	mustNil(t, "IdentityBySubject", err)
	same(t, "the first link stays", got.UserID, "u1")
}

func testIdentityNotFound(t *testing.T, s store.Store) {
	_, err := s.IdentityBySubject(t.Context(), "i", "nobody")
	wantErr(t, "IdentityBySubject unknown", err, store.ErrNotFound)
}

func testIdentityNil(t *testing.T, s store.Store) {
	switch err := callNoPanic(func() error { return s.CreateIdentity(t.Context(), nil) }); {
	case errors.Is(err, errPanic):
		t.Errorf("CreateIdentity(nil): %v", err)
	case err == nil:
		t.Error("CreateIdentity(nil): no error")
	}
}

// testIdentityConcurrent: of callers racing to link one subject exactly
// one wins; every other gets ErrDuplicate, and all read the winner.
func testIdentityConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.CreateIdentity(ctx, &store.Identity{Issuer: "i", Subject: "s", UserID: fmt.Sprintf("u%d", i)})
		}()
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("two creations succeeded: %d and %d", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, store.ErrDuplicate):
			t.Fatalf("creation %d: %v, want nil or ErrDuplicate", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no creation succeeded")
	}
	got, err := s.IdentityBySubject(ctx, "i", "s")
	mustNil(t, "IdentityBySubject", err)
	same(t, "the winner's link", got.UserID, fmt.Sprintf("u%d", winner))
}
