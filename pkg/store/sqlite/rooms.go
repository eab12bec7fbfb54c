package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

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
	_, err := s.exec(ctx, op, qCreateRoom, r.ID, int64(r.Type), nullIfEmpty(r.Number), r.Name, r.Info,
		r.Owner, nullIfEmpty(r.PairKey), boolInt(r.Disbanded), millis(r.CreatedAt), millis(r.UpdatedAt),
		boolInt(r.MuteAll), r.Announcement, r.AnnouncementBy, zeroMillis(r.AnnouncementAt))
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
		return nil, fmt.Errorf("sqlite: %s: %w", op, store.ErrNotFound)
	}
	return queryOne(ctx, s, op, scanRoom, qRoomByPairKey, key)
}

// MarkDisbanded flags a room as disbanded; store.ErrNotFound if it does not
// exist. Marking a disbanded room again succeeds.
func (s *Store) MarkDisbanded(ctx context.Context, id string) error {
	return s.execOne(ctx, "mark disbanded", qMarkDisbanded, millis(dbTime(time.Now())), id)
}

// SetOwner makes userID the owner of room id and sets UpdatedAt;
// store.ErrNotFound if the room does not exist.
func (s *Store) SetOwner(ctx context.Context, id, userID string) error {
	return s.execOne(ctx, "set owner", qSetOwner, userID, millis(dbTime(time.Now())), id)
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
	_, err := s.exec(ctx, op, qAddMember, m.RoomID, m.UserID, int64(m.RoomType), m.ReadSeq, m.MentionSeq, millis(m.CreatedAt),
		m.Role, zeroMillis(m.MutedUntil))
	return err
}

// RemoveMember deletes a membership; store.ErrNotFound if there was none.
func (s *Store) RemoveMember(ctx context.Context, roomID, userID string) error {
	return s.execOne(ctx, "remove member", qRemoveMember, roomID, userID)
}

// RemoveAllMembers deletes every membership of a room.
func (s *Store) RemoveAllMembers(ctx context.Context, roomID string) error {
	_, err := s.exec(ctx, "remove all members", qRemoveAllMembers, roomID)
	return err
}

// Member returns one membership, or store.ErrNotFound.
func (s *Store) Member(ctx context.Context, roomID, userID string) (*store.Member, error) {
	return queryOneStmt(ctx, s, "member", scanMember, s.stmts.member, roomID, userID)
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
	return queryAllStmt(ctx, s, "memberships of", scanMember, s.stmts.membershipsOf, userID)
}

// SetReadSeq raises the member's read seq to seq and never lowers it;
// store.ErrNotFound if the membership does not exist. It is one UPDATE
// setting max(read_seq, seq), so concurrent calls leave the highest seq.
func (s *Store) SetReadSeq(ctx context.Context, roomID, userID string, seq int64) error {
	const op = "set read seq"
	// The row counts as changed even when max keeps the old value, so 0
	// means there is no membership.
	n, err := s.execStmt(ctx, op, s.stmts.setReadSeq, seq, roomID, userID)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("sqlite: %s: %w", op, store.ErrNotFound)
	}
	return nil
}

// scanRoom reads the columns roomCols.
func scanRoom(r scanner) (store.Room, error) {
	var room store.Room
	var typ, disbanded, created, updated, muteAll, annAt int64
	var number, pairKey sql.NullString
	err := r.Scan(&room.ID, &typ, &number, &room.Name, &room.Info, &room.Owner, &pairKey,
		&disbanded, &created, &updated, &muteAll, &room.Announcement, &room.AnnouncementBy, &annAt)
	room.MuteAll, room.AnnouncementAt = muteAll != 0, fromZeroMillis(annAt)
	room.Type = store.RoomType(typ)
	room.Number, room.PairKey = number.String, pairKey.String
	room.Disbanded = disbanded != 0
	room.CreatedAt, room.UpdatedAt = fromMillis(created), fromMillis(updated)
	return room, err
}

// scanMember reads the columns memberCols.
func scanMember(r scanner) (store.Member, error) {
	var m store.Member
	var typ, created, muted int64
	err := r.Scan(&m.RoomID, &m.UserID, &typ, &m.ReadSeq, &m.MentionSeq, &created, &m.Role, &muted)
	m.MutedUntil = fromZeroMillis(muted)
	m.RoomType = store.RoomType(typ)
	m.CreatedAt = fromMillis(created)
	return m, err
}

// scanInt reads a single integer, such as a count.
func scanInt(r scanner) (int64, error) {
	var n int64
	err := r.Scan(&n)
	return n, err
}
