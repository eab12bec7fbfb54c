package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

func tokenTests() []test {
	return []test{
		{"RoundTrip", testTokenRoundTrip},
		{"DefaultTime", testTokenDefaultTime},
		{"Duplicate", testTokenDuplicate},
		{"NotFound", testTokenNotFound},
		{"ConsumeOnce", testConsumeOnce},
		{"ConsumeUnknown", testConsumeUnknown},
		{"RevokeFamily", testRevokeFamily},
	}
}

func newToken(hash, family string, sec int) *store.RefreshToken {
	return &store.RefreshToken{Hash: hash, Family: family, UserID: "u-" + hash, ExpiresAt: at(30 + sec), CreatedAt: at(sec)}
}

func insertToken(t *testing.T, s store.Store, tok *store.RefreshToken) *store.RefreshToken {
	t.Helper()
	mustNil(t, "InsertRefreshToken "+tok.Hash, s.InsertRefreshToken(t.Context(), tok))
	return tok
}

func mustToken(t *testing.T, s store.Store, hash string) *store.RefreshToken {
	t.Helper()
	tok, err := s.RefreshToken(t.Context(), hash)
	mustNil(t, "RefreshToken "+hash, err)
	return tok
}

func testTokenRoundTrip(t *testing.T, s store.Store) {
	tok := insertToken(t, s, newToken("h1", "f1", 1))
	sameTime(t, "CreatedAt normalised in place", tok.CreatedAt, stored(at(1)))
	sameTime(t, "ExpiresAt normalised in place", tok.ExpiresAt, stored(at(31)))
	insertToken(t, s, newToken("h2", "f1", 2))
	same(t, "RefreshToken", mustToken(t, s, "h1"), tok)
}

func testTokenDefaultTime(t *testing.T, s store.Store) {
	tok := newToken("h1", "f1", 1)
	tok.CreatedAt = time.Time{}
	before := time.Now()
	insertToken(t, s, tok)
	recent(t, "defaulted CreatedAt", tok.CreatedAt, before)
	same(t, "stored token", mustToken(t, s, "h1"), tok)
}

func testTokenDuplicate(t *testing.T, s store.Store) {
	tok := insertToken(t, s, newToken("h1", "f1", 1))
	wantErr(t, "InsertRefreshToken of a taken hash", s.InsertRefreshToken(t.Context(), newToken("h1", "f2", 2)), store.ErrDuplicate)
	same(t, "token kept", mustToken(t, s, "h1"), tok)
}

func testTokenNotFound(t *testing.T, s store.Store) {
	insertToken(t, s, newToken("h1", "f1", 1))
	_, err := s.RefreshToken(t.Context(), "nope")
	wantErr(t, "RefreshToken of a missing hash", err, store.ErrNotFound)
	_, err = s.RefreshToken(t.Context(), "f1")
	wantErr(t, "RefreshToken of a family", err, store.ErrNotFound)
}

func testConsumeOnce(t *testing.T, s store.Store) {
	ctx := t.Context()
	h1 := insertToken(t, s, newToken("h1", "f1", 1))
	insertToken(t, s, newToken("h2", "f1", 2))
	mustNil(t, "ConsumeRefreshToken", s.ConsumeRefreshToken(ctx, "h1"))
	wantErr(t, "ConsumeRefreshToken again", s.ConsumeRefreshToken(ctx, "h1"), store.ErrDuplicate)
	wantErr(t, "ConsumeRefreshToken a third time", s.ConsumeRefreshToken(ctx, "h1"), store.ErrDuplicate)
	mustNil(t, "ConsumeRefreshToken of another token", s.ConsumeRefreshToken(ctx, "h2"))
	// A used token is still readable (Refresh reads it before consuming),
	// and using it does not revoke its family.
	same(t, "RefreshToken after consuming", mustToken(t, s, "h1"), h1)
	revoked, err := s.FamilyRevoked(ctx, "f1")
	mustNil(t, "FamilyRevoked", err)
	if revoked {
		t.Fatal("consuming a token revoked its family")
	}
}

// testConsumeUnknown: the reference does not check that the token exists
// (the first call succeeds, the next ones are reuses); pkg/auth also
// accepts ErrNotFound for an unknown token. Either is conformant, but a
// store that accepts the call must count it.
func testConsumeUnknown(t *testing.T, s store.Store) {
	ctx := t.Context()
	err := s.ConsumeRefreshToken(ctx, "unknown")
	switch {
	case errors.Is(err, store.ErrNotFound):
		return
	case err != nil:
		t.Fatalf("ConsumeRefreshToken of an unknown hash: got %v, want nil or %v", err, store.ErrNotFound)
	}
	wantErr(t, "ConsumeRefreshToken of an unknown hash, again", s.ConsumeRefreshToken(ctx, "unknown"), store.ErrDuplicate)
}

func testRevokeFamily(t *testing.T, s store.Store) {
	ctx := t.Context()
	insertToken(t, s, newToken("h1", "f1", 1))
	insertToken(t, s, newToken("h2", "f1", 2))
	h3 := insertToken(t, s, newToken("h3", "f2", 3))
	revoked := func(family string) bool {
		t.Helper()
		r, err := s.FamilyRevoked(ctx, family)
		mustNil(t, "FamilyRevoked "+family, err)
		return r
	}
	if revoked("f1") || revoked("f9") {
		t.Fatal("a family is revoked before RevokeFamily")
	}
	mustNil(t, "RevokeFamily", s.RevokeFamily(ctx, "f1"))
	mustNil(t, "RevokeFamily again", s.RevokeFamily(ctx, "f1"))
	if !revoked("f1") {
		t.Fatal("f1 not revoked after RevokeFamily")
	}
	if revoked("f2") {
		t.Fatal("f2 revoked by revoking f1")
	}
	// The family's tokens are gone, the others kept.
	for _, h := range []string{"h1", "h2"} {
		_, err := s.RefreshToken(ctx, h)
		wantErr(t, "RefreshToken of a revoked family", err, store.ErrNotFound)
	}
	same(t, "token of another family", mustToken(t, s, "h3"), h3)

	// A family without tokens can be revoked.
	mustNil(t, "RevokeFamily without tokens", s.RevokeFamily(ctx, "f9"))
	if !revoked("f9") {
		t.Fatal("f9 not revoked after RevokeFamily")
	}
}
