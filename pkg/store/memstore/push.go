package memstore

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// AddPushToken stores t, replacing the record of (platform, token).
func (s *Store) AddPushToken(_ context.Context, t *store.PushToken) error {
	if t == nil {
		return errNil("add push token")
	}
	t.CreatedAt = createdTime(t.CreatedAt)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pushTokens == nil {
		s.pushTokens = map[[2]string]*store.PushToken{}
	}
	c := *t
	s.pushTokens[[2]string{t.Platform, t.Token}] = &c
	return nil
}

// RemovePushToken deletes the user's token; store.ErrNotFound if there is
// none (or it is another user's).
func (s *Store) RemovePushToken(_ context.Context, userID, platform, token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := [2]string{platform, token}
	if p := s.pushTokens[k]; p == nil || p.UserID != userID {
		return errNotFound("remove push token")
	}
	delete(s.pushTokens, k)
	return nil
}

// RemovePushTokensOfSession deletes every token of the session.
func (s *Store) RemovePushTokensOfSession(_ context.Context, sessionID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.removePushTokensOfSession(sessionID)
	return nil
}

// removePushTokensOfSession is RemovePushTokensOfSession under s.mu.
func (s *Store) removePushTokensOfSession(sessionID string) {
	for k, p := range s.pushTokens {
		if p.SessionID == sessionID {
			delete(s.pushTokens, k)
		}
	}
}

// PushTokensOfSession lists the session's tokens, oldest first (then by
// platform, token).
func (s *Store) PushTokensOfSession(_ context.Context, sessionID string) ([]store.PushToken, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []store.PushToken{}
	for _, p := range s.pushTokens {
		if p.SessionID == sessionID {
			out = append(out, *p)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.Before(b.CreatedAt)
		}
		if a.Platform != b.Platform {
			return a.Platform < b.Platform
		}
		return a.Token < b.Token
	})
	return out, nil
}

// PushTokensOf returns the tokens of the users whose session is live at
// now.
func (s *Store) PushTokensOf(_ context.Context, userIDs []string, now time.Time) ([]store.PushToken, error) {
	if len(userIDs) > store.MaxPushTokenUsers {
		return nil, fmt.Errorf("memstore: push tokens of: %d ids, at most %d", len(userIDs), store.MaxPushTokenUsers)
	}
	want := make(map[string]bool, len(userIDs))
	for _, id := range userIDs {
		want[id] = true
	}
	now = dbTime(now)
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []store.PushToken{}
	for _, p := range s.pushTokens {
		if !want[p.UserID] {
			continue
		}
		if ss := s.sessions[p.SessionID]; ss != nil && !ss.Revoked && ss.ExpiresAt.After(now) {
			out = append(out, *p)
		}
	}
	return out, nil
}
