package postgres

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// tokenHash is the key of a push token in push_tokens: its SHA-256.
func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// AddPushToken stores t, replacing the record of (platform, token): one
// upsert on the primary key.
func (s *Store) AddPushToken(ctx context.Context, t *store.PushToken) error {
	const op = "add push token"
	if t == nil {
		return errNil(op, "push token")
	}
	t.CreatedAt = createdTime(t.CreatedAt)
	_, err := s.exec(ctx, op, qAddPushToken, t.Platform, tokenHash(t.Token), t.Token, t.UserID, t.SessionID, t.CreatedAt)
	return err
}

// RemovePushToken deletes the user's token; store.ErrNotFound if there is
// none (or it is another user's).
func (s *Store) RemovePushToken(ctx context.Context, userID, platform, token string) error {
	return s.execOne(ctx, "remove push token", qRemovePushToken, platform, tokenHash(token), userID)
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
// now, in one query.
func (s *Store) PushTokensOf(ctx context.Context, userIDs []string, now time.Time) ([]store.PushToken, error) {
	if len(userIDs) > store.MaxPushTokenUsers {
		return nil, fmt.Errorf("postgres: push tokens of: %d ids, at most %d", len(userIDs), store.MaxPushTokenUsers)
	}
	if len(userIDs) == 0 {
		return []store.PushToken{}, nil
	}
	out, err := queryAll(ctx, s, "push tokens of", scanPushToken, qPushTokensOf, userIDs, dbTime(now))
	if out == nil && err == nil {
		out = []store.PushToken{}
	}
	return out, err
}

// scanPushToken reads the columns pushTokenCols.
func scanPushToken(r pgx.Row) (store.PushToken, error) {
	var p store.PushToken
	err := r.Scan(&p.Platform, &p.Token, &p.UserID, &p.SessionID, &p.CreatedAt)
	p.CreatedAt = p.CreatedAt.UTC()
	return p, err
}
