// Package memstore is an in-memory store.Store for tests and the load
// tool; nothing is persisted.
//
// It keeps the rules of the reference implementation, pkg/store/mongo: the
// same uniqueness rules (ErrDuplicate), times stored in UTC truncated to
// milliseconds (the Create and Insert methods normalise the value they are
// given in place), the same orderings and query limits. It passes the
// conformance suite, pkg/store/storetest. One lock guards everything, and
// every method ignores its context. The load tool uses it (-store mem) to
// measure the gateways and the bus without a database.
package memstore

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/internal/storeutil"
)

// Query limits of MessagesAfter and MessagesBefore, as in pkg/store/mongo.
const (
	DefaultLimit = 50   // used when limit <= 0
	MaxLimit     = 1000 // larger limits are lowered to this
)

// Store is the in-memory store.Store. It is safe for concurrent use. Values
// are copied in and out: callers never share the stored ones.
type Store struct {
	mu       sync.RWMutex
	users    map[string]*store.User
	accounts map[string]string // account -> user id
	emails   map[string]string // email -> user id
	released map[string]bool   // user ids whose account and email ReleaseDeleted freed

	rooms   map[string]*store.Room
	pairs   map[string]string                   // pair key -> room id
	numbers map[string]string                   // group number -> room id
	members map[string]map[string]*store.Member // room -> user -> member
	byUser  map[string]map[string]*store.Member // user -> room -> the same member

	friends   map[string]*store.Friendship // pair key -> friendship
	friendsOf map[string]map[string]bool   // user -> pair keys
	requests  map[string]*store.FriendRequest
	reqPairs  map[[2]string]string       // (from, to) -> request id
	blocks    map[[2]string]*store.Block // (blocker, blocked) -> block

	msgs     map[string][]*store.Message // room -> messages sorted by seq
	msgIDs   map[string]bool
	byClient map[string]*store.Message // clientKey -> message

	reactions map[roomSeq]map[userEmoji]*store.Reaction
	hidden    map[userRoom]map[int64]bool
	files     map[string]*store.File

	tokens   map[string]*store.RefreshToken
	families map[string]map[string]bool // family -> token hashes
	used     map[string]bool
	revoked  map[string]bool
	sessions map[string]*store.Session

	pins      map[string]map[int64]*store.Pin          // room -> seq -> pin
	joinReqs  map[string]map[string]*store.JoinRequest // room -> user -> request
	links     map[string]*store.InviteLink             // id -> link
	linkHash  map[string]string                        // token hash -> id
	linkUses  map[string]map[int]*store.InviteUse      // link -> n -> use
	linkUsers map[string]map[string]*store.InviteUse   // link -> user -> the same use

	bans       map[string]*store.Ban          // user -> ban (admin.go; made on first use)
	identities map[[2]string]*store.Identity  // (issuer, subject) -> link; made on first use
	pushTokens map[[2]string]*store.PushToken // (platform, token) -> token (push.go; made on first use)
}

var _ store.Store = (*Store)(nil)

// New returns an empty Store.
func New() *Store {
	return &Store{
		users: map[string]*store.User{}, accounts: map[string]string{}, emails: map[string]string{},
		released: map[string]bool{}, sessions: map[string]*store.Session{},
		rooms: map[string]*store.Room{}, pairs: map[string]string{}, numbers: map[string]string{},
		members: map[string]map[string]*store.Member{}, byUser: map[string]map[string]*store.Member{},
		friends: map[string]*store.Friendship{}, friendsOf: map[string]map[string]bool{},
		requests: map[string]*store.FriendRequest{}, reqPairs: map[[2]string]string{},
		blocks: map[[2]string]*store.Block{},
		msgs:   map[string][]*store.Message{}, msgIDs: map[string]bool{}, byClient: map[string]*store.Message{},
		reactions: map[roomSeq]map[userEmoji]*store.Reaction{}, hidden: map[userRoom]map[int64]bool{},
		files: map[string]*store.File{}, tokens: map[string]*store.RefreshToken{},
		families: map[string]map[string]bool{}, used: map[string]bool{}, revoked: map[string]bool{},
		pins: map[string]map[int64]*store.Pin{}, joinReqs: map[string]map[string]*store.JoinRequest{},
		links: map[string]*store.InviteLink{}, linkHash: map[string]string{},
		linkUses: map[string]map[int]*store.InviteUse{}, linkUsers: map[string]map[string]*store.InviteUse{},
	}
}

// dbTime returns t as stored: UTC, truncated to milliseconds.
func dbTime(t time.Time) time.Time {
	return t.UTC().Truncate(time.Millisecond)
}

// createdTime is dbTime, with the current time for a zero t.
func createdTime(t time.Time) time.Time {
	if t.IsZero() {
		t = time.Now()
	}
	return dbTime(t)
}

func errDup(op string) error      { return fmt.Errorf("memstore: %s: %w", op, store.ErrDuplicate) }
func errNotFound(op string) error { return fmt.Errorf("memstore: %s: %w", op, store.ErrNotFound) }
func errNil(op string) error      { return fmt.Errorf("memstore: %s: nil argument", op) }

// addTo adds v under m[k][k2], making the inner map when needed.
func addTo[K comparable, K2 comparable, V any](m map[K]map[K2]V, k K, k2 K2, v V) {
	inner := m[k]
	if inner == nil {
		inner = map[K2]V{}
		m[k] = inner
	}
	inner[k2] = v
}

// removeFrom deletes m[k][k2] and drops an emptied inner map.
func removeFrom[K comparable, K2 comparable, V any](m map[K]map[K2]V, k K, k2 K2) {
	delete(m[k], k2)
	if len(m[k]) == 0 {
		delete(m, k)
	}
}

// optTime is dbTime, keeping a zero t zero.
func optTime(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return dbTime(t)
}

// CreateUser inserts u; store.ErrDuplicate when its id, account or email is
// taken. A zero CreatedAt or UpdatedAt is set to the current time; a
// DeletedAt is kept (normalised).
func (s *Store) CreateUser(_ context.Context, u *store.User) error {
	const op = "create user"
	if u == nil {
		return errNil(op)
	}
	u.CreatedAt = createdTime(u.CreatedAt)
	if u.UpdatedAt.IsZero() {
		u.UpdatedAt = u.CreatedAt
	}
	u.UpdatedAt = dbTime(u.UpdatedAt)
	u.DeletedAt = optTime(u.DeletedAt)
	u.LastSeenAt = optTime(u.LastSeenAt)
	s.mu.Lock()
	defer s.mu.Unlock()
	_, idTaken := s.users[u.ID]
	_, accountTaken := s.accounts[u.Account]
	_, emailTaken := s.emails[u.Email]
	if idTaken || accountTaken || emailTaken {
		return errDup(op)
	}
	c := *u
	s.users[u.ID], s.accounts[u.Account], s.emails[u.Email] = &c, u.ID, u.ID
	return nil
}

// userBy returns a copy of the user with this id. The caller holds mu.
func (s *Store) userBy(op, id string, ok bool) (*store.User, error) {
	if u := s.users[id]; ok && u != nil {
		c := *u
		return &c, nil
	}
	return nil, errNotFound(op)
}

// UserByID returns the user with this id, or store.ErrNotFound.
func (s *Store) UserByID(_ context.Context, id string) (*store.User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.userBy("user by id", id, true)
}

// UserByAccount returns the user with this account, or store.ErrNotFound.
func (s *Store) UserByAccount(_ context.Context, account string) (*store.User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.accounts[account]
	return s.userBy("user by account", id, ok)
}

// UserByEmail returns the user with this (lower-cased) email, or
// store.ErrNotFound.
func (s *Store) UserByEmail(_ context.Context, email string) (*store.User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.emails[email]
	return s.userBy("user by email", id, ok)
}

// UsersByIDs returns the users with these ids, in the order of ids, once
// each; unknown ids are skipped. An empty ids returns nil.
func (s *Store) UsersByIDs(_ context.Context, ids []string) ([]store.User, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []store.User{}
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if u := s.users[id]; u != nil && !seen[id] {
			seen[id] = true
			out = append(out, *u)
		}
	}
	return out, nil
}

// UpdateProfile sets the non-nil fields and UpdatedAt and returns the
// updated user, or store.ErrNotFound. With every field nil it only reads.
func (s *Store) UpdateProfile(ctx context.Context, id string, nickname, avatar *string, sex *int) (*store.User, error) {
	const op = "update profile"
	if nickname == nil && avatar == nil && sex == nil {
		return s.UserByID(ctx, id)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[id]
	if u == nil {
		return nil, errNotFound(op)
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
	u.UpdatedAt = dbTime(time.Now())
	c := *u
	return &c, nil
}

// SetPasswordHash replaces the password hash with newHash if it still is
// oldHash: store.ErrConflict if it is not, store.ErrNotFound if there is no
// such user. It sets UpdatedAt.
func (s *Store) SetPasswordHash(_ context.Context, id, oldHash, newHash string) error {
	const op = "set password hash"
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[id]
	switch {
	case u == nil:
		return errNotFound(op)
	case u.PasswordHash != oldHash:
		return fmt.Errorf("memstore: %s: %w", op, store.ErrConflict)
	}
	u.PasswordHash, u.UpdatedAt = newHash, dbTime(time.Now())
	return nil
}

// SetEmail changes the user's email and sets UpdatedAt; store.ErrDuplicate
// when another user has it, store.ErrNotFound if there is no such user.
func (s *Store) SetEmail(_ context.Context, id, email string) error {
	const op = "set email"
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[id]
	if u == nil {
		return errNotFound(op)
	}
	if owner, taken := s.emails[email]; taken && owner != id {
		return errDup(op)
	}
	delete(s.emails, u.Email)
	s.emails[email] = id
	u.Email, u.UpdatedAt = email, dbTime(time.Now())
	return nil
}

// SetHidePresence sets HidePresence; store.ErrNotFound if there is no such
// user.
func (s *Store) SetHidePresence(_ context.Context, id string, hide bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[id]
	if u == nil {
		return errNotFound("set hide presence")
	}
	u.HidePresence = hide
	return nil
}

// SetLastSeen sets LastSeenAt; store.ErrNotFound if there is no such user.
func (s *Store) SetLastSeen(_ context.Context, id string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[id]
	if u == nil {
		return errNotFound("set last seen")
	}
	u.LastSeenAt = dbTime(at)
	return nil
}

// MarkDeleted sets DeletedAt to at (the current time if zero) unless it is
// set already; store.ErrNotFound if there is no such user.
func (s *Store) MarkDeleted(_ context.Context, id string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[id]
	if u == nil {
		return errNotFound("mark deleted")
	}
	if u.DeletedAt.IsZero() {
		u.DeletedAt = createdTime(at)
	}
	return nil
}

// ReleaseDeleted rewrites the account and email of up to limit users
// deleted before the given time (to the millisecond), oldest deletion
// first, to store.ReleasedAccount and store.ReleasedEmail, and returns how
// many it released. A limit <= 0 releases none.
func (s *Store) ReleaseDeleted(_ context.Context, before time.Time, limit int) (int, error) {
	const op = "release deleted"
	if limit <= 0 {
		return 0, nil
	}
	before = dbTime(before)
	s.mu.Lock()
	defer s.mu.Unlock()
	var due []*store.User
	for id, u := range s.users {
		if !u.DeletedAt.IsZero() && u.DeletedAt.Before(before) && !s.released[id] {
			due = append(due, u)
		}
	}
	sort.Slice(due, func(i, j int) bool {
		if !due[i].DeletedAt.Equal(due[j].DeletedAt) {
			return due[i].DeletedAt.Before(due[j].DeletedAt)
		}
		return due[i].ID < due[j].ID
	})
	due = due[:min(limit, len(due))]
	// Check every new key first, so that a failure changes nothing.
	for _, u := range due {
		if owner, ok := s.accounts[store.ReleasedAccount(u.ID)]; ok && owner != u.ID {
			return 0, errDup(op)
		}
		if owner, ok := s.emails[store.ReleasedEmail(u.ID)]; ok && owner != u.ID {
			return 0, errDup(op)
		}
	}
	for _, u := range due {
		delete(s.accounts, u.Account)
		delete(s.emails, u.Email)
		u.Account, u.Email = store.ReleasedAccount(u.ID), store.ReleasedEmail(u.ID)
		s.accounts[u.Account], s.emails[u.Email] = u.ID, u.ID
		s.released[u.ID] = true
	}
	return len(due), nil
}

// CreateRoom inserts r; store.ErrDuplicate when its id, number or pair key
// is taken. An empty Number or PairKey never collides. A zero CreatedAt or
// UpdatedAt is set to the current time.
func (s *Store) CreateRoom(_ context.Context, r *store.Room) error {
	const op = "create room"
	if r == nil {
		return errNil(op)
	}
	r.CreatedAt = createdTime(r.CreatedAt)
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = r.CreatedAt
	}
	r.UpdatedAt = dbTime(r.UpdatedAt)
	r.AnnouncementAt = optUTC(r.AnnouncementAt)
	s.mu.Lock()
	defer s.mu.Unlock()
	_, idTaken := s.rooms[r.ID]
	_, pairTaken := s.pairs[r.PairKey]
	_, numberTaken := s.numbers[r.Number]
	if idTaken || (r.PairKey != "" && pairTaken) || (r.Number != "" && numberTaken) {
		return errDup(op)
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

// roomBy returns a copy of the room with this id. The caller holds mu.
func (s *Store) roomBy(op, id string, ok bool) (*store.Room, error) {
	if r := s.rooms[id]; ok && r != nil {
		c := *r
		return &c, nil
	}
	return nil, errNotFound(op)
}

// RoomByID returns the room with this id, or store.ErrNotFound.
func (s *Store) RoomByID(_ context.Context, id string) (*store.Room, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.roomBy("room by id", id, true)
}

// RoomByPairKey returns the direct room of a pair (see store.PairKey), or
// store.ErrNotFound.
func (s *Store) RoomByPairKey(_ context.Context, key string) (*store.Room, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.pairs[key]
	return s.roomBy("room by pair key", id, ok)
}

// MarkDisbanded flags a room as disbanded; store.ErrNotFound if it does not
// exist. Marking a disbanded room again succeeds.
func (s *Store) MarkDisbanded(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[id]
	if r == nil {
		return errNotFound("mark disbanded")
	}
	r.Disbanded, r.UpdatedAt = true, dbTime(time.Now())
	return nil
}

// SetOwner makes userID the owner of room id and sets UpdatedAt;
// store.ErrNotFound if the room does not exist.
func (s *Store) SetOwner(_ context.Context, id, userID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[id]
	if r == nil {
		return errNotFound("set owner")
	}
	r.Owner, r.UpdatedAt = userID, dbTime(time.Now())
	return nil
}

// AddMember inserts a membership; store.ErrDuplicate if the user is already
// a member. A zero CreatedAt is set to the current time.
func (s *Store) AddMember(_ context.Context, m *store.Member) error {
	const op = "add member"
	if m == nil {
		return errNil(op)
	}
	m.CreatedAt = createdTime(m.CreatedAt)
	m.MutedUntil = optUTC(m.MutedUntil)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.members[m.RoomID][m.UserID] != nil {
		return errDup(op)
	}
	c := *m
	addTo(s.members, m.RoomID, m.UserID, &c)
	addTo(s.byUser, m.UserID, m.RoomID, &c)
	return nil
}

// RemoveMember deletes a membership; store.ErrNotFound if there was none.
func (s *Store) RemoveMember(_ context.Context, roomID, userID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.members[roomID][userID] == nil {
		return errNotFound("remove member")
	}
	removeFrom(s.members, roomID, userID)
	removeFrom(s.byUser, userID, roomID)
	return nil
}

// RemoveAllMembers deletes every membership of a room.
func (s *Store) RemoveAllMembers(_ context.Context, roomID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for userID := range s.members[roomID] {
		removeFrom(s.byUser, userID, roomID)
	}
	delete(s.members, roomID)
	return nil
}

// Member returns one membership, or store.ErrNotFound.
func (s *Store) Member(_ context.Context, roomID, userID string) (*store.Member, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if m := s.members[roomID][userID]; m != nil {
		c := *m
		return &c, nil
	}
	return nil, errNotFound("member")
}

// copyMembers copies the members of ms, oldest first, ties broken by key.
// The caller holds mu.
func copyMembers(ms map[string]*store.Member, key func(*store.Member) string) []store.Member {
	out := make([]store.Member, 0, len(ms))
	for _, m := range ms {
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return key(&out[i]) < key(&out[j])
	})
	return out
}

// Members returns a room's memberships, oldest first.
func (s *Store) Members(_ context.Context, roomID string) ([]store.Member, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return copyMembers(s.members[roomID], func(m *store.Member) string { return m.UserID }), nil
}

// CountMembers counts a room's memberships.
func (s *Store) CountMembers(_ context.Context, roomID string) (int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return int64(len(s.members[roomID])), nil
}

// MembershipsOf returns a user's memberships, oldest first.
func (s *Store) MembershipsOf(_ context.Context, userID string) ([]store.Member, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return copyMembers(s.byUser[userID], func(m *store.Member) string { return m.RoomID }), nil
}

// SetReadSeq raises the member's read seq to seq and never lowers it;
// store.ErrNotFound if the membership does not exist.
func (s *Store) SetReadSeq(_ context.Context, roomID, userID string, seq int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.members[roomID][userID]
	if m == nil {
		return errNotFound("set read seq")
	}
	m.ReadSeq = max(m.ReadSeq, seq)
	return nil
}

// CreateFriendship inserts f with its two ids sorted (f is updated in place
// so that UserA < UserB); store.ErrDuplicate if the pair is already friends,
// whichever order the ids were given in. A zero CreatedAt is set to the
// current time.
func (s *Store) CreateFriendship(_ context.Context, f *store.Friendship) error {
	const op = "create friendship"
	if f == nil {
		return errNil(op)
	}
	var key string
	f.UserA, f.UserB, key = store.PairKey(f.UserA, f.UserB)
	f.CreatedAt = createdTime(f.CreatedAt)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.friends[key] != nil {
		return errDup(op)
	}
	c := *f
	s.friends[key] = &c
	addTo(s.friendsOf, f.UserA, key, true)
	addTo(s.friendsOf, f.UserB, key, true)
	return nil
}

// Friendship returns the friendship of a and b (in any order), or
// store.ErrNotFound.
func (s *Store) Friendship(_ context.Context, a, b string) (*store.Friendship, error) {
	_, _, key := store.PairKey(a, b)
	s.mu.RLock()
	defer s.mu.RUnlock()
	if f := s.friends[key]; f != nil {
		c := *f
		return &c, nil
	}
	return nil, errNotFound("friendship")
}

// DeleteFriendship deletes the friendship of a and b (in any order);
// store.ErrNotFound if there was none.
func (s *Store) DeleteFriendship(_ context.Context, a, b string) error {
	lo, hi, key := store.PairKey(a, b)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.friends[key] == nil {
		return errNotFound("delete friendship")
	}
	delete(s.friends, key)
	removeFrom(s.friendsOf, lo, key)
	removeFrom(s.friendsOf, hi, key)
	return nil
}

// FriendshipsOf returns every friendship the user is part of, on either
// side, oldest first.
func (s *Store) FriendshipsOf(_ context.Context, userID string) ([]store.Friendship, error) {
	s.mu.RLock()
	out := make([]store.Friendship, 0, len(s.friendsOf[userID]))
	for key := range s.friendsOf[userID] {
		out = append(out, *s.friends[key])
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		a, b := &out[i], &out[j]
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.Before(b.CreatedAt)
		}
		if a.UserA != b.UserA {
			return a.UserA < b.UserA
		}
		return a.UserB < b.UserB
	})
	return out, nil
}

// CreateFriendRequest inserts r; store.ErrDuplicate if its id or its
// (from, to) pair exists. A request from b to a is a different pair. A zero
// CreatedAt is set to the current time.
func (s *Store) CreateFriendRequest(_ context.Context, r *store.FriendRequest) error {
	const op = "create friend request"
	if r == nil {
		return errNil(op)
	}
	r.CreatedAt = createdTime(r.CreatedAt)
	pair := [2]string{r.From, r.To}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, idTaken := s.requests[r.ID]
	_, pairTaken := s.reqPairs[pair]
	if idTaken || pairTaken {
		return errDup(op)
	}
	c := *r
	s.requests[r.ID] = &c
	s.reqPairs[pair] = r.ID
	return nil
}

// requestBy returns a copy of the request with this id. The caller holds
// mu.
func (s *Store) requestBy(op, id string, ok bool) (*store.FriendRequest, error) {
	if r := s.requests[id]; ok && r != nil {
		c := *r
		return &c, nil
	}
	return nil, errNotFound(op)
}

// FriendRequestByID returns a request, or store.ErrNotFound.
func (s *Store) FriendRequestByID(_ context.Context, id string) (*store.FriendRequest, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.requestBy("friend request by id", id, true)
}

// FriendRequestBetween returns the request from one user to another (that
// direction only), or store.ErrNotFound.
func (s *Store) FriendRequestBetween(_ context.Context, from, to string) (*store.FriendRequest, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.reqPairs[[2]string{from, to}]
	return s.requestBy("friend request between", id, ok)
}

// DeleteFriendRequest deletes a request; store.ErrNotFound if there was
// none.
func (s *Store) DeleteFriendRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.requests[id]
	if r == nil {
		return errNotFound("delete friend request")
	}
	delete(s.requests, id)
	delete(s.reqPairs, [2]string{r.From, r.To})
	return nil
}

// requestsWhere returns copies of the requests matching keep, oldest
// first.
func (s *Store) requestsWhere(keep func(*store.FriendRequest) bool) []store.FriendRequest {
	s.mu.RLock()
	out := []store.FriendRequest{}
	for _, r := range s.requests {
		if keep(r) {
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

// FriendRequestsTo returns the requests a user received, oldest first.
func (s *Store) FriendRequestsTo(_ context.Context, userID string) ([]store.FriendRequest, error) {
	return s.requestsWhere(func(r *store.FriendRequest) bool { return r.To == userID }), nil
}

// FriendRequestsFrom returns the requests a user sent, oldest first.
func (s *Store) FriendRequestsFrom(_ context.Context, userID string) ([]store.FriendRequest, error) {
	return s.requestsWhere(func(r *store.FriendRequest) bool { return r.From == userID }), nil
}

// clientKey is the key of byClient.
func clientKey(roomID, from, clientMsgID string) string {
	return roomID + "\x00" + from + "\x00" + clientMsgID
}

// firstAfter returns the index of the first message of list with a seq
// greater than seq.
func firstAfter(list []*store.Message, seq int64) int {
	return sort.Search(len(list), func(i int) bool { return list[i].Seq > seq })
}

// InsertMessage stores m; store.ErrDuplicate when its id, its (room, seq)
// or its (room, sender, client_msg_id) exists. An empty ClientMsgID takes part
// in the rule like any other. A zero CreatedAt is set to the current time.
func (s *Store) InsertMessage(_ context.Context, m *store.Message) error {
	const op = "insert message"
	if m == nil {
		return errNil(op)
	}
	m.CreatedAt = createdTime(m.CreatedAt)
	m.EditedAt = optTime(m.EditedAt)
	storeutil.NormaliseMentions(m)
	key := clientKey(m.RoomID, m.From, m.ClientMsgID)
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.msgs[m.RoomID]
	i := sort.Search(len(list), func(i int) bool { return list[i].Seq >= m.Seq })
	if s.msgIDs[m.ID] || s.byClient[key] != nil || (i < len(list) && list[i].Seq == m.Seq) {
		return errDup(op)
	}
	c := copyMessage(m)
	list = append(list, nil)
	copy(list[i+1:], list[i:])
	list[i] = &c
	s.msgs[m.RoomID] = list
	s.msgIDs[m.ID] = true
	s.byClient[key] = &c
	return nil
}

// MessageByClientID returns the message a sender stored in a room under a
// client message id, or store.ErrNotFound.
func (s *Store) MessageByClientID(_ context.Context, roomID, from, clientMsgID string) (*store.Message, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if m := s.byClient[clientKey(roomID, from, clientMsgID)]; m != nil {
		c := copyMessage(m)
		return &c, nil
	}
	return nil, errNotFound("message by client id")
}

func clampLimit(limit int) int { return storeutil.ClampLimit(limit, DefaultLimit, MaxLimit) }

// MessagesAfter returns up to limit messages of a room with seq > after,
// ascending by seq. A limit <= 0 means DefaultLimit; limits above MaxLimit
// are lowered to it.
func (s *Store) MessagesAfter(_ context.Context, roomID string, after int64, limit int) ([]store.Message, error) {
	limit = clampLimit(limit)
	s.mu.RLock()
	defer s.mu.RUnlock()
	list := s.msgs[roomID]
	list = list[firstAfter(list, after):]
	list = list[:min(limit, len(list))]
	out := make([]store.Message, len(list))
	for i, m := range list {
		out[i] = copyMessage(m)
	}
	return out, nil
}

// MessagesBefore returns up to limit messages of a room with seq < before,
// descending by seq. Limits are treated as in MessagesAfter.
func (s *Store) MessagesBefore(_ context.Context, roomID string, before int64, limit int) ([]store.Message, error) {
	limit = clampLimit(limit)
	s.mu.RLock()
	defer s.mu.RUnlock()
	list := s.msgs[roomID]
	end := sort.Search(len(list), func(i int) bool { return list[i].Seq >= before })
	out := make([]store.Message, 0, min(limit, end))
	for i := end - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, copyMessage(list[i]))
	}
	return out, nil
}

// LastMessage returns the message of a room with the highest seq (a hole
// included), or store.ErrNotFound when the room has none.
func (s *Store) LastMessage(_ context.Context, roomID string) (*store.Message, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	list := s.msgs[roomID]
	if len(list) == 0 {
		return nil, errNotFound("last message")
	}
	c := copyMessage(list[len(list)-1])
	return &c, nil
}

// CountAfter counts the messages of a room with seq > after that exclude
// did not send. Holes and change events are not counted.
func (s *Store) CountAfter(_ context.Context, roomID string, after int64, exclude string) (int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	list := s.msgs[roomID]
	var n int64
	for _, m := range list[firstAfter(list, after):] {
		if !m.Hole && !m.IsEvent() && m.From != exclude {
			n++
		}
	}
	return n, nil
}

// InsertRefreshToken stores t; store.ErrDuplicate if its hash exists. A
// zero CreatedAt is set to the current time.
func (s *Store) InsertRefreshToken(_ context.Context, t *store.RefreshToken) error {
	const op = "insert refresh token"
	if t == nil {
		return errNil(op)
	}
	t.CreatedAt = createdTime(t.CreatedAt)
	t.ExpiresAt = dbTime(t.ExpiresAt)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tokens[t.Hash] != nil {
		return errDup(op)
	}
	c := *t
	s.tokens[t.Hash] = &c
	addTo(s.families, t.Family, t.Hash, true)
	return nil
}

// RefreshToken returns the token with this hash, or store.ErrNotFound (also
// once its family was revoked).
func (s *Store) RefreshToken(_ context.Context, hash string) (*store.RefreshToken, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if t := s.tokens[hash]; t != nil {
		c := *t
		return &c, nil
	}
	return nil, errNotFound("refresh token")
}

// ConsumeRefreshToken marks a token hash used. Exactly one call per hash
// succeeds; the others get store.ErrDuplicate, the sign of a reuse. It does
// not check that the token exists.
func (s *Store) ConsumeRefreshToken(_ context.Context, hash string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.used[hash] {
		return errDup("consume refresh token")
	}
	s.used[hash] = true
	return nil
}

// RevokeFamily records the family as revoked (revoking twice is fine),
// deletes its stored tokens and marks the session with that id (if any)
// revoked.
func (s *Store) RevokeFamily(_ context.Context, family string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked[family] = true
	for hash := range s.families[family] {
		delete(s.tokens, hash)
	}
	delete(s.families, family)
	if ss := s.sessions[family]; ss != nil {
		ss.Revoked = true
	}
	return nil
}

// FamilyRevoked reports whether RevokeFamily was called for family.
func (s *Store) FamilyRevoked(_ context.Context, family string) (bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.revoked[family], nil
}

// CreateSession stores ss; store.ErrDuplicate if its id exists. A zero
// CreatedAt is set to the current time and a zero LastUsedAt to CreatedAt;
// the times are normalised in place.
func (s *Store) CreateSession(_ context.Context, ss *store.Session) error {
	const op = "create session"
	if ss == nil {
		return errNil(op)
	}
	ss.CreatedAt = createdTime(ss.CreatedAt)
	if ss.LastUsedAt.IsZero() {
		ss.LastUsedAt = ss.CreatedAt
	}
	ss.LastUsedAt = dbTime(ss.LastUsedAt)
	ss.ExpiresAt = dbTime(ss.ExpiresAt)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessions[ss.ID] != nil {
		return errDup(op)
	}
	c := *ss
	s.sessions[ss.ID] = &c
	return nil
}

// Session returns a session, revoked or not, or store.ErrNotFound.
func (s *Store) Session(_ context.Context, id string) (*store.Session, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if ss := s.sessions[id]; ss != nil {
		c := *ss
		return &c, nil
	}
	return nil, errNotFound("session")
}

// SessionsOf returns the user's sessions that are not revoked, oldest
// first (then by id).
func (s *Store) SessionsOf(_ context.Context, userID string) ([]store.Session, error) {
	s.mu.RLock()
	out := []store.Session{}
	for _, ss := range s.sessions {
		if ss.UserID == userID && !ss.Revoked {
			out = append(out, *ss)
		}
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// TouchSession sets LastUsedAt, ExpiresAt and, when ip is not empty, IP;
// store.ErrNotFound if there is no such session.
func (s *Store) TouchSession(_ context.Context, id string, usedAt, expiresAt time.Time, ip string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.sessions[id]
	if ss == nil {
		return errNotFound("touch session")
	}
	ss.LastUsedAt, ss.ExpiresAt = dbTime(usedAt), dbTime(expiresAt)
	if ip != "" {
		ss.IP = ip
	}
	return nil
}

// PurgeExpired deletes up to limit refresh tokens that expired before the
// given time (to the millisecond), with their used records, and up to limit
// sessions that did, with their revoked-family records (and their push
// tokens), soonest expiry first. It returns how many tokens and sessions it
// deleted. A limit <= 0 deletes nothing.
func (s *Store) PurgeExpired(_ context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	before = dbTime(before)
	s.mu.Lock()
	defer s.mu.Unlock()
	var toks []*store.RefreshToken
	for _, t := range s.tokens {
		if t.ExpiresAt.Before(before) {
			toks = append(toks, t)
		}
	}
	sort.Slice(toks, func(i, j int) bool {
		if !toks[i].ExpiresAt.Equal(toks[j].ExpiresAt) {
			return toks[i].ExpiresAt.Before(toks[j].ExpiresAt)
		}
		return toks[i].Hash < toks[j].Hash
	})
	toks = toks[:min(limit, len(toks))]
	for _, t := range toks {
		delete(s.used, t.Hash)
		delete(s.tokens, t.Hash)
		removeFrom(s.families, t.Family, t.Hash)
	}
	var sess []*store.Session
	for _, ss := range s.sessions {
		if ss.ExpiresAt.Before(before) {
			sess = append(sess, ss)
		}
	}
	sort.Slice(sess, func(i, j int) bool {
		if !sess[i].ExpiresAt.Equal(sess[j].ExpiresAt) {
			return sess[i].ExpiresAt.Before(sess[j].ExpiresAt)
		}
		return sess[i].ID < sess[j].ID
	})
	sess = sess[:min(limit, len(sess))]
	for _, ss := range sess {
		delete(s.revoked, ss.ID)
		delete(s.sessions, ss.ID)
		s.removePushTokensOfSession(ss.ID)
	}
	return len(toks) + len(sess), nil
}

// Ping implements store.Store; it always succeeds.
func (s *Store) Ping(context.Context) error { return nil }

// Close implements store.Store; it does nothing and the Store stays usable.
func (s *Store) Close(context.Context) error { return nil }
