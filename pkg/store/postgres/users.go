package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

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
		u.Nickname, u.Avatar, u.Sex, u.CreatedAt, u.UpdatedAt, nullIfZero(u.DeletedAt),
		u.HidePresence, nullIfZero(u.LastSeenAt))
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
	found, err := queryAll(ctx, s, "users by ids", scanUser, qUsersByIDs, uniq)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]store.User, len(found))
	for _, u := range found {
		byID[u.ID] = u
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
	// A nil pointer is bound as NULL: coalesce keeps the column.
	return queryOne(ctx, s, "update profile", scanUser, qUpdateProfile,
		nickname, avatar, sex, dbTime(time.Now()), id)
}

// SetPasswordHash replaces the password hash with newHash if it still is
// oldHash, and sets UpdatedAt: store.ErrConflict if it is not,
// store.ErrNotFound if there is no such user. It is one conditional
// UPDATE, so of racing changes from one hash exactly one succeeds.
func (s *Store) SetPasswordHash(ctx context.Context, id, oldHash, newHash string) error {
	const op = "set password hash"
	n, err := s.exec(ctx, op, qSetPasswordHash, newHash, dbTime(time.Now()), id, oldHash)
	if err != nil || n == 1 {
		return err
	}
	ok, err := queryOne(ctx, s, op, scanBool, qUserExists, id)
	switch {
	case err != nil:
		return err
	case !*ok:
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	return fmt.Errorf("postgres: %s: %w", op, store.ErrConflict)
}

// SetEmail changes the user's email and sets UpdatedAt; store.ErrDuplicate
// when another user has it, store.ErrNotFound if there is no such user.
func (s *Store) SetEmail(ctx context.Context, id, email string) error {
	return s.execOne(ctx, "set email", qSetEmail, email, dbTime(time.Now()), id)
}

// SetHidePresence sets the presence privacy setting; store.ErrNotFound if
// there is no such user.
func (s *Store) SetHidePresence(ctx context.Context, id string, hide bool) error {
	return s.execOne(ctx, "set hide presence", qSetHidePresence, hide, id)
}

// SetLastSeen sets LastSeenAt; store.ErrNotFound if there is no such user.
func (s *Store) SetLastSeen(ctx context.Context, id string, at time.Time) error {
	return s.execOne(ctx, "set last seen", qSetLastSeen, dbTime(at), id)
}

// MarkDeleted sets DeletedAt to at (the current time if zero) unless it is
// set already; store.ErrNotFound if there is no such user.
func (s *Store) MarkDeleted(ctx context.Context, id string, at time.Time) error {
	return s.execOne(ctx, "mark deleted", qMarkDeleted, createdTime(at), id)
}

// ReleaseDeleted rewrites the account and email of up to limit users
// deleted before the given time (to the millisecond), oldest deletion
// first, to store.ReleasedAccount and store.ReleasedEmail, in one
// transaction, and returns how many it released. Concurrent calls may pick
// the same users; each user is released (and counted) once. A limit <= 0
// releases none.
func (s *Store) ReleaseDeleted(ctx context.Context, before time.Time, limit int) (int, error) {
	const op = "release deleted"
	if limit <= 0 {
		return 0, nil
	}
	released := 0
	err := s.inTx(ctx, op, func(ctx context.Context, tx pgx.Tx) error {
		released = 0
		rows, err := tx.Query(ctx, qUsersToRelease, dbTime(before), limit)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, id := range ids {
			tag, err := tx.Exec(ctx, qReleaseUser, store.ReleasedAccount(id), store.ReleasedEmail(id), id)
			if err != nil {
				return err
			}
			released += int(tag.RowsAffected())
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return released, nil
}

// scanUser reads the columns userCols.
func scanUser(r pgx.Row) (store.User, error) {
	var u store.User
	var deleted, lastSeen *time.Time
	err := r.Scan(&u.ID, &u.Account, &u.Email, &u.PasswordHash, &u.Nickname, &u.Avatar, &u.Sex, &u.CreatedAt, &u.UpdatedAt, &deleted,
		&u.HidePresence, &lastSeen)
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	if lastSeen != nil {
		u.LastSeenAt = lastSeen.UTC()
	}
	if deleted != nil {
		u.DeletedAt = deleted.UTC()
	}
	return u, err
}
