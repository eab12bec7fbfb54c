package mongo

import (
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/internal/storeutil"
)

// The record types below are the documents as stored. Their bson field
// names (and, through the Go kinds, the BSON types) are a stable on-disk
// layout documented in docs/protocol.md §12 and must not change; the domain
// types of package store carry no tags. Every read and write of a store
// type goes through a record and its toX/fromX pair.
//
// Memberships and friendships have no id of their own: the driver adds an
// ObjectID _id on insert, which reads ignore.

type userDoc struct {
	ID           string    `bson:"_id"`
	Account      string    `bson:"account"`
	Email        string    `bson:"email"` // lower-cased
	PasswordHash string    `bson:"password"`
	Nickname     string    `bson:"nickname"`
	Avatar       string    `bson:"avatar"`
	Sex          int       `bson:"sex"`
	CreatedAt    time.Time `bson:"created_at"`
	UpdatedAt    time.Time `bson:"updated_at"`
	// DeletedAt is absent for a live account.
	DeletedAt time.Time `bson:"deleted_at,omitempty"`
	// ReleasePending repeats DeletedAt while the deleted account's name
	// and email wait for ReleaseDeleted, which removes it: its sparse
	// index holds only those accounts. Reads ignore it.
	ReleasePending time.Time `bson:"release_pending,omitempty"`
}

// presenceDoc is one document of CollUserPresence: _id "<user>/hide" with
// Hide, or "<user>/seen" with At.
type presenceDoc struct {
	ID   string    `bson:"_id"`
	User string    `bson:"user"`
	Hide bool      `bson:"hide,omitempty"`
	At   time.Time `bson:"at,omitempty"`
}

func fromUser(u *store.User) userDoc {
	return userDoc{
		ID: u.ID, Account: u.Account, Email: u.Email, PasswordHash: u.PasswordHash,
		Nickname: u.Nickname, Avatar: u.Avatar, Sex: u.Sex,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
		DeletedAt: u.DeletedAt, ReleasePending: u.DeletedAt,
	}
}

func (d *userDoc) toUser() store.User {
	return store.User{
		ID: d.ID, Account: d.Account, Email: d.Email, PasswordHash: d.PasswordHash,
		Nickname: d.Nickname, Avatar: d.Avatar, Sex: d.Sex,
		CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, DeletedAt: d.DeletedAt,
	}
}

type roomDoc struct {
	ID        string    `bson:"_id"`
	Type      int       `bson:"room_type"`
	Number    string    `bson:"number,omitempty"`
	Name      string    `bson:"name,omitempty"`
	Info      string    `bson:"info,omitempty"`
	Owner     string    `bson:"user_identity,omitempty"`
	PairKey   string    `bson:"pair_key,omitempty"`
	Disbanded bool      `bson:"disbanded,omitempty"`
	CreatedAt time.Time `bson:"created_at"`
	UpdatedAt time.Time `bson:"updated_at"`
	// Group administration (0006): absent until set.
	MuteAll        bool      `bson:"mute_all,omitempty"`
	Announcement   string    `bson:"announcement,omitempty"`
	AnnouncementBy string    `bson:"announcement_by,omitempty"`
	AnnouncementAt time.Time `bson:"announcement_at,omitempty"`
}

func fromRoom(r *store.Room) roomDoc {
	return roomDoc{
		ID: r.ID, Type: int(r.Type), Number: r.Number, Name: r.Name, Info: r.Info,
		Owner: r.Owner, PairKey: r.PairKey, Disbanded: r.Disbanded,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		MuteAll: r.MuteAll, Announcement: r.Announcement, AnnouncementBy: r.AnnouncementBy, AnnouncementAt: r.AnnouncementAt,
	}
}

func (d *roomDoc) toRoom() store.Room {
	return store.Room{
		ID: d.ID, Type: store.RoomType(d.Type), Number: d.Number, Name: d.Name, Info: d.Info,
		Owner: d.Owner, PairKey: d.PairKey, Disbanded: d.Disbanded,
		CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt,
		MuteAll: d.MuteAll, Announcement: d.Announcement, AnnouncementBy: d.AnnouncementBy, AnnouncementAt: utcOrZero(d.AnnouncementAt),
	}
}

type memberDoc struct {
	RoomID    string    `bson:"room_identity"`
	UserID    string    `bson:"user_identity"`
	RoomType  int       `bson:"room_type"`
	ReadSeq   int64     `bson:"read_seq"`
	CreatedAt time.Time `bson:"created_at"`
	// MentionSeq is absent until a message mentions the member.
	MentionSeq int64 `bson:"mention_seq,omitempty"`
	// Role ("admin") and MutedUntil are absent for a plain member never
	// muted (0006).
	Role       string    `bson:"role,omitempty"`
	MutedUntil time.Time `bson:"muted_until,omitempty"`
}

func fromMember(m *store.Member) memberDoc {
	return memberDoc{
		RoomID: m.RoomID, UserID: m.UserID, RoomType: int(m.RoomType),
		ReadSeq: m.ReadSeq, CreatedAt: m.CreatedAt, MentionSeq: m.MentionSeq,
		Role: m.Role, MutedUntil: m.MutedUntil,
	}
}

func (d *memberDoc) toMember() store.Member {
	return store.Member{
		RoomID: d.RoomID, UserID: d.UserID, RoomType: store.RoomType(d.RoomType),
		ReadSeq: d.ReadSeq, MentionSeq: d.MentionSeq, CreatedAt: d.CreatedAt,
		Role: d.Role, MutedUntil: utcOrZero(d.MutedUntil),
	}
}

type friendshipDoc struct {
	UserA     string    `bson:"user_a"`
	UserB     string    `bson:"user_b"`
	RoomID    string    `bson:"room_identity"`
	CreatedAt time.Time `bson:"created_at"`
}

func fromFriendship(f *store.Friendship) friendshipDoc {
	return friendshipDoc{UserA: f.UserA, UserB: f.UserB, RoomID: f.RoomID, CreatedAt: f.CreatedAt}
}

func (d *friendshipDoc) toFriendship() store.Friendship {
	return store.Friendship{UserA: d.UserA, UserB: d.UserB, RoomID: d.RoomID, CreatedAt: d.CreatedAt}
}

type requestDoc struct {
	ID        string    `bson:"_id"`
	From      string    `bson:"from"`
	To        string    `bson:"to"`
	Message   string    `bson:"message"`
	CreatedAt time.Time `bson:"created_at"`
}

func fromRequest(r *store.FriendRequest) requestDoc {
	return requestDoc{ID: r.ID, From: r.From, To: r.To, Message: r.Message, CreatedAt: r.CreatedAt}
}

func (d *requestDoc) toRequest() store.FriendRequest {
	return store.FriendRequest{ID: d.ID, From: d.From, To: d.To, Message: d.Message, CreatedAt: d.CreatedAt}
}

// messageDoc is a message. The fields of rich messages are absent when
// empty, so a plain text message keeps the layout of before them, and a
// message stored before them reads as kind "" (text).
type messageDoc struct {
	ID          string    `bson:"_id"`
	RoomID      string    `bson:"room_identity"`
	Seq         int64     `bson:"seq"`
	From        string    `bson:"user_identity"`
	Body        string    `bson:"data"`
	ClientMsgID string    `bson:"client_msg_id"`
	CreatedAt   time.Time `bson:"created_at"`
	Hole        bool      `bson:"hole,omitempty"`
	Kind        string    `bson:"kind,omitempty"`
	ReplyTo     int64     `bson:"reply_to,omitempty"`
	Mentions    []string  `bson:"mentions,omitempty"`
	Extra       string    `bson:"extra,omitempty"` // a JSON object as text
	Target      int64     `bson:"target,omitempty"`
	EditedAt    time.Time `bson:"edited_at,omitempty"`
	Recalled    bool      `bson:"recalled,omitempty"`
}

func fromMessage(m *store.Message) messageDoc {
	return messageDoc{
		ID: m.ID, RoomID: m.RoomID, Seq: m.Seq, From: m.From, Body: m.Body,
		ClientMsgID: m.ClientMsgID, CreatedAt: m.CreatedAt, Hole: m.Hole,
		Kind: m.Kind, ReplyTo: m.ReplyTo, Mentions: m.Mentions, Extra: m.Extra, Target: m.Target,
		EditedAt: m.EditedAt, Recalled: m.Recalled,
	}
}

func (d *messageDoc) toMessage() store.Message {
	m := store.Message{
		ID: d.ID, RoomID: d.RoomID, Seq: d.Seq, From: d.From, Body: d.Body,
		ClientMsgID: d.ClientMsgID, CreatedAt: d.CreatedAt, Hole: d.Hole,
		Kind: d.Kind, ReplyTo: d.ReplyTo, Mentions: d.Mentions, Extra: d.Extra, Target: d.Target,
		EditedAt: d.EditedAt, Recalled: d.Recalled,
	}
	storeutil.NormaliseMentions(&m)
	return m
}

// reactionDoc is one reaction, unique on (room, seq, emoji, user); the
// driver adds an ObjectID _id, which reads ignore.
type reactionDoc struct {
	RoomID    string    `bson:"room_identity"`
	Seq       int64     `bson:"seq"`
	Emoji     string    `bson:"emoji"`
	UserID    string    `bson:"user_identity"`
	CreatedAt time.Time `bson:"created_at"`
}

func fromReaction(r *store.Reaction) reactionDoc {
	return reactionDoc{RoomID: r.RoomID, Seq: r.Seq, Emoji: r.Emoji, UserID: r.UserID, CreatedAt: r.CreatedAt}
}

func (d *reactionDoc) toReaction() store.Reaction {
	return store.Reaction{RoomID: d.RoomID, Seq: d.Seq, UserID: d.UserID, Emoji: d.Emoji, CreatedAt: d.CreatedAt}
}

func (d *reactionDoc) toRow() storeutil.ReactionRow {
	return storeutil.ReactionRow{Seq: d.Seq, UserID: d.UserID, Emoji: d.Emoji, CreatedAt: d.CreatedAt}
}

// hiddenDoc is a message a user hid, unique on (user, room, seq); the
// driver adds an ObjectID _id.
type hiddenDoc struct {
	UserID string `bson:"user_identity"`
	RoomID string `bson:"room_identity"`
	Seq    int64  `bson:"seq"`
}

// fileDoc is an uploaded attachment. message_seq (0 until attached) and
// deleted are always written, so that the sweep can match them.
type fileDoc struct {
	ID          string    `bson:"_id"`
	RoomID      string    `bson:"room_identity"`
	UploaderID  string    `bson:"user_identity"`
	Name        string    `bson:"name"`
	Size        int64     `bson:"size"`
	ContentType string    `bson:"content_type"`
	Width       int       `bson:"width"`
	Height      int       `bson:"height"`
	Key         string    `bson:"blob_key"`
	ThumbKey    string    `bson:"thumb_key"`
	ThumbType   string    `bson:"thumb_type"`
	CreatedAt   time.Time `bson:"created_at"`
	MessageSeq  int64     `bson:"message_seq"`
	Deleted     bool      `bson:"deleted"`
}

func fromFile(f *store.File) fileDoc {
	return fileDoc{
		ID: f.ID, RoomID: f.RoomID, UploaderID: f.UploaderID, Name: f.Name, Size: f.Size,
		ContentType: f.ContentType, Width: f.Width, Height: f.Height, Key: f.Key, ThumbKey: f.ThumbKey,
		ThumbType: f.ThumbType, CreatedAt: f.CreatedAt, MessageSeq: f.MessageSeq, Deleted: f.Deleted,
	}
}

func (d *fileDoc) toFile() store.File {
	return store.File{
		ID: d.ID, RoomID: d.RoomID, UploaderID: d.UploaderID, Name: d.Name, Size: d.Size,
		ContentType: d.ContentType, Width: d.Width, Height: d.Height, Key: d.Key, ThumbKey: d.ThumbKey,
		ThumbType: d.ThumbType, CreatedAt: d.CreatedAt, MessageSeq: d.MessageSeq, Deleted: d.Deleted,
	}
}

type tokenDoc struct {
	Hash      string    `bson:"_id"`
	Family    string    `bson:"family"`
	UserID    string    `bson:"user_id"`
	ExpiresAt time.Time `bson:"expires_at"`
	CreatedAt time.Time `bson:"created_at"`
}

func fromToken(t *store.RefreshToken) tokenDoc {
	return tokenDoc{Hash: t.Hash, Family: t.Family, UserID: t.UserID, ExpiresAt: t.ExpiresAt, CreatedAt: t.CreatedAt}
}

func (d *tokenDoc) toToken() store.RefreshToken {
	return store.RefreshToken{Hash: d.Hash, Family: d.Family, UserID: d.UserID, ExpiresAt: d.ExpiresAt, CreatedAt: d.CreatedAt}
}

// sessionDoc is a session; its _id is the refresh family of its tokens.
// revoked is always written (false for a live session), so that SessionsOf
// can match it.
type sessionDoc struct {
	ID         string    `bson:"_id"`
	UserID     string    `bson:"user_id"`
	Device     string    `bson:"device"`
	IP         string    `bson:"ip"`
	CreatedAt  time.Time `bson:"created_at"`
	LastUsedAt time.Time `bson:"last_used_at"`
	ExpiresAt  time.Time `bson:"expires_at"`
	Revoked    bool      `bson:"revoked"`
}

func fromSession(s *store.Session) sessionDoc {
	return sessionDoc{
		ID: s.ID, UserID: s.UserID, Device: s.Device, IP: s.IP, CreatedAt: s.CreatedAt,
		LastUsedAt: s.LastUsedAt, ExpiresAt: s.ExpiresAt, Revoked: s.Revoked,
	}
}

func (d *sessionDoc) toSession() store.Session {
	return store.Session{
		ID: d.ID, UserID: d.UserID, Device: d.Device, IP: d.IP, CreatedAt: d.CreatedAt,
		LastUsedAt: d.LastUsedAt, ExpiresAt: d.ExpiresAt, Revoked: d.Revoked,
	}
}

// idDoc is a document read for its _id only.
type idDoc struct {
	ID string `bson:"_id"`
}

// ids returns the _id of each document.
func ids(docs []idDoc) []string {
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d.ID
	}
	return out
}

// convertAll maps records to domain values with conv; nil for no records.
func convertAll[D, T any](docs []D, conv func(*D) T) []T {
	if len(docs) == 0 {
		return nil
	}
	out := make([]T, len(docs))
	for i := range docs {
		out[i] = conv(&docs[i])
	}
	return out
}

// utcOrZero is t in UTC, a zero t (an absent field) kept zero.
func utcOrZero(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

type pinDoc struct {
	RoomID    string    `bson:"room_identity"`
	Seq       int64     `bson:"seq"`
	Slot      int       `bson:"slot"`
	By        string    `bson:"by"`
	CreatedAt time.Time `bson:"created_at"`
}

func (d *pinDoc) toPin() store.Pin {
	return store.Pin{RoomID: d.RoomID, Seq: d.Seq, Slot: d.Slot, By: d.By, CreatedAt: d.CreatedAt}
}

type joinRequestDoc struct {
	RoomID    string    `bson:"room_identity"`
	UserID    string    `bson:"user_identity"`
	Message   string    `bson:"message"`
	CreatedAt time.Time `bson:"created_at"`
}

func (d *joinRequestDoc) toJoinRequest() store.JoinRequest {
	return store.JoinRequest{RoomID: d.RoomID, UserID: d.UserID, Message: d.Message, CreatedAt: d.CreatedAt}
}

type inviteLinkDoc struct {
	ID        string    `bson:"_id"`
	RoomID    string    `bson:"room_identity"`
	TokenHash string    `bson:"token_hash"`
	CreatedBy string    `bson:"created_by"`
	CreatedAt time.Time `bson:"created_at"`
	ExpiresAt time.Time `bson:"expires_at"`
	MaxUses   int       `bson:"max_uses"`
	Revoked   bool      `bson:"revoked,omitempty"`
}

func (d *inviteLinkDoc) toInviteLink() store.InviteLink {
	return store.InviteLink{ID: d.ID, RoomID: d.RoomID, TokenHash: d.TokenHash, CreatedBy: d.CreatedBy,
		CreatedAt: d.CreatedAt, ExpiresAt: d.ExpiresAt, MaxUses: d.MaxUses, Revoked: d.Revoked}
}

type inviteUseDoc struct {
	LinkID    string    `bson:"link_id"`
	N         int       `bson:"n"`
	UserID    string    `bson:"user_identity"`
	CreatedAt time.Time `bson:"created_at"`
}

func (d *inviteUseDoc) toInviteUse() store.InviteUse {
	return store.InviteUse{LinkID: d.LinkID, N: d.N, UserID: d.UserID, CreatedAt: d.CreatedAt}
}
