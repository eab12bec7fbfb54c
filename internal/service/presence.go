package service

import (
	"context"
	"errors"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/bus"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// MaxPresenceQuery is the most user ids one presence query (GET
// /v1/presence) may name.
const MaxPresenceQuery = 500

// Presence answers whether each of ids is online, as viewer may see it:
// viewer's own presence, their friends' and, with roomID (a room viewer
// is a member of), that room's members'. Anyone else, and anyone who
// hides their presence, reads offline with no last seen time: the answer
// never tells them apart. The entries follow ids, each id once.
func (s *Service) Presence(ctx context.Context, viewer string, ids []string, roomID string) ([]protocol.Presence, error) {
	if len(ids) == 0 || len(ids) > MaxPresenceQuery {
		return nil, invalid("users must list 1-%d user ids (got %d)", MaxPresenceQuery, len(ids))
	}
	uniq := make([]string, 0, len(ids))
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if err := protocol.ValidID("users", id); err != nil {
			return nil, err
		}
		if !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	visible := make(map[string]bool, len(uniq))
	visible[viewer] = true
	fs, err := s.st.FriendshipsOf(ctx, viewer)
	if err != nil {
		return nil, storeErr("presence: friends", err)
	}
	for _, f := range fs {
		visible[other(f, viewer)] = true
	}
	if roomID != "" {
		if err := s.CheckMember(ctx, viewer, roomID); err != nil {
			return nil, err
		}
		ms, err := s.st.Members(ctx, roomID)
		if err != nil {
			return nil, storeErr("presence: members", err)
		}
		for _, m := range ms {
			visible[m.UserID] = true
		}
	}
	var ask []string
	for _, id := range uniq {
		if visible[id] {
			ask = append(ask, id)
		}
	}
	out := make([]protocol.Presence, len(uniq))
	for i, id := range uniq {
		out[i].UserID = id
	}
	if len(ask) == 0 {
		return out, nil
	}
	users, err := s.usersByID(ctx, ask)
	if err != nil {
		return nil, err
	}
	var live []string
	for _, id := range ask {
		if u := users[id]; u != nil && !u.Deleted() && (!u.HidePresence || id == viewer) {
			live = append(live, id)
		}
	}
	on, err := s.online(ctx, live)
	if err != nil {
		return nil, err
	}
	for i := range out {
		id := out[i].UserID
		u := users[id]
		if u == nil || u.Deleted() || u.HidePresence && id != viewer {
			continue
		}
		if on[id] {
			out[i].Online = true
		} else if !u.LastSeenAt.IsZero() {
			at := u.LastSeenAt
			out[i].LastSeen = &at
		}
	}
	return out, nil
}

// online asks the presence records about ids; without records everyone is
// offline.
func (s *Service) online(ctx context.Context, ids []string) (map[string]bool, error) {
	m := make(map[string]bool, len(ids))
	if s.pres == nil || len(ids) == 0 {
		return m, nil
	}
	on, err := s.pres.Online(ctx, ids)
	if err != nil {
		return nil, protocol.Unavailable(err)
	}
	for i, id := range ids {
		if on[i] {
			m[id] = true
		}
	}
	return m, nil
}

// SetHidePresence changes uid's presence privacy setting. When it changes
// while they are online, their online friends are told at once: hiding
// reads as going offline (with no last seen time), showing as coming
// online.
func (s *Service) SetHidePresence(ctx context.Context, uid string, hide bool) error {
	u, err := s.st.UserByID(ctx, uid)
	if err != nil {
		return storeErr("presence setting", err)
	}
	if u.HidePresence == hide {
		return nil
	}
	if err := s.st.SetHidePresence(ctx, uid, hide); err != nil {
		return storeErr("presence setting", err)
	}
	on, err := s.online(ctx, []string{uid})
	if err != nil || !on[uid] {
		return nil // nothing to tell (or the records are unreachable: the setting is saved)
	}
	s.tellFriends(ctx, uid, protocol.Presence{UserID: uid, Online: !hide})
	return nil
}

// AnnouncePresence records and tells a presence transition of uid that the
// presence records reported (exactly once per transition): going offline
// stores the last seen time at; then uid's online friends get a `presence`
// event, unless uid hides their presence.
func (s *Service) AnnouncePresence(ctx context.Context, uid string, online bool, at time.Time) error {
	if !online {
		if err := s.st.SetLastSeen(ctx, uid, at); err != nil && !isNotFound(err) {
			return storeErr("last seen", err)
		}
	}
	u, err := s.st.UserByID(ctx, uid)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return storeErr("presence", err)
	}
	if u.HidePresence || u.Deleted() {
		return nil
	}
	p := protocol.Presence{UserID: uid, Online: online}
	if !online {
		t := at.UTC().Truncate(time.Millisecond)
		p.LastSeen = &t
	}
	s.tellFriends(ctx, uid, p)
	return nil
}

// tellFriends publishes a presence event to uid's friends who are online.
func (s *Service) tellFriends(ctx context.Context, uid string, p protocol.Presence) {
	fs, err := s.st.FriendshipsOf(ctx, uid)
	if err != nil || len(fs) == 0 {
		return
	}
	ids := make([]string, len(fs))
	for i, f := range fs {
		ids[i] = other(f, uid)
	}
	on, err := s.online(ctx, ids)
	if err != nil {
		return
	}
	to := ids[:0]
	for _, id := range ids {
		if on[id] {
			to = append(to, id)
		}
	}
	s.event(ctx, protocol.EventPresence, "", p, to...)
}

func isNotFound(err error) bool { return err != nil && errors.Is(err, store.ErrNotFound) }

// PublishTyping relays a typing state of uid in roomID to the room's
// gateways (never stored). The envelope's event names the typer
// ("typing <uid>") so that gateways leave out the typer's own connections.
// The caller checked membership and the rate.
func (s *Service) PublishTyping(ctx context.Context, uid, roomID string, on bool, expires time.Duration) {
	frame := protocol.EncodeEvent(protocol.EventTyping, protocol.Typing{RoomID: roomID, UserID: uid, On: on,
		ExpiresMS: int(expires / time.Millisecond)})
	s.publish(ctx, bus.RoomChannel(roomID), protocol.Envelope{Kind: 'e', RoomID: roomID,
		Event: protocol.EventTyping + " " + uid, Frame: frame})
}
