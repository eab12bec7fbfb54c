package service

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/webhook"
)

// GroupView is the JSON of a group; Members is set by Group only.
type GroupView struct {
	ID          string          `json:"id"`
	Number      string          `json:"number"`
	Name        string          `json:"name"`
	Info        string          `json:"info"`
	Owner       string          `json:"owner"`
	MemberCount int64           `json:"member_count"`
	CreatedAt   time.Time       `json:"created_at"`
	Members     []protocol.User `json:"members,omitempty"`
	// MembersTruncated: the group has more than MaxInlineMembers members
	// and Members lists the first of them by user id; GroupMembers pages
	// through all.
	MembersTruncated bool              `json:"members_truncated,omitempty"`
	MuteAll          bool              `json:"mute_all,omitempty"`
	Announcement     *AnnouncementView `json:"announcement,omitempty"`
}

func groupView(r *store.Room, count int64) GroupView {
	g := GroupView{ID: r.ID, Number: r.Number, Name: r.Name, Info: r.Info, Owner: r.Owner,
		MemberCount: count, CreatedAt: r.CreatedAt.UTC(), MuteAll: r.MuteAll}
	if r.Announcement != "" {
		g.Announcement = &AnnouncementView{Text: r.Announcement, By: r.AnnouncementBy, SetAt: r.AnnouncementAt.UTC()}
	}
	return g
}

// maxAccountsPerCall bounds the accounts one create or add names,
// whatever the group size limit.
const maxAccountsPerCall = 500

func validGroupText(name, info string) error {
	if strings.TrimSpace(name) == "" || utf8.RuneCountInString(name) > MaxGroupName || !utf8.ValidString(name) {
		return invalid("name must be 1-%d characters", MaxGroupName)
	}
	if utf8.RuneCountInString(info) > MaxGroupInfo || !utf8.ValidString(info) {
		return invalid("info must be at most %d characters", MaxGroupInfo)
	}
	return nil
}

func groupNumber() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(900_000_000))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d", 100_000_000+n.Int64()), nil
}

// CreateGroup creates a group owned by the caller, with the given friends as
// first members.
func (s *Service) CreateGroup(ctx context.Context, uid, name, info string, accounts []string) (*GroupView, error) {
	name, info = strings.TrimSpace(name), strings.TrimSpace(info)
	if err := validGroupText(name, info); err != nil {
		return nil, err
	}
	if len(accounts) > min(s.lim.MaxGroupMembers-1, maxAccountsPerCall) {
		return nil, invalid("a group starts with at most %d members", min(s.lim.MaxGroupMembers, maxAccountsPerCall+1))
	}
	members, err := s.friendsByAccount(ctx, uid, accounts)
	if err != nil {
		return nil, err
	}
	now := s.nowUTC()
	r := &store.Room{ID: s.newID(), Type: store.RoomGroup, Name: name, Info: info, Owner: uid, CreatedAt: now, UpdatedAt: now}
	for try := 0; ; try++ {
		if r.Number, err = groupNumber(); err != nil {
			return nil, protocol.Internal(err)
		}
		err = s.st.CreateRoom(ctx, r)
		if !errors.Is(err, store.ErrDuplicate) || try == 5 {
			break
		}
	}
	if err != nil {
		return nil, storeErr("group", err)
	}
	ids := append([]string{uid}, userIDs(members)...)
	if err := s.addMembers(ctx, r.ID, ids); err != nil {
		return nil, err
	}
	g := groupView(r, int64(len(ids)))
	s.event(ctx, protocol.EventGroupJoined, r.ID, map[string]any{"group": g}, ids...)
	s.emit(ctx, webhook.EventGroupCreated, "group.created:"+r.ID, map[string]any{"group": g, "members": ids, "by": uid})
	return &g, nil
}

func userIDs(us []*store.User) []string {
	ids := make([]string, len(us))
	for i, u := range us {
		ids[i] = u.ID
	}
	return ids
}

// friendsByAccount resolves accounts that must all be the caller's friends.
func (s *Service) friendsByAccount(ctx context.Context, uid string, accounts []string) ([]*store.User, error) {
	seen := map[string]bool{}
	var out []*store.User
	for _, a := range accounts {
		u, err := s.userByAccount(ctx, a)
		if err != nil {
			return nil, err
		}
		if u.ID == uid || seen[u.ID] {
			continue
		}
		seen[u.ID] = true
		if _, err := s.st.Friendship(ctx, uid, u.ID); errors.Is(err, store.ErrNotFound) {
			return nil, protocol.Errorf(protocol.CodeForbidden, "you can only add your friends (%s is not)", u.Account)
		} else if err != nil {
			return nil, storeErr("group", err)
		}
		out = append(out, u)
	}
	return out, nil
}

func (s *Service) addMembers(ctx context.Context, roomID string, ids []string) error {
	for _, id := range ids {
		m := &store.Member{RoomID: roomID, UserID: id, RoomType: store.RoomGroup, CreatedAt: s.nowUTC()}
		if err := s.st.AddMember(ctx, m); err != nil && !errors.Is(err, store.ErrDuplicate) {
			return storeErr("group", err)
		}
	}
	s.restoreMutes(ctx, roomID, ids)
	return nil
}

// group loads a live group the caller belongs to.
func (s *Service) group(ctx context.Context, uid, id string) (*store.Room, error) {
	if protocol.ValidID("id", id) != nil {
		return nil, protocol.Errorf(protocol.CodeNotFound, "no such group")
	}
	r, err := s.st.RoomByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && (r.Type != store.RoomGroup || r.Disbanded) {
		return nil, protocol.Errorf(protocol.CodeNotFound, "no such group")
	}
	if err != nil {
		return nil, storeErr("group", err)
	}
	if _, err := s.st.Member(ctx, id, uid); errors.Is(err, store.ErrNotFound) {
		return nil, protocol.Errorf(protocol.CodeForbidden, "you are not a member of this group")
	} else if err != nil {
		return nil, storeErr("group", err)
	}
	return r, nil
}

// Groups lists the caller's groups.
func (s *Service) Groups(ctx context.Context, uid string) ([]GroupView, error) {
	ms, err := s.st.MembershipsOf(ctx, uid)
	if err != nil {
		return nil, storeErr("groups", err)
	}
	out := []GroupView{}
	for _, m := range ms {
		if m.RoomType != store.RoomGroup {
			continue
		}
		r, err := s.st.RoomByID(ctx, m.RoomID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, storeErr("groups", err)
		}
		if r.Disbanded {
			continue
		}
		n, err := s.st.CountMembers(ctx, r.ID)
		if err != nil {
			return nil, storeErr("groups", err)
		}
		out = append(out, groupView(r, n))
	}
	return out, nil
}

// Group returns one of the caller's groups with its members.
func (s *Service) Group(ctx context.Context, uid, id string) (*GroupView, error) {
	r, err := s.group(ctx, uid, id)
	if err != nil {
		return nil, err
	}
	return s.groupWithMembers(ctx, r)
}

func (s *Service) groupWithMembers(ctx context.Context, r *store.Room) (*GroupView, error) {
	n, err := s.st.CountMembers(ctx, r.ID)
	if err != nil {
		return nil, storeErr("group", err)
	}
	var ms []store.Member
	if n > MaxInlineMembers {
		ms, err = s.st.MembersPage(ctx, r.ID, "", MaxInlineMembers)
	} else {
		ms, err = s.st.Members(ctx, r.ID)
		n = int64(len(ms))
	}
	if err != nil {
		return nil, storeErr("group", err)
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.UserID
	}
	users, err := s.usersByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	g := groupView(r, n)
	g.MembersTruncated = n > int64(len(ms))
	g.Members = make([]protocol.User, 0, len(ms))
	for _, id := range ids {
		if u := users[id]; u != nil {
			g.Members = append(g.Members, protocol.PublicUser(u))
		}
	}
	return &g, nil
}

// AddGroupMembers adds the caller's friends to a group the caller is in.
func (s *Service) AddGroupMembers(ctx context.Context, uid, id string, accounts []string) (*GroupView, error) {
	if len(accounts) == 0 || len(accounts) > min(s.lim.MaxGroupMembers, maxAccountsPerCall) {
		return nil, invalid("accounts must list 1-%d accounts", min(s.lim.MaxGroupMembers, maxAccountsPerCall))
	}
	r, err := s.group(ctx, uid, id)
	if err != nil {
		return nil, err
	}
	users, err := s.friendsByAccount(ctx, uid, accounts)
	if err != nil {
		return nil, err
	}
	fresh := users[:0]
	for _, u := range users {
		if _, err := s.st.Member(ctx, id, u.ID); errors.Is(err, store.ErrNotFound) {
			fresh = append(fresh, u)
		} else if err != nil {
			return nil, storeErr("group", err)
		}
	}
	users = fresh
	n, err := s.st.CountMembers(ctx, id)
	if err != nil {
		return nil, storeErr("group", err)
	}
	if n+int64(len(users)) > int64(s.lim.MaxGroupMembers) {
		return nil, groupFull(s.lim.MaxGroupMembers)
	}
	if err := s.addMembers(ctx, id, userIDs(users)); err != nil {
		return nil, err
	}
	g, err := s.groupWithMembers(ctx, r)
	if err != nil {
		return nil, err
	}
	brief := *g
	brief.Members = nil
	s.event(ctx, protocol.EventGroupJoined, id, map[string]any{"group": brief}, userIDs(users)...)
	s.membersChanged(ctx, id, uid, userIDs(users), nil)
	s.groupUpdated(ctx, brief)
	if len(users) > 0 {
		names := make([]string, len(users))
		for i, u := range users {
			names[i] = u.Account
		}
		s.systemMessage(ctx, id, uid, "members_added", strings.Join(names, ", ")+" joined the group", userIDs(users))
	}
	return g, nil
}

// groupFull is the error of a join past the group size limit.
func groupFull(limit int) error {
	return protocol.Errorf(protocol.CodeConflict, "a group has at most %d members", limit)
}

// groupUpdated tells the group's online members (one publication on the
// room's channel, whatever the group's size) that g changed.
func (s *Service) groupUpdated(ctx context.Context, g GroupView) {
	g.Members = nil
	s.roomEvent(ctx, protocol.EventGroupUpdated, g.ID, map[string]any{"group": g})
}

// groupChanged reloads r and sends group_updated.
func (s *Service) groupChanged(ctx context.Context, id string) {
	r, err := s.st.RoomByID(ctx, id)
	if err != nil {
		return
	}
	n, err := s.st.CountMembers(ctx, id)
	if err != nil {
		return
	}
	s.groupUpdated(ctx, groupView(r, n))
}

// RemoveGroupMember removes account from a group: the caller leaving, or the
// owner or an admin removing someone (admins cannot remove admins or the
// owner). The owner cannot leave; they transfer the ownership or disband.
func (s *Service) RemoveGroupMember(ctx context.Context, uid, id, account string) error {
	r, err := s.group(ctx, uid, id)
	if err != nil {
		return err
	}
	u, err := s.userByAccount(ctx, account)
	if err != nil {
		return err
	}
	if u.ID == uid && r.Owner == uid {
		return protocol.Errorf(protocol.CodeConflict, "the owner cannot leave the group; transfer the ownership or disband it")
	}
	if u.ID != uid {
		var role string
		if r, role, err = s.adminOf(ctx, uid, id, store.RoleAdmin, "remove members"); err != nil {
			return err
		}
		target, err := s.st.Member(ctx, id, u.ID)
		if errors.Is(err, store.ErrNotFound) {
			return protocol.Errorf(protocol.CodeNotFound, "not a member")
		} else if err != nil {
			return storeErr("group", err)
		}
		if err := checkOutranks(role, roleOf(r, target), "removed"); err != nil {
			return err
		}
	}
	if err := s.st.RemoveMember(ctx, id, u.ID); errors.Is(err, store.ErrNotFound) {
		return protocol.Errorf(protocol.CodeNotFound, "not a member")
	} else if err != nil {
		return storeErr("group", err)
	}
	s.event(ctx, protocol.EventGroupLeft, id, map[string]string{"group_id": id, "room_id": id}, u.ID)
	s.membersChanged(ctx, id, uid, nil, []string{u.ID})
	if u.ID == uid {
		s.systemMessage(ctx, id, uid, "member_left", u.Account+" left the group", []string{u.ID})
	} else {
		s.adminChange(ctx, id, uid, ActMemberRemoved,
			fmt.Sprintf("%s removed %s from the group", s.nameOf(ctx, uid), displayName(u)), []string{u.ID}, nil)
	}
	s.groupChanged(ctx, id)
	return nil
}

// DisbandGroup ends a group; owner only. Its history stays in the store but
// nobody can read or write it any more.
func (s *Service) DisbandGroup(ctx context.Context, uid, id string) error {
	r, err := s.group(ctx, uid, id)
	if err != nil {
		return err
	}
	if r.Owner != uid {
		return protocol.Errorf(protocol.CodeForbidden, "only the owner can disband the group")
	}
	ms, err := s.st.Members(ctx, id)
	if err != nil {
		return storeErr("group", err)
	}
	if err := s.st.MarkDisbanded(ctx, id); err != nil {
		return storeErr("group", err)
	}
	if err := s.st.RemoveAllMembers(ctx, id); err != nil {
		return storeErr("group", err)
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.UserID
	}
	s.event(ctx, protocol.EventGroupLeft, id, map[string]any{"group_id": id, "room_id": id, "disbanded": true}, ids...)
	s.emit(ctx, webhook.EventGroupDeleted, "group.deleted:"+id, map[string]any{"group_id": id, "members": ids, "by": uid})
	return nil
}
