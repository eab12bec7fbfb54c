// Package store holds the domain types of im-websocket-go and the small
// interfaces through which the rest of the code reads and writes them.
// Implementations live in sub-packages named after their dependency
// (store/mongo). Correctness rests on unique indexes, never on an atomic
// read-modify-write of one document: every "create once" below is an insert
// that fails with ErrDuplicate when it lost a race, and counts (reactions)
// count rows. The few changes of a stored record that depend on its value
// (SetReadSeq, MarkMentioned, SetPasswordHash, EditMessage against
// RecallMessage, AttachFile) are exact under concurrency on every
// implementation; each says how (pkg/store/mongo serialises them with lock
// documents on FerretDB).
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Errors returned by every implementation. Wrap with %w; test with errors.Is.
var (
	ErrNotFound  = errors.New("store: not found")
	ErrDuplicate = errors.New("store: duplicate key")
	// ErrConflict means a conditional write found the record changed.
	ErrConflict = errors.New("store: changed concurrently")
	// ErrUnavailable means the backing database could not be reached.
	ErrUnavailable = errors.New("store: unavailable")
	// ErrRecalled means the message was recalled: it can no longer be
	// edited (Messages.EditMessage).
	ErrRecalled = errors.New("store: message recalled")
)

// RoomType tells a 1:1 room from a group. The values follow the seed's
// user_room.room_type: 1 is a direct room, anything else a group.
type RoomType int

const (
	RoomDirect RoomType = 1
	RoomGroup  RoomType = 2
)

func (t RoomType) String() string {
	if t == RoomDirect {
		return "direct"
	}
	return "group"
}

// User is an account (collection user_basic).
type User struct {
	ID           string
	Account      string
	Email        string // lower-cased
	PasswordHash string
	Nickname     string
	Avatar       string
	Sex          int
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// DeletedAt is set when the account was deleted (zero: live). A
	// deleted account keeps its id, so its messages still name it; its
	// account name and email stay taken until ReleaseDeleted frees them.
	DeletedAt time.Time
	// HidePresence is the user's privacy setting: when set, everyone else
	// sees the user offline with no last seen time, and no presence
	// events are sent about them (SetHidePresence).
	HidePresence bool
	// LastSeenAt is when the user was last seen online: written when they
	// went offline (SetLastSeen); zero when never recorded.
	LastSeenAt time.Time
}

// Deleted reports whether the account was deleted.
func (u *User) Deleted() bool { return !u.DeletedAt.IsZero() }

// Room is a conversation (collection room_basic). A direct room has PairKey
// set to the two user ids, sorted and joined by ":", under a unique index,
// so a pair has one room for ever.
type Room struct {
	ID        string
	Type      RoomType
	Number    string // groups: a unique public number
	Name      string
	Info      string
	Owner     string // groups: the owner's id
	PairKey   string // direct rooms only
	Disbanded bool
	CreatedAt time.Time
	UpdatedAt time.Time

	// Group administration (GroupAdmin). MuteAll: only the owner and the
	// admins may send. Announcement is the pinned announcement ("" none),
	// set by AnnouncementBy at AnnouncementAt.
	MuteAll        bool
	Announcement   string
	AnnouncementBy string
	AnnouncementAt time.Time
}

// Member roles. A group's owner is its Room.Owner whatever the role stored
// on the membership; a stored role is RoleAdmin or "" (read as
// RoleMember), so memberships stored before roles existed are members.
const (
	RoleOwner  = "owner"
	RoleAdmin  = "admin"
	RoleMember = "member"
)

// Member is a user's membership of a room (collection user_room), unique on
// (room, user). ReadSeq is the last seq the user has read there.
// MentionSeq is the highest seq of a message that mentioned the user (by
// id or with MentionAll), 0 when none did: the conversation list shows the
// room as "mentioned" while MentionSeq > ReadSeq. Rooms.MarkMentioned
// raises it.
type Member struct {
	RoomID     string
	UserID     string
	RoomType   RoomType
	ReadSeq    int64
	MentionSeq int64
	CreatedAt  time.Time
	// Role is RoleAdmin or "" (a member; see RoleOwner).
	Role string
	// MutedUntil: the member may not send before this time; zero: not
	// muted.
	MutedUntil time.Time
}

// Friendship links two users; UserA < UserB, unique on the pair.
type Friendship struct {
	UserA     string
	UserB     string
	RoomID    string
	CreatedAt time.Time
}

// FriendRequest is a pending request, unique on (from, to).
type FriendRequest struct {
	ID        string
	From      string
	To        string
	Message   string
	CreatedAt time.Time
}

// Message kinds (Message.Kind). The empty kind is read as KindText: the
// stores return a message's Kind as it was stored, and messages stored
// before kinds existed have none.
const (
	KindText   = "text"
	KindImage  = "image"  // an attachment (File) shown inline; Extra describes it
	KindFile   = "file"   // an attachment (File); Extra describes it
	KindCustom = "custom" // an application payload, in Extra
	KindSystem = "system" // a notice of the server (member joined, ...); Extra has the details

	// Change events: messages in the room's seq order that change an
	// earlier message of the room, the one at seq Target. Clients that
	// replay the history apply them; the unread counts (CountAfter)
	// ignore them.
	KindEdit    = "edit"    // Target's body was replaced (Body: the new one)
	KindRecall  = "recall"  // Target was recalled
	KindReact   = "react"   // a reaction was added to Target (Body: the emoji)
	KindUnreact = "unreact" // a reaction was removed from Target (Body: the emoji)
)

// MentionAll in Message.Mentions mentions every member of the room.
const MentionAll = "@all"

// IsEventKind reports whether kind is the kind of a change event (edit,
// recall, react, unreact).
func IsEventKind(kind string) bool {
	switch kind {
	case KindEdit, KindRecall, KindReact, KindUnreact:
		return true
	}
	return false
}

// Message is one stored chat message (collection message_basic), unique on
// (room, seq) and on (room, sender, client_msg_id): the idempotency rule is
// room-scoped, as a client's retry is always in the same room.
//
// The stores keep every field as given; InsertMessage normalises in place
// what they would not return as given: times (UTC, milliseconds) and an
// empty Mentions (nil).
type Message struct {
	ID          string
	RoomID      string
	Seq         int64
	From        string
	Body        string
	ClientMsgID string
	CreatedAt   time.Time
	// Hole marks a tombstone: a seq that was allocated but whose message
	// never arrived in time, closed for good (see service.After). It holds
	// no message and is never shown.
	Hole bool

	// Kind is one of the Kind constants; "" is read as KindText.
	Kind string
	// ReplyTo is the seq of the message of the same room this one replies
	// to; 0: none.
	ReplyTo int64
	// Mentions are the user ids the message mentions, or MentionAll; nil
	// when none.
	Mentions []string
	// Extra is a JSON object, as text, that the store keeps without
	// reading it: the payload of a custom message, the attachment's
	// metadata of an image or file, the details of a system message. ""
	// when none. (A react or unreact event keeps its emoji in Body.)
	Extra string
	// Target is, for a change event, the seq of the message it changes;
	// 0 otherwise.
	Target int64
	// EditedAt is when the body was last replaced (EditMessage); zero:
	// never edited.
	EditedAt time.Time
	// Recalled is set by RecallMessage: the body, Extra and Mentions are
	// gone; the kind, sender, seq, times and ReplyTo are kept.
	Recalled bool
}

// IsEvent reports whether the message is a change event (kinds edit,
// recall, react, unreact).
func (m *Message) IsEvent() bool { return IsEventKind(m.Kind) }

// Reaction is one user's emoji on one message, unique on (room, seq, user,
// emoji): a user may react to a message with several emoji, each once.
type Reaction struct {
	RoomID    string
	Seq       int64
	UserID    string
	Emoji     string
	CreatedAt time.Time
}

// ReactionCount is the number of users who reacted to a message with one
// emoji. Mine reports whether the asking user is one of them.
type ReactionCount struct {
	Emoji string
	Count int64
	Mine  bool
}

// File is an uploaded attachment. Its bytes (and its thumbnail's) live in a
// blob store under Key (ThumbKey); the record says who may read them (the
// members of RoomID) and whether a message carries it. A file is uploaded
// first and attached to the message that carries it when the message is
// sent (AttachFile, once); the files never attached are swept
// (OrphanFiles, DeleteFile).
type File struct {
	ID          string
	RoomID      string
	UploaderID  string
	Name        string
	Size        int64
	ContentType string
	Width       int // images: pixels; 0 otherwise
	Height      int
	Key         string // blob key of the bytes
	ThumbKey    string // blob key of the thumbnail; "" when none
	ThumbType   string // content type of the thumbnail
	CreatedAt   time.Time
	// MessageSeq is the seq (in RoomID) of the message that carries the
	// file; 0 until it is sent.
	MessageSeq int64
	// Deleted means access to the file was removed (its message was
	// recalled, or the sweep removed it): it is no longer served.
	Deleted bool
}

// MaxSeqs is the most seqs one call of MessagesAt, ReactionCounts or
// HideMessages takes; more is an error (not store.ErrNotFound). A larger
// page is asked in parts.
const MaxSeqs = 256

// RefreshToken is a stored refresh token. Only the SHA-256 of the token is
// kept. Tokens of one login form a family; reusing a rotated token revokes
// the family.
type RefreshToken struct {
	Hash      string
	Family    string
	UserID    string
	ExpiresAt time.Time
	CreatedAt time.Time
}

// Session is one signed-in device: a login and the chain of refresh tokens
// rotated from it (a refresh family; ID is the family). Access tokens carry
// the session id (claim sid), so revoking a session ends all of them.
type Session struct {
	ID         string
	UserID     string
	Device     string // a label from the login's device field or User-Agent
	IP         string // the client address last seen (login or refresh)
	CreatedAt  time.Time
	LastUsedAt time.Time
	ExpiresAt  time.Time // when its newest refresh token expires
	Revoked    bool
}

// MaxPins is the most messages pinned in one room: a pin takes one of the
// slots 0 .. MaxPins-1, unique per room, so the bound is exact under
// concurrency.
const MaxPins = 50

// Pin is a pinned message of a room, unique on (room, seq) and on (room,
// slot).
type Pin struct {
	RoomID    string
	Seq       int64
	Slot      int
	By        string
	CreatedAt time.Time
}

// JoinRequest is a user's pending request to join a group, unique on
// (room, user).
type JoinRequest struct {
	RoomID    string
	UserID    string
	Message   string
	CreatedAt time.Time
}

// InviteLink lets whoever has its token join RoomID until ExpiresAt, at
// most MaxUses users. Only the SHA-256 of the token is kept (TokenHash,
// unique).
type InviteLink struct {
	ID        string
	RoomID    string
	TokenHash string
	CreatedBy string
	CreatedAt time.Time
	ExpiresAt time.Time
	MaxUses   int
	Revoked   bool
}

// InviteUse is one user's use of an invite link: the N-th (from 1), unique
// on (link, n) and on (link, user). See UseInviteLink.
type InviteUse struct {
	LinkID    string
	N         int
	UserID    string
	CreatedAt time.Time
}

// PairKey returns the canonical key of an unordered pair of user ids.
func PairKey(a, b string) (lo, hi, key string) {
	if b < a {
		a, b = b, a
	}
	return a, b, a + ":" + b
}

// Users stores accounts.
type Users interface {
	CreateUser(ctx context.Context, u *User) error // ErrDuplicate on account or email
	UserByID(ctx context.Context, id string) (*User, error)
	UserByAccount(ctx context.Context, account string) (*User, error)
	UserByEmail(ctx context.Context, email string) (*User, error)
	UsersByIDs(ctx context.Context, ids []string) ([]User, error)
	// UpdateProfile sets nickname, avatar and sex where non-nil.
	UpdateProfile(ctx context.Context, id string, nickname, avatar *string, sex *int) (*User, error)
	// SetPasswordHash replaces the user's password hash with newHash if it
	// still is oldHash: of concurrent callers with the same oldHash exactly
	// one succeeds, the others get ErrConflict (ErrNotFound: no such user).
	SetPasswordHash(ctx context.Context, id, oldHash, newHash string) error
	// SetEmail changes the user's email; ErrDuplicate when it is taken,
	// ErrNotFound when there is no such user.
	SetEmail(ctx context.Context, id, email string) error
	// SetHidePresence sets the user's HidePresence setting (UpdatedAt is
	// not changed); ErrNotFound when there is no such user.
	SetHidePresence(ctx context.Context, id string, hide bool) error
	// SetLastSeen sets LastSeenAt to at (normalised to UTC milliseconds),
	// the last write winning: the caller writes once per offline
	// transition, which the presence records make unique. UpdatedAt is not
	// changed; ErrNotFound when there is no such user.
	SetLastSeen(ctx context.Context, id string, at time.Time) error
	// MarkDeleted sets DeletedAt (once: a second call keeps the first
	// time); ErrNotFound when there is no such user.
	MarkDeleted(ctx context.Context, id string, at time.Time) error
	// ReleaseDeleted frees the account name and email of up to limit users
	// deleted before the given time: it rewrites them to ReleasedAccount(id)
	// and ReleasedEmail(id). It returns how many it released; users
	// already released are not counted again.
	ReleaseDeleted(ctx context.Context, before time.Time, limit int) (int, error)
}

// ReleasedAccount and ReleasedEmail are the account name and email of a
// deleted user once ReleaseDeleted freed the originals. Neither can be
// registered: "~" is not allowed in an account, and .invalid is reserved.
func ReleasedAccount(id string) string { return "~" + strings.ToLower(id) }

// ReleasedEmail: see ReleasedAccount.
func ReleasedEmail(id string) string { return strings.ToLower(id) + "@deleted.invalid" }

// Rooms stores rooms and memberships.
type Rooms interface {
	CreateRoom(ctx context.Context, r *Room) error // ErrDuplicate on number or pair key
	RoomByID(ctx context.Context, id string) (*Room, error)
	RoomByPairKey(ctx context.Context, key string) (*Room, error)
	// RoomByNumber returns the group with this public number; ErrNotFound
	// if none (or number is "").
	RoomByNumber(ctx context.Context, number string) (*Room, error)
	MarkDisbanded(ctx context.Context, id string) error
	// SetOwner makes userID the owner of group id; ErrNotFound if no room.
	SetOwner(ctx context.Context, id, userID string) error
	// AddMember inserts a membership; ErrDuplicate if it exists.
	AddMember(ctx context.Context, m *Member) error
	RemoveMember(ctx context.Context, roomID, userID string) error // ErrNotFound if absent
	RemoveAllMembers(ctx context.Context, roomID string) error
	Member(ctx context.Context, roomID, userID string) (*Member, error)
	Members(ctx context.Context, roomID string) ([]Member, error)
	CountMembers(ctx context.Context, roomID string) (int64, error)
	MembershipsOf(ctx context.Context, userID string) ([]Member, error)
	// SetReadSeq raises the member's read seq to seq (never lowers it).
	SetReadSeq(ctx context.Context, roomID, userID string, seq int64) error
	// ReadCounts answers, for each message of msgs (its seq and sender),
	// how many members of the room other than its sender have a read
	// mark at or past its seq. It is computed from the members' read
	// marks (one range query on (room, read_seq)), never from a list kept
	// per message, so its cost grows with the readers, not with messages
	// × members. Every seq of msgs is in the map (0 when nobody read it),
	// which is never nil. At most MaxSeqs messages (more is an error).
	ReadCounts(ctx context.Context, roomID string, msgs []SeqFrom) (map[int64]int64, error)
	// Readers lists the members of the room whose read mark is at or
	// past seq, the user exclude left out, ordered by user id: up to
	// limit of them with a user id above afterUser ("" for the first
	// page). A limit <= 0 means 50, and limits above 1000 are lowered to
	// it.
	Readers(ctx context.Context, roomID string, seq int64, exclude, afterUser string, limit int) ([]Member, error)
	// MarkMentioned raises the MentionSeq of the members userIDs of the
	// room to seq (never lowers it); concurrent calls leave the highest
	// seq. A nil userIDs means every member of the room (a mention of
	// MentionAll); an empty, non-nil one nobody. Ids that are not members
	// of the room are ignored: it is not an error.
	MarkMentioned(ctx context.Context, roomID string, userIDs []string, seq int64) error
}

// GroupAdmin stores what group administration needs: roles, mutes, the
// room's settings, pins, join requests and invite links. Every rule that
// must hold under concurrency rests on a unique index: pin slots, one
// request per (room, user), the numbered uses of a link.
type GroupAdmin interface {
	// SetMemberRole stores role (RoleAdmin or "") on a membership;
	// ErrNotFound if there is none.
	SetMemberRole(ctx context.Context, roomID, userID, role string) error
	// SetMemberMute sets MutedUntil (zero: unmuted); ErrNotFound if no
	// membership.
	SetMemberMute(ctx context.Context, roomID, userID string, until time.Time) error
	// SetMuteAll sets Room.MuteAll; ErrNotFound if no room.
	SetMuteAll(ctx context.Context, roomID string, on bool) error
	// SetAnnouncement sets the room's announcement, by whom and when
	// ("" clears it); ErrNotFound if no room.
	SetAnnouncement(ctx context.Context, roomID, text, by string, at time.Time) error
	// MembersPage returns up to limit memberships of the room with user id
	// > afterUser, ascending by user id. A limit <= 0 means 50; limits
	// above 1000 are lowered to it.
	MembersPage(ctx context.Context, roomID, afterUser string, limit int) ([]Member, error)

	// AddPin stores p; ErrDuplicate if (room, seq) or (room, slot) is
	// taken. A zero CreatedAt is set to now; normalised in place.
	AddPin(ctx context.Context, p *Pin) error
	// RemovePin deletes the pin of (room, seq); ErrNotFound if none.
	RemovePin(ctx context.Context, roomID string, seq int64) error
	// Pins returns the room's pins (at most MaxPins), newest first (then
	// by seq).
	Pins(ctx context.Context, roomID string) ([]Pin, error)

	// CreateJoinRequest stores r; ErrDuplicate on (room, user). A zero
	// CreatedAt is set to now; normalised in place.
	CreateJoinRequest(ctx context.Context, r *JoinRequest) error
	// JoinRequest returns one request; ErrNotFound if none.
	JoinRequest(ctx context.Context, roomID, userID string) (*JoinRequest, error)
	// JoinRequests returns up to limit requests of a room, oldest first
	// (then by user id); limit as MembersPage.
	JoinRequests(ctx context.Context, roomID string, limit int) ([]JoinRequest, error)
	// DeleteJoinRequest deletes one request; ErrNotFound if none.
	DeleteJoinRequest(ctx context.Context, roomID, userID string) error

	// CreateInviteLink stores l; ErrDuplicate on its id or token hash.
	// Times are normalised in place (a zero CreatedAt: now).
	CreateInviteLink(ctx context.Context, l *InviteLink) error
	InviteLinkByID(ctx context.Context, id string) (*InviteLink, error)     // ErrNotFound
	InviteLinkByHash(ctx context.Context, hash string) (*InviteLink, error) // ErrNotFound
	// InviteLinks returns the room's links, revoked ones included, newest
	// first (then by id), at most limit (as MembersPage).
	InviteLinks(ctx context.Context, roomID string, limit int) ([]InviteLink, error)
	// RevokeInviteLink marks a link revoked (twice is fine); ErrNotFound
	// if absent.
	RevokeInviteLink(ctx context.Context, id string) error
	// AddInviteUse stores u; ErrDuplicate if (link, n) or (link, user) is
	// taken. Use UseInviteLink rather than calling it directly.
	AddInviteUse(ctx context.Context, u *InviteUse) error
	// CountInviteUses counts a link's uses.
	CountInviteUses(ctx context.Context, linkID string) (int64, error)
	// InviteUseBy returns the user's use of the link; ErrNotFound if none.
	InviteUseBy(ctx context.Context, linkID, userID string) (*InviteUse, error)
}

// ErrExhausted is returned by UseInviteLink when the link was used
// MaxUses times.
var ErrExhausted = errors.New("store: invite link used up")

// UseInviteLink records userID's use of link l and returns it: exact under
// concurrency without an atomic counter, because the uses are numbered
// 1, 2, ... under a unique (link, n) index and a use takes the number
// after the count, so no number above l.MaxUses is ever written (the uses
// always number 1..count, as each insert of n follows a count of n-1). A
// user who used the link before gets their use back (fresh false) and no
// new use is taken; ErrExhausted when all MaxUses are taken.
func UseInviteLink(ctx context.Context, s GroupAdmin, l *InviteLink, userID string, at time.Time) (_ *InviteUse, fresh bool, err error) {
	// Each lost race means another use was taken, so MaxUses+2 tries
	// suffice but for a store that keeps failing.
	for try := 0; try <= l.MaxUses+2; try++ {
		if u, err := s.InviteUseBy(ctx, l.ID, userID); err == nil {
			return u, false, nil
		} else if !errors.Is(err, ErrNotFound) {
			return nil, false, err
		}
		n, err := s.CountInviteUses(ctx, l.ID)
		if err != nil {
			return nil, false, err
		}
		if n >= int64(l.MaxUses) {
			return nil, false, ErrExhausted
		}
		u := &InviteUse{LinkID: l.ID, N: int(n) + 1, UserID: userID, CreatedAt: at}
		err = s.AddInviteUse(ctx, u)
		if err == nil {
			return u, true, nil
		}
		if !errors.Is(err, ErrDuplicate) {
			return nil, false, err
		}
	}
	return nil, false, fmt.Errorf("store: use invite link: %w", ErrConflict)
}

// SeqFrom names a message of a room by its seq and its sender (for
// Rooms.ReadCounts, which does not count the sender as a reader).
type SeqFrom struct {
	Seq  int64
	From string
}

// Block is one user's block of another, unique on (blocker, blocked).
type Block struct {
	Blocker   string
	Blocked   string
	CreatedAt time.Time
}

// Blocks stores who blocked whom. A block is one row; its existence is
// the rule (no counters, no flags on other records), so a block and an
// unblock racing end in one of the two states, whatever the server.
type Blocks interface {
	// BlockUser stores b; ErrDuplicate if the blocker blocked the
	// blocked user already. A zero CreatedAt is set to now; CreatedAt is
	// normalised in place.
	BlockUser(ctx context.Context, b *Block) error
	// UnblockUser deletes the block; ErrNotFound if absent.
	UnblockUser(ctx context.Context, blocker, blocked string) error
	// IsBlocked reports whether blocker blocked blocked (that direction
	// only).
	IsBlocked(ctx context.Context, blocker, blocked string) (bool, error)
	// BlocksOf lists the blocks userID is part of, as the blocker or as
	// the blocked user, oldest first (then by blocker, blocked): up to
	// limit of them (a limit <= 0 means 1000, larger limits are lowered
	// to 1000).
	BlocksOf(ctx context.Context, userID string, limit int) ([]Block, error)
}

// Friends stores friendships and pending requests.
type Friends interface {
	CreateFriendship(ctx context.Context, f *Friendship) error // ErrDuplicate if the pair exists
	Friendship(ctx context.Context, a, b string) (*Friendship, error)
	DeleteFriendship(ctx context.Context, a, b string) error // ErrNotFound if absent
	FriendshipsOf(ctx context.Context, userID string) ([]Friendship, error)

	CreateFriendRequest(ctx context.Context, r *FriendRequest) error // ErrDuplicate on (from, to)
	FriendRequestByID(ctx context.Context, id string) (*FriendRequest, error)
	FriendRequestBetween(ctx context.Context, from, to string) (*FriendRequest, error)
	DeleteFriendRequest(ctx context.Context, id string) error // ErrNotFound if absent
	FriendRequestsTo(ctx context.Context, userID string) ([]FriendRequest, error)
	FriendRequestsFrom(ctx context.Context, userID string) ([]FriendRequest, error)
}

// Messages stores chat messages.
type Messages interface {
	// InsertMessage stores m; ErrDuplicate when (room, seq) or (room,
	// from, client_msg_id) exists: MessageByClientID tells which.
	InsertMessage(ctx context.Context, m *Message) error
	// MessageByClientID returns the message from stored in roomID under
	// clientMsgID, or ErrNotFound. The same client_msg_id in another room
	// is another message. Stores with replicas read it from the primary.
	MessageByClientID(ctx context.Context, roomID, from, clientMsgID string) (*Message, error)
	// MessagesAfter returns up to limit messages with seq > after, ascending.
	MessagesAfter(ctx context.Context, roomID string, after int64, limit int) ([]Message, error)
	// MessagesBefore returns up to limit messages with seq < before, descending.
	MessagesBefore(ctx context.Context, roomID string, before int64, limit int) ([]Message, error)
	LastMessage(ctx context.Context, roomID string) (*Message, error) // ErrNotFound when empty
	// CountAfter counts the messages with seq > after not sent by exclude
	// (the unread count): holes and change events (Message.IsEvent) are
	// not counted; recalled messages are.
	CountAfter(ctx context.Context, roomID string, after int64, exclude string) (int64, error)

	// MessageAt returns the message at (room, seq), a hole or an event
	// included; ErrNotFound if there is none.
	MessageAt(ctx context.Context, roomID string, seq int64) (*Message, error)
	// MessagesAt returns the messages of the room at these seqs (holes and
	// events included), ascending by seq, each once; seqs with no message
	// are skipped. It takes at most MaxSeqs seqs (more is an error); none
	// returns none. For the quotes of the replies of a page.
	MessagesAt(ctx context.Context, roomID string, seqs []int64) ([]Message, error)
	// EditMessage replaces the body of the message at (room, seq) and sets
	// its EditedAt to at (a zero at: now). Only a message proper can be
	// edited: ErrNotFound if there is none at (room, seq) or it is a hole
	// or a change event, ErrRecalled if it was recalled. The store checks
	// nothing else (sender, kind, age): the caller does.
	EditMessage(ctx context.Context, roomID string, seq int64, body string, at time.Time) error
	// RecallMessage recalls the message at (room, seq): Recalled is set,
	// Body and Extra emptied, Mentions removed; the rest (kind, sender,
	// times, ReplyTo) is kept. Recalling again succeeds and changes
	// nothing. ErrNotFound as for EditMessage.
	RecallMessage(ctx context.Context, roomID string, seq int64) error
}

// Reactions stores who reacted to a message with which emoji. The stores
// count rows (one a reaction), never keep counters, so counts stay exact
// under concurrency everywhere. A store checks neither that the message
// exists nor the emoji: the caller does.
type Reactions interface {
	// AddReaction stores r; ErrDuplicate if the user already reacted to
	// the message with that emoji. A zero CreatedAt is set to now;
	// CreatedAt is normalised in place.
	AddReaction(ctx context.Context, r *Reaction) error
	// RemoveReaction deletes one reaction; ErrNotFound if absent.
	RemoveReaction(ctx context.Context, roomID string, seq int64, userID, emoji string) error
	// ReactionCounts returns, for each seq of seqs that has reactions, the
	// count of each emoji, ordered by the time of the emoji's first
	// reaction on that message (then by emoji), with Mine set where userID
	// is one of the reactors. Seqs without reactions are absent from the
	// map, which is never nil. At most MaxSeqs seqs (more is an error).
	ReactionCounts(ctx context.Context, roomID string, seqs []int64, userID string) (map[int64][]ReactionCount, error)
	// Reactors lists the reactions with emoji to (room, seq), ordered by
	// time then user id: up to limit of them after the one of the user
	// afterUser ("" for the first page). A limit <= 0 means 50, and limits
	// above 1000 are lowered to it (as MessagesAfter). ErrNotFound if
	// afterUser is not "" and has no such reaction (any more): the caller
	// starts over.
	Reactors(ctx context.Context, roomID string, seq int64, emoji, afterUser string, limit int) ([]Reaction, error)
}

// Hidden stores the messages a user deleted for themself ("delete for
// me"): hidden from that user's history only.
type Hidden interface {
	// HideMessages hides the messages at seqs of the room from userID.
	// Hiding one again is fine; at most MaxSeqs seqs (more is an error).
	// The store does not check that the messages exist.
	HideMessages(ctx context.Context, userID, roomID string, seqs []int64) error
	// HiddenSeqs returns the seqs in [from, to] the user hid in the room,
	// ascending. The range is meant to be a page's.
	HiddenSeqs(ctx context.Context, userID, roomID string, from, to int64) ([]int64, error)
}

// Files stores the records of uploaded attachments (see File).
type Files interface {
	// CreateFile stores f; ErrDuplicate if its id exists. A zero
	// CreatedAt is set to now; CreatedAt is normalised in place.
	CreateFile(ctx context.Context, f *File) error
	// FileByID returns a file, deleted or not; ErrNotFound if absent.
	FileByID(ctx context.Context, id string) (*File, error)
	// AttachFile records the seq of the message that carries the file
	// (seq > 0). It succeeds once: ErrConflict if the file is attached to
	// another seq already (the same seq again: nil), ErrNotFound if it is
	// absent or deleted. Of racing calls with different seqs exactly one
	// succeeds.
	AttachFile(ctx context.Context, id string, seq int64) error
	// MarkFileDeleted removes access to the file (Deleted); twice is fine.
	// ErrNotFound if absent.
	MarkFileDeleted(ctx context.Context, id string) error
	// OrphanFiles returns up to limit files never attached (MessageSeq 0,
	// deleted or not) created before the given time (to the millisecond),
	// oldest first (then by id), for the sweep that deletes their blobs
	// and then their records (DeleteFile). A limit <= 0 returns none.
	OrphanFiles(ctx context.Context, before time.Time, limit int) ([]File, error)
	// DeleteFile removes the record; an absent one is fine.
	DeleteFile(ctx context.Context, id string) error
	// FilesOfMessage returns the files attached to the message at (room,
	// seq), deleted or not, oldest first (then by id): a recall removes
	// access to them.
	FilesOfMessage(ctx context.Context, roomID string, seq int64) ([]File, error)
}

// Tokens stores refresh tokens.
type Tokens interface {
	InsertRefreshToken(ctx context.Context, t *RefreshToken) error
	RefreshToken(ctx context.Context, hash string) (*RefreshToken, error)
	// ConsumeRefreshToken marks the token used. It succeeds once per token:
	// a second call returns ErrDuplicate (a reuse).
	ConsumeRefreshToken(ctx context.Context, hash string) error
	// RevokeFamily records the family as revoked (twice is fine) and marks
	// the session with that id (if any) Revoked.
	RevokeFamily(ctx context.Context, family string) error
	FamilyRevoked(ctx context.Context, family string) (bool, error)

	// CreateSession stores a new session; ErrDuplicate on its id.
	CreateSession(ctx context.Context, s *Session) error
	// Session returns one session, revoked or not; ErrNotFound if absent.
	Session(ctx context.Context, id string) (*Session, error)
	// SessionsOf returns the user's sessions that are not revoked (expired
	// ones included: the caller filters by time), oldest first.
	SessionsOf(ctx context.Context, userID string) ([]Session, error)
	// TouchSession records a use: LastUsedAt, ExpiresAt and IP are set
	// (ip only when not empty). ErrNotFound if absent.
	TouchSession(ctx context.Context, id string, usedAt, expiresAt time.Time, ip string) error
	// PurgeExpired deletes up to limit refresh tokens (used or not) and up
	// to limit sessions (with their revoked-family records and push tokens)
	// that expired before the given time, and returns how many tokens and
	// sessions it deleted. A sweep calls it until it returns less than it
	// could.
	PurgeExpired(ctx context.Context, before time.Time, limit int) (int, error)
}

// Store is everything the services need.
type Store interface {
	Users
	Rooms
	Friends
	Blocks
	Messages
	Reactions
	Hidden
	Files
	Tokens
	GroupAdmin
	Admin
	Identities
	PushTokens
	Ping(ctx context.Context) error
	Close(ctx context.Context) error
}

// Ban is an operator's ban of a user (the admin API): one per user,
// unique on UserID. A banned user cannot log in or refresh a session.
type Ban struct {
	UserID    string
	Reason    string
	CreatedAt time.Time
}

// MaxBanIDs is the most user ids one BansOf call takes; more is an error.
const MaxBanIDs = 1000

// Admin stores what the admin API needs: bans, and pages of every user and
// every room, in id order (ids are ULIDs, so that is creation order).
type Admin interface {
	// PutBan stores b, replacing the user's ban if there is one. A zero
	// CreatedAt is set to now; CreatedAt is normalised in place.
	PutBan(ctx context.Context, b *Ban) error
	// DeleteBan removes the user's ban; ErrNotFound if there is none.
	DeleteBan(ctx context.Context, userID string) error
	// BanOf returns the user's ban; ErrNotFound if there is none.
	BanOf(ctx context.Context, userID string) (*Ban, error)
	// BansOf returns the bans of those of userIDs that are banned, in no
	// particular order. At most MaxBanIDs ids (more is an error).
	BansOf(ctx context.Context, userIDs []string) ([]Ban, error)
	// UsersPage returns up to limit users (deleted ones included) with an
	// id above afterID ("" for the first page), ascending by id. A limit
	// <= 0 means 50; limits above 1000 are lowered to it.
	UsersPage(ctx context.Context, afterID string, limit int) ([]User, error)
	// RoomsPage returns up to limit rooms (disbanded ones included) with
	// an id above afterID, ascending by id: groups only when groupsOnly,
	// else every room. Limits as UsersPage.
	RoomsPage(ctx context.Context, afterID string, groupsOnly bool, limit int) ([]Room, error)
}

// Identity links a user of an external identity provider (the host app's
// IdP: its issuer and the token's subject) to a user of this service,
// unique on (Issuer, Subject). It is created the first time a token of the
// provider is seen for that subject.
type Identity struct {
	Issuer    string
	Subject   string
	UserID    string
	CreatedAt time.Time
}

// Identities stores the links of external identities to users.
type Identities interface {
	// CreateIdentity stores id; ErrDuplicate when (Issuer, Subject) is
	// already linked (the caller lost a race: it reads the winner's link
	// with IdentityBySubject). A zero CreatedAt is set to the current time;
	// CreatedAt is normalised in place.
	CreateIdentity(ctx context.Context, id *Identity) error
	// IdentityBySubject returns the link of (issuer, subject), or
	// ErrNotFound.
	IdentityBySubject(ctx context.Context, issuer, subject string) (*Identity, error)
}

// PushToken is a device's push token (FCM, APNs or Web Push) registered by
// one session of a user, unique on (Platform, Token): a token belongs to
// one session, the newest that registered it. A token is used only while
// its session is live (PushTokensOf), so an expired or revoked session's
// tokens need no sweep to stop being used.
type PushToken struct {
	UserID    string
	SessionID string
	Platform  string
	Token     string
	CreatedAt time.Time
}

// MaxPushTokenUsers is the most user ids one PushTokensOf call takes; more
// is an error.
const MaxPushTokenUsers = 1000

// PushTokens stores the push tokens of sessions.
type PushTokens interface {
	// AddPushToken stores t, replacing the record of (Platform, Token) if
	// there is one: registering a token again moves it to t's session and
	// user (and CreatedAt). A zero CreatedAt is set to now; CreatedAt is
	// normalised in place. Of racing calls for one token, one record
	// stays (the last write wins).
	AddPushToken(ctx context.Context, t *PushToken) error
	// RemovePushToken deletes the token (platform, token) if it belongs to
	// userID; ErrNotFound if there is none, or it is another user's.
	RemovePushToken(ctx context.Context, userID, platform, token string) error
	// RemovePushTokensOfSession deletes every token of the session (none
	// is fine).
	RemovePushTokensOfSession(ctx context.Context, sessionID string) error
	// PushTokensOfSession lists the session's tokens, whatever the state
	// of the session, oldest first (then by platform, token).
	PushTokensOfSession(ctx context.Context, sessionID string) ([]PushToken, error)
	// PushTokensOf returns the tokens of those of userIDs whose session is
	// live at now: stored, not revoked and expiring after now. In no
	// particular order; at most MaxPushTokenUsers ids (more is an error).
	PushTokensOf(ctx context.Context, userIDs []string, now time.Time) ([]PushToken, error)
}
