package mongo_test

import (
	"reflect"
	"testing"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

func newGroup(id, number string) *store.Room {
	return &store.Room{ID: id, Type: store.RoomGroup, Number: number, Name: "g " + id,
		Info: "info", Owner: "owner", CreatedAt: at(1), UpdatedAt: at(1)}
}

func newDirect(id, a, b string) *store.Room {
	_, _, key := store.PairKey(a, b)
	return &store.Room{ID: id, Type: store.RoomDirect, PairKey: key, CreatedAt: at(1), UpdatedAt: at(1)}
}

func TestRoomsRoundTrip(t *testing.T) {
	s, ctx := openStore(t), testCtx(t)
	g := newGroup("r1", "100001")
	d := newDirect("r2", "ub", "ua")
	mustNil(t, "CreateRoom group", s.CreateRoom(ctx, g))
	mustNil(t, "CreateRoom direct", s.CreateRoom(ctx, d))

	got, err := s.RoomByID(ctx, "r1")
	mustNil(t, "RoomByID", err)
	if !reflect.DeepEqual(got, g) {
		t.Fatalf("RoomByID: got %+v, want %+v", got, g)
	}
	got, err = s.RoomByPairKey(ctx, "ua:ub")
	mustNil(t, "RoomByPairKey", err)
	if !reflect.DeepEqual(got, d) {
		t.Fatalf("RoomByPairKey: got %+v, want %+v", got, d)
	}

	_, err = s.RoomByID(ctx, "missing")
	wantErr(t, "RoomByID missing", err, store.ErrNotFound)
	_, err = s.RoomByPairKey(ctx, "x:y")
	wantErr(t, "RoomByPairKey missing", err, store.ErrNotFound)
	_, err = s.RoomByPairKey(ctx, "")
	wantErr(t, "RoomByPairKey empty", err, store.ErrNotFound)

	mustNil(t, "MarkDisbanded", s.MarkDisbanded(ctx, "r1"))
	mustNil(t, "MarkDisbanded again", s.MarkDisbanded(ctx, "r1"))
	got, err = s.RoomByID(ctx, "r1")
	mustNil(t, "RoomByID", err)
	if !got.Disbanded || !got.UpdatedAt.After(g.UpdatedAt) || got.Name != g.Name {
		t.Fatalf("after MarkDisbanded: %+v", got)
	}
	wantErr(t, "MarkDisbanded missing", s.MarkDisbanded(ctx, "missing"), store.ErrNotFound)
}

// Groups have no pair key and direct rooms no number: the sparse unique
// indexes must let any number of them coexist, while still rejecting a
// repeated number or pair key.
func TestRoomUniqueOptionalFields(t *testing.T) {
	s, ctx := openStore(t), testCtx(t)
	mustNil(t, "group 1", s.CreateRoom(ctx, newGroup("g1", "1")))
	mustNil(t, "group 2", s.CreateRoom(ctx, newGroup("g2", "2")))
	mustNil(t, "group without number 1", s.CreateRoom(ctx, newGroup("g3", "")))
	mustNil(t, "group without number 2", s.CreateRoom(ctx, newGroup("g4", "")))
	mustNil(t, "direct 1", s.CreateRoom(ctx, newDirect("d1", "a", "b")))
	mustNil(t, "direct 2", s.CreateRoom(ctx, newDirect("d2", "a", "c")))

	wantErr(t, "repeated number", s.CreateRoom(ctx, newGroup("g5", "1")), store.ErrDuplicate)
	wantErr(t, "repeated pair", s.CreateRoom(ctx, newDirect("d3", "b", "a")), store.ErrDuplicate)
	wantErr(t, "repeated id", s.CreateRoom(ctx, newGroup("g1", "9")), store.ErrDuplicate)
	if err := s.CreateRoom(ctx, nil); err == nil {
		t.Fatal("CreateRoom(nil): no error")
	}
}

func TestMembers(t *testing.T) {
	s, ctx := openStore(t), testCtx(t)
	add := func(room, user string, sec int) *store.Member {
		m := &store.Member{RoomID: room, UserID: user, RoomType: store.RoomGroup, CreatedAt: at(sec)}
		mustNil(t, "AddMember", s.AddMember(ctx, m))
		return m
	}
	m1 := add("r1", "u1", 1)
	m2 := add("r1", "u2", 2)
	m3 := add("r2", "u1", 3)
	wantErr(t, "AddMember twice", s.AddMember(ctx, &store.Member{RoomID: "r1", UserID: "u1"}), store.ErrDuplicate)

	got, err := s.Member(ctx, "r1", "u2")
	mustNil(t, "Member", err)
	if !reflect.DeepEqual(got, m2) {
		t.Fatalf("Member: got %+v, want %+v", got, m2)
	}
	_, err = s.Member(ctx, "r2", "u2")
	wantErr(t, "Member missing", err, store.ErrNotFound)

	members, err := s.Members(ctx, "r1")
	mustNil(t, "Members", err)
	if !reflect.DeepEqual(members, []store.Member{*m1, *m2}) {
		t.Fatalf("Members: got %+v", members)
	}
	n, err := s.CountMembers(ctx, "r1")
	mustNil(t, "CountMembers", err)
	if n != 2 {
		t.Fatalf("CountMembers = %d, want 2", n)
	}
	mine, err := s.MembershipsOf(ctx, "u1")
	mustNil(t, "MembershipsOf", err)
	if !reflect.DeepEqual(mine, []store.Member{*m1, *m3}) {
		t.Fatalf("MembershipsOf: got %+v", mine)
	}

	mustNil(t, "RemoveMember", s.RemoveMember(ctx, "r1", "u2"))
	wantErr(t, "RemoveMember again", s.RemoveMember(ctx, "r1", "u2"), store.ErrNotFound)
	n, err = s.CountMembers(ctx, "r1")
	mustNil(t, "CountMembers", err)
	if n != 1 {
		t.Fatalf("CountMembers after remove = %d, want 1", n)
	}

	mustNil(t, "RemoveAllMembers", s.RemoveAllMembers(ctx, "r1"))
	mustNil(t, "RemoveAllMembers empty", s.RemoveAllMembers(ctx, "r1"))
	members, err = s.Members(ctx, "r1")
	mustNil(t, "Members", err)
	if len(members) != 0 {
		t.Fatalf("Members after RemoveAllMembers: %+v", members)
	}
	mine, err = s.MembershipsOf(ctx, "u1")
	mustNil(t, "MembershipsOf", err)
	if !reflect.DeepEqual(mine, []store.Member{*m3}) {
		t.Fatalf("other room's membership touched: %+v", mine)
	}
	n, err = s.CountMembers(ctx, "nowhere")
	mustNil(t, "CountMembers empty", err)
	if n != 0 {
		t.Fatalf("CountMembers of empty room = %d", n)
	}
}

func TestSetReadSeq(t *testing.T) {
	s, ctx := openStore(t), testCtx(t)
	mustNil(t, "AddMember", s.AddMember(ctx, &store.Member{RoomID: "r1", UserID: "u1", RoomType: store.RoomDirect}))
	readSeq := func() int64 {
		t.Helper()
		m, err := s.Member(ctx, "r1", "u1")
		mustNil(t, "Member", err)
		return m.ReadSeq
	}
	mustNil(t, "SetReadSeq 5", s.SetReadSeq(ctx, "r1", "u1", 5))
	if got := readSeq(); got != 5 {
		t.Fatalf("read seq %d, want 5", got)
	}
	mustNil(t, "SetReadSeq 3 (lower)", s.SetReadSeq(ctx, "r1", "u1", 3))
	mustNil(t, "SetReadSeq 5 (same)", s.SetReadSeq(ctx, "r1", "u1", 5))
	if got := readSeq(); got != 5 {
		t.Fatalf("read seq lowered to %d", got)
	}
	mustNil(t, "SetReadSeq 9", s.SetReadSeq(ctx, "r1", "u1", 9))
	if got := readSeq(); got != 9 {
		t.Fatalf("read seq %d, want 9", got)
	}
	wantErr(t, "SetReadSeq missing", s.SetReadSeq(ctx, "r1", "u2", 1), store.ErrNotFound)
	wantErr(t, "SetReadSeq missing, seq 0", s.SetReadSeq(ctx, "r9", "u1", 0), store.ErrNotFound)
}

// Concurrent SetReadSeq calls all succeed and leave the highest value.
func TestSetReadSeqConcurrent(t *testing.T) {
	s, ctx := openStore(t), testCtx(t)
	mustNil(t, "AddMember", s.AddMember(ctx, &store.Member{RoomID: "r1", UserID: "u1"}))
	errs := race(16, func(i int) error { return s.SetReadSeq(ctx, "r1", "u1", int64(i+1)) })
	for i, err := range errs {
		if err != nil {
			t.Fatalf("SetReadSeq %d: %v", i+1, err)
		}
	}
	m, err := s.Member(ctx, "r1", "u1")
	mustNil(t, "Member", err)
	if m.ReadSeq != 16 {
		t.Fatalf("read seq %d after concurrent raises to 1..16, want 16", m.ReadSeq)
	}
}
