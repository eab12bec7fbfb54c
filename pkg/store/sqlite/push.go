package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// AddPushToken stores t, replacing the record of (platform, token): one
// upsert on the unique (platform, token).
func (s *Store) AddPushToken(ctx context.Context, t *store.PushToken) error {
	const op = "add push token"
	if t == nil {
		return errNil(op, "push token")
	}
	t.CreatedAt = createdTime(t.CreatedAt)
	_, err := s.exec(ctx, op, qAddPushToken, t.Platform, t.Token, t.UserID, t.SessionID, millis(t.CreatedAt))
	return err
}

// RemovePushToken deletes the user's token; store.ErrNotFound if there is
// none (or it is another user's).
func (s *Store) RemovePushToken(ctx context.Context, userID, platform, token string) error {
	return s.execOne(ctx, "remove push token", qRemovePushToken, platform, token, userID)
}

// RemovePushTokensOfSession deletes every token of the session.
func (s *Store) RemovePushTokensOfSession(ctx context.Context, sessionID string) error {
	_, err := s.exec(ctx, "remove push tokens of session", qRemovePushTokensOfSession, sessionID)
	return err
}

// PushTokensOfSession lists the session's tokens, oldest first (then by
// platform, token).
func (s *Store) PushTokensOfSession(ctx context.Context, sessionID string) ([]store.PushToken, error) {
	out, err := queryAll(ctx, s, "push tokens of session", scanPushToken, qPushTokensOfSession, sessionID)
	if out == nil && err == nil {
		out = []store.PushToken{}
	}
	return out, err
}

// PushTokensOf returns the tokens of the users whose session is live at
// now, in queries of at most maxIDsPerQuery ids.
func (s *Store) PushTokensOf(ctx context.Context, userIDs []string, now time.Time) ([]store.PushToken, error) {
	if len(userIDs) > store.MaxPushTokenUsers {
		return nil, fmt.Errorf("sqlite: push tokens of: %d ids, at most %d", len(userIDs), store.MaxPushTokenUsers)
	}
	out := []store.PushToken{}
	for start := 0; start < len(userIDs); start += maxIDsPerQuery {
		chunk := userIDs[start:min(start+maxIDsPerQuery, len(userIDs))]
		args := make([]any, 0, len(chunk)+1)
		args = append(args, millis(dbTime(now)))
		for _, id := range chunk {
			args = append(args, id)
		}
		found, err := queryAll(ctx, s, "push tokens of", scanPushToken, pushTokensOfQuery(len(chunk)), args...)
		if err != nil {
			return nil, err
		}
		out = append(out, found...)
	}
	return out, nil
}

// scanPushToken reads the columns pushTokenCols.
func scanPushToken(r scanner) (store.PushToken, error) {
	var p store.PushToken
	var created int64
	err := r.Scan(&p.Platform, &p.Token, &p.UserID, &p.SessionID, &created)
	p.CreatedAt = fromMillis(created)
	return p, err
}
