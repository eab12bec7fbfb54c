package mongo

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mdb "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// The group administration writes are plain $set/$unset of values that do
// not depend on the stored ones, so they need no lock document; the rules
// under concurrency (pin slots, one request per user, the numbered uses of
// an invite link) rest on the unique indexes of EnsureIndexes.

// updateOne applies update to the document matching filter;
// store.ErrNotFound when none matched.
func (s *Store) updateOne(ctx context.Context, op string, c *mdb.Collection, filter, update any) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	res, err := c.UpdateOne(ctx, filter, update)
	if err != nil {
		return mapErr(op, err)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("mongo: %s: %w", op, store.ErrNotFound)
	}
	return nil
}

// setOrUnset sets key to v, or unsets it when zero (the field is absent
// when empty, as the records omit it).
func setOrUnset(key string, v any, zero bool) bson.D {
	if zero {
		return bson.D{{Key: "$unset", Value: bson.D{{Key: key, Value: ""}}}}
	}
	return bson.D{{Key: "$set", Value: bson.D{{Key: key, Value: v}}}}
}

// RoomByNumber returns the group with this number, or store.ErrNotFound.
func (s *Store) RoomByNumber(ctx context.Context, number string) (*store.Room, error) {
	if number == "" {
		return nil, fmt.Errorf("mongo: room by number: %w", store.ErrNotFound)
	}
	return s.roomBy(ctx, "room by number", bson.D{{Key: "number", Value: number}})
}

// SetMemberRole stores role on a membership; store.ErrNotFound if none.
func (s *Store) SetMemberRole(ctx context.Context, roomID, userID, role string) error {
	return s.updateOne(ctx, "set member role", s.members, memberFilter(roomID, userID), setOrUnset("role", role, role == ""))
}

// SetMemberMute sets MutedUntil (zero: unmuted); store.ErrNotFound if no
// membership.
func (s *Store) SetMemberMute(ctx context.Context, roomID, userID string, until time.Time) error {
	return s.updateOne(ctx, "set member mute", s.members, memberFilter(roomID, userID),
		setOrUnset("muted_until", dbTime(until), until.IsZero()))
}

// SetMuteAll sets Room.MuteAll; store.ErrNotFound if no room.
func (s *Store) SetMuteAll(ctx context.Context, roomID string, on bool) error {
	now := bson.E{Key: "updated_at", Value: dbTime(time.Now())}
	upd := bson.D{{Key: "$set", Value: bson.D{{Key: "mute_all", Value: true}, now}}}
	if !on {
		upd = bson.D{{Key: "$unset", Value: bson.D{{Key: "mute_all", Value: ""}}}, {Key: "$set", Value: bson.D{now}}}
	}
	return s.updateOne(ctx, "set mute all", s.rooms, bson.D{{Key: "_id", Value: roomID}}, upd)
}

// SetAnnouncement sets the room's announcement; store.ErrNotFound if no
// room.
func (s *Store) SetAnnouncement(ctx context.Context, roomID, text, by string, at time.Time) error {
	var upd bson.D
	if text == "" {
		upd = bson.D{
			{Key: "$unset", Value: bson.D{{Key: "announcement", Value: ""}, {Key: "announcement_by", Value: ""}, {Key: "announcement_at", Value: ""}}},
			{Key: "$set", Value: bson.D{{Key: "updated_at", Value: dbTime(time.Now())}}},
		}
	} else {
		upd = bson.D{{Key: "$set", Value: bson.D{
			{Key: "announcement", Value: text}, {Key: "announcement_by", Value: by},
			{Key: "announcement_at", Value: dbTime(at)}, {Key: "updated_at", Value: dbTime(time.Now())},
		}}}
	}
	return s.updateOne(ctx, "set announcement", s.rooms, bson.D{{Key: "_id", Value: roomID}}, upd)
}

// MembersPage returns memberships of the room after afterUser, by user id.
func (s *Store) MembersPage(ctx context.Context, roomID, afterUser string, limit int) ([]store.Member, error) {
	var docs []memberDoc
	err := s.findAll(ctx, "members page", s.members,
		bson.D{{Key: "room_identity", Value: roomID}, {Key: "user_identity", Value: bson.D{{Key: "$gt", Value: afterUser}}}}, &docs,
		options.Find().SetSort(bson.D{{Key: "user_identity", Value: 1}}).SetLimit(int64(clampLimit(limit))))
	return convertAll(docs, (*memberDoc).toMember), err
}

// AddPin stores p; store.ErrDuplicate on (room, seq) or (room, slot).
func (s *Store) AddPin(ctx context.Context, p *store.Pin) error {
	if p == nil {
		return errNil("add pin", "pin")
	}
	p.CreatedAt = createdTime(p.CreatedAt)
	return s.insert(ctx, "add pin", s.pins, pinDoc{RoomID: p.RoomID, Seq: p.Seq, Slot: p.Slot, By: p.By, CreatedAt: p.CreatedAt})
}

// RemovePin deletes the pin of (room, seq); store.ErrNotFound if none.
func (s *Store) RemovePin(ctx context.Context, roomID string, seq int64) error {
	return s.deleteOne(ctx, "remove pin", s.pins, bson.D{{Key: "room_identity", Value: roomID}, {Key: "seq", Value: seq}})
}

// Pins returns the room's pins, newest first (then by seq).
func (s *Store) Pins(ctx context.Context, roomID string) ([]store.Pin, error) {
	var docs []pinDoc
	err := s.findAll(ctx, "pins", s.pins, bson.D{{Key: "room_identity", Value: roomID}}, &docs,
		options.Find().SetSort(bson.D{{Key: "created_at", Value: -1}, {Key: "seq", Value: 1}}).SetLimit(store.MaxPins))
	return convertAll(docs, (*pinDoc).toPin), err
}

// CreateJoinRequest stores r; store.ErrDuplicate on (room, user).
func (s *Store) CreateJoinRequest(ctx context.Context, r *store.JoinRequest) error {
	if r == nil {
		return errNil("create join request", "join request")
	}
	r.CreatedAt = createdTime(r.CreatedAt)
	return s.insert(ctx, "create join request", s.joinReqs,
		joinRequestDoc{RoomID: r.RoomID, UserID: r.UserID, Message: r.Message, CreatedAt: r.CreatedAt})
}

// JoinRequest returns one request; store.ErrNotFound if none.
func (s *Store) JoinRequest(ctx context.Context, roomID, userID string) (*store.JoinRequest, error) {
	var d joinRequestDoc
	if err := s.findOne(ctx, "join request", s.joinReqs, memberFilter(roomID, userID), &d); err != nil {
		return nil, err
	}
	r := d.toJoinRequest()
	return &r, nil
}

// JoinRequests returns up to limit requests of a room, oldest first.
func (s *Store) JoinRequests(ctx context.Context, roomID string, limit int) ([]store.JoinRequest, error) {
	var docs []joinRequestDoc
	err := s.findAll(ctx, "join requests", s.joinReqs, bson.D{{Key: "room_identity", Value: roomID}}, &docs,
		options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "user_identity", Value: 1}}).SetLimit(int64(clampLimit(limit))))
	return convertAll(docs, (*joinRequestDoc).toJoinRequest), err
}

// DeleteJoinRequest deletes one request; store.ErrNotFound if none.
func (s *Store) DeleteJoinRequest(ctx context.Context, roomID, userID string) error {
	return s.deleteOne(ctx, "delete join request", s.joinReqs, memberFilter(roomID, userID))
}

// CreateInviteLink stores l; store.ErrDuplicate on its id or token hash.
func (s *Store) CreateInviteLink(ctx context.Context, l *store.InviteLink) error {
	if l == nil {
		return errNil("create invite link", "invite link")
	}
	l.CreatedAt, l.ExpiresAt = createdTime(l.CreatedAt), dbTime(l.ExpiresAt)
	return s.insert(ctx, "create invite link", s.links, inviteLinkDoc{ID: l.ID, RoomID: l.RoomID, TokenHash: l.TokenHash,
		CreatedBy: l.CreatedBy, CreatedAt: l.CreatedAt, ExpiresAt: l.ExpiresAt, MaxUses: l.MaxUses, Revoked: l.Revoked})
}

func (s *Store) linkBy(ctx context.Context, op string, filter bson.D) (*store.InviteLink, error) {
	var d inviteLinkDoc
	if err := s.findOne(ctx, op, s.links, filter, &d); err != nil {
		return nil, err
	}
	l := d.toInviteLink()
	return &l, nil
}

// InviteLinkByID returns a link; store.ErrNotFound if none.
func (s *Store) InviteLinkByID(ctx context.Context, id string) (*store.InviteLink, error) {
	return s.linkBy(ctx, "invite link by id", bson.D{{Key: "_id", Value: id}})
}

// InviteLinkByHash returns the link of a token hash; store.ErrNotFound if
// none.
func (s *Store) InviteLinkByHash(ctx context.Context, hash string) (*store.InviteLink, error) {
	return s.linkBy(ctx, "invite link by hash", bson.D{{Key: "token_hash", Value: hash}})
}

// InviteLinks returns the room's links, newest first.
func (s *Store) InviteLinks(ctx context.Context, roomID string, limit int) ([]store.InviteLink, error) {
	var docs []inviteLinkDoc
	err := s.findAll(ctx, "invite links", s.links, bson.D{{Key: "room_identity", Value: roomID}}, &docs,
		options.Find().SetSort(bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(int64(clampLimit(limit))))
	return convertAll(docs, (*inviteLinkDoc).toInviteLink), err
}

// RevokeInviteLink marks a link revoked; store.ErrNotFound if absent.
func (s *Store) RevokeInviteLink(ctx context.Context, id string) error {
	return s.updateOne(ctx, "revoke invite link", s.links, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "revoked", Value: true}}}})
}

// AddInviteUse stores u; store.ErrDuplicate on (link, n) or (link, user).
func (s *Store) AddInviteUse(ctx context.Context, u *store.InviteUse) error {
	if u == nil {
		return errNil("add invite use", "invite use")
	}
	u.CreatedAt = createdTime(u.CreatedAt)
	return s.insert(ctx, "add invite use", s.linkUses, inviteUseDoc{LinkID: u.LinkID, N: u.N, UserID: u.UserID, CreatedAt: u.CreatedAt})
}

// CountInviteUses counts a link's uses.
func (s *Store) CountInviteUses(ctx context.Context, linkID string) (int64, error) {
	return s.count(ctx, "count invite uses", s.linkUses, bson.D{{Key: "link_id", Value: linkID}})
}

// InviteUseBy returns the user's use of the link; store.ErrNotFound if
// none.
func (s *Store) InviteUseBy(ctx context.Context, linkID, userID string) (*store.InviteUse, error) {
	var d inviteUseDoc
	if err := s.findOne(ctx, "invite use by", s.linkUses,
		bson.D{{Key: "link_id", Value: linkID}, {Key: "user_identity", Value: userID}}, &d); err != nil {
		return nil, err
	}
	u := d.toInviteUse()
	return &u, nil
}
