package sqlite_test

import (
	"reflect"
	"testing"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

func TestRefreshTokens(t *testing.T) {
	s, ctx := openStore(t), testCtx(t)
	t1 := &store.RefreshToken{Hash: "h1", Family: "f1", UserID: "u1", ExpiresAt: at(30), CreatedAt: at(1)}
	t2 := &store.RefreshToken{Hash: "h2", Family: "f1", UserID: "u1", ExpiresAt: at(31), CreatedAt: at(2)}
	t3 := &store.RefreshToken{Hash: "h3", Family: "f2", UserID: "u1", ExpiresAt: at(32), CreatedAt: at(3)}
	for _, tok := range []*store.RefreshToken{t1, t2, t3} {
		mustNil(t, "InsertRefreshToken", s.InsertRefreshToken(ctx, tok))
	}
	sameTime(t, "normalised ExpiresAt", t1.ExpiresAt, at(30).Truncate(1e6))
	wantErr(t, "InsertRefreshToken again", s.InsertRefreshToken(ctx, &store.RefreshToken{Hash: "h1"}), store.ErrDuplicate)
	if err := s.InsertRefreshToken(ctx, nil); err == nil {
		t.Fatal("InsertRefreshToken(nil): no error")
	}

	got, err := s.RefreshToken(ctx, "h1")
	mustNil(t, "RefreshToken", err)
	if !reflect.DeepEqual(got, t1) {
		t.Fatalf("RefreshToken: got %+v, want %+v", got, t1)
	}
	_, err = s.RefreshToken(ctx, "nope")
	wantErr(t, "RefreshToken missing", err, store.ErrNotFound)

	mustNil(t, "ConsumeRefreshToken", s.ConsumeRefreshToken(ctx, "h1"))
	wantErr(t, "ConsumeRefreshToken again", s.ConsumeRefreshToken(ctx, "h1"), store.ErrDuplicate)
	mustNil(t, "ConsumeRefreshToken other", s.ConsumeRefreshToken(ctx, "h2"))

	revoked, err := s.FamilyRevoked(ctx, "f1")
	mustNil(t, "FamilyRevoked", err)
	if revoked {
		t.Fatal("f1 revoked before RevokeFamily")
	}
	mustNil(t, "RevokeFamily", s.RevokeFamily(ctx, "f1"))
	mustNil(t, "RevokeFamily again", s.RevokeFamily(ctx, "f1"))
	revoked, err = s.FamilyRevoked(ctx, "f1")
	mustNil(t, "FamilyRevoked", err)
	if !revoked {
		t.Fatal("f1 not revoked after RevokeFamily")
	}
	revoked, err = s.FamilyRevoked(ctx, "f2")
	mustNil(t, "FamilyRevoked", err)
	if revoked {
		t.Fatal("f2 revoked by revoking f1")
	}
	for _, h := range []string{"h1", "h2"} {
		_, err = s.RefreshToken(ctx, h)
		wantErr(t, "token of revoked family", err, store.ErrNotFound)
	}
	_, err = s.RefreshToken(ctx, "h3")
	mustNil(t, "token of other family", err)
	mustNil(t, "RevokeFamily without tokens", s.RevokeFamily(ctx, "f9"))
}
