package service_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/im-websocket-go/im-websocket-go/internal/service"
	"github.com/im-websocket-go/im-websocket-go/pkg/kv/memkv"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/memstore"
)

// adminWorld is a group "g" owned by "owner" with members admin, m1, m2
// (admin is an admin) on the memory store and KV, with a settable clock.
type adminWorld struct {
	svc *service.Service
	st  store.Store
	clk *clock
	ctx context.Context
}

func newAdminWorld(t *testing.T, lim service.Limits) *adminWorld {
	t.Helper()
	st := memstore.New()
	kvs := memkv.New()
	t.Cleanup(func() { kvs.Close() })
	clk := &clock{t: time.Now()}
	w := &adminWorld{svc: service.New(service.Deps{Store: st, KV: kvs, Now: clk.Now, Limits: lim, Log: zaptest.NewLogger(t)}), st: st, clk: clk, ctx: context.Background()}
	for _, u := range []string{"owner", "admin", "m1", "m2", "out1", "out2", "out3", "out4"} {
		w.user(t, u)
	}
	must(t, st.CreateRoom(w.ctx, &store.Room{ID: "g", Type: store.RoomGroup, Number: "123456789", Name: "g", Owner: "owner"}))
	for _, u := range []string{"owner", "admin", "m1", "m2"} {
		must(t, st.AddMember(w.ctx, &store.Member{RoomID: "g", UserID: u, RoomType: store.RoomGroup}))
	}
	must(t, w.svc.SetAdmin(w.ctx, "owner", "g", "adminacc", true))
	return w
}

func (w *adminWorld) user(t *testing.T, id string) {
	t.Helper()
	must(t, w.st.CreateUser(w.ctx, &store.User{ID: id, Account: id + "acc", Email: id + "@example.com", Nickname: strings.ToUpper(id)}))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantCode checks err is a protocol error with code (and, if not empty,
// a message containing msg).
func wantCode(t *testing.T, what string, err error, code, msg string) {
	t.Helper()
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != code || !strings.Contains(pe.Message, msg) {
		t.Fatalf("%s: got %v, want %s %q", what, err, code, msg)
	}
}

func (w *adminWorld) send(uid, cmid string) error {
	_, _, err := w.svc.Send(w.ctx, service.SendInput{UserID: uid, RoomID: "g", Body: "hi", ClientMsgID: cmid, MemberChecked: true})
	return err
}

// Who may do what to whom: the table of the issue.
func TestGroupAdminRules(t *testing.T) {
	w := newAdminWorld(t, service.Limits{})
	ctx, svc := w.ctx, w.svc
	// Non-admins: every administrative action is forbidden.
	for name, err := range map[string]error{
		"mute":         func() error { _, err := svc.MuteMember(ctx, "m1", "g", "m2acc", time.Hour); return err }(),
		"unmute":       svc.UnmuteMember(ctx, "m1", "g", "m2acc"),
		"mute all":     svc.SetMuteAll(ctx, "m1", "g", true),
		"announcement": func() error { _, err := svc.SetAnnouncement(ctx, "m1", "g", "x"); return err }(),
		"pin":          svc.Pin(ctx, "m1", "g", 1),
		"remove":       svc.RemoveGroupMember(ctx, "m1", "g", "m2acc"),
		"invite":       func() error { _, err := svc.CreateInvite(ctx, "m1", "g", 0, 0); return err }(),
		"requests":     func() error { _, err := svc.JoinRequests(ctx, "m1", "g"); return err }(),
		"admins":       svc.SetAdmin(ctx, "m1", "g", "m2acc", true),
		"transfer":     svc.TransferOwnership(ctx, "m1", "g", "m2acc"),
	} {
		wantCode(t, "member: "+name, err, protocol.CodeForbidden, "only the group's owner")
	}
	// Admins: not the owner's powers, and not over admins or the owner.
	wantCode(t, "admin appoints", svc.SetAdmin(ctx, "admin", "g", "m1acc", true), protocol.CodeForbidden, "only the group's owner")
	wantCode(t, "admin transfers", svc.TransferOwnership(ctx, "admin", "g", "m1acc"), protocol.CodeForbidden, "only the group's owner")
	_, err := svc.MuteMember(ctx, "admin", "g", "owneracc", time.Hour)
	wantCode(t, "mute the owner", err, protocol.CodeForbidden, "owner cannot be muted")
	_, err = svc.MuteMember(ctx, "owner", "g", "owneracc", time.Hour)
	wantCode(t, "owner mutes self", err, protocol.CodeConflict, "yourself")
	wantCode(t, "admin removes owner", svc.RemoveGroupMember(ctx, "admin", "g", "owneracc"), protocol.CodeForbidden, "owner cannot be removed")
	must(t, svc.SetAdmin(ctx, "owner", "g", "m2acc", true))
	_, err = svc.MuteMember(ctx, "admin", "g", "m2acc", time.Hour)
	wantCode(t, "admin mutes admin", err, protocol.CodeForbidden, "admins cannot be muted by admins")
	wantCode(t, "admin removes admin", svc.RemoveGroupMember(ctx, "admin", "g", "m2acc"), protocol.CodeForbidden, "admins cannot be removed")
	// The owner mutes an admin, who cannot unmute themself.
	_, err = svc.MuteMember(ctx, "owner", "g", "m2acc", time.Hour)
	must(t, err)
	wantCode(t, "muted admin unmutes self", svc.UnmuteMember(ctx, "m2", "g", "m2acc"), protocol.CodeForbidden, "admins cannot be unmuted")
	must(t, svc.UnmuteMember(ctx, "owner", "g", "m2acc"))
	must(t, svc.SetAdmin(ctx, "owner", "g", "m2acc", false))
	// Bad durations.
	for _, d := range []time.Duration{0, 59 * time.Second, 31 * 24 * time.Hour} {
		_, err := svc.MuteMember(ctx, "admin", "g", "m1acc", d)
		wantCode(t, fmt.Sprint("duration ", d), err, protocol.CodeInvalidArgument, "duration_seconds")
	}
	// An admin removes a member; the owner cannot leave.
	must(t, svc.RemoveGroupMember(ctx, "admin", "g", "m2acc"))
	wantCode(t, "owner leaves", svc.RemoveGroupMember(ctx, "owner", "g", "owneracc"), protocol.CodeConflict, "transfer the ownership")
	// Transfer: the old owner becomes an admin.
	must(t, svc.TransferOwnership(ctx, "owner", "g", "m1acc"))
	r, _ := w.st.RoomByID(ctx, "g")
	old, _ := w.st.Member(ctx, "g", "owner")
	if r.Owner != "m1" || old.Role != store.RoleAdmin {
		t.Fatalf("after transfer: owner %s, old owner's role %q", r.Owner, old.Role)
	}
	wantCode(t, "old owner transfers again", svc.TransferOwnership(ctx, "owner", "g", "adminacc"), protocol.CodeForbidden, "only the group's owner")
	// Every change above is a system message in the room.
	p, err := svc.After(ctx, "m1", "g", 0, 100, false)
	must(t, err)
	var texts []string
	for _, m := range p.Messages {
		if m.Kind == store.KindSystem {
			texts = append(texts, m.Body)
		}
	}
	want := []string{"OWNER made ADMIN an admin", "OWNER made M2 an admin", "OWNER muted M2 for 1h", "OWNER unmuted M2", "OWNER dismissed M2 as an admin",
		"ADMIN removed M2 from the group", "OWNER made M1 the owner of the group"}
	if fmt.Sprint(texts) != fmt.Sprint(want) {
		t.Fatalf("system messages:\n got %q\nwant %q", texts, want)
	}
}

// A mute holds until its time (on the hot path, from the KV), is lifted
// by unmute, survives leaving and rejoining, and mute-all lets the owner
// and admins speak.
func TestMuteEnforcement(t *testing.T) {
	w := newAdminWorld(t, service.Limits{})
	ctx, svc := w.ctx, w.svc
	until, err := svc.MuteMember(ctx, "admin", "g", "m1acc", time.Hour)
	must(t, err)
	wantCode(t, "muted send", w.send("m1", "a1"), protocol.CodeForbidden, "muted in this group until "+until.Format(time.RFC3339))
	_, _, err = svc.Edit(ctx, service.ChangeInput{UserID: "m1", RoomID: "g", Seq: 1, Body: "x", ClientMsgID: "e1"})
	wantCode(t, "muted edit", err, protocol.CodeForbidden, "muted")
	must(t, w.send("m2", "b1"))
	ms, _, err := svc.GroupMembers(ctx, "m2", "g", "", 10)
	must(t, err)
	for _, m := range ms {
		if (m.ID == "m1") != (m.MutedUntil != nil) {
			t.Fatalf("member list: %s muted_until %v", m.ID, m.MutedUntil)
		}
	}
	// Leaving and coming back does not lift it.
	must(t, svc.RemoveGroupMember(ctx, "m1", "g", "m1acc"))
	inv, err := svc.CreateInvite(ctx, "admin", "g", time.Hour, 5)
	must(t, err)
	_, err = svc.JoinByInvite(ctx, "m1", inv.Token)
	must(t, err)
	wantCode(t, "muted after rejoining", w.send("m1", "a2"), protocol.CodeForbidden, "muted")
	m, _ := w.st.Member(ctx, "g", "m1")
	if !m.MutedUntil.Equal(until) {
		t.Fatalf("rejoined member muted until %v, want %v", m.MutedUntil, until)
	}
	// The mute ends by itself.
	w.clk.Add(time.Hour + time.Second)
	must(t, w.send("m1", "a3"))
	_, err = svc.MuteMember(ctx, "owner", "g", "m1acc", time.Minute)
	must(t, err)
	wantCode(t, "muted again", w.send("m1", "a4"), protocol.CodeForbidden, "muted")
	must(t, svc.UnmuteMember(ctx, "admin", "g", "m1acc"))
	must(t, w.send("m1", "a5"))
	// Mute-all.
	must(t, svc.SetMuteAll(ctx, "admin", "g", true))
	wantCode(t, "mute all: member", w.send("m2", "b2"), protocol.CodeForbidden, "only the owner and admins can send")
	must(t, w.send("admin", "c1"))
	must(t, w.send("owner", "d1"))
	g, err := svc.Group(ctx, "m2", "g")
	must(t, err)
	if !g.MuteAll {
		t.Fatal("group does not show mute_all")
	}
	must(t, svc.SetMuteAll(ctx, "owner", "g", false))
	must(t, w.send("m2", "b3"))
	// Making a muted member admin unmutes them.
	_, err = svc.MuteMember(ctx, "owner", "g", "m2acc", time.Hour)
	must(t, err)
	must(t, svc.SetAdmin(ctx, "owner", "g", "m2acc", true))
	must(t, w.send("m2", "b4"))
}

func TestAnnouncementAndPins(t *testing.T) {
	w := newAdminWorld(t, service.Limits{})
	ctx, svc := w.ctx, w.svc
	a, err := svc.SetAnnouncement(ctx, "admin", "g", "  read the rules  ")
	must(t, err)
	g, _ := svc.Group(ctx, "m1", "g")
	if g.Announcement == nil || g.Announcement.Text != "read the rules" || g.Announcement.By != "admin" || !g.Announcement.SetAt.Equal(a.SetAt) {
		t.Fatalf("announcement: %+v", g.Announcement)
	}
	_, err = svc.SetAnnouncement(ctx, "admin", "g", strings.Repeat("x", service.MaxAnnouncement+1))
	wantCode(t, "long announcement", err, protocol.CodeInvalidArgument, "")
	_, err = svc.SetAnnouncement(ctx, "admin", "g", "")
	must(t, err)
	if g, _ := svc.Group(ctx, "m1", "g"); g.Announcement != nil {
		t.Fatalf("cleared announcement: %+v", g.Announcement)
	}
	for i := range store.MaxPins + 1 {
		must(t, w.send("m1", fmt.Sprintf("p%d", i)))
	}
	p, _ := svc.After(ctx, "m1", "g", 0, 100, false)
	var seqs []int64
	for _, m := range p.Messages {
		if m.Kind != store.KindSystem {
			seqs = append(seqs, m.Seq)
		}
	}
	wantCode(t, "pin no message", svc.Pin(ctx, "admin", "g", 9999), protocol.CodeNotFound, "no such message")
	// Pins race for slots: exactly MaxPins land.
	var wg sync.WaitGroup
	errs := make([]error, len(seqs))
	for i, seq := range seqs {
		wg.Go(func() { errs[i] = svc.Pin(ctx, "admin", "g", seq) })
	}
	wg.Wait()
	full := 0
	for _, err := range errs {
		if err != nil {
			wantCode(t, "pin past the bound", err, protocol.CodeConflict, "at most 50")
			full++
		}
	}
	pins, err := svc.Pins(ctx, "m2", "g")
	must(t, err)
	if full != 1 || len(pins) != store.MaxPins || pins[0].Message == nil {
		t.Fatalf("%d refused, %d pins", full, len(pins))
	}
	must(t, svc.Pin(ctx, "admin", "g", pins[0].Seq)) // again: nothing changes
	must(t, svc.Unpin(ctx, "owner", "g", pins[0].Seq))
	wantCode(t, "unpin again", svc.Unpin(ctx, "owner", "g", pins[0].Seq), protocol.CodeNotFound, "not pinned")
}

func TestJoinRequestsAndInvites(t *testing.T) {
	w := newAdminWorld(t, service.Limits{MaxGroupMembers: 7})
	ctx, svc := w.ctx, w.svc
	// A request by the group's number, approved by an admin.
	_, err := svc.RequestToJoin(ctx, "out1", "123456789", "hello")
	must(t, err)
	_, err = svc.RequestToJoin(ctx, "out1", "g", "again")
	wantCode(t, "second request", err, protocol.CodeConflict, "already asked")
	_, err = svc.RequestToJoin(ctx, "m1", "g", "")
	wantCode(t, "member requests", err, protocol.CodeConflict, "already a member")
	_, err = svc.RequestToJoin(ctx, "out2", "999999999", "")
	wantCode(t, "unknown group", err, protocol.CodeNotFound, "no such group")
	_, err = svc.RequestToJoin(ctx, "out2", "g", "")
	must(t, err)
	rs, err := svc.JoinRequests(ctx, "admin", "g")
	must(t, err)
	if len(rs) != 2 || rs[0].User.ID != "out1" || rs[0].Message != "hello" {
		t.Fatalf("requests: %+v", rs)
	}
	must(t, svc.AnswerJoinRequest(ctx, "admin", "g", "out1acc", true))
	must(t, svc.DeclineOrCancelJoinRequest(ctx, "owner", "g", "out2acc"))
	wantCode(t, "approve declined", svc.AnswerJoinRequest(ctx, "admin", "g", "out2acc", true), protocol.CodeNotFound, "no pending request")
	if _, err := w.st.Member(ctx, "g", "out1"); err != nil {
		t.Fatalf("approved user is no member: %v", err)
	}
	if _, err := w.st.Member(ctx, "g", "out2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("declined user: %v", err)
	}
	// Invite links; the group is full at 7.
	inv, err := svc.CreateInvite(ctx, "admin", "g", time.Hour, 1)
	must(t, err)
	_, err = svc.JoinByInvite(ctx, "out2", inv.Token)
	must(t, err)
	_, err = svc.JoinByInvite(ctx, "out2", inv.Token) // a member again: fine, no use taken
	must(t, err)
	_, err = svc.JoinByInvite(ctx, "out3", inv.Token)
	wantCode(t, "used up", err, protocol.CodeConflict, "used up")
	inv2, err := svc.CreateInvite(ctx, "owner", "g", time.Hour, 7)
	must(t, err)
	_, err = svc.JoinByInvite(ctx, "out3", inv2.Token)
	must(t, err)
	_, err = svc.JoinByInvite(ctx, "out4", inv2.Token)
	wantCode(t, "group full", err, protocol.CodeConflict, "at most 7 members")
	_, err = svc.RequestToJoin(ctx, "out4", "g", "")
	must(t, err)
	wantCode(t, "approve into a full group", svc.AnswerJoinRequest(ctx, "owner", "g", "out4acc", true), protocol.CodeConflict, "at most 7")
	// Leaving and rejoining through an expired link fails cleanly.
	must(t, svc.RemoveGroupMember(ctx, "out2", "g", "out2acc"))
	w.clk.Add(2 * time.Hour)
	_, err = svc.JoinByInvite(ctx, "out2", inv2.Token)
	wantCode(t, "expired link", err, protocol.CodeConflict, "expired")
	if _, err := w.st.Member(ctx, "g", "out2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("rejoined through an expired link: %v", err)
	}
	// Revoked and unknown links.
	inv3, err := svc.CreateInvite(ctx, "owner", "g", time.Hour, 7)
	must(t, err)
	must(t, svc.RevokeInvite(ctx, "admin", "g", inv3.ID))
	_, err = svc.JoinByInvite(ctx, "out2", inv3.Token)
	wantCode(t, "revoked link", err, protocol.CodeNotFound, "no such invite link")
	_, err = svc.JoinByInvite(ctx, "out2", "nope")
	wantCode(t, "unknown link", err, protocol.CodeNotFound, "no such invite link")
	list, err := svc.Invites(ctx, "admin", "g")
	must(t, err)
	if len(list) != 3 || list[0].Token != "" || !list[0].Revoked || list[1].Uses != 1 || list[2].Uses != 1 {
		t.Fatalf("invites: %+v", list)
	}
	_, err = svc.CreateInvite(ctx, "owner", "g", time.Second, 1)
	wantCode(t, "short link", err, protocol.CodeInvalidArgument, "expires_in_seconds")
	_, err = svc.CreateInvite(ctx, "owner", "g", time.Hour, 8)
	wantCode(t, "more uses than the group holds", err, protocol.CodeInvalidArgument, "max_uses")
}
