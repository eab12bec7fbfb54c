package service

import (
	"context"
	"errors"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// Blocking. A block is one stored row (store.Blocks). While a block
// exists, either way:
//
//   - the pair's direct room is closed both ways: sends, changes, history,
//     sync and read marks there answer forbidden "you are not a member of
//     this room", exactly as for users who are not friends (CheckMember);
//     the friendship itself is kept, and unblocking reopens the room;
//   - the blocker is hidden from the blocked user: LookupUser and friend
//     requests to the blocker answer not_found "no such user", as for an
//     account that does not exist (unless they are friends: then a
//     request answers "already friends", as it always did);
//   - blocking withdraws the pending friend requests between the two,
//     which looks like a decline (a decline sends no event either), and
//     the blocker cannot send one until they unblock.
//
// Shared groups are not affected. Nothing is sent to the blocked user;
// the gateways are told with internal events (room_closed, room_opened)
// that they never forward.

// MaxBlocks bounds the users one user may block.
const MaxBlocks = 1000

// BlockView is one of the caller's blocks, as GET /v1/blocks lists it.
type BlockView struct {
	User  protocol.User `json:"user"`
	Since time.Time     `json:"since"`
}

// blocked reports whether a block exists between a and b, either way.
func (s *Service) blocked(ctx context.Context, a, b string) (bool, error) {
	for _, p := range [][2]string{{a, b}, {b, a}} {
		ok, err := s.st.IsBlocked(ctx, p[0], p[1])
		if err != nil {
			return false, storeErr("blocks", err)
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

// directClosed reports whether the direct room roomID of uid is closed by
// a block.
func (s *Service) directClosed(ctx context.Context, uid, roomID string) (bool, error) {
	r, err := s.st.RoomByID(ctx, roomID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, storeErr("membership", err)
	}
	for _, id := range splitPair(r.PairKey) {
		if id != uid && id != "" {
			return s.blocked(ctx, uid, id)
		}
	}
	return false, nil
}

// Block blocks the user with this account. Blocking twice is fine.
func (s *Service) Block(ctx context.Context, uid, account string) (*BlockView, error) {
	u, err := s.userByAccount(ctx, account)
	if err != nil {
		return nil, err
	}
	if u.ID == uid {
		return nil, invalid("you cannot block yourself")
	}
	bs, err := s.st.BlocksOf(ctx, uid, 0)
	if err != nil {
		return nil, storeErr("block", err)
	}
	made := 0
	for _, b := range bs {
		if b.Blocker == uid {
			made++
			if b.Blocked == u.ID {
				return &BlockView{User: protocol.PublicUser(u), Since: b.CreatedAt}, nil
			}
		}
	}
	if made >= MaxBlocks {
		return nil, invalid("you can block at most %d users", MaxBlocks)
	}
	b := &store.Block{Blocker: uid, Blocked: u.ID, CreatedAt: s.nowUTC()}
	if err := s.st.BlockUser(ctx, b); err != nil && !errors.Is(err, store.ErrDuplicate) {
		return nil, storeErr("block", err)
	}
	// Pending requests between them are withdrawn, as a decline would.
	for _, p := range [][2]string{{uid, u.ID}, {u.ID, uid}} {
		if r, err := s.st.FriendRequestBetween(ctx, p[0], p[1]); err == nil {
			if err := s.st.DeleteFriendRequest(ctx, r.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, storeErr("block", err)
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, storeErr("block", err)
		}
	}
	if roomID := s.directRoomOf(ctx, uid, u.ID); roomID != "" {
		s.internal(ctx, protocol.EventRoomClosed, roomID, uid, u.ID)
	}
	return &BlockView{User: protocol.PublicUser(u), Since: b.CreatedAt}, nil
}

// Unblock removes the caller's block of account; not_found when there is
// none. The direct room reopens unless a block the other way remains.
func (s *Service) Unblock(ctx context.Context, uid, account string) error {
	u, err := s.userByAccount(ctx, account)
	if err != nil {
		return err
	}
	err = s.st.UnblockUser(ctx, uid, u.ID)
	if errors.Is(err, store.ErrNotFound) {
		return protocol.Errorf(protocol.CodeNotFound, "you have not blocked this user")
	}
	if err != nil {
		return storeErr("unblock", err)
	}
	still, err := s.blocked(ctx, uid, u.ID)
	if err != nil || still {
		return err
	}
	f, err := s.st.Friendship(ctx, uid, u.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return storeErr("unblock", err)
	}
	s.internal(ctx, protocol.EventRoomOpened, f.RoomID, uid, u.ID)
	return nil
}

// Blocks lists the users the caller blocked, oldest block first.
func (s *Service) Blocks(ctx context.Context, uid string) ([]BlockView, error) {
	bs, err := s.st.BlocksOf(ctx, uid, 0)
	if err != nil {
		return nil, storeErr("blocks", err)
	}
	ids := []string{}
	for _, b := range bs {
		if b.Blocker == uid {
			ids = append(ids, b.Blocked)
		}
	}
	out := []BlockView{}
	if len(ids) == 0 {
		return out, nil
	}
	users, err := s.usersByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, b := range bs {
		if u := users[b.Blocked]; b.Blocker == uid && u != nil {
			out = append(out, BlockView{User: protocol.PublicUser(u), Since: b.CreatedAt})
		}
	}
	return out, nil
}

// directRoomOf is the id of the direct room of a and b, "" when they never
// had one (or it cannot be read: the gateways' membership cache expires).
func (s *Service) directRoomOf(ctx context.Context, a, b string) string {
	_, _, key := store.PairKey(a, b)
	r, err := s.st.RoomByPairKey(ctx, key)
	if err != nil {
		return ""
	}
	return r.ID
}

// internal publishes an internal event (never forwarded to clients) about
// roomID on each user's channel.
func (s *Service) internal(ctx context.Context, name, roomID string, userIDs ...string) {
	s.toUsers(ctx, protocol.Envelope{Kind: 'e', RoomID: roomID, Event: name, Frame: protocol.EncodeEvent(name, nil)}, userIDs)
}

// closedRooms returns the direct rooms of uid a block closes (nil when
// none): one read of the blocks, and of the friendships only when there
// are blocks.
func (s *Service) closedRooms(ctx context.Context, uid string) (map[string]bool, error) {
	bs, err := s.st.BlocksOf(ctx, uid, 0)
	if err != nil || len(bs) == 0 {
		return nil, storeErr("blocks", err)
	}
	peers := make(map[string]bool, len(bs))
	for _, b := range bs {
		peers[b.Blocker], peers[b.Blocked] = true, true
	}
	fs, err := s.st.FriendshipsOf(ctx, uid)
	if err != nil {
		return nil, storeErr("blocks", err)
	}
	closed := map[string]bool{}
	for _, f := range fs {
		if peers[other(f, uid)] {
			closed[f.RoomID] = true
		}
	}
	return closed, nil
}
