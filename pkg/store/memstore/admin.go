package memstore

import (
	"context"
	"fmt"
	"sort"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// PutBan stores b, replacing the user's ban if any.
func (s *Store) PutBan(_ context.Context, b *store.Ban) error {
	if b == nil {
		return errNil("put ban")
	}
	b.CreatedAt = createdTime(b.CreatedAt)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bans == nil {
		s.bans = map[string]*store.Ban{}
	}
	c := *b
	s.bans[b.UserID] = &c
	return nil
}

// DeleteBan removes the user's ban; store.ErrNotFound if none.
func (s *Store) DeleteBan(_ context.Context, userID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bans[userID] == nil {
		return errNotFound("delete ban")
	}
	delete(s.bans, userID)
	return nil
}

// BanOf returns the user's ban; store.ErrNotFound if none.
func (s *Store) BanOf(_ context.Context, userID string) (*store.Ban, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b := s.bans[userID]
	if b == nil {
		return nil, errNotFound("ban of")
	}
	c := *b
	return &c, nil
}

// BansOf returns the bans of the banned users among userIDs.
func (s *Store) BansOf(_ context.Context, userIDs []string) ([]store.Ban, error) {
	if len(userIDs) > store.MaxBanIDs {
		return nil, fmt.Errorf("memstore: bans of: %d ids, at most %d", len(userIDs), store.MaxBanIDs)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []store.Ban
	seen := map[string]bool{}
	for _, id := range userIDs {
		if b := s.bans[id]; b != nil && !seen[id] {
			seen[id] = true
			out = append(out, *b)
		}
	}
	return out, nil
}

// UsersPage returns up to limit users with an id above afterID, by id.
func (s *Store) UsersPage(_ context.Context, afterID string, limit int) ([]store.User, error) {
	limit = clampLimit(limit)
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []store.User
	for id, u := range s.users {
		if id > afterID {
			out = append(out, *u)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// RoomsPage returns up to limit rooms (groups only when groupsOnly) with
// an id above afterID, by id.
func (s *Store) RoomsPage(_ context.Context, afterID string, groupsOnly bool, limit int) ([]store.Room, error) {
	limit = clampLimit(limit)
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []store.Room
	for id, r := range s.rooms {
		if id > afterID && (!groupsOnly || r.Type != store.RoomDirect) {
			out = append(out, *r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
