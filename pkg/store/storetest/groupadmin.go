package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// linkRacers join through one invite link at once; linkUses is its limit.
const (
	linkRacers = 24
	linkUses   = 7
)

func groupAdminTests() []test {
	return []test{
		{"RoleAndMute", testRoleAndMute},
		{"RoomSettings", testRoomSettings},
		{"MembersPage", testMembersPage},
		{"Pins", testPins},
		{"JoinRequests", testJoinRequests},
		{"InviteLinks", testInviteLinks},
		{"InviteUses", testInviteUses},
		{"ConcurrentInviteUses", testRaceInviteUses},
		{"ConcurrentPinSlots", testRacePinSlots},
	}
}

func testRoleAndMute(t *testing.T, s store.Store) {
	ctx := t.Context()
	createRoom(t, s, newGroup("g1", "100"))
	m := addMember(t, s, newMember("g1", "u1", 1))
	got := mustMember(t, s, "g1", "u1")
	same(t, "new member's role", got.Role, "")
	if !got.MutedUntil.IsZero() {
		t.Fatalf("new member muted until %v", got.MutedUntil)
	}
	mustNil(t, "SetMemberRole", s.SetMemberRole(ctx, "g1", "u1", store.RoleAdmin))
	mustNil(t, "SetMemberMute", s.SetMemberMute(ctx, "g1", "u1", at(30)))
	got = mustMember(t, s, "g1", "u1")
	same(t, "role", got.Role, store.RoleAdmin)
	sameTime(t, "MutedUntil", got.MutedUntil, stored(at(30)))
	same(t, "ReadSeq kept", got.ReadSeq, m.ReadSeq)
	ms, err := s.Members(ctx, "g1")
	mustNil(t, "Members", err)
	same(t, "Members carries the role", ms[0].Role, store.RoleAdmin)

	mustNil(t, "SetMemberRole back", s.SetMemberRole(ctx, "g1", "u1", ""))
	mustNil(t, "unmute", s.SetMemberMute(ctx, "g1", "u1", time.Time{}))
	got = mustMember(t, s, "g1", "u1")
	same(t, "role cleared", got.Role, "")
	if !got.MutedUntil.IsZero() {
		t.Fatalf("unmuted member muted until %v", got.MutedUntil)
	}
	wantErr(t, "SetMemberRole of no member", s.SetMemberRole(ctx, "g1", "nobody", store.RoleAdmin), store.ErrNotFound)
	wantErr(t, "SetMemberMute of no member", s.SetMemberMute(ctx, "g1", "nobody", at(3)), store.ErrNotFound)

	// A membership added with a role and a mute keeps them.
	m2 := newMember("g1", "u2", 2)
	m2.Role, m2.MutedUntil = store.RoleAdmin, at(40)
	addMember(t, s, m2)
	same(t, "added with role and mute", mustMember(t, s, "g1", "u2"), m2)
}

func testRoomSettings(t *testing.T, s store.Store) {
	ctx := t.Context()
	createRoom(t, s, newGroup("g1", "100"))
	createRoom(t, s, newDirect("d1", "a", "b"))
	byNumber, err := s.RoomByNumber(ctx, "100")
	mustNil(t, "RoomByNumber", err)
	same(t, "RoomByNumber", byNumber.ID, "g1")
	_, err = s.RoomByNumber(ctx, "101")
	wantErr(t, "RoomByNumber unknown", err, store.ErrNotFound)
	_, err = s.RoomByNumber(ctx, "")
	wantErr(t, "RoomByNumber empty", err, store.ErrNotFound)
	r := mustRoom(t, s, "g1")
	if r.MuteAll || r.Announcement != "" || !r.AnnouncementAt.IsZero() {
		t.Fatalf("new room has settings: %+v", r)
	}
	mustNil(t, "SetMuteAll", s.SetMuteAll(ctx, "g1", true))
	mustNil(t, "SetAnnouncement", s.SetAnnouncement(ctx, "g1", "read the rules", "u1", at(9)))
	r = mustRoom(t, s, "g1")
	same(t, "MuteAll", r.MuteAll, true)
	same(t, "Announcement", r.Announcement, "read the rules")
	same(t, "AnnouncementBy", r.AnnouncementBy, "u1")
	sameTime(t, "AnnouncementAt", r.AnnouncementAt, stored(at(9)))
	same(t, "Name kept", r.Name, "g g1")

	mustNil(t, "SetMuteAll off", s.SetMuteAll(ctx, "g1", false))
	mustNil(t, "clear announcement", s.SetAnnouncement(ctx, "g1", "", "", time.Time{}))
	r = mustRoom(t, s, "g1")
	if r.MuteAll || r.Announcement != "" || r.AnnouncementBy != "" || !r.AnnouncementAt.IsZero() {
		t.Fatalf("cleared settings: %+v", r)
	}
	wantErr(t, "SetMuteAll of no room", s.SetMuteAll(ctx, "nope", true), store.ErrNotFound)
	wantErr(t, "SetAnnouncement of no room", s.SetAnnouncement(ctx, "nope", "x", "u", at(1)), store.ErrNotFound)
}

func testMembersPage(t *testing.T, s store.Store) {
	ctx := t.Context()
	createRoom(t, s, newGroup("g1", "100"))
	for i := range 7 {
		addMember(t, s, newMember("g1", fmt.Sprintf("u%d", 6-i), i)) // added in reverse id order
	}
	addMember(t, s, newMember("g2", "u0", 1))
	var ids []string
	after := ""
	for range 10 {
		page, err := s.MembersPage(ctx, "g1", after, 3)
		mustNil(t, "MembersPage", err)
		if len(page) == 0 {
			break
		}
		for _, m := range page {
			ids = append(ids, m.UserID)
		}
		after = page[len(page)-1].UserID
	}
	same(t, "pages by user id", ids, []string{"u0", "u1", "u2", "u3", "u4", "u5", "u6"})
	page, err := s.MembersPage(ctx, "g1", "", 0)
	mustNil(t, "MembersPage default limit", err)
	same(t, "default limit takes all 7", len(page), 7)
}

func testPins(t *testing.T, s store.Store) {
	ctx := t.Context()
	p1 := &store.Pin{RoomID: "g1", Seq: 5, Slot: 0, By: "u1", CreatedAt: at(1)}
	mustNil(t, "AddPin", s.AddPin(ctx, p1))
	sameTime(t, "CreatedAt normalised", p1.CreatedAt, stored(at(1)))
	mustNil(t, "AddPin 2", s.AddPin(ctx, &store.Pin{RoomID: "g1", Seq: 9, Slot: 1, By: "u2", CreatedAt: at(2)}))
	mustNil(t, "AddPin other room", s.AddPin(ctx, &store.Pin{RoomID: "g2", Seq: 5, Slot: 0, By: "u2", CreatedAt: at(2)}))
	wantErr(t, "same seq", s.AddPin(ctx, &store.Pin{RoomID: "g1", Seq: 5, Slot: 7, By: "u1"}), store.ErrDuplicate)
	wantErr(t, "same slot", s.AddPin(ctx, &store.Pin{RoomID: "g1", Seq: 6, Slot: 1, By: "u1"}), store.ErrDuplicate)
	pins, err := s.Pins(ctx, "g1")
	mustNil(t, "Pins", err)
	if len(pins) != 2 || pins[0].Seq != 9 || pins[1].Seq != 5 {
		t.Fatalf("Pins = %+v, want seqs 9, 5 (newest first)", pins)
	}
	same(t, "pin", pins[1], *p1)
	mustNil(t, "RemovePin", s.RemovePin(ctx, "g1", 5))
	wantErr(t, "RemovePin again", s.RemovePin(ctx, "g1", 5), store.ErrNotFound)
	mustNil(t, "slot 0 free again", s.AddPin(ctx, &store.Pin{RoomID: "g1", Seq: 6, Slot: 0, By: "u1"}))
}

func testJoinRequests(t *testing.T, s store.Store) {
	ctx := t.Context()
	r1 := &store.JoinRequest{RoomID: "g1", UserID: "u2", Message: "let me in", CreatedAt: at(2)}
	mustNil(t, "CreateJoinRequest", s.CreateJoinRequest(ctx, r1))
	mustNil(t, "CreateJoinRequest 2", s.CreateJoinRequest(ctx, &store.JoinRequest{RoomID: "g1", UserID: "u1", CreatedAt: at(3)}))
	mustNil(t, "other room", s.CreateJoinRequest(ctx, &store.JoinRequest{RoomID: "g2", UserID: "u2", CreatedAt: at(1)}))
	wantErr(t, "again", s.CreateJoinRequest(ctx, &store.JoinRequest{RoomID: "g1", UserID: "u2"}), store.ErrDuplicate)
	got, err := s.JoinRequest(ctx, "g1", "u2")
	mustNil(t, "JoinRequest", err)
	same(t, "JoinRequest", *got, *r1)
	list, err := s.JoinRequests(ctx, "g1", 10)
	mustNil(t, "JoinRequests", err)
	if len(list) != 2 || list[0].UserID != "u2" || list[1].UserID != "u1" {
		t.Fatalf("JoinRequests = %+v, want u2, u1 (oldest first)", list)
	}
	list, err = s.JoinRequests(ctx, "g1", 1)
	mustNil(t, "JoinRequests limit", err)
	same(t, "limit", len(list), 1)
	mustNil(t, "DeleteJoinRequest", s.DeleteJoinRequest(ctx, "g1", "u2"))
	wantErr(t, "DeleteJoinRequest again", s.DeleteJoinRequest(ctx, "g1", "u2"), store.ErrNotFound)
	_, err = s.JoinRequest(ctx, "g1", "u2")
	wantErr(t, "JoinRequest deleted", err, store.ErrNotFound)
}

func newLink(id, room string, sec, maxUses int) *store.InviteLink {
	return &store.InviteLink{ID: id, RoomID: room, TokenHash: "hash-" + id, CreatedBy: "u1",
		CreatedAt: at(sec), ExpiresAt: at(sec).Add(time.Hour), MaxUses: maxUses}
}

func testInviteLinks(t *testing.T, s store.Store) {
	ctx := t.Context()
	l1 := newLink("l1", "g1", 1, 5)
	mustNil(t, "CreateInviteLink", s.CreateInviteLink(ctx, l1))
	sameTime(t, "ExpiresAt normalised", l1.ExpiresAt, stored(at(1).Add(time.Hour)))
	mustNil(t, "CreateInviteLink 2", s.CreateInviteLink(ctx, newLink("l2", "g1", 2, 1)))
	mustNil(t, "other room", s.CreateInviteLink(ctx, newLink("l3", "g2", 3, 1)))
	wantErr(t, "same id", s.CreateInviteLink(ctx, &store.InviteLink{ID: "l1", RoomID: "g1", TokenHash: "other", ExpiresAt: at(5)}), store.ErrDuplicate)
	dup := newLink("l9", "g1", 4, 1)
	dup.TokenHash = l1.TokenHash
	wantErr(t, "same hash", s.CreateInviteLink(ctx, dup), store.ErrDuplicate)
	got, err := s.InviteLinkByID(ctx, "l1")
	mustNil(t, "InviteLinkByID", err)
	same(t, "by id", *got, *l1)
	got, err = s.InviteLinkByHash(ctx, l1.TokenHash)
	mustNil(t, "InviteLinkByHash", err)
	same(t, "by hash", *got, *l1)
	_, err = s.InviteLinkByHash(ctx, "nope")
	wantErr(t, "unknown hash", err, store.ErrNotFound)
	list, err := s.InviteLinks(ctx, "g1", 10)
	mustNil(t, "InviteLinks", err)
	if len(list) != 2 || list[0].ID != "l2" || list[1].ID != "l1" {
		t.Fatalf("InviteLinks = %+v, want l2, l1", list)
	}
	mustNil(t, "RevokeInviteLink", s.RevokeInviteLink(ctx, "l1"))
	mustNil(t, "RevokeInviteLink twice", s.RevokeInviteLink(ctx, "l1"))
	wantErr(t, "RevokeInviteLink absent", s.RevokeInviteLink(ctx, "nope"), store.ErrNotFound)
	got, err = s.InviteLinkByID(ctx, "l1")
	mustNil(t, "InviteLinkByID revoked", err)
	same(t, "revoked", got.Revoked, true)
}

func testInviteUses(t *testing.T, s store.Store) {
	ctx := t.Context()
	l := newLink("l1", "g1", 1, 2)
	mustNil(t, "CreateInviteLink", s.CreateInviteLink(ctx, l))
	u, fresh, err := store.UseInviteLink(ctx, s, l, "u1", at(2))
	mustNil(t, "use 1", err)
	if !fresh || u.N != 1 {
		t.Fatalf("first use: %+v fresh %v", u, fresh)
	}
	u, fresh, err = store.UseInviteLink(ctx, s, l, "u1", at(3))
	mustNil(t, "use by the same user", err)
	if fresh || u.N != 1 {
		t.Fatalf("same user again: %+v fresh %v, want use 1 back", u, fresh)
	}
	_, _, err = store.UseInviteLink(ctx, s, l, "u2", at(3))
	mustNil(t, "use 2", err)
	_, _, err = store.UseInviteLink(ctx, s, l, "u3", at(4))
	wantErr(t, "use 3 of 2", err, store.ErrExhausted)
	n, err := s.CountInviteUses(ctx, "l1")
	mustNil(t, "CountInviteUses", err)
	same(t, "uses", n, int64(2))
	wantErr(t, "AddInviteUse same n", s.AddInviteUse(ctx, &store.InviteUse{LinkID: "l1", N: 1, UserID: "u9"}), store.ErrDuplicate)
	wantErr(t, "AddInviteUse same user", s.AddInviteUse(ctx, &store.InviteUse{LinkID: "l1", N: 9, UserID: "u2"}), store.ErrDuplicate)
	_, err = s.InviteUseBy(ctx, "l1", "u3")
	wantErr(t, "InviteUseBy none", err, store.ErrNotFound)
}

// testRaceInviteUses: linkRacers distinct users use a link of linkUses
// uses at once: exactly linkUses succeed, numbered 1..linkUses, the others
// get ErrExhausted. No atomic counter is involved.
func testRaceInviteUses(t *testing.T, s store.Store) {
	ctx := t.Context()
	l := newLink("l1", "g1", 1, linkUses)
	mustNil(t, "CreateInviteLink", s.CreateInviteLink(ctx, l))
	uses := make([]*store.InviteUse, linkRacers)
	errs := Race(linkRacers, func(i int) error {
		u, _, err := store.UseInviteLink(ctx, s, l, fmt.Sprintf("u%02d", i), time.Now())
		uses[i] = u
		return err
	})
	ok, seen := 0, map[int]bool{}
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
			if seen[uses[i].N] || uses[i].N < 1 || uses[i].N > linkUses {
				t.Fatalf("use number %d given twice or out of 1..%d", uses[i].N, linkUses)
			}
			seen[uses[i].N] = true
		case !errors.Is(err, store.ErrExhausted):
			t.Fatalf("racer %d: %v", i, err)
		}
	}
	same(t, "successful uses", ok, linkUses)
	n, err := s.CountInviteUses(ctx, "l1")
	mustNil(t, "CountInviteUses", err)
	same(t, "stored uses", n, int64(linkUses))
}

// testRacePinSlots: racers pin distinct messages into the same slot:
// exactly one wins.
func testRacePinSlots(t *testing.T, s store.Store) {
	ctx := t.Context()
	errs := Race(racers, func(i int) error {
		return s.AddPin(ctx, &store.Pin{RoomID: "g1", Seq: int64(i + 1), Slot: 3, By: "u1"})
	})
	ExactlyOne(t, "same slot", errs)
	pins, err := s.Pins(ctx, "g1")
	mustNil(t, "Pins", err)
	same(t, "pins", len(pins), 1)
}
