package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// CreateRoom inserts r; store.ErrDuplicate when its id, number or pair key
// is taken. An empty Number or PairKey is stored as NULL and never
// collides. A zero CreatedAt or UpdatedAt is set to the current time; both
// are normalised in place.
func (s *Store) CreateRoom(ctx context.Context, r *store.Room) error {
	const op = "create room"
	if r == nil {
		return errNil(op, "room")
	}
	r.CreatedAt = createdTime(r.CreatedAt)
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = r.CreatedAt
	}
	r.UpdatedAt = dbTime(r.UpdatedAt)
	_, err := s.exec(ctx, op, qCreateRoom, r.ID, int(r.Type), nullIfEmpty(r.Number), r.Name, r.Info,
		r.Owner, nullIfEmpty(r.PairKey), r.Disbanded, r.CreatedAt, r.UpdatedAt,
		r.MuteAll, r.Announcement, r.AnnouncementBy, nullIfZero(optTime(r.AnnouncementAt)))
	return err
}

// RoomByID returns the room with this id, or store.ErrNotFound.
func (s *Store) RoomByID(ctx context.Context, id string) (*store.Room, error) {
	return queryOne(ctx, s, "room by id", scanRoom, qRoomByID, id)
}

// RoomByPairKey returns the direct room of a pair (see store.PairKey), or
// store.ErrNotFound.
func (s *Store) RoomByPairKey(ctx context.Context, key string) (*store.Room, error) {
	const op = "room by pair key"
	if key == "" {
		return nil, fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	return queryOne(ctx, s, op, scanRoom, qRoomByPairKey, key)
}

// MarkDisbanded flags a room as disbanded; store.ErrNotFound if it does not
// exist. Marking a disbanded room again succeeds.
func (s *Store) MarkDisbanded(ctx context.Context, id string) error {
	return s.execOne(ctx, "mark disbanded", qMarkDisbanded, dbTime(time.Now()), id)
}

// SetOwner makes userID the owner of room id and sets UpdatedAt;
// store.ErrNotFound if the room does not exist.
func (s *Store) SetOwner(ctx context.Context, id, userID string) error {
	return s.execOne(ctx, "set owner", qSetOwner, userID, dbTime(time.Now()), id)
}

// AddMember inserts a membership; store.ErrDuplicate if the user is already
// a member. A zero CreatedAt is set to the current time; it is normalised
// in place.
func (s *Store) AddMember(ctx context.Context, m *store.Member) error {
	const op = "add member"
	if m == nil {
		return errNil(op, "member")
	}
	m.CreatedAt = createdTime(m.CreatedAt)
	m.MutedUntil = optTime(m.MutedUntil)
	_, err := s.exec(ctx, op, qAddMember, m.RoomID, m.UserID, int(m.RoomType), m.ReadSeq, m.MentionSeq, m.CreatedAt,
		m.Role, nullIfZero(m.MutedUntil))
	return err
}

// RemoveMember deletes a membership; store.ErrNotFound if there was none.
func (s *Store) RemoveMember(ctx context.Context, roomID, userID string) error {
	return s.execOne(ctx, "remove member", qRemoveMember, roomID, userID)
}

// RemoveAllMembers deletes every membership of a room, in one statement
// (so at once).
func (s *Store) RemoveAllMembers(ctx context.Context, roomID string) error {
	_, err := s.exec(ctx, "remove all members", qRemoveAllMembers, roomID)
	return err
}

// Member returns one membership, or store.ErrNotFound.
func (s *Store) Member(ctx context.Context, roomID, userID string) (*store.Member, error) {
	return queryOne(ctx, s, "member", scanMember, qMember, roomID, userID)
}

// Members returns a room's memberships, oldest first (then by user id).
func (s *Store) Members(ctx context.Context, roomID string) ([]store.Member, error) {
	return queryAll(ctx, s, "members", scanMember, qMembers, roomID)
}

// CountMembers counts a room's memberships.
func (s *Store) CountMembers(ctx context.Context, roomID string) (int64, error) {
	n, err := queryOne(ctx, s, "count members", scanInt, qCountMembers, roomID)
	if err != nil {
		return 0, err
	}
	return *n, nil
}

// MembershipsOf returns a user's memberships, oldest first (then by room
// id).
func (s *Store) MembershipsOf(ctx context.Context, userID string) ([]store.Member, error) {
	return queryAll(ctx, s, "memberships of", scanMember, qMembershipsOf, userID)
}

// SetReadSeq raises the member's read seq to seq and never lowers it;
// store.ErrNotFound if the membership does not exist. It is one UPDATE
// setting GREATEST(read_seq, seq): concurrent calls queue on the row lock
// and each compares with the value the previous one committed, so the
// highest seq is left.
func (s *Store) SetReadSeq(ctx context.Context, roomID, userID string, seq int64) error {
	// The row counts as updated even when GREATEST keeps the old value,
	// so 0 rows means there is no membership.
	return s.execOne(ctx, "set read seq", qSetReadSeq, roomID, userID, seq)
}

// scanRoom reads the columns roomCols.
func scanRoom(r pgx.Row) (store.Room, error) {
	var room store.Room
	var typ int
	var number, pairKey *string
	var annAt *time.Time
	err := r.Scan(&room.ID, &typ, &number, &room.Name, &room.Info, &room.Owner, &pairKey,
		&room.Disbanded, &room.CreatedAt, &room.UpdatedAt, &room.MuteAll, &room.Announcement, &room.AnnouncementBy, &annAt)
	room.AnnouncementAt = fromNullTime(annAt)
	room.Type = store.RoomType(typ)
	if number != nil {
		room.Number = *number
	}
	if pairKey != nil {
		room.PairKey = *pairKey
	}
	room.CreatedAt, room.UpdatedAt = room.CreatedAt.UTC(), room.UpdatedAt.UTC()
	return room, err
}

// scanMember reads the columns memberCols.
func scanMember(r pgx.Row) (store.Member, error) {
	var m store.Member
	var typ int
	var muted *time.Time
	err := r.Scan(&m.RoomID, &m.UserID, &typ, &m.ReadSeq, &m.MentionSeq, &m.CreatedAt, &m.Role, &muted)
	m.MutedUntil = fromNullTime(muted)
	m.RoomType = store.RoomType(typ)
	m.CreatedAt = m.CreatedAt.UTC()
	return m, err
}
