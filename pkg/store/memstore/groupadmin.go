package memstore

import (
	"context"
	"sort"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// optUTC is dbTime for a non-zero t; zero stays zero.
func optUTC(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return dbTime(t)
}

// RoomByNumber returns the group with this number, or store.ErrNotFound.
func (s *Store) RoomByNumber(_ context.Context, number string) (*store.Room, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.numbers[number]
	return s.roomBy("room by number", id, ok && number != "")
}

// SetMemberRole stores role on a membership; store.ErrNotFound if none.
func (s *Store) SetMemberRole(_ context.Context, roomID, userID, role string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.members[roomID][userID]
	if m == nil {
		return errNotFound("set member role")
	}
	m.Role = role
	return nil
}

// SetMemberMute sets MutedUntil (zero: unmuted); store.ErrNotFound if no
// membership.
func (s *Store) SetMemberMute(_ context.Context, roomID, userID string, until time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.members[roomID][userID]
	if m == nil {
		return errNotFound("set member mute")
	}
	m.MutedUntil = optUTC(until)
	return nil
}

// SetMuteAll sets Room.MuteAll; store.ErrNotFound if no room.
func (s *Store) SetMuteAll(_ context.Context, roomID string, on bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[roomID]
	if r == nil {
		return errNotFound("set mute all")
	}
	r.MuteAll, r.UpdatedAt = on, dbTime(time.Now())
	return nil
}

// SetAnnouncement sets the room's announcement; store.ErrNotFound if no
// room.
func (s *Store) SetAnnouncement(_ context.Context, roomID, text, by string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[roomID]
	if r == nil {
		return errNotFound("set announcement")
	}
	r.Announcement, r.AnnouncementBy, r.AnnouncementAt = text, by, optUTC(at)
	r.UpdatedAt = dbTime(time.Now())
	return nil
}

// MembersPage returns memberships of the room after afterUser, by user id.
func (s *Store) MembersPage(_ context.Context, roomID, afterUser string, limit int) ([]store.Member, error) {
	limit = clampLimit(limit)
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []store.Member{}
	for id, m := range s.members[roomID] {
		if id > afterUser {
			out = append(out, *m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UserID < out[j].UserID })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// AddPin stores p; store.ErrDuplicate on (room, seq) or (room, slot).
func (s *Store) AddPin(_ context.Context, p *store.Pin) error {
	const op = "add pin"
	if p == nil {
		return errNil(op)
	}
	p.CreatedAt = createdTime(p.CreatedAt)
	s.mu.Lock()
	defer s.mu.Unlock()
	for seq, q := range s.pins[p.RoomID] {
		if seq == p.Seq || q.Slot == p.Slot {
			return errDup(op)
		}
	}
	c := *p
	addTo(s.pins, p.RoomID, p.Seq, &c)
	return nil
}

// RemovePin deletes the pin of (room, seq); store.ErrNotFound if none.
func (s *Store) RemovePin(_ context.Context, roomID string, seq int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pins[roomID][seq] == nil {
		return errNotFound("remove pin")
	}
	removeFrom(s.pins, roomID, seq)
	return nil
}

// Pins returns the room's pins, newest first (then by seq).
func (s *Store) Pins(_ context.Context, roomID string) ([]store.Pin, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []store.Pin{}
	for _, p := range s.pins[roomID] {
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.After(out[j].CreatedAt)
		}
		return out[i].Seq < out[j].Seq
	})
	return out, nil
}

// CreateJoinRequest stores r; store.ErrDuplicate on (room, user).
func (s *Store) CreateJoinRequest(_ context.Context, r *store.JoinRequest) error {
	const op = "create join request"
	if r == nil {
		return errNil(op)
	}
	r.CreatedAt = createdTime(r.CreatedAt)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.joinReqs[r.RoomID][r.UserID] != nil {
		return errDup(op)
	}
	c := *r
	addTo(s.joinReqs, r.RoomID, r.UserID, &c)
	return nil
}

// JoinRequest returns one request; store.ErrNotFound if none.
func (s *Store) JoinRequest(_ context.Context, roomID, userID string) (*store.JoinRequest, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if r := s.joinReqs[roomID][userID]; r != nil {
		c := *r
		return &c, nil
	}
	return nil, errNotFound("join request")
}

// JoinRequests returns up to limit requests of a room, oldest first.
func (s *Store) JoinRequests(_ context.Context, roomID string, limit int) ([]store.JoinRequest, error) {
	limit = clampLimit(limit)
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []store.JoinRequest{}
	for _, r := range s.joinReqs[roomID] {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].UserID < out[j].UserID
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// DeleteJoinRequest deletes one request; store.ErrNotFound if none.
func (s *Store) DeleteJoinRequest(_ context.Context, roomID, userID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.joinReqs[roomID][userID] == nil {
		return errNotFound("delete join request")
	}
	removeFrom(s.joinReqs, roomID, userID)
	return nil
}

// CreateInviteLink stores l; store.ErrDuplicate on its id or token hash.
func (s *Store) CreateInviteLink(_ context.Context, l *store.InviteLink) error {
	const op = "create invite link"
	if l == nil {
		return errNil(op)
	}
	l.CreatedAt = createdTime(l.CreatedAt)
	l.ExpiresAt = optUTC(l.ExpiresAt)
	s.mu.Lock()
	defer s.mu.Unlock()
	_, hashTaken := s.linkHash[l.TokenHash]
	if s.links[l.ID] != nil || hashTaken {
		return errDup(op)
	}
	c := *l
	s.links[l.ID] = &c
	s.linkHash[l.TokenHash] = l.ID
	return nil
}

func (s *Store) linkBy(op, id string, ok bool) (*store.InviteLink, error) {
	if l := s.links[id]; ok && l != nil {
		c := *l
		return &c, nil
	}
	return nil, errNotFound(op)
}

// InviteLinkByID returns a link; store.ErrNotFound if none.
func (s *Store) InviteLinkByID(_ context.Context, id string) (*store.InviteLink, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.linkBy("invite link by id", id, true)
}

// InviteLinkByHash returns the link of a token hash; store.ErrNotFound if
// none.
func (s *Store) InviteLinkByHash(_ context.Context, hash string) (*store.InviteLink, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.linkHash[hash]
	return s.linkBy("invite link by hash", id, ok)
}

// InviteLinks returns the room's links, newest first.
func (s *Store) InviteLinks(_ context.Context, roomID string, limit int) ([]store.InviteLink, error) {
	limit = clampLimit(limit)
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []store.InviteLink{}
	for _, l := range s.links {
		if l.RoomID == roomID {
			out = append(out, *l)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.After(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// RevokeInviteLink marks a link revoked; store.ErrNotFound if absent.
func (s *Store) RevokeInviteLink(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.links[id]
	if l == nil {
		return errNotFound("revoke invite link")
	}
	l.Revoked = true
	return nil
}

// AddInviteUse stores u; store.ErrDuplicate on (link, n) or (link, user).
func (s *Store) AddInviteUse(_ context.Context, u *store.InviteUse) error {
	const op = "add invite use"
	if u == nil {
		return errNil(op)
	}
	u.CreatedAt = createdTime(u.CreatedAt)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.linkUses[u.LinkID][u.N] != nil || s.linkUsers[u.LinkID][u.UserID] != nil {
		return errDup(op)
	}
	c := *u
	addTo(s.linkUses, u.LinkID, u.N, &c)
	addTo(s.linkUsers, u.LinkID, u.UserID, &c)
	return nil
}

// CountInviteUses counts a link's uses.
func (s *Store) CountInviteUses(_ context.Context, linkID string) (int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return int64(len(s.linkUses[linkID])), nil
}

// InviteUseBy returns the user's use of the link; store.ErrNotFound if
// none.
func (s *Store) InviteUseBy(_ context.Context, linkID, userID string) (*store.InviteUse, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if u := s.linkUsers[linkID][userID]; u != nil {
		c := *u
		return &c, nil
	}
	return nil, errNotFound("invite use by")
}
