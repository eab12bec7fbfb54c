package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/im-websocket-go/im-websocket-go/pkg/bus"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// Group administration (issue #15): roles, transfer, admins, removal,
// mutes, mute-all, the announcement and pins. Every change is a system
// message in the room (history shows "Ada muted Bob for 1h") and a
// group_admin event on the room's channel (docs/protocol.md §5).

// Bounds of group administration (docs/protocol.md §5).
const (
	MinMute            = time.Minute
	MaxMute            = 30 * 24 * time.Hour
	MaxAnnouncement    = 2000 // characters
	MaxMembersPage     = 200
	DefaultMembersPage = 100
	// MaxInlineMembers is the most members GET /v1/groups/{id} lists; a
	// bigger group is listed page by page (GroupMembers).
	MaxInlineMembers = 500
	// maxPinTries bounds the retries of a pin whose free slot was taken
	// by a concurrent pin: each lost race is another pin landed, so
	// MaxPins+1 tries always reach an answer but for a failing store.
	maxPinTries = store.MaxPins + 1
)

// EventGroupAdmin is the event of an administrative change, sent on the
// room's channel to its online members; EventJoinRequest tells the owner
// and the admins about a join request (and the requester about its fate).
const (
	EventGroupAdmin  = "group_admin"
	EventJoinRequest = "join_request"
)

// Actions of group_admin events and events of system messages.
const (
	ActOwnerTransferred = "owner_transferred"
	ActAdminAdded       = "admin_added"
	ActAdminRemoved     = "admin_removed"
	ActMemberRemoved    = "member_removed"
	ActMemberMuted      = "member_muted"
	ActMemberUnmuted    = "member_unmuted"
	ActMuteAllOn        = "mute_all_on"
	ActMuteAllOff       = "mute_all_off"
	ActAnnouncementSet  = "announcement_set"
	ActAnnouncementGone = "announcement_cleared"
	ActMessagePinned    = "message_pinned"
	ActMessageUnpinned  = "message_unpinned"
	ActMemberJoined     = "member_joined"
	ActInviteCreated    = "invite_created"
	ActInviteRevoked    = "invite_revoked"
)

// MemberView is one member of a group as GroupMembers lists it.
type MemberView struct {
	protocol.User
	Role       string     `json:"role"`
	MutedUntil *time.Time `json:"muted_until,omitempty"`
	JoinedAt   time.Time  `json:"joined_at"`
}

// AnnouncementView is a group's pinned announcement.
type AnnouncementView struct {
	Text  string    `json:"text"`
	By    string    `json:"by"`
	SetAt time.Time `json:"set_at"`
}

// roleOf is the role of membership m in group r.
func roleOf(r *store.Room, m *store.Member) string {
	switch {
	case r.Owner == m.UserID:
		return store.RoleOwner
	case m.Role == store.RoleAdmin:
		return store.RoleAdmin
	}
	return store.RoleMember
}

// rank orders roles: owner 2, admin 1, member 0.
func rank(role string) int {
	switch role {
	case store.RoleOwner:
		return 2
	case store.RoleAdmin:
		return 1
	}
	return 0
}

// adminOf loads a live group and the caller's membership, and checks the
// caller's role is at least need ("only the owner" / "only the owner and
// the admins" can do what).
func (s *Service) adminOf(ctx context.Context, uid, id, need, what string) (*store.Room, string, error) {
	r, err := s.group(ctx, uid, id)
	if err != nil {
		return nil, "", err
	}
	m, err := s.st.Member(ctx, id, uid)
	if err != nil {
		return nil, "", storeErr("group", err)
	}
	role := roleOf(r, m)
	if rank(role) < rank(need) {
		who := "the group's owner and admins"
		if need == store.RoleOwner {
			who = "the group's owner"
		}
		return nil, "", protocol.Errorf(protocol.CodeForbidden, "only %s can %s", who, what)
	}
	return r, role, nil
}

// targetOf resolves account to a member of group r.
func (s *Service) targetOf(ctx context.Context, r *store.Room, account string) (*store.User, *store.Member, error) {
	u, err := s.userByAccount(ctx, account)
	if err != nil {
		return nil, nil, err
	}
	m, err := s.st.Member(ctx, r.ID, u.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, protocol.Errorf(protocol.CodeNotFound, "%s is not a member of this group", u.Account)
	}
	if err != nil {
		return nil, nil, storeErr("group", err)
	}
	return u, m, nil
}

// displayName is how system messages name a user.
func displayName(u *store.User) string {
	if u.Nickname != "" {
		return u.Nickname
	}
	return u.Account
}

func (s *Service) nameOf(ctx context.Context, uid string) string {
	u, err := s.st.UserByID(ctx, uid)
	if err != nil {
		return uid
	}
	return displayName(u)
}

// adminChange records an administrative change: a system message in the
// room and a group_admin event to its online members. Both are best
// effort (the change is done).
func (s *Service) adminChange(ctx context.Context, roomID, actor, action, text string, users []string, extra map[string]any) {
	details := map[string]any{"event": action, "by": actor, "users": users}
	for k, v := range extra {
		details[k] = v
	}
	s.systemMessageDetails(ctx, roomID, actor, action, text, details)
	data := map[string]any{"group_id": roomID, "room_id": roomID, "action": action, "by": actor, "users": users}
	for k, v := range extra {
		data[k] = v
	}
	s.roomEvent(ctx, EventGroupAdmin, roomID, data)
}

// roomEvent publishes an event once, on the room's channel: every gateway
// delivers it to its online members of the room.
func (s *Service) roomEvent(ctx context.Context, name, roomID string, data any) {
	frame := protocol.EncodeEvent(name, data)
	s.publish(ctx, bus.RoomChannel(roomID), protocol.Envelope{Kind: 'e', RoomID: roomID, Event: name, Frame: frame})
}

// TransferOwnership makes account the owner; the old owner becomes an
// admin. Owner only.
func (s *Service) TransferOwnership(ctx context.Context, uid, id, account string) error {
	r, _, err := s.adminOf(ctx, uid, id, store.RoleOwner, "transfer the ownership")
	if err != nil {
		return err
	}
	u, _, err := s.targetOf(ctx, r, account)
	if err != nil {
		return err
	}
	if u.ID == uid {
		return protocol.Errorf(protocol.CodeConflict, "you already own this group")
	}
	if err := s.st.SetMemberRole(ctx, id, uid, store.RoleAdmin); err != nil {
		return storeErr("transfer", err)
	}
	if err := s.st.SetOwner(ctx, id, u.ID); err != nil {
		return storeErr("transfer", err)
	}
	// The new owner's stored role no longer matters; clear it so that a
	// later transfer away leaves them a plain admin only by SetMemberRole.
	if err := s.st.SetMemberRole(ctx, id, u.ID, ""); err != nil {
		return storeErr("transfer", err)
	}
	// A muted new owner is unmuted: the owner cannot be muted.
	if err := s.setMute(ctx, id, u.ID, time.Time{}); err != nil {
		return err
	}
	s.adminChange(ctx, id, uid, ActOwnerTransferred,
		fmt.Sprintf("%s made %s the owner of the group", s.nameOf(ctx, uid), displayName(u)), []string{u.ID}, nil)
	return nil
}

// SetAdmin appoints (admin true) or dismisses an admin. Owner only.
func (s *Service) SetAdmin(ctx context.Context, uid, id, account string, admin bool) error {
	r, _, err := s.adminOf(ctx, uid, id, store.RoleOwner, "appoint or dismiss admins")
	if err != nil {
		return err
	}
	u, m, err := s.targetOf(ctx, r, account)
	if err != nil {
		return err
	}
	if u.ID == r.Owner {
		return protocol.Errorf(protocol.CodeConflict, "the owner is not an admin; transfer the ownership instead")
	}
	if (m.Role == store.RoleAdmin) == admin {
		return nil // already so: nothing changes, nothing is told
	}
	role, action, verb := "", ActAdminRemoved, "dismissed %s as an admin"
	if admin {
		role, action, verb = store.RoleAdmin, ActAdminAdded, "made %s an admin"
	}
	if err := s.st.SetMemberRole(ctx, id, u.ID, role); err != nil {
		return storeErr("admins", err)
	}
	if admin && !m.MutedUntil.IsZero() {
		// Admins cannot be muted by admins; a muted member made admin is
		// unmuted.
		if err := s.setMute(ctx, id, u.ID, time.Time{}); err != nil {
			return err
		}
	}
	s.adminChange(ctx, id, uid, action, s.nameOf(ctx, uid)+" "+fmt.Sprintf(verb, displayName(u)), []string{u.ID}, nil)
	return nil
}

// checkOutranks enforces who may act on whom: nobody acts on the owner,
// admins do not act on admins.
func checkOutranks(actorRole, targetRole, what string) error {
	if targetRole == store.RoleOwner {
		return protocol.Errorf(protocol.CodeForbidden, "the group's owner cannot be %s", what)
	}
	if rank(targetRole) >= rank(actorRole) {
		return protocol.Errorf(protocol.CodeForbidden, "admins cannot be %s by admins", what)
	}
	return nil
}

// muteKey and muteAllKey mirror mutes into the KV (see checkMuted); one
// hash tag per room, so a Redis Cluster keeps a room's keys in one slot.
func muteKey(roomID, uid string) string { return "mute:{" + roomID + "}:" + uid }
func muteAllKey(roomID string) string   { return "muteall:{" + roomID + "}" }

// setMute stores a member's mute and mirrors it into the KV; a zero until
// unmutes.
func (s *Service) setMute(ctx context.Context, roomID, uid string, until time.Time) error {
	if err := s.st.SetMemberMute(ctx, roomID, uid, until); err != nil {
		return storeErr("mute", err)
	}
	if until.IsZero() {
		if err := s.kv.Del(ctx, muteKey(roomID, uid)); err != nil {
			return protocol.Unavailable(fmt.Errorf("unmute: %w", err))
		}
		return nil
	}
	ttl := until.Sub(s.now())
	if ttl <= 0 {
		return nil
	}
	if err := s.kv.Set(ctx, muteKey(roomID, uid), strconv.FormatInt(until.UnixMilli(), 10), ttl+time.Second); err != nil {
		return protocol.Unavailable(fmt.Errorf("mute: %w", err))
	}
	return nil
}

// MuteMember mutes account for d (MinMute..MaxMute). Owner and admins;
// the owner cannot be muted, admins cannot mute admins.
func (s *Service) MuteMember(ctx context.Context, uid, id, account string, d time.Duration) (time.Time, error) {
	if d < MinMute || d > MaxMute {
		return time.Time{}, invalid("duration_seconds must be %d-%d", int(MinMute/time.Second), int(MaxMute/time.Second))
	}
	r, role, err := s.adminOf(ctx, uid, id, store.RoleAdmin, "mute members")
	if err != nil {
		return time.Time{}, err
	}
	u, m, err := s.targetOf(ctx, r, account)
	if err != nil {
		return time.Time{}, err
	}
	if u.ID == uid {
		return time.Time{}, protocol.Errorf(protocol.CodeConflict, "you cannot mute yourself")
	}
	if err := checkOutranks(role, roleOf(r, m), "muted"); err != nil {
		return time.Time{}, err
	}
	until := s.nowUTC().Add(d)
	if err := s.setMute(ctx, id, u.ID, until); err != nil {
		return time.Time{}, err
	}
	s.adminChange(ctx, id, uid, ActMemberMuted,
		fmt.Sprintf("%s muted %s for %s", s.nameOf(ctx, uid), displayName(u), humanDuration(d)), []string{u.ID},
		map[string]any{"until": until, "duration_seconds": int64(d / time.Second)})
	return until, nil
}

// UnmuteMember lifts a member's mute. Owner and admins (admins: not of
// admins).
func (s *Service) UnmuteMember(ctx context.Context, uid, id, account string) error {
	r, role, err := s.adminOf(ctx, uid, id, store.RoleAdmin, "unmute members")
	if err != nil {
		return err
	}
	u, m, err := s.targetOf(ctx, r, account)
	if err != nil {
		return err
	}
	// Nobody unmutes themself (an admin muted by the owner stays muted).
	if err := checkOutranks(role, roleOf(r, m), "unmuted"); err != nil {
		return err
	}
	if err := s.setMute(ctx, id, u.ID, time.Time{}); err != nil {
		return err
	}
	s.adminChange(ctx, id, uid, ActMemberUnmuted, fmt.Sprintf("%s unmuted %s", s.nameOf(ctx, uid), displayName(u)), []string{u.ID}, nil)
	return nil
}

// SetMuteAll turns "only the owner and admins may send" on or off. Owner
// and admins.
func (s *Service) SetMuteAll(ctx context.Context, uid, id string, on bool) error {
	r, _, err := s.adminOf(ctx, uid, id, store.RoleAdmin, "mute everyone")
	if err != nil {
		return err
	}
	if r.MuteAll == on {
		return nil
	}
	if err := s.st.SetMuteAll(ctx, id, on); err != nil {
		return storeErr("mute all", err)
	}
	var kvErr error
	if on {
		kvErr = s.kv.Set(ctx, muteAllKey(id), "1", 0)
	} else {
		kvErr = s.kv.Del(ctx, muteAllKey(id))
	}
	if kvErr != nil {
		return protocol.Unavailable(fmt.Errorf("mute all: %w", kvErr))
	}
	action, text := ActMuteAllOff, s.nameOf(ctx, uid)+" let everyone speak again"
	if on {
		action, text = ActMuteAllOn, s.nameOf(ctx, uid)+" muted everyone but the owner and admins"
	}
	s.adminChange(ctx, id, uid, action, text, []string{}, map[string]any{"mute_all": on})
	return nil
}

// checkMuted refuses a message from a muted sender. It reads the KV
// mirror of the mutes, both keys in one round trip, so a send costs no
// store read; only while a group is muted as a whole is the sender's role
// read (owner and admins still speak).
func (s *Service) checkMuted(ctx context.Context, uid, roomID string) error {
	v, err := s.kv.GetMany(ctx, muteKey(roomID, uid), muteAllKey(roomID))
	if err != nil {
		return protocol.Unavailable(fmt.Errorf("mute check: %w", err))
	}
	if v[0] != "" {
		if ms, err := strconv.ParseInt(v[0], 10, 64); err == nil {
			if until := time.UnixMilli(ms).UTC(); until.After(s.now()) {
				return protocol.Errorf(protocol.CodeForbidden, "you are muted in this group until %s", until.Format(time.RFC3339))
			}
		}
	}
	if v[1] == "" {
		return nil
	}
	r, err := s.st.RoomByID(ctx, roomID)
	if err != nil {
		return storeErr("mute check", err)
	}
	if !r.MuteAll || r.Owner == uid {
		return nil
	}
	m, err := s.st.Member(ctx, roomID, uid)
	if err != nil {
		return storeErr("mute check", err)
	}
	if m.Role != store.RoleAdmin {
		return protocol.Errorf(protocol.CodeForbidden, "only the owner and admins can send in this group now (everyone else is muted)")
	}
	return nil
}

// restoreMutes copies into the store the mutes the KV still holds for
// users (re)joining a room: leaving and joining again does not lift a
// mute.
func (s *Service) restoreMutes(ctx context.Context, roomID string, ids []string) {
	if len(ids) == 0 {
		return
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = muteKey(roomID, id)
	}
	vals, err := s.kv.GetMany(ctx, keys...)
	if err != nil {
		return // the KV mirror is what enforces; the store's copy is for listing
	}
	for i, v := range vals {
		if ms, err := strconv.ParseInt(v, 10, 64); err == nil && v != "" {
			_ = s.st.SetMemberMute(ctx, roomID, ids[i], time.UnixMilli(ms))
		}
	}
}

// SetAnnouncement sets (text not empty) or clears the group's pinned
// announcement. Owner and admins.
func (s *Service) SetAnnouncement(ctx context.Context, uid, id, text string) (*AnnouncementView, error) {
	text = strings.TrimSpace(text)
	if utf8.RuneCountInString(text) > MaxAnnouncement || !utf8.ValidString(text) {
		return nil, invalid("text must be at most %d characters", MaxAnnouncement)
	}
	if _, _, err := s.adminOf(ctx, uid, id, store.RoleAdmin, "set the announcement"); err != nil {
		return nil, err
	}
	now := s.nowUTC()
	by := uid
	if text == "" {
		by, now = "", time.Time{}
	}
	if err := s.st.SetAnnouncement(ctx, id, text, by, now); err != nil {
		return nil, storeErr("announcement", err)
	}
	if text == "" {
		s.adminChange(ctx, id, uid, ActAnnouncementGone, s.nameOf(ctx, uid)+" removed the announcement", []string{}, nil)
		return nil, nil
	}
	a := &AnnouncementView{Text: text, By: uid, SetAt: now}
	s.adminChange(ctx, id, uid, ActAnnouncementSet, s.nameOf(ctx, uid)+" set the announcement: "+text, []string{},
		map[string]any{"announcement": a})
	return a, nil
}

// PinView is a pinned message.
type PinView struct {
	Seq      int64             `json:"seq"`
	By       string            `json:"by"`
	PinnedAt time.Time         `json:"pinned_at"`
	Message  *protocol.Message `json:"message,omitempty"`
}

// Pin pins the message at seq (at most store.MaxPins a group). Owner and
// admins. Pinning a pinned message again changes nothing.
func (s *Service) Pin(ctx context.Context, uid, id string, seq int64) error {
	if seq < 1 {
		return invalid("seq must be the seq of a message")
	}
	if _, _, err := s.adminOf(ctx, uid, id, store.RoleAdmin, "pin messages"); err != nil {
		return err
	}
	m, err := s.st.MessageAt(ctx, id, seq)
	if errors.Is(err, store.ErrNotFound) || err == nil && (m.Hole || m.IsEvent() || m.Recalled) {
		return protocol.Errorf(protocol.CodeNotFound, "no such message")
	}
	if err != nil {
		return storeErr("pin", err)
	}
	for try := 0; ; try++ {
		pins, err := s.st.Pins(ctx, id)
		if err != nil {
			return storeErr("pin", err)
		}
		used := make([]bool, store.MaxPins)
		for _, p := range pins {
			if p.Seq == seq {
				return nil
			}
			if p.Slot >= 0 && p.Slot < store.MaxPins {
				used[p.Slot] = true
			}
		}
		slot := -1
		for i, u := range used {
			if !u {
				slot = i
				break
			}
		}
		if slot < 0 {
			return protocol.Errorf(protocol.CodeConflict, "a group has at most %d pinned messages; unpin one first", store.MaxPins)
		}
		err = s.st.AddPin(ctx, &store.Pin{RoomID: id, Seq: seq, Slot: slot, By: uid, CreatedAt: s.nowUTC()})
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrDuplicate) {
			return storeErr("pin", err)
		}
		if try == maxPinTries {
			return protocol.Unavailable(fmt.Errorf("pin: no free slot after %d tries", try))
		}
	}
	s.adminChange(ctx, id, uid, ActMessagePinned, s.nameOf(ctx, uid)+" pinned a message", []string{}, map[string]any{"seq": seq})
	return nil
}

// Unpin unpins the message at seq. Owner and admins.
func (s *Service) Unpin(ctx context.Context, uid, id string, seq int64) error {
	if _, _, err := s.adminOf(ctx, uid, id, store.RoleAdmin, "unpin messages"); err != nil {
		return err
	}
	if err := s.st.RemovePin(ctx, id, seq); errors.Is(err, store.ErrNotFound) {
		return protocol.Errorf(protocol.CodeNotFound, "this message is not pinned")
	} else if err != nil {
		return storeErr("unpin", err)
	}
	s.adminChange(ctx, id, uid, ActMessageUnpinned, s.nameOf(ctx, uid)+" unpinned a message", []string{}, map[string]any{"seq": seq})
	return nil
}

// Pins lists a group's pinned messages, newest first, with the messages.
func (s *Service) Pins(ctx context.Context, uid, id string) ([]PinView, error) {
	if _, err := s.group(ctx, uid, id); err != nil {
		return nil, err
	}
	pins, err := s.st.Pins(ctx, id)
	if err != nil {
		return nil, storeErr("pins", err)
	}
	out := make([]PinView, 0, len(pins))
	if len(pins) == 0 {
		return out, nil
	}
	seqs := make([]int64, 0, len(pins))
	for _, p := range pins {
		seqs = append(seqs, p.Seq)
	}
	slices.Sort(seqs)
	ms, err := s.st.MessagesAt(ctx, id, seqs)
	if err != nil {
		return nil, storeErr("pins", err)
	}
	bySeq := make(map[int64]*store.Message, len(ms))
	for i := range ms {
		bySeq[ms[i].Seq] = &ms[i]
	}
	for _, p := range pins {
		v := PinView{Seq: p.Seq, By: p.By, PinnedAt: p.CreatedAt.UTC()}
		if m := bySeq[p.Seq]; m != nil {
			w := protocol.FromStore(m)
			v.Message = &w
		}
		out = append(out, v)
	}
	return out, nil
}

// GroupMembers lists a group's members page by page, ascending by user
// id, after the user id after ("" first), with roles and mutes; next is
// the after of the next page, "" at the end.
func (s *Service) GroupMembers(ctx context.Context, uid, id, after string, limit int) (members []MemberView, next string, err error) {
	if limit <= 0 {
		limit = DefaultMembersPage
	}
	if limit > MaxMembersPage {
		return nil, "", invalid("limit must be 1-%d", MaxMembersPage)
	}
	if after != "" && protocol.ValidID("after", after) != nil {
		return nil, "", invalid("after must be a user id")
	}
	r, err := s.group(ctx, uid, id)
	if err != nil {
		return nil, "", err
	}
	ms, err := s.st.MembersPage(ctx, id, after, limit+1)
	if err != nil {
		return nil, "", storeErr("members", err)
	}
	if len(ms) > limit {
		ms = ms[:limit]
		next = ms[limit-1].UserID
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.UserID
	}
	users, err := s.usersByID(ctx, ids)
	if err != nil {
		return nil, "", err
	}
	now := s.now()
	members = make([]MemberView, 0, len(ms))
	for i := range ms {
		m := &ms[i]
		u := users[m.UserID]
		if u == nil {
			continue
		}
		v := MemberView{User: protocol.PublicUser(u), Role: roleOf(r, m), JoinedAt: m.CreatedAt.UTC()}
		if m.MutedUntil.After(now) {
			t := m.MutedUntil.UTC()
			v.MutedUntil = &t
		}
		members = append(members, v)
	}
	return members, next, nil
}

// humanDuration writes d as "1h", "30m", "2d 3h".
func humanDuration(d time.Duration) string {
	d = d.Round(time.Minute)
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	h := d / time.Hour
	d -= h * time.Hour
	m := d / time.Minute
	var parts []string
	if days > 0 {
		parts = append(parts, fmt.Sprintf("%dd", days))
	}
	if h > 0 {
		parts = append(parts, fmt.Sprintf("%dh", h))
	}
	if m > 0 {
		parts = append(parts, fmt.Sprintf("%dm", m))
	}
	if len(parts) == 0 {
		return "0m"
	}
	return strings.Join(parts, " ")
}

// systemMessageDetails is systemMessage with the details given whole.
func (s *Service) systemMessageDetails(ctx context.Context, roomID, actor, event, text string, details map[string]any) {
	extra, _ := json.Marshal(details)
	s.systemMessageExtra(ctx, roomID, actor, event, text, string(extra))
}
