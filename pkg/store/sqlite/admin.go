package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// PutBan stores b, replacing the user's ban if any.
func (s *Store) PutBan(ctx context.Context, b *store.Ban) error {
	const op = "put ban"
	if b == nil {
		return errNil(op, "ban")
	}
	b.CreatedAt = createdTime(b.CreatedAt)
	_, err := s.exec(ctx, op, qPutBan, b.UserID, b.Reason, millis(b.CreatedAt))
	return err
}

// DeleteBan removes the user's ban; store.ErrNotFound if none.
func (s *Store) DeleteBan(ctx context.Context, userID string) error {
	return s.execOne(ctx, "delete ban", qDeleteBan, userID)
}

// BanOf returns the user's ban; store.ErrNotFound if none.
func (s *Store) BanOf(ctx context.Context, userID string) (*store.Ban, error) {
	return queryOne(ctx, s, "ban of", scanBan, qBanOf, userID)
}

// BansOf returns the bans of the banned users among userIDs.
func (s *Store) BansOf(ctx context.Context, userIDs []string) ([]store.Ban, error) {
	if len(userIDs) > store.MaxBanIDs {
		return nil, fmt.Errorf("sqlite: bans of: %d ids, at most %d", len(userIDs), store.MaxBanIDs)
	}
	if len(userIDs) == 0 {
		return nil, nil
	}
	var out []store.Ban
	for start := 0; start < len(userIDs); start += maxIDsPerQuery {
		chunk := userIDs[start:min(start+maxIDsPerQuery, len(userIDs))]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		q := qBansOf + strings.TrimSuffix(strings.Repeat("?, ", len(chunk)), ", ") + ")"
		found, err := queryAll(ctx, s, "bans of", scanBan, q, args...)
		if err != nil {
			return nil, err
		}
		out = append(out, found...)
	}
	return out, nil
}

// UsersPage returns up to limit users with an id above afterID, by id.
func (s *Store) UsersPage(ctx context.Context, afterID string, limit int) ([]store.User, error) {
	return queryAll(ctx, s, "users page", scanUser, qUsersPage, afterID, clampLimit(limit))
}

// RoomsPage returns up to limit rooms with an id above afterID, by id.
func (s *Store) RoomsPage(ctx context.Context, afterID string, groupsOnly bool, limit int) ([]store.Room, error) {
	q := qRoomsPage
	if groupsOnly {
		q = qGroupsPage
	}
	return queryAll(ctx, s, "rooms page", scanRoom, q, afterID, clampLimit(limit))
}

func scanBan(r scanner) (store.Ban, error) {
	var b store.Ban
	var created int64
	err := r.Scan(&b.UserID, &b.Reason, &created)
	b.CreatedAt = fromMillis(created)
	return b, err
}
