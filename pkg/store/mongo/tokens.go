package mongo

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// InsertRefreshToken stores t; store.ErrDuplicate if its hash exists. A
// zero CreatedAt is set to the current time.
func (s *Store) InsertRefreshToken(ctx context.Context, t *store.RefreshToken) error {
	if t == nil {
		return errNil("insert refresh token", "token")
	}
	t.CreatedAt = createdTime(t.CreatedAt)
	t.ExpiresAt = dbTime(t.ExpiresAt)
	return s.insert(ctx, "insert refresh token", s.tokens, fromToken(t))
}

// RefreshToken returns the token with this hash, or store.ErrNotFound (also
// once its family was revoked).
func (s *Store) RefreshToken(ctx context.Context, hash string) (*store.RefreshToken, error) {
	var d tokenDoc
	if err := s.findOne(ctx, "refresh token", s.tokens, bson.D{{Key: "_id", Value: hash}}, &d); err != nil {
		return nil, err
	}
	t := d.toToken()
	return &t, nil
}

// ConsumeRefreshToken marks a token hash used by inserting it into
// refresh_used. Exactly one call per hash succeeds, however many race; the
// others get store.ErrDuplicate, the sign of a reuse. It does not check that
// the token exists.
func (s *Store) ConsumeRefreshToken(ctx context.Context, hash string) error {
	return s.insert(ctx, "consume refresh token", s.used,
		bson.D{{Key: "_id", Value: hash}, {Key: "used_at", Value: dbTime(time.Now())}})
}

// RevokeFamily records the family as revoked (revoking twice is fine),
// deletes its stored tokens and marks the session with that id (if any)
// revoked, in that order: the record, which Refresh checks, comes first.
func (s *Store) RevokeFamily(ctx context.Context, family string) error {
	const op = "revoke family"
	err := s.insert(ctx, op, s.revoked,
		bson.D{{Key: "_id", Value: family}, {Key: "revoked_at", Value: dbTime(time.Now())}})
	if err != nil && !errors.Is(err, store.ErrDuplicate) {
		return err
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	if _, err = s.tokens.DeleteMany(ctx, bson.D{{Key: "family", Value: family}}); err != nil {
		return mapErr(op, err)
	}
	_, err = s.sessions.UpdateOne(ctx, bson.D{{Key: "_id", Value: family}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "revoked", Value: true}}}})
	return mapErr(op, err)
}

// FamilyRevoked reports whether RevokeFamily was called for family.
func (s *Store) FamilyRevoked(ctx context.Context, family string) (bool, error) {
	var doc bson.Raw
	err := s.findOne(ctx, "family revoked", s.revoked, bson.D{{Key: "_id", Value: family}}, &doc)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	default:
		return false, err
	}
}
