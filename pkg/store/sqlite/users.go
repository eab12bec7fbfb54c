package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// CreateUser inserts u; store.ErrDuplicate when its id, account or email is
// taken. A zero CreatedAt or UpdatedAt is set to the current time; both,
// and a DeletedAt, are normalised in place.
func (s *Store) CreateUser(ctx context.Context, u *store.User) error {
	const op = "create user"
	if u == nil {
		return errNil(op, "user")
	}
	u.CreatedAt = createdTime(u.CreatedAt)
	if u.UpdatedAt.IsZero() {
		u.UpdatedAt = u.CreatedAt
	}
	u.UpdatedAt = dbTime(u.UpdatedAt)
	u.DeletedAt = optTime(u.DeletedAt)
	u.LastSeenAt = optTime(u.LastSeenAt)
	_, err := s.exec(ctx, op, qCreateUser, u.ID, u.Account, u.Email, u.PasswordHash,
		u.Nickname, u.Avatar, u.Sex, millis(u.CreatedAt), millis(u.UpdatedAt), optMillis(u.DeletedAt),
		u.HidePresence, optMillis(u.LastSeenAt))
	return err
}

// UserByID returns the user with this id, or store.ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id string) (*store.User, error) {
	return queryOne(ctx, s, "user by id", scanUser, qUserByID, id)
}

// UserByAccount returns the user with this account, or store.ErrNotFound.
func (s *Store) UserByAccount(ctx context.Context, account string) (*store.User, error) {
	return queryOne(ctx, s, "user by account", scanUser, qUserByAccount, account)
}

// UserByEmail returns the user with this (lower-cased) email, or
// store.ErrNotFound.
func (s *Store) UserByEmail(ctx context.Context, email string) (*store.User, error) {
	return queryOne(ctx, s, "user by email", scanUser, qUserByEmail, email)
}

// UsersByIDs returns the users with these ids, in the order of ids, once
// each; unknown ids are skipped. An empty ids returns nil without a query.
func (s *Store) UsersByIDs(ctx context.Context, ids []string) ([]store.User, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	uniq := make([]string, 0, len(ids))
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	byID := make(map[string]store.User, len(uniq))
	for start := 0; start < len(uniq); start += maxIDsPerQuery {
		chunk := uniq[start:min(start+maxIDsPerQuery, len(uniq))]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		found, err := queryAll(ctx, s, "users by ids", scanUser, usersByIDsQuery(len(chunk)), args...)
		if err != nil {
			return nil, err
		}
		for _, u := range found {
			byID[u.ID] = u
		}
	}
	out := make([]store.User, 0, len(byID))
	for _, id := range uniq {
		if u, ok := byID[id]; ok {
			out = append(out, u)
		}
	}
	return out, nil
}

// UpdateProfile sets the non-nil fields and updated_at and returns the
// updated user, or store.ErrNotFound. With every field nil it only reads.
func (s *Store) UpdateProfile(ctx context.Context, id string, nickname, avatar *string, sex *int) (*store.User, error) {
	if nickname == nil && avatar == nil && sex == nil {
		return s.UserByID(ctx, id)
	}
	const op = "update profile"
	var nick, av sql.NullString
	var sx sql.NullInt64
	if nickname != nil {
		nick = sql.NullString{String: *nickname, Valid: true}
	}
	if avatar != nil {
		av = sql.NullString{String: *avatar, Valid: true}
	}
	if sex != nil {
		sx = sql.NullInt64{Int64: int64(*sex), Valid: true}
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	row := s.writer.QueryRowContext(ctx, qUpdateProfile, nick, av, sx, millis(dbTime(time.Now())), id)
	return rowOne(ctx, s, op, scanUser, row)
}

// SetPasswordHash replaces the password hash with newHash if it still is
// oldHash, and sets UpdatedAt: store.ErrConflict if it is not,
// store.ErrNotFound if there is no such user. It is one conditional
// UPDATE, so of racing changes from one hash exactly one succeeds.
func (s *Store) SetPasswordHash(ctx context.Context, id, oldHash, newHash string) error {
	const op = "set password hash"
	n, err := s.exec(ctx, op, qSetPasswordHash, newHash, millis(dbTime(time.Now())), id, oldHash)
	if err != nil || n == 1 {
		return err
	}
	ok, err := queryOne(ctx, s, op, scanInt, qUserExists, id)
	switch {
	case err != nil:
		return err
	case *ok == 0:
		return fmt.Errorf("sqlite: %s: %w", op, store.ErrNotFound)
	}
	return fmt.Errorf("sqlite: %s: %w", op, store.ErrConflict)
}

// SetEmail changes the user's email and sets UpdatedAt; store.ErrDuplicate
// when another user has it, store.ErrNotFound if there is no such user.
func (s *Store) SetEmail(ctx context.Context, id, email string) error {
	return s.execOne(ctx, "set email", qSetEmail, email, millis(dbTime(time.Now())), id)
}

// SetHidePresence sets the presence privacy setting; store.ErrNotFound if
// there is no such user.
func (s *Store) SetHidePresence(ctx context.Context, id string, hide bool) error {
	return s.execOne(ctx, "set hide presence", qSetHidePresence, hide, id)
}

// SetLastSeen sets LastSeenAt; store.ErrNotFound if there is no such user.
func (s *Store) SetLastSeen(ctx context.Context, id string, at time.Time) error {
	return s.execOne(ctx, "set last seen", qSetLastSeen, millis(dbTime(at)), id)
}

// MarkDeleted sets DeletedAt to at (the current time if zero) unless it is
// set already; store.ErrNotFound if there is no such user.
func (s *Store) MarkDeleted(ctx context.Context, id string, at time.Time) error {
	return s.execOne(ctx, "mark deleted", qMarkDeleted, millis(createdTime(at)), id)
}

// ReleaseDeleted rewrites the account and email of up to limit users
// deleted before the given time (to the millisecond), oldest deletion
// first, to store.ReleasedAccount and store.ReleasedEmail, in one
// transaction, and returns how many it released. A limit <= 0 releases
// none.
func (s *Store) ReleaseDeleted(ctx context.Context, before time.Time, limit int) (int, error) {
	const op = "release deleted"
	if limit <= 0 {
		return 0, nil
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	released := 0
	err := s.inTx(ctx, op, func(tx *sql.Tx) error {
		released = 0
		rows, err := tx.QueryContext(ctx, qUsersToRelease, millis(dbTime(before)), limit)
		if err != nil {
			return err
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		for _, id := range ids {
			res, err := tx.ExecContext(ctx, qReleaseUser, store.ReleasedAccount(id), store.ReleasedEmail(id), id)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			released += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return released, nil
}

// scanUser reads the columns userCols.
func scanUser(r scanner) (store.User, error) {
	var u store.User
	var created, updated int64
	var deleted, lastSeen sql.NullInt64
	err := r.Scan(&u.ID, &u.Account, &u.Email, &u.PasswordHash, &u.Nickname, &u.Avatar, &u.Sex, &created, &updated, &deleted,
		&u.HidePresence, &lastSeen)
	u.CreatedAt, u.UpdatedAt, u.DeletedAt = fromMillis(created), fromMillis(updated), fromOptMillis(deleted)
	u.LastSeenAt = fromOptMillis(lastSeen)
	return u, err
}
