package mongo

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// CreateRoom inserts r; store.ErrDuplicate when its id, number or pair key
// is taken. An empty Number or PairKey is not stored and never collides. A
// zero CreatedAt or UpdatedAt is set to the current time.
func (s *Store) CreateRoom(ctx context.Context, r *store.Room) error {
	if r == nil {
		return errNil("create room", "room")
	}
	r.CreatedAt = createdTime(r.CreatedAt)
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = r.CreatedAt
	}
	r.UpdatedAt = dbTime(r.UpdatedAt)
	return s.insert(ctx, "create room", s.rooms, fromRoom(r))
}

// RoomByID returns the room with this id, or store.ErrNotFound.
func (s *Store) RoomByID(ctx context.Context, id string) (*store.Room, error) {
	return s.roomBy(ctx, "room by id", bson.D{{Key: "_id", Value: id}})
}

// RoomByPairKey returns the direct room of a pair (see store.PairKey), or
// store.ErrNotFound.
func (s *Store) RoomByPairKey(ctx context.Context, key string) (*store.Room, error) {
	if key == "" {
		return nil, fmt.Errorf("mongo: room by pair key: %w", store.ErrNotFound)
	}
	return s.roomBy(ctx, "room by pair key", bson.D{{Key: "pair_key", Value: key}})
}

func (s *Store) roomBy(ctx context.Context, op string, filter bson.D) (*store.Room, error) {
	var d roomDoc
	if err := s.findOne(ctx, op, s.rooms, filter, &d); err != nil {
		return nil, err
	}
	r := d.toRoom()
	return &r, nil
}

// MarkDisbanded flags a room as disbanded; store.ErrNotFound if it does not
// exist. Marking a disbanded room again succeeds.
func (s *Store) MarkDisbanded(ctx context.Context, id string) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	res, err := s.rooms.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: bson.D{
		{Key: "disbanded", Value: true},
		{Key: "updated_at", Value: dbTime(time.Now())},
	}}})
	if err != nil {
		return mapErr("mark disbanded", err)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("mongo: mark disbanded: %w", store.ErrNotFound)
	}
	return nil
}

// SetOwner makes userID the owner of room id and sets updated_at;
// store.ErrNotFound if the room does not exist.
func (s *Store) SetOwner(ctx context.Context, id, userID string) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	res, err := s.rooms.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: bson.D{
		{Key: "user_identity", Value: userID},
		{Key: "updated_at", Value: dbTime(time.Now())},
	}}})
	if err != nil {
		return mapErr("set owner", err)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("mongo: set owner: %w", store.ErrNotFound)
	}
	return nil
}

// AddMember inserts a membership; store.ErrDuplicate if the user is already
// a member. A zero CreatedAt is set to the current time.
func (s *Store) AddMember(ctx context.Context, m *store.Member) error {
	if m == nil {
		return errNil("add member", "member")
	}
	m.CreatedAt = createdTime(m.CreatedAt)
	if !m.MutedUntil.IsZero() {
		m.MutedUntil = dbTime(m.MutedUntil)
	}
	return s.insert(ctx, "add member", s.members, fromMember(m))
}

// RemoveMember deletes a membership; store.ErrNotFound if there was none.
func (s *Store) RemoveMember(ctx context.Context, roomID, userID string) error {
	return s.deleteOne(ctx, "remove member", s.members, memberFilter(roomID, userID))
}

// RemoveAllMembers deletes every membership of a room.
func (s *Store) RemoveAllMembers(ctx context.Context, roomID string) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	_, err := s.members.DeleteMany(ctx, bson.D{{Key: "room_identity", Value: roomID}})
	return mapErr("remove all members", err)
}

// Member returns one membership, or store.ErrNotFound.
func (s *Store) Member(ctx context.Context, roomID, userID string) (*store.Member, error) {
	var d memberDoc
	if err := s.findOne(ctx, "member", s.members, memberFilter(roomID, userID), &d); err != nil {
		return nil, err
	}
	m := d.toMember()
	return &m, nil
}

// Members returns a room's memberships, oldest first.
func (s *Store) Members(ctx context.Context, roomID string) ([]store.Member, error) {
	var docs []memberDoc
	err := s.findAll(ctx, "members", s.members, bson.D{{Key: "room_identity", Value: roomID}}, &docs,
		options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "user_identity", Value: 1}}))
	return convertAll(docs, (*memberDoc).toMember), err
}

// CountMembers counts a room's memberships.
func (s *Store) CountMembers(ctx context.Context, roomID string) (int64, error) {
	return s.count(ctx, "count members", s.members, bson.D{{Key: "room_identity", Value: roomID}})
}

// MembershipsOf returns a user's memberships, oldest first.
func (s *Store) MembershipsOf(ctx context.Context, userID string) ([]store.Member, error) {
	var docs []memberDoc
	err := s.findAll(ctx, "memberships of", s.members, bson.D{{Key: "user_identity", Value: userID}}, &docs,
		options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "room_identity", Value: 1}}))
	return convertAll(docs, (*memberDoc).toMember), err
}

func memberFilter(roomID, userID string) bson.D {
	return bson.D{{Key: "room_identity", Value: roomID}, {Key: "user_identity", Value: userID}}
}
