package service

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// Joining a group besides an invitation by a member (AddGroupMembers): a
// join request that the owner or an admin approves, or an invite link.

// Bounds of joining (docs/protocol.md §5).
const (
	MaxJoinRequestMessage = 200 // characters
	// MaxPendingJoinRequests bounds a group's pending requests: one more
	// is refused (conflict). Concurrent requests may pass it by their
	// number; the list shows the oldest MaxPendingJoinRequests.
	MaxPendingJoinRequests = 500
	MinInviteTTL           = time.Minute
	MaxInviteTTL           = 30 * 24 * time.Hour
	DefaultInviteTTL       = 7 * 24 * time.Hour
	DefaultInviteUses      = 100
	// MaxInviteLinks is the most links a group lists (revoked included,
	// newest first); creating more is refused while that many are live.
	MaxInviteLinks = 50
)

// JoinRequestView is a pending join request.
type JoinRequestView struct {
	GroupID   string        `json:"group_id"`
	User      protocol.User `json:"user"`
	Message   string        `json:"message"`
	CreatedAt time.Time     `json:"created_at"`
}

// liveGroup loads a group that is not disbanded, by id or by its public
// number, for someone who is not (yet) a member.
func (s *Service) liveGroup(ctx context.Context, idOrNumber string) (*store.Room, error) {
	var r *store.Room
	var err error
	switch {
	case idOrNumber != "" && strings.Trim(idOrNumber, "0123456789") == "" && len(idOrNumber) <= 12:
		r, err = s.st.RoomByNumber(ctx, idOrNumber)
	case protocol.ValidID("id", idOrNumber) == nil:
		r, err = s.st.RoomByID(ctx, idOrNumber)
	default:
		return nil, protocol.Errorf(protocol.CodeNotFound, "no such group")
	}
	if errors.Is(err, store.ErrNotFound) || err == nil && (r.Type != store.RoomGroup || r.Disbanded) {
		return nil, protocol.Errorf(protocol.CodeNotFound, "no such group")
	}
	return r, storeErr("group", err)
}

// admins returns the ids of the group's owner and admins.
func (s *Service) admins(ctx context.Context, r *store.Room) []string {
	ids := []string{r.Owner}
	after := ""
	// Bounded: a page at a time through the members, at most the
	// group's size.
	for range s.lim.MaxGroupMembers/1000 + 2 {
		ms, err := s.st.MembersPage(ctx, r.ID, after, 1000)
		if err != nil || len(ms) == 0 {
			break
		}
		for _, m := range ms {
			if m.Role == store.RoleAdmin && m.UserID != r.Owner {
				ids = append(ids, m.UserID)
			}
		}
		after = ms[len(ms)-1].UserID
		if len(ms) < 1000 {
			break
		}
	}
	return ids
}

// RequestToJoin asks to join a group (by id or number); the owner and the
// admins get a join_request event. A member asking gets conflict.
func (s *Service) RequestToJoin(ctx context.Context, uid, idOrNumber, message string) (*JoinRequestView, error) {
	message = strings.TrimSpace(message)
	if utf8.RuneCountInString(message) > MaxJoinRequestMessage || !utf8.ValidString(message) {
		return nil, invalid("message must be at most %d characters", MaxJoinRequestMessage)
	}
	r, err := s.liveGroup(ctx, idOrNumber)
	if err != nil {
		return nil, err
	}
	if _, err := s.st.Member(ctx, r.ID, uid); err == nil {
		return nil, protocol.Errorf(protocol.CodeConflict, "you are already a member of this group")
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, storeErr("join request", err)
	}
	if ok, retry, err := s.rl.Hit(ctx, "joinreq:"+uid, s.lim.JoinRequestPerUser); err != nil {
		return nil, protocol.Unavailable(err)
	} else if !ok {
		return nil, protocol.RateLimited(retry)
	}
	pending, err := s.st.JoinRequests(ctx, r.ID, MaxPendingJoinRequests)
	if err != nil {
		return nil, storeErr("join request", err)
	}
	if len(pending) >= MaxPendingJoinRequests {
		return nil, protocol.Errorf(protocol.CodeConflict, "this group has too many pending join requests; try again later")
	}
	jr := &store.JoinRequest{RoomID: r.ID, UserID: uid, Message: message, CreatedAt: s.nowUTC()}
	if err := s.st.CreateJoinRequest(ctx, jr); errors.Is(err, store.ErrDuplicate) {
		return nil, protocol.Errorf(protocol.CodeConflict, "you already asked to join this group")
	} else if err != nil {
		return nil, storeErr("join request", err)
	}
	u, err := s.st.UserByID(ctx, uid)
	if err != nil {
		return nil, storeErr("join request", err)
	}
	v := &JoinRequestView{GroupID: r.ID, User: protocol.PublicUser(u), Message: message, CreatedAt: jr.CreatedAt.UTC()}
	s.event(ctx, EventJoinRequest, r.ID, map[string]any{"status": "pending", "request": v,
		"group": groupView(r, 0)}, s.admins(ctx, r)...)
	return v, nil
}

// JoinRequests lists a group's pending requests, oldest first. Owner and
// admins.
func (s *Service) JoinRequests(ctx context.Context, uid, id string) ([]JoinRequestView, error) {
	if _, _, err := s.adminOf(ctx, uid, id, store.RoleAdmin, "see join requests"); err != nil {
		return nil, err
	}
	rs, err := s.st.JoinRequests(ctx, id, MaxPendingJoinRequests)
	if err != nil {
		return nil, storeErr("join requests", err)
	}
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.UserID
	}
	users, err := s.usersByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]JoinRequestView, 0, len(rs))
	for _, r := range rs {
		if u := users[r.UserID]; u != nil {
			out = append(out, JoinRequestView{GroupID: id, User: protocol.PublicUser(u), Message: r.Message, CreatedAt: r.CreatedAt.UTC()})
		}
	}
	return out, nil
}

// AnswerJoinRequest approves (the user joins) or declines account's
// request. Owner and admins. The requester and the admins get a
// join_request event with the outcome.
func (s *Service) AnswerJoinRequest(ctx context.Context, uid, id, account string, approve bool) error {
	r, _, err := s.adminOf(ctx, uid, id, store.RoleAdmin, "answer join requests")
	if err != nil {
		return err
	}
	u, err := s.userByAccount(ctx, account)
	if err != nil {
		return err
	}
	if _, err := s.st.JoinRequest(ctx, id, u.ID); errors.Is(err, store.ErrNotFound) {
		return protocol.Errorf(protocol.CodeNotFound, "%s has no pending request to join this group", u.Account)
	} else if err != nil {
		return storeErr("join request", err)
	}
	status := "declined"
	if approve {
		status = "approved"
		if err := s.join(ctx, r, u, uid, "approved by "+s.nameOf(ctx, uid)); err != nil {
			return err
		}
	}
	if err := s.st.DeleteJoinRequest(ctx, id, u.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return storeErr("join request", err)
	}
	s.event(ctx, EventJoinRequest, id, map[string]any{"status": status, "group_id": id, "user_id": u.ID, "by": uid},
		append(s.admins(ctx, r), u.ID)...)
	return nil
}

// DeclineOrCancelJoinRequest declines account's request (owner, admins)
// or, when account is the caller's, withdraws their own.
func (s *Service) DeclineOrCancelJoinRequest(ctx context.Context, uid, idOrNumber, account string) error {
	u, err := s.userByAccount(ctx, account)
	if err != nil {
		return err
	}
	if u.ID == uid {
		return s.CancelJoinRequest(ctx, uid, idOrNumber)
	}
	return s.AnswerJoinRequest(ctx, uid, idOrNumber, account, false)
}

// CancelJoinRequest withdraws the caller's own request.
func (s *Service) CancelJoinRequest(ctx context.Context, uid, idOrNumber string) error {
	r, err := s.liveGroup(ctx, idOrNumber)
	if err != nil {
		return err
	}
	if err := s.st.DeleteJoinRequest(ctx, r.ID, uid); errors.Is(err, store.ErrNotFound) {
		return protocol.Errorf(protocol.CodeNotFound, "you have no pending request to join this group")
	} else if err != nil {
		return storeErr("join request", err)
	}
	return nil
}

// join adds u to group r (approved by actor, or through a link: how)
// under the size limit. The limit is checked by counting first: joins
// racing at the very limit may pass it by their number (at most the
// joins in flight at once); nothing else is inconsistent. A user already
// in the group is fine.
func (s *Service) join(ctx context.Context, r *store.Room, u *store.User, actor, how string) error {
	if _, err := s.st.Member(ctx, r.ID, u.ID); err == nil {
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return storeErr("join", err)
	}
	n, err := s.st.CountMembers(ctx, r.ID)
	if err != nil {
		return storeErr("join", err)
	}
	if n >= int64(s.lim.MaxGroupMembers) {
		return groupFull(s.lim.MaxGroupMembers)
	}
	m := &store.Member{RoomID: r.ID, UserID: u.ID, RoomType: store.RoomGroup, CreatedAt: s.nowUTC()}
	if err := s.st.AddMember(ctx, m); errors.Is(err, store.ErrDuplicate) {
		return nil
	} else if err != nil {
		return storeErr("join", err)
	}
	s.restoreMutes(ctx, r.ID, []string{u.ID})
	g := groupView(r, n+1)
	s.event(ctx, protocol.EventGroupJoined, r.ID, map[string]any{"group": g}, u.ID)
	s.membersChanged(ctx, r.ID, actor, []string{u.ID}, nil)
	s.adminChange(ctx, r.ID, actor, ActMemberJoined, displayName(u)+" joined the group ("+how+")", []string{u.ID},
		map[string]any{"how": strings.SplitN(how, " ", 2)[0]})
	s.groupUpdated(ctx, g)
	return nil
}

// InviteView is an invite link; Token is shown once, when it is created.
type InviteView struct {
	ID        string    `json:"id"`
	GroupID   string    `json:"group_id"`
	Token     string    `json:"token,omitempty"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	MaxUses   int       `json:"max_uses"`
	Uses      int64     `json:"uses"`
	Revoked   bool      `json:"revoked,omitempty"`
}

func inviteView(l *store.InviteLink, uses int64) InviteView {
	return InviteView{ID: l.ID, GroupID: l.RoomID, CreatedBy: l.CreatedBy, CreatedAt: l.CreatedAt.UTC(),
		ExpiresAt: l.ExpiresAt.UTC(), MaxUses: l.MaxUses, Uses: uses, Revoked: l.Revoked}
}

func tokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// CreateInvite makes an invite link valid for ttl (MinInviteTTL..
// MaxInviteTTL; 0: DefaultInviteTTL) and maxUses joins (1..the group size
// limit; 0: DefaultInviteUses). Owner and admins. The token is in the
// answer only.
func (s *Service) CreateInvite(ctx context.Context, uid, id string, ttl time.Duration, maxUses int) (*InviteView, error) {
	if ttl == 0 {
		ttl = DefaultInviteTTL
	}
	if maxUses == 0 {
		maxUses = min(DefaultInviteUses, s.lim.MaxGroupMembers)
	}
	if ttl < MinInviteTTL || ttl > MaxInviteTTL {
		return nil, invalid("expires_in_seconds must be %d-%d", int(MinInviteTTL/time.Second), int(MaxInviteTTL/time.Second))
	}
	if maxUses < 1 || maxUses > s.lim.MaxGroupMembers {
		return nil, invalid("max_uses must be 1-%d", s.lim.MaxGroupMembers)
	}
	if _, _, err := s.adminOf(ctx, uid, id, store.RoleAdmin, "create invite links"); err != nil {
		return nil, err
	}
	links, err := s.st.InviteLinks(ctx, id, MaxInviteLinks)
	if err != nil {
		return nil, storeErr("invite", err)
	}
	live := 0
	for _, l := range links {
		if !l.Revoked && l.ExpiresAt.After(s.now()) {
			live++
		}
	}
	if live >= MaxInviteLinks {
		return nil, protocol.Errorf(protocol.CodeConflict, "a group has at most %d live invite links; revoke one first", MaxInviteLinks)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, protocol.Internal(err)
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	now := s.nowUTC()
	l := &store.InviteLink{ID: s.newID(), RoomID: id, TokenHash: tokenHash(token), CreatedBy: uid,
		CreatedAt: now, ExpiresAt: now.Add(ttl), MaxUses: maxUses}
	if err := s.st.CreateInviteLink(ctx, l); err != nil {
		return nil, storeErr("invite", err)
	}
	v := inviteView(l, 0)
	s.adminChange(ctx, id, uid, ActInviteCreated, s.nameOf(ctx, uid)+" created an invite link", []string{},
		map[string]any{"invite_id": l.ID, "expires_at": v.ExpiresAt, "max_uses": maxUses})
	v.Token = token
	return &v, nil
}

// Invites lists a group's invite links (no tokens), newest first. Owner
// and admins.
func (s *Service) Invites(ctx context.Context, uid, id string) ([]InviteView, error) {
	if _, _, err := s.adminOf(ctx, uid, id, store.RoleAdmin, "see invite links"); err != nil {
		return nil, err
	}
	links, err := s.st.InviteLinks(ctx, id, MaxInviteLinks)
	if err != nil {
		return nil, storeErr("invites", err)
	}
	out := make([]InviteView, 0, len(links))
	for i := range links {
		n, err := s.st.CountInviteUses(ctx, links[i].ID)
		if err != nil {
			return nil, storeErr("invites", err)
		}
		out = append(out, inviteView(&links[i], n))
	}
	return out, nil
}

// RevokeInvite revokes an invite link of the group. Owner and admins.
func (s *Service) RevokeInvite(ctx context.Context, uid, id, linkID string) error {
	if _, _, err := s.adminOf(ctx, uid, id, store.RoleAdmin, "revoke invite links"); err != nil {
		return err
	}
	if protocol.ValidID("invite_id", linkID) != nil {
		return protocol.Errorf(protocol.CodeNotFound, "no such invite link")
	}
	l, err := s.st.InviteLinkByID(ctx, linkID)
	if errors.Is(err, store.ErrNotFound) || err == nil && l.RoomID != id {
		return protocol.Errorf(protocol.CodeNotFound, "no such invite link")
	}
	if err != nil {
		return storeErr("invite", err)
	}
	if l.Revoked {
		return nil
	}
	if err := s.st.RevokeInviteLink(ctx, linkID); err != nil {
		return storeErr("invite", err)
	}
	s.adminChange(ctx, id, uid, ActInviteRevoked, s.nameOf(ctx, uid)+" revoked an invite link", []string{},
		map[string]any{"invite_id": linkID})
	return nil
}

// maxTokenLen bounds the token a join reads (a real one has 43
// characters).
const maxTokenLen = 64

// JoinByInvite joins the group of an invite link. Errors (documented in
// docs/protocol.md §5): not_found for an unknown or revoked link or a
// disbanded group, conflict "expired" / "used up" / "group full". A member
// joining again through a link gets the group and takes no use; a user who
// used the link before, left and comes back within its expiry takes no new
// use either.
func (s *Service) JoinByInvite(ctx context.Context, uid, token string) (*GroupView, error) {
	if token == "" || len(token) > maxTokenLen {
		return nil, protocol.Errorf(protocol.CodeNotFound, "no such invite link")
	}
	l, err := s.st.InviteLinkByHash(ctx, tokenHash(token))
	if errors.Is(err, store.ErrNotFound) || err == nil && l.Revoked {
		return nil, protocol.Errorf(protocol.CodeNotFound, "no such invite link (it may have been revoked)")
	}
	if err != nil {
		return nil, storeErr("invite", err)
	}
	r, err := s.liveGroup(ctx, l.RoomID)
	if err != nil {
		return nil, err
	}
	if _, err := s.st.Member(ctx, r.ID, uid); err == nil {
		return s.Group(ctx, uid, r.ID)
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, storeErr("invite", err)
	}
	if !s.now().Before(l.ExpiresAt) {
		return nil, protocol.Errorf(protocol.CodeConflict, "this invite link expired at %s", l.ExpiresAt.UTC().Format(time.RFC3339))
	}
	u, err := s.st.UserByID(ctx, uid)
	if err != nil {
		return nil, storeErr("invite", err)
	}
	n, err := s.st.CountMembers(ctx, r.ID)
	if err != nil {
		return nil, storeErr("invite", err)
	}
	if n >= int64(s.lim.MaxGroupMembers) {
		return nil, groupFull(s.lim.MaxGroupMembers)
	}
	if _, _, err := store.UseInviteLink(ctx, s.st, l, uid, s.nowUTC()); errors.Is(err, store.ErrExhausted) {
		return nil, protocol.Errorf(protocol.CodeConflict, "this invite link was used up (%d uses)", l.MaxUses)
	} else if err != nil {
		return nil, storeErr("invite", fmt.Errorf("use invite link: %w", err))
	}
	if err := s.join(ctx, r, u, uid, "invite link"); err != nil {
		return nil, err
	}
	return s.Group(ctx, uid, r.ID)
}
