package service

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/webhook"
)

// Friend is one friendship seen from one side.
type Friend struct {
	User   *store.User
	RoomID string
	Since  time.Time
}

// Request is a friend request with both users resolved.
type Request struct {
	store.FriendRequest
	FromUser, ToUser *store.User
}

// FriendView is the JSON of a friend.
type FriendView struct {
	User   protocol.User `json:"user"`
	RoomID string        `json:"room_id"`
	Since  time.Time     `json:"since,omitempty"`
}

// View converts f for the wire.
func (f *Friend) View() FriendView {
	return FriendView{User: protocol.PublicUser(f.User), RoomID: f.RoomID, Since: f.Since}
}

// RequestView is the JSON of a friend request.
type RequestView struct {
	ID        string        `json:"id"`
	From      protocol.User `json:"from"`
	To        protocol.User `json:"to"`
	Message   string        `json:"message"`
	CreatedAt time.Time     `json:"created_at"`
}

// View converts r for the wire.
func (r *Request) View() RequestView {
	return RequestView{ID: r.ID, From: protocol.PublicUser(r.FromUser), To: protocol.PublicUser(r.ToUser),
		Message: r.Message, CreatedAt: r.CreatedAt.UTC()}
}

// SendFriendRequest asks account to be the caller's friend. When account had
// already asked the caller, they become friends at once and friend is set.
func (s *Service) SendFriendRequest(ctx context.Context, uid, account, note string) (req *Request, friend *Friend, err error) {
	note = strings.TrimSpace(note)
	if utf8.RuneCountInString(note) > MaxRequestNote || !utf8.ValidString(note) {
		return nil, nil, invalid("message must be at most %d characters", MaxRequestNote)
	}
	me, err := s.Me(ctx, uid)
	if err != nil {
		return nil, nil, err
	}
	to, err := s.userByAccount(ctx, account)
	if err != nil {
		return nil, nil, err
	}
	if to.ID == uid {
		return nil, nil, invalid("you cannot befriend yourself")
	}
	if _, err := s.st.Friendship(ctx, uid, to.ID); err == nil {
		return nil, nil, protocol.Errorf(protocol.CodeConflict, "you are already friends")
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, nil, storeErr("friend request", err)
	}
	// A user who blocked the caller is hidden from them (blocks.go); one
	// the caller blocked must be unblocked first.
	if err := s.hiddenFrom(ctx, to.ID, uid); err != nil {
		return nil, nil, err
	}
	if b, err := s.st.IsBlocked(ctx, uid, to.ID); err != nil {
		return nil, nil, storeErr("friend request", err)
	} else if b {
		return nil, nil, protocol.Errorf(protocol.CodeConflict, "you have blocked this user: unblock them first")
	}
	fr := &store.FriendRequest{ID: s.newID(), From: uid, To: to.ID, Message: note, CreatedAt: s.nowUTC()}
	err = s.st.CreateFriendRequest(ctx, fr)
	if err != nil && !errors.Is(err, store.ErrDuplicate) {
		return nil, nil, storeErr("friend request", err)
	}
	dup := err != nil
	// Look for the other direction only after our own request is stored:
	// of two crossing requests, at least the later one sees the earlier, and
	// makeFriends is idempotent, so they end as exactly one friendship.
	if back, err := s.st.FriendRequestBetween(ctx, to.ID, uid); err == nil {
		f, err := s.befriend(ctx, me, to, back.ID, fr.ID)
		if err != nil {
			return nil, nil, err
		}
		return nil, f, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, nil, storeErr("friend request", err)
	}
	if dup {
		return nil, nil, protocol.Errorf(protocol.CodeConflict, "a request to this user is already pending")
	}
	r := &Request{FriendRequest: *fr, FromUser: me, ToUser: to}
	s.event(ctx, protocol.EventFriendRequest, "", map[string]any{"request": r.View()}, to.ID)
	return r, nil, nil
}

// befriend makes a and b friends, deletes the given requests and tells both.
// It returns the friendship as a sees it.
func (s *Service) befriend(ctx context.Context, a, b *store.User, requestIDs ...string) (*Friend, error) {
	roomID, since, err := s.makeFriends(ctx, a.ID, b.ID)
	if err != nil {
		return nil, err
	}
	for _, id := range requestIDs {
		if err := s.st.DeleteFriendRequest(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, storeErr("friend request", err)
		}
	}
	s.event(ctx, protocol.EventFriendAdded, roomID, FriendView{User: protocol.PublicUser(b), RoomID: roomID, Since: since}, a.ID)
	s.event(ctx, protocol.EventFriendAdded, roomID, FriendView{User: protocol.PublicUser(a), RoomID: roomID, Since: since}, b.ID)
	s.emit(ctx, webhook.EventFriendAdded, "friend.added:"+roomID+":"+since.UTC().Format(time.RFC3339Nano),
		map[string]any{"users": []string{a.ID, b.ID}, "room_id": roomID, "since": since})
	return &Friend{User: b, RoomID: roomID, Since: since}, nil
}

// makeFriends is idempotent and safe to run concurrently for one pair: the
// room, the memberships and the friendship are each created once, guarded by
// unique indexes.
func (s *Service) makeFriends(ctx context.Context, a, b string) (roomID string, since time.Time, err error) {
	lo, hi, key := store.PairKey(a, b)
	room, err := s.st.RoomByPairKey(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		now := s.nowUTC()
		room = &store.Room{ID: s.newID(), Type: store.RoomDirect, PairKey: key, CreatedAt: now, UpdatedAt: now}
		err = s.st.CreateRoom(ctx, room)
		if errors.Is(err, store.ErrDuplicate) {
			room, err = s.st.RoomByPairKey(ctx, key)
		}
	}
	if err != nil {
		return "", since, storeErr("friends", err)
	}
	for _, u := range []string{lo, hi} {
		m := &store.Member{RoomID: room.ID, UserID: u, RoomType: store.RoomDirect, CreatedAt: s.nowUTC()}
		if err := s.st.AddMember(ctx, m); err != nil && !errors.Is(err, store.ErrDuplicate) {
			return "", since, storeErr("friends", err)
		}
	}
	f := &store.Friendship{UserA: lo, UserB: hi, RoomID: room.ID, CreatedAt: s.nowUTC()}
	if err := s.st.CreateFriendship(ctx, f); errors.Is(err, store.ErrDuplicate) {
		if f, err = s.st.Friendship(ctx, lo, hi); err != nil {
			return "", since, storeErr("friends", err)
		}
	} else if err != nil {
		return "", since, storeErr("friends", err)
	}
	return room.ID, f.CreatedAt, nil
}

func (s *Service) requestFor(ctx context.Context, id string) (*store.FriendRequest, error) {
	if protocol.ValidID("id", id) != nil {
		return nil, protocol.Errorf(protocol.CodeNotFound, "no such friend request")
	}
	r, err := s.st.FriendRequestByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, protocol.Errorf(protocol.CodeNotFound, "no such friend request")
	}
	return r, storeErr("friend request", err)
}

// AcceptFriendRequest accepts a request addressed to the caller.
func (s *Service) AcceptFriendRequest(ctx context.Context, uid, id string) (*Friend, error) {
	r, err := s.requestFor(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.To != uid {
		return nil, protocol.Errorf(protocol.CodeForbidden, "only the addressee can accept a friend request")
	}
	me, err := s.Me(ctx, uid)
	if err != nil {
		return nil, err
	}
	from, err := s.st.UserByID(ctx, r.From)
	if err != nil {
		return nil, storeErr("friend request", err)
	}
	ids := []string{r.ID}
	if back, err := s.st.FriendRequestBetween(ctx, uid, r.From); err == nil {
		ids = append(ids, back.ID)
	}
	return s.befriend(ctx, me, from, ids...)
}

// DeclineFriendRequest deletes a request addressed to the caller (or, by its
// sender, withdraws it).
func (s *Service) DeclineFriendRequest(ctx context.Context, uid, id string) error {
	r, err := s.requestFor(ctx, id)
	if err != nil {
		return err
	}
	if r.To != uid && r.From != uid {
		return protocol.Errorf(protocol.CodeForbidden, "this friend request is not yours")
	}
	if err := s.st.DeleteFriendRequest(ctx, r.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return storeErr("friend request", err)
	}
	return nil
}

// FriendRequests lists the caller's incoming and outgoing requests.
func (s *Service) FriendRequests(ctx context.Context, uid string) (in, out []Request, err error) {
	inc, err := s.st.FriendRequestsTo(ctx, uid)
	if err != nil {
		return nil, nil, storeErr("friend requests", err)
	}
	outg, err := s.st.FriendRequestsFrom(ctx, uid)
	if err != nil {
		return nil, nil, storeErr("friend requests", err)
	}
	ids := []string{uid}
	for _, r := range inc {
		ids = append(ids, r.From)
	}
	for _, r := range outg {
		ids = append(ids, r.To)
	}
	users, err := s.usersByID(ctx, ids)
	if err != nil {
		return nil, nil, err
	}
	resolve := func(rs []store.FriendRequest) []Request {
		out := make([]Request, 0, len(rs))
		for _, r := range rs {
			f, t := users[r.From], users[r.To]
			if f == nil || t == nil {
				continue
			}
			out = append(out, Request{FriendRequest: r, FromUser: f, ToUser: t})
		}
		return out
	}
	return resolve(inc), resolve(outg), nil
}

func (s *Service) usersByID(ctx context.Context, ids []string) (map[string]*store.User, error) {
	us, err := s.st.UsersByIDs(ctx, ids)
	if err != nil {
		return nil, storeErr("users", err)
	}
	m := make(map[string]*store.User, len(us))
	for i := range us {
		m[us[i].ID] = &us[i]
	}
	return m, nil
}

// Friends lists the caller's friends.
func (s *Service) Friends(ctx context.Context, uid string) ([]Friend, error) {
	fs, err := s.st.FriendshipsOf(ctx, uid)
	if err != nil {
		return nil, storeErr("friends", err)
	}
	ids := make([]string, 0, len(fs))
	for _, f := range fs {
		ids = append(ids, other(f, uid))
	}
	users, err := s.usersByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]Friend, 0, len(fs))
	for _, f := range fs {
		if u := users[other(f, uid)]; u != nil {
			out = append(out, Friend{User: u, RoomID: f.RoomID, Since: f.CreatedAt})
		}
	}
	return out, nil
}

func other(f store.Friendship, uid string) string {
	if f.UserA == uid {
		return f.UserB
	}
	return f.UserA
}

// IsFriend tells whether account is the caller's friend, and their room.
func (s *Service) IsFriend(ctx context.Context, uid, account string) (bool, string, error) {
	u, err := s.userByAccount(ctx, account)
	if err != nil {
		return false, "", err
	}
	f, err := s.st.Friendship(ctx, uid, u.ID)
	if errors.Is(err, store.ErrNotFound) {
		return false, "", nil
	}
	if err != nil {
		return false, "", storeErr("friends", err)
	}
	return true, f.RoomID, nil
}

// DeleteFriend ends a friendship. The room and its history stay; both lose
// access until they are friends again, when the same room comes back.
func (s *Service) DeleteFriend(ctx context.Context, uid, account string) error {
	u, err := s.userByAccount(ctx, account)
	if err != nil {
		return err
	}
	f, err := s.st.Friendship(ctx, uid, u.ID)
	if errors.Is(err, store.ErrNotFound) {
		return protocol.Errorf(protocol.CodeNotFound, "not a friend")
	}
	if err != nil {
		return storeErr("friends", err)
	}
	return s.unfriend(ctx, uid, u.ID, f.RoomID)
}

// unfriend ends the friendship of uid and peer and their room's
// memberships, and tells both. It is idempotent.
func (s *Service) unfriend(ctx context.Context, uid, peer, roomID string) error {
	if err := s.st.DeleteFriendship(ctx, uid, peer); err != nil && !errors.Is(err, store.ErrNotFound) {
		return storeErr("friends", err)
	}
	for _, id := range []string{uid, peer} {
		if err := s.st.RemoveMember(ctx, roomID, id); err != nil && !errors.Is(err, store.ErrNotFound) {
			return storeErr("friends", err)
		}
	}
	s.event(ctx, protocol.EventFriendRemoved, roomID, map[string]string{"user_id": peer, "room_id": roomID}, uid)
	s.event(ctx, protocol.EventFriendRemoved, roomID, map[string]string{"user_id": uid, "room_id": roomID}, peer)
	s.emit(ctx, webhook.EventFriendRemoved, "friend.removed:"+s.newID(),
		map[string]any{"users": []string{uid, peer}, "room_id": roomID, "by": uid})
	return nil
}
