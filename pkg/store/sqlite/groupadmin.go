package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// zeroMillis stores an optional time in a NOT NULL column: 0 when zero.
func zeroMillis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return millis(t)
}

// fromZeroMillis is the inverse of zeroMillis.
func fromZeroMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return fromMillis(ms)
}

// RoomByNumber returns the group with this number, or store.ErrNotFound.
func (s *Store) RoomByNumber(ctx context.Context, number string) (*store.Room, error) {
	const op = "room by number"
	if number == "" {
		return nil, fmt.Errorf("sqlite: %s: %w", op, store.ErrNotFound)
	}
	return queryOne(ctx, s, op, scanRoom, qRoomByNumber, number)
}

// SetMemberRole stores role on a membership; store.ErrNotFound if none.
func (s *Store) SetMemberRole(ctx context.Context, roomID, userID, role string) error {
	return s.execOne(ctx, "set member role", qSetMemberRole, role, roomID, userID)
}

// SetMemberMute sets MutedUntil (zero: unmuted); store.ErrNotFound if no
// membership.
func (s *Store) SetMemberMute(ctx context.Context, roomID, userID string, until time.Time) error {
	return s.execOne(ctx, "set member mute", qSetMemberMute, zeroMillis(optTime(until)), roomID, userID)
}

// SetMuteAll sets Room.MuteAll; store.ErrNotFound if no room.
func (s *Store) SetMuteAll(ctx context.Context, roomID string, on bool) error {
	return s.execOne(ctx, "set mute all", qSetMuteAll, boolInt(on), millis(dbTime(time.Now())), roomID)
}

// SetAnnouncement sets the room's announcement; store.ErrNotFound if no
// room.
func (s *Store) SetAnnouncement(ctx context.Context, roomID, text, by string, at time.Time) error {
	return s.execOne(ctx, "set announcement", qSetAnnouncement, text, by, zeroMillis(optTime(at)),
		millis(dbTime(time.Now())), roomID)
}

// MembersPage returns memberships of the room after afterUser, by user id.
func (s *Store) MembersPage(ctx context.Context, roomID, afterUser string, limit int) ([]store.Member, error) {
	return queryAll(ctx, s, "members page", scanMember, qMembersPage, roomID, afterUser, clampLimit(limit))
}

// AddPin stores p; store.ErrDuplicate on (room, seq) or (room, slot).
func (s *Store) AddPin(ctx context.Context, p *store.Pin) error {
	const op = "add pin"
	if p == nil {
		return errNil(op, "pin")
	}
	p.CreatedAt = createdTime(p.CreatedAt)
	_, err := s.exec(ctx, op, qAddPin, p.RoomID, p.Seq, p.Slot, p.By, millis(p.CreatedAt))
	return err
}

// RemovePin deletes the pin of (room, seq); store.ErrNotFound if none.
func (s *Store) RemovePin(ctx context.Context, roomID string, seq int64) error {
	return s.execOne(ctx, "remove pin", qRemovePin, roomID, seq)
}

// Pins returns the room's pins, newest first (then by seq).
func (s *Store) Pins(ctx context.Context, roomID string) ([]store.Pin, error) {
	return queryAll(ctx, s, "pins", scanPin, qPins, roomID)
}

// CreateJoinRequest stores r; store.ErrDuplicate on (room, user).
func (s *Store) CreateJoinRequest(ctx context.Context, r *store.JoinRequest) error {
	const op = "create join request"
	if r == nil {
		return errNil(op, "join request")
	}
	r.CreatedAt = createdTime(r.CreatedAt)
	_, err := s.exec(ctx, op, qCreateJoinRequest, r.RoomID, r.UserID, r.Message, millis(r.CreatedAt))
	return err
}

// JoinRequest returns one request; store.ErrNotFound if none.
func (s *Store) JoinRequest(ctx context.Context, roomID, userID string) (*store.JoinRequest, error) {
	return queryOne(ctx, s, "join request", scanJoinRequest, qJoinRequest, roomID, userID)
}

// JoinRequests returns up to limit requests of a room, oldest first.
func (s *Store) JoinRequests(ctx context.Context, roomID string, limit int) ([]store.JoinRequest, error) {
	return queryAll(ctx, s, "join requests", scanJoinRequest, qJoinRequests, roomID, clampLimit(limit))
}

// DeleteJoinRequest deletes one request; store.ErrNotFound if none.
func (s *Store) DeleteJoinRequest(ctx context.Context, roomID, userID string) error {
	return s.execOne(ctx, "delete join request", qDeleteJoinRequest, roomID, userID)
}

// CreateInviteLink stores l; store.ErrDuplicate on its id or token hash.
func (s *Store) CreateInviteLink(ctx context.Context, l *store.InviteLink) error {
	const op = "create invite link"
	if l == nil {
		return errNil(op, "invite link")
	}
	l.CreatedAt = createdTime(l.CreatedAt)
	l.ExpiresAt = optTime(l.ExpiresAt)
	_, err := s.exec(ctx, op, qCreateInviteLink, l.ID, l.RoomID, l.TokenHash, l.CreatedBy, millis(l.CreatedAt),
		zeroMillis(l.ExpiresAt), l.MaxUses, boolInt(l.Revoked))
	return err
}

// InviteLinkByID returns a link; store.ErrNotFound if none.
func (s *Store) InviteLinkByID(ctx context.Context, id string) (*store.InviteLink, error) {
	return queryOne(ctx, s, "invite link by id", scanInviteLink, qInviteLinkByID, id)
}

// InviteLinkByHash returns the link of a token hash; store.ErrNotFound if
// none.
func (s *Store) InviteLinkByHash(ctx context.Context, hash string) (*store.InviteLink, error) {
	return queryOne(ctx, s, "invite link by hash", scanInviteLink, qInviteLinkByHash, hash)
}

// InviteLinks returns the room's links, newest first.
func (s *Store) InviteLinks(ctx context.Context, roomID string, limit int) ([]store.InviteLink, error) {
	return queryAll(ctx, s, "invite links", scanInviteLink, qInviteLinks, roomID, clampLimit(limit))
}

// RevokeInviteLink marks a link revoked; store.ErrNotFound if absent.
func (s *Store) RevokeInviteLink(ctx context.Context, id string) error {
	return s.execOne(ctx, "revoke invite link", qRevokeInviteLink, id)
}

// AddInviteUse stores u; store.ErrDuplicate on (link, n) or (link, user).
func (s *Store) AddInviteUse(ctx context.Context, u *store.InviteUse) error {
	const op = "add invite use"
	if u == nil {
		return errNil(op, "invite use")
	}
	u.CreatedAt = createdTime(u.CreatedAt)
	_, err := s.exec(ctx, op, qAddInviteUse, u.LinkID, u.N, u.UserID, millis(u.CreatedAt))
	return err
}

// CountInviteUses counts a link's uses.
func (s *Store) CountInviteUses(ctx context.Context, linkID string) (int64, error) {
	n, err := queryOne(ctx, s, "count invite uses", scanInt, qCountInviteUses, linkID)
	if err != nil {
		return 0, err
	}
	return *n, nil
}

// InviteUseBy returns the user's use of the link; store.ErrNotFound if
// none.
func (s *Store) InviteUseBy(ctx context.Context, linkID, userID string) (*store.InviteUse, error) {
	return queryOne(ctx, s, "invite use by", scanInviteUse, qInviteUseBy, linkID, userID)
}

func scanPin(r scanner) (store.Pin, error) {
	var p store.Pin
	var created int64
	err := r.Scan(&p.RoomID, &p.Seq, &p.Slot, &p.By, &created)
	p.CreatedAt = fromMillis(created)
	return p, err
}

func scanJoinRequest(r scanner) (store.JoinRequest, error) {
	var q store.JoinRequest
	var created int64
	err := r.Scan(&q.RoomID, &q.UserID, &q.Message, &created)
	q.CreatedAt = fromMillis(created)
	return q, err
}

func scanInviteLink(r scanner) (store.InviteLink, error) {
	var l store.InviteLink
	var created, expires, revoked int64
	err := r.Scan(&l.ID, &l.RoomID, &l.TokenHash, &l.CreatedBy, &created, &expires, &l.MaxUses, &revoked)
	l.CreatedAt, l.ExpiresAt, l.Revoked = fromMillis(created), fromZeroMillis(expires), revoked != 0
	return l, err
}

func scanInviteUse(r scanner) (store.InviteUse, error) {
	var u store.InviteUse
	var created int64
	err := r.Scan(&u.LinkID, &u.N, &u.UserID, &created)
	u.CreatedAt = fromMillis(created)
	return u, err
}
