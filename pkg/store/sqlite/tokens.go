package sqlite

import (
	"context"
	"database/sql"
	"time"

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
	_, err := s.exec(ctx, op, qInsertRefreshToken, t.Hash, t.Family, t.UserID, millis(t.ExpiresAt), millis(t.CreatedAt))
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
	_, err := s.exec(ctx, "consume refresh token", qConsumeToken, hash, millis(dbTime(time.Now())))
	return err
}

// RevokeFamily records the family as revoked (revoking twice is fine),
// deletes its stored tokens and marks the session with that id (if any)
// revoked, in one transaction.
func (s *Store) RevokeFamily(ctx context.Context, family string) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	return s.inTx(ctx, "revoke family", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, qRevokeFamily, family, millis(dbTime(time.Now()))); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, qDeleteFamilyTokens, family); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, qRevokeSession, family)
		return err
	})
}

// FamilyRevoked reports whether RevokeFamily was called for family.
func (s *Store) FamilyRevoked(ctx context.Context, family string) (bool, error) {
	n, err := queryOne(ctx, s, "family revoked", scanInt, qFamilyRevoked, family)
	if err != nil {
		return false, err
	}
	return *n != 0, nil
}

// scanToken reads the columns tokenCols.
func scanToken(r scanner) (store.RefreshToken, error) {
	var t store.RefreshToken
	var expires, created int64
	err := r.Scan(&t.Hash, &t.Family, &t.UserID, &expires, &created)
	t.ExpiresAt, t.CreatedAt = fromMillis(expires), fromMillis(created)
	return t, err
}

// CreateSession stores ss; store.ErrDuplicate if its id exists. A zero
// CreatedAt is set to the current time and a zero LastUsedAt to CreatedAt;
// the times are normalised in place.
func (s *Store) CreateSession(ctx context.Context, ss *store.Session) error {
	const op = "create session"
	if ss == nil {
		return errNil(op, "session")
	}
	ss.CreatedAt = createdTime(ss.CreatedAt)
	if ss.LastUsedAt.IsZero() {
		ss.LastUsedAt = ss.CreatedAt
	}
	ss.LastUsedAt = dbTime(ss.LastUsedAt)
	ss.ExpiresAt = dbTime(ss.ExpiresAt)
	_, err := s.exec(ctx, op, qCreateSession, ss.ID, ss.UserID, ss.Device, ss.IP, millis(ss.CreatedAt),
		millis(ss.LastUsedAt), millis(ss.ExpiresAt), boolInt(ss.Revoked))
	return err
}

// Session returns a session, revoked or not, or store.ErrNotFound.
func (s *Store) Session(ctx context.Context, id string) (*store.Session, error) {
	return queryOne(ctx, s, "session", scanSession, qSession, id)
}

// SessionsOf returns the user's sessions that are not revoked, oldest
// first (then by id).
func (s *Store) SessionsOf(ctx context.Context, userID string) ([]store.Session, error) {
	return queryAll(ctx, s, "sessions of", scanSession, qSessionsOf, userID)
}

// TouchSession sets LastUsedAt, ExpiresAt and, when ip is not empty, IP;
// store.ErrNotFound if there is no such session.
func (s *Store) TouchSession(ctx context.Context, id string, usedAt, expiresAt time.Time, ip string) error {
	return s.execOne(ctx, "touch session", qTouchSession,
		millis(dbTime(usedAt)), millis(dbTime(expiresAt)), nullIfEmpty(ip), id)
}

// PurgeExpired deletes up to limit refresh tokens that expired before the
// given time (to the millisecond), with their used records, and up to limit
// sessions that did, with their revoked-family records (and their push
// tokens), soonest expiry first, in one transaction. It returns how many
// tokens and sessions it deleted. A limit <= 0 deletes nothing.
func (s *Store) PurgeExpired(ctx context.Context, before time.Time, limit int) (int, error) {
	const op = "purge expired"
	if limit <= 0 {
		return 0, nil
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	cut := millis(dbTime(before))
	deleted := 0
	err := s.inTx(ctx, op, func(tx *sql.Tx) error {
		deleted = 0
		for _, q := range []struct {
			query string
			count bool
		}{
			{qPurgeUsedTokens, false},
			{qPurgeTokens, true},
			{qPurgeRevokedFamilies, false},
			{qPurgePushTokens, false},
			{qPurgeSessions, true},
		} {
			res, err := tx.ExecContext(ctx, q.query, cut, limit)
			if err != nil {
				return err
			}
			if q.count {
				n, err := res.RowsAffected()
				if err != nil {
					return err
				}
				deleted += int(n)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return deleted, nil
}

// scanSession reads the columns sessionCols.
func scanSession(r scanner) (store.Session, error) {
	var ss store.Session
	var created, used, expires, revoked int64
	err := r.Scan(&ss.ID, &ss.UserID, &ss.Device, &ss.IP, &created, &used, &expires, &revoked)
	ss.CreatedAt, ss.LastUsedAt, ss.ExpiresAt = fromMillis(created), fromMillis(used), fromMillis(expires)
	ss.Revoked = revoked != 0
	return ss, err
}
