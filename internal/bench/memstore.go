package bench

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// MemStore is an in-memory store.Store with the same uniqueness rules as
// pkg/store/mongo. The load tool uses it (-store mem, in-process gateways
// only) to measure the gateways and the bus without the database: the
// embedded FerretDB answers every query but a lookup by _id with a full
// collection scan, which makes it, not the gateway, the limit of any
// store-bound figure. It is not a product store: nothing is persisted.
type MemStore struct {
	mu       sync.RWMutex
	users    map[string]*store.User
	accounts map[string]string // account -> id
	emails   map[string]string
	rooms    map[string]*store.Room
	pairs    map[string]string                   // pair key -> room
	numbers  map[string]string                   // group number -> room
	members  map[string]map[string]*store.Member // room -> user -> member
	byUser   map[string]map[string]*store.Member // user -> room -> member
	friends  map[string]*store.Friendship        // pair key -> friendship
	requests map[string]*store.FriendRequest
	msgs     map[string][]*store.Message // room -> by seq (sorted)
	msgIDs   map[string]bool
	byClient map[string]*store.Message // from + "\x00" + client_msg_id
	tokens   map[string]*store.RefreshToken
	used     map[string]bool
	revoked  map[string]bool
}

var _ store.Store = (*MemStore)(nil)

// NewMemStore returns an empty store.
func NewMemStore() *MemStore {
	return &MemStore{users: map[string]*store.User{}, accounts: map[string]string{}, emails: map[string]string{},
		rooms: map[string]*store.Room{}, pairs: map[string]string{}, numbers: map[string]string{},
		members: map[string]map[string]*store.Member{}, byUser: map[string]map[string]*store.Member{},
		friends: map[string]*store.Friendship{}, requests: map[string]*store.FriendRequest{},
		msgs: map[string][]*store.Message{}, msgIDs: map[string]bool{}, byClient: map[string]*store.Message{},
		tokens: map[string]*store.RefreshToken{}, used: map[string]bool{}, revoked: map[string]bool{}}
}

func memTime(t time.Time) time.Time {
	if t.IsZero() {
		t = time.Now()
	}
	return t.UTC().Truncate(time.Millisecond)
}

func dup(op string) error      { return fmt.Errorf("memstore: %s: %w", op, store.ErrDuplicate) }
func notFound(op string) error { return fmt.Errorf("memstore: %s: %w", op, store.ErrNotFound) }

// CreateUser implements store.Users.
func (s *MemStore) CreateUser(_ context.Context, u *store.User) error {
	u.CreatedAt = memTime(u.CreatedAt)
	if u.UpdatedAt.IsZero() {
		u.UpdatedAt = u.CreatedAt
	}
	u.UpdatedAt = memTime(u.UpdatedAt)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.users[u.ID] != nil || s.accounts[u.Account] != "" || s.emails[u.Email] != "" {
		return dup("create user")
	}
	c := *u
	s.users[u.ID], s.accounts[u.Account], s.emails[u.Email] = &c, u.ID, u.ID
	return nil
}

func (s *MemStore) userCopy(id, op string) (*store.User, error) {
	if u := s.users[id]; u != nil {
		c := *u
		return &c, nil
	}
	return nil, notFound(op)
}

// UserByID implements store.Users.
func (s *MemStore) UserByID(_ context.Context, id string) (*store.User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.userCopy(id, "user by id")
}

// UserByAccount implements store.Users.
func (s *MemStore) UserByAccount(_ context.Context, account string) (*store.User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.userCopy(s.accounts[account], "user by account")
}

// UserByEmail implements store.Users.
func (s *MemStore) UserByEmail(_ context.Context, email string) (*store.User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.userCopy(s.emails[email], "user by email")
}

// UsersByIDs implements store.Users.
func (s *MemStore) UsersByIDs(_ context.Context, ids []string) ([]store.User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []store.User
	seen := map[string]bool{}
	for _, id := range ids {
		if u := s.users[id]; u != nil && !seen[id] {
			seen[id] = true
			out = append(out, *u)
		}
	}
	return out, nil
}

// UpdateProfile implements store.Users.
func (s *MemStore) UpdateProfile(_ context.Context, id string, nickname, avatar *string, sex *int) (*store.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[id]
	if u == nil {
		return nil, notFound("update profile")
	}
	if nickname != nil {
		u.Nickname = *nickname
	}
	if avatar != nil {
		u.Avatar = *avatar
	}
	if sex != nil {
		u.Sex = *sex
	}
	u.UpdatedAt = memTime(time.Now())
	c := *u
	return &c, nil
}

// CreateRoom implements store.Rooms.
func (s *MemStore) CreateRoom(_ context.Context, r *store.Room) error {
	r.CreatedAt = memTime(r.CreatedAt)
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = r.CreatedAt
	}
	r.UpdatedAt = memTime(r.UpdatedAt)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rooms[r.ID] != nil || (r.PairKey != "" && s.pairs[r.PairKey] != "") || (r.Number != "" && s.numbers[r.Number] != "") {
		return dup("create room")
	}
	c := *r
	s.rooms[r.ID] = &c
	if r.PairKey != "" {
		s.pairs[r.PairKey] = r.ID
	}
	if r.Number != "" {
		s.numbers[r.Number] = r.ID
	}
	return nil
}

func (s *MemStore) roomCopy(id, op string) (*store.Room, error) {
	if r := s.rooms[id]; r != nil {
		c := *r
		return &c, nil
	}
	return nil, notFound(op)
}

// RoomByID implements store.Rooms.
func (s *MemStore) RoomByID(_ context.Context, id string) (*store.Room, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.roomCopy(id, "room by id")
}

// RoomByPairKey implements store.Rooms.
func (s *MemStore) RoomByPairKey(_ context.Context, key string) (*store.Room, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.roomCopy(s.pairs[key], "room by pair key")
}

// MarkDisbanded implements store.Rooms.
func (s *MemStore) MarkDisbanded(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[id]
	if r == nil {
		return notFound("mark disbanded")
	}
	r.Disbanded, r.UpdatedAt = true, memTime(time.Now())
	return nil
}

// AddMember implements store.Rooms.
func (s *MemStore) AddMember(_ context.Context, m *store.Member) error {
	m.CreatedAt = memTime(m.CreatedAt)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.members[m.RoomID][m.UserID] != nil {
		return dup("add member")
	}
	c := *m
	if s.members[m.RoomID] == nil {
		s.members[m.RoomID] = map[string]*store.Member{}
	}
	if s.byUser[m.UserID] == nil {
		s.byUser[m.UserID] = map[string]*store.Member{}
	}
	s.members[m.RoomID][m.UserID], s.byUser[m.UserID][m.RoomID] = &c, &c
	return nil
}

// RemoveMember implements store.Rooms.
func (s *MemStore) RemoveMember(_ context.Context, roomID, userID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.members[roomID][userID] == nil {
		return notFound("remove member")
	}
	delete(s.members[roomID], userID)
	delete(s.byUser[userID], roomID)
	return nil
}

// RemoveAllMembers implements store.Rooms.
func (s *MemStore) RemoveAllMembers(_ context.Context, roomID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for uid := range s.members[roomID] {
		delete(s.byUser[uid], roomID)
	}
	delete(s.members, roomID)
	return nil
}

// Member implements store.Rooms.
func (s *MemStore) Member(_ context.Context, roomID, userID string) (*store.Member, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if m := s.members[roomID][userID]; m != nil {
		c := *m
		return &c, nil
	}
	return nil, notFound("member")
}

func sortMembers(ms []store.Member, key func(store.Member) string) {
	sort.Slice(ms, func(i, j int) bool {
		if !ms[i].CreatedAt.Equal(ms[j].CreatedAt) {
			return ms[i].CreatedAt.Before(ms[j].CreatedAt)
		}
		return key(ms[i]) < key(ms[j])
	})
}

// Members implements store.Rooms.
func (s *MemStore) Members(_ context.Context, roomID string) ([]store.Member, error) {
	s.mu.RLock()
	var out []store.Member
	for _, m := range s.members[roomID] {
		out = append(out, *m)
	}
	s.mu.RUnlock()
	sortMembers(out, func(m store.Member) string { return m.UserID })
	return out, nil
}

// CountMembers implements store.Rooms.
func (s *MemStore) CountMembers(_ context.Context, roomID string) (int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return int64(len(s.members[roomID])), nil
}

// MembershipsOf implements store.Rooms.
func (s *MemStore) MembershipsOf(_ context.Context, userID string) ([]store.Member, error) {
	s.mu.RLock()
	var out []store.Member
	for _, m := range s.byUser[userID] {
		out = append(out, *m)
	}
	s.mu.RUnlock()
	sortMembers(out, func(m store.Member) string { return m.RoomID })
	return out, nil
}

// SetReadSeq implements store.Rooms.
func (s *MemStore) SetReadSeq(_ context.Context, roomID, userID string, seq int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.members[roomID][userID]
	if m == nil {
		return notFound("set read seq")
	}
	m.ReadSeq = max(m.ReadSeq, seq)
	return nil
}

// CreateFriendship implements store.Friends.
func (s *MemStore) CreateFriendship(_ context.Context, f *store.Friendship) error {
	var key string
	f.UserA, f.UserB, key = store.PairKey(f.UserA, f.UserB)
	f.CreatedAt = memTime(f.CreatedAt)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.friends[key] != nil {
		return dup("create friendship")
	}
	c := *f
	s.friends[key] = &c
	return nil
}

// Friendship implements store.Friends.
func (s *MemStore) Friendship(_ context.Context, a, b string) (*store.Friendship, error) {
	_, _, key := store.PairKey(a, b)
	s.mu.RLock()
	defer s.mu.RUnlock()
	if f := s.friends[key]; f != nil {
		c := *f
		return &c, nil
	}
	return nil, notFound("friendship")
}

// DeleteFriendship implements store.Friends.
func (s *MemStore) DeleteFriendship(_ context.Context, a, b string) error {
	_, _, key := store.PairKey(a, b)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.friends[key] == nil {
		return notFound("delete friendship")
	}
	delete(s.friends, key)
	return nil
}

// FriendshipsOf implements store.Friends.
func (s *MemStore) FriendshipsOf(_ context.Context, userID string) ([]store.Friendship, error) {
	s.mu.RLock()
	var out []store.Friendship
	for _, f := range s.friends {
		if f.UserA == userID || f.UserB == userID {
			out = append(out, *f)
		}
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].UserA+out[i].UserB < out[j].UserA+out[j].UserB
	})
	return out, nil
}

// CreateFriendRequest implements store.Friends.
func (s *MemStore) CreateFriendRequest(_ context.Context, r *store.FriendRequest) error {
	r.CreatedAt = memTime(r.CreatedAt)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.requests[r.ID] != nil {
		return dup("create friend request")
	}
	for _, o := range s.requests {
		if o.From == r.From && o.To == r.To {
			return dup("create friend request")
		}
	}
	c := *r
	s.requests[r.ID] = &c
	return nil
}

// FriendRequestByID implements store.Friends.
func (s *MemStore) FriendRequestByID(_ context.Context, id string) (*store.FriendRequest, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if r := s.requests[id]; r != nil {
		c := *r
		return &c, nil
	}
	return nil, notFound("friend request by id")
}

// FriendRequestBetween implements store.Friends.
func (s *MemStore) FriendRequestBetween(_ context.Context, from, to string) (*store.FriendRequest, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, r := range s.requests {
		if r.From == from && r.To == to {
			c := *r
			return &c, nil
		}
	}
	return nil, notFound("friend request between")
}

// DeleteFriendRequest implements store.Friends.
func (s *MemStore) DeleteFriendRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.requests[id] == nil {
		return notFound("delete friend request")
	}
	delete(s.requests, id)
	return nil
}

func (s *MemStore) requestsWhere(pred func(*store.FriendRequest) bool) []store.FriendRequest {
	s.mu.RLock()
	var out []store.FriendRequest
	for _, r := range s.requests {
		if pred(r) {
			out = append(out, *r)
		}
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// FriendRequestsTo implements store.Friends.
func (s *MemStore) FriendRequestsTo(_ context.Context, userID string) ([]store.FriendRequest, error) {
	return s.requestsWhere(func(r *store.FriendRequest) bool { return r.To == userID }), nil
}

// FriendRequestsFrom implements store.Friends.
func (s *MemStore) FriendRequestsFrom(_ context.Context, userID string) ([]store.FriendRequest, error) {
	return s.requestsWhere(func(r *store.FriendRequest) bool { return r.From == userID }), nil
}

// InsertMessage implements store.Messages.
func (s *MemStore) InsertMessage(_ context.Context, m *store.Message) error {
	m.CreatedAt = memTime(m.CreatedAt)
	key := m.From + "\x00" + m.ClientMsgID
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.msgs[m.RoomID]
	i := sort.Search(len(list), func(i int) bool { return list[i].Seq >= m.Seq })
	if s.msgIDs[m.ID] || s.byClient[key] != nil || (i < len(list) && list[i].Seq == m.Seq) {
		return dup("insert message")
	}
	c := *m
	list = append(list, nil)
	copy(list[i+1:], list[i:])
	list[i] = &c
	s.msgs[m.RoomID] = list
	s.msgIDs[m.ID] = true
	s.byClient[key] = &c
	return nil
}

// MessageByClientID implements store.Messages.
func (s *MemStore) MessageByClientID(_ context.Context, from, clientMsgID string) (*store.Message, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if m := s.byClient[from+"\x00"+clientMsgID]; m != nil {
		c := *m
		return &c, nil
	}
	return nil, notFound("message by client id")
}

func memLimit(limit int) int {
	switch {
	case limit <= 0:
		return 50
	case limit > 1000:
		return 1000
	}
	return limit
}

// MessagesAfter implements store.Messages.
func (s *MemStore) MessagesAfter(_ context.Context, roomID string, after int64, limit int) ([]store.Message, error) {
	limit = memLimit(limit)
	s.mu.RLock()
	defer s.mu.RUnlock()
	list := s.msgs[roomID]
	i := sort.Search(len(list), func(i int) bool { return list[i].Seq > after })
	var out []store.Message
	for ; i < len(list) && len(out) < limit; i++ {
		out = append(out, *list[i])
	}
	return out, nil
}

// MessagesBefore implements store.Messages.
func (s *MemStore) MessagesBefore(_ context.Context, roomID string, before int64, limit int) ([]store.Message, error) {
	limit = memLimit(limit)
	s.mu.RLock()
	defer s.mu.RUnlock()
	list := s.msgs[roomID]
	i := sort.Search(len(list), func(i int) bool { return list[i].Seq >= before }) - 1
	var out []store.Message
	for ; i >= 0 && len(out) < limit; i-- {
		out = append(out, *list[i])
	}
	return out, nil
}

// LastMessage implements store.Messages.
func (s *MemStore) LastMessage(_ context.Context, roomID string) (*store.Message, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	list := s.msgs[roomID]
	if len(list) == 0 {
		return nil, notFound("last message")
	}
	c := *list[len(list)-1]
	return &c, nil
}

// CountAfter implements store.Messages.
func (s *MemStore) CountAfter(_ context.Context, roomID string, after int64, exclude string) (int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var n int64
	for _, m := range s.msgs[roomID] {
		if m.Seq > after && m.From != exclude {
			n++
		}
	}
	return n, nil
}

// InsertRefreshToken implements store.Tokens.
func (s *MemStore) InsertRefreshToken(_ context.Context, t *store.RefreshToken) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tokens[t.Hash] != nil {
		return dup("insert refresh token")
	}
	c := *t
	s.tokens[t.Hash] = &c
	return nil
}

// RefreshToken implements store.Tokens.
func (s *MemStore) RefreshToken(_ context.Context, hash string) (*store.RefreshToken, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if t := s.tokens[hash]; t != nil {
		c := *t
		return &c, nil
	}
	return nil, notFound("refresh token")
}

// ConsumeRefreshToken implements store.Tokens.
func (s *MemStore) ConsumeRefreshToken(_ context.Context, hash string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.used[hash] {
		return dup("consume refresh token")
	}
	s.used[hash] = true
	return nil
}

// RevokeFamily implements store.Tokens.
func (s *MemStore) RevokeFamily(_ context.Context, family string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked[family] = true
	return nil
}

// FamilyRevoked implements store.Tokens.
func (s *MemStore) FamilyRevoked(_ context.Context, family string) (bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.revoked[family], nil
}

// Ping implements store.Store.
func (s *MemStore) Ping(context.Context) error { return nil }

// Close implements store.Store.
func (s *MemStore) Close(context.Context) error { return nil }
