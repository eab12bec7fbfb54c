package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// CreateUser inserts u; store.ErrDuplicate when its id, account or email is
// taken. A zero CreatedAt or UpdatedAt is set to the current time; both are
// normalised in place.
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
	_, err := s.exec(ctx, op, qCreateUser, u.ID, u.Account, u.Email, u.PasswordHash,
		u.Nickname, u.Avatar, u.Sex, u.CreatedAt, u.UpdatedAt)
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

// scanUser reads the columns userCols.
func scanUser(r pgx.Row) (store.User, error) {
	var u store.User
	err := r.Scan(&u.ID, &u.Account, &u.Email, &u.PasswordHash, &u.Nickname, &u.Avatar, &u.Sex, &u.CreatedAt, &u.UpdatedAt)
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return u, err
}
