package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// InsertRefreshToken stores t; store.ErrDuplicate if its hash exists. A
// zero CreatedAt is set to the current time; CreatedAt and ExpiresAt are
// normalised in place.
func (s *Store) InsertRefreshToken(ctx context.Context, t *store.RefreshToken) error {
	const op = "insert refresh token"
	if t == nil {
		return errNil(op, "token")
	}
	t.CreatedAt = createdTime(t.CreatedAt)
	t.ExpiresAt = dbTime(t.ExpiresAt)
	_, err := s.exec(ctx, op, qInsertRefreshToken, t.Hash, t.Family, t.UserID, t.ExpiresAt, t.CreatedAt)
	return err
}

// RefreshToken returns the token with this hash, or store.ErrNotFound (also
// once its family was revoked).
func (s *Store) RefreshToken(ctx context.Context, hash string) (*store.RefreshToken, error) {
	return queryOne(ctx, s, "refresh token", scanToken, qRefreshToken, hash)
}

// ConsumeRefreshToken marks a token hash used by inserting it into
// used_refresh_tokens, whose primary key is the hash. Exactly one call per
// hash succeeds, however many race; the others get store.ErrDuplicate, the
// sign of a reuse. It does not check that the token exists.
func (s *Store) ConsumeRefreshToken(ctx context.Context, hash string) error {
	_, err := s.exec(ctx, "consume refresh token", qConsumeToken, hash, dbTime(time.Now()))
	return err
}

// RevokeFamily records the family as revoked (revoking twice is fine) and
// deletes its stored tokens, in one transaction.
func (s *Store) RevokeFamily(ctx context.Context, family string) error {
	return s.inTx(ctx, "revoke family", func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, qRevokeFamily, family, dbTime(time.Now())); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, qDeleteFamilyTokens, family)
		return err
	})
}

// FamilyRevoked reports whether RevokeFamily was called for family.
func (s *Store) FamilyRevoked(ctx context.Context, family string) (bool, error) {
	ok, err := queryOne(ctx, s, "family revoked", scanBool, qFamilyRevoked, family)
	if err != nil {
		return false, err
	}
	return *ok, nil
}

// scanToken reads the columns tokenCols.
func scanToken(r pgx.Row) (store.RefreshToken, error) {
	var t store.RefreshToken
	err := r.Scan(&t.Hash, &t.Family, &t.UserID, &t.ExpiresAt, &t.CreatedAt)
	t.ExpiresAt, t.CreatedAt = t.ExpiresAt.UTC(), t.CreatedAt.UTC()
	return t, err
}

// scanBool reads a single boolean.
func scanBool(r pgx.Row) (bool, error) {
	var b bool
	err := r.Scan(&b)
	return b, err
}
