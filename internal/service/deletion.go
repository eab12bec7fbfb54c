package service

import (
	"context"
	"errors"
	"sort"

	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/webhook"
)

// DeleteAccount deletes the caller's account after checking the password:
// it leaves every friendship, pending request and group (handing a group
// it owns to its longest-standing member, or disbanding it when nobody is
// left), can no longer log in, and every session and socket ends. Its
// messages stay, shown as from a deleted user; its account name and email
// stay taken for Limits.DeletedGrace, then housekeeping frees them. Each
// step is idempotent: a call answered unavailable may be retried and
// finishes the work.
func (s *Service) DeleteAccount(ctx context.Context, uid, password string) error {
	u, err := s.Me(ctx, uid)
	if err != nil {
		return err
	}
	if err := s.checkPassword(ctx, u, password); err != nil {
		return err
	}
	if err := s.leaveEverything(ctx, uid); err != nil {
		return err
	}
	if err := s.st.MarkDeleted(ctx, uid, s.nowUTC()); err != nil {
		return storeErr("delete account", err)
	}
	if err := s.revokeAll(ctx, uid, "", RevokedDeleted); err != nil {
		return err
	}
	s.emit(ctx, webhook.EventUserDeleted, "user.deleted:"+uid, map[string]any{"user_id": uid, "account": u.Account})
	return nil
}

func (s *Service) leaveEverything(ctx context.Context, uid string) error {
	fs, err := s.st.FriendshipsOf(ctx, uid)
	if err != nil {
		return storeErr("delete account", err)
	}
	for _, f := range fs {
		if err := s.unfriend(ctx, uid, other(f, uid), f.RoomID); err != nil {
			return err
		}
	}
	in, err := s.st.FriendRequestsTo(ctx, uid)
	if err != nil {
		return storeErr("delete account", err)
	}
	out, err := s.st.FriendRequestsFrom(ctx, uid)
	if err != nil {
		return storeErr("delete account", err)
	}
	for _, r := range append(in, out...) {
		if err := s.st.DeleteFriendRequest(ctx, r.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return storeErr("delete account", err)
		}
	}
	ms, err := s.st.MembershipsOf(ctx, uid)
	if err != nil {
		return storeErr("delete account", err)
	}
	for _, m := range ms {
		if m.RoomType == store.RoomDirect {
			// A direct room without a friendship (a friendship removed
			// half-way): just leave it.
			if err := s.st.RemoveMember(ctx, m.RoomID, uid); err != nil && !errors.Is(err, store.ErrNotFound) {
				return storeErr("delete account", err)
			}
			continue
		}
		if err := s.leaveGroup(ctx, uid, m.RoomID); err != nil {
			return err
		}
	}
	return nil
}

// leaveGroup takes uid out of a group for good. An owner hands the group
// to the longest-standing member first, or disbands it when alone.
func (s *Service) leaveGroup(ctx context.Context, uid, id string) error {
	r, err := s.st.RoomByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return storeErr("leave group", err)
	}
	ms, err := s.st.Members(ctx, id)
	if err != nil {
		return storeErr("leave group", err)
	}
	rest := make([]store.Member, 0, len(ms))
	for _, m := range ms {
		if m.UserID != uid {
			rest = append(rest, m)
		}
	}
	if r.Owner == uid && !r.Disbanded {
		if len(rest) == 0 {
			if err := s.st.MarkDisbanded(ctx, id); err != nil {
				return storeErr("leave group", err)
			}
		} else {
			// The oldest admin takes over; without admins, the oldest
			// member.
			sort.Slice(rest, func(i, j int) bool {
				a, b := rest[i], rest[j]
				if aa, ba := a.Role == store.RoleAdmin, b.Role == store.RoleAdmin; aa != ba {
					return aa
				}
				return a.CreatedAt.Before(b.CreatedAt) || a.CreatedAt.Equal(b.CreatedAt) && a.UserID < b.UserID
			})
			if err := s.st.SetOwner(ctx, id, rest[0].UserID); err != nil {
				return storeErr("leave group", err)
			}
			r.Owner = rest[0].UserID
		}
	}
	if err := s.st.RemoveMember(ctx, id, uid); err != nil && !errors.Is(err, store.ErrNotFound) {
		return storeErr("leave group", err)
	}
	s.event(ctx, protocol.EventGroupLeft, id, map[string]any{"group_id": id, "room_id": id, "disbanded": len(rest) == 0}, uid)
	if len(rest) > 0 && !r.Disbanded {
		s.groupChanged(ctx, id)
	}
	return nil
}
