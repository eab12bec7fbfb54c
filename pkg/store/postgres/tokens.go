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

// RevokeFamily records the family as revoked (revoking twice is fine),
// deletes its stored tokens and marks the session with that id (if any)
// revoked, in one transaction.
func (s *Store) RevokeFamily(ctx context.Context, family string) error {
	return s.inTx(ctx, "revoke family", func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, qRevokeFamily, family, dbTime(time.Now())); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, qDeleteFamilyTokens, family); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, qRevokeSession, family)
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
	_, err := s.exec(ctx, op, qCreateSession, ss.ID, ss.UserID, ss.Device, ss.IP, ss.CreatedAt,
		ss.LastUsedAt, ss.ExpiresAt, ss.Revoked)
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
	return s.execOne(ctx, "touch session", qTouchSession, dbTime(usedAt), dbTime(expiresAt), nullIfEmpty(ip), id)
}

// PurgeExpired deletes up to limit refresh tokens that expired before the
// given time (to the millisecond), with their used records, and up to limit
// sessions that did, with their revoked-family records (and their push
// tokens), soonest expiry first, in one transaction. It returns how many
// tokens and sessions it deleted. Concurrent calls may pick the same rows;
// each row is deleted (and counted) once. A limit <= 0 deletes nothing.
func (s *Store) PurgeExpired(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	cut := dbTime(before)
	deleted := 0
	err := s.inTx(ctx, "purge expired", func(ctx context.Context, tx pgx.Tx) error {
		deleted = 0
		rows, err := tx.Query(ctx, qExpiredTokens, cut, limit)
		if err != nil {
			return err
		}
		hashes, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if len(hashes) > 0 {
			if _, err := tx.Exec(ctx, qDeleteUsedTokens, hashes); err != nil {
				return err
			}
			tag, err := tx.Exec(ctx, qDeleteTokens, hashes)
			if err != nil {
				return err
			}
			deleted += int(tag.RowsAffected())
		}
		if rows, err = tx.Query(ctx, qExpiredSessions, cut, limit); err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil || len(ids) == 0 {
			return err
		}
		if rows, err = tx.Query(ctx, qDeleteSessions, ids, cut); err != nil {
			return err
		}
		if ids, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil || len(ids) == 0 {
			return err
		}
		deleted += len(ids)
		if _, err = tx.Exec(ctx, qDeleteSessionsPushTokens, ids); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, qDeleteRevoked, ids)
		return err
	})
	if err != nil {
		return 0, err
	}
	return deleted, nil
}

// scanSession reads the columns sessionCols.
func scanSession(r pgx.Row) (store.Session, error) {
	var ss store.Session
	err := r.Scan(&ss.ID, &ss.UserID, &ss.Device, &ss.IP, &ss.CreatedAt, &ss.LastUsedAt, &ss.ExpiresAt, &ss.Revoked)
	ss.CreatedAt, ss.LastUsedAt, ss.ExpiresAt = ss.CreatedAt.UTC(), ss.LastUsedAt.UTC(), ss.ExpiresAt.UTC()
	return ss, err
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
