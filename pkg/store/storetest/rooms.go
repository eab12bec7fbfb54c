package storetest

import (
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

func roomTests() []test {
	return []test{
		{"RoundTrip", testRoomRoundTrip},
		{"DefaultTimes", testRoomDefaultTimes},
		{"NotFound", testRoomNotFound},
		{"DuplicateNumber", testRoomDuplicateNumber},
		{"DuplicatePairKey", testRoomDuplicatePairKey},
		{"DuplicateID", testRoomDuplicateID},
		{"OptionalFieldsNeverCollide", testRoomOptionalFields},
		{"MarkDisbanded", testMarkDisbanded},
		{"SetOwner", testSetOwner},
	}
}

func memberTests() []test {
	return []test{
		{"RoundTrip", testMemberRoundTrip},
		{"Duplicate", testMemberDuplicate},
		{"NotFound", testMemberNotFound},
		{"List", testMembersList},
		{"Remove", testRemoveMember},
		{"RemoveAll", testRemoveAllMembers},
		{"SetReadSeq", testSetReadSeq},
		{"SetReadSeqNotFound", testSetReadSeqNotFound},
	}
}

func newGroup(id, number string) *store.Room {
	return &store.Room{ID: id, Type: store.RoomGroup, Number: number, Name: "g " + id,
		Info: "info " + id, Owner: "owner", CreatedAt: at(1), UpdatedAt: at(2)}
}

func newDirect(id, a, b string) *store.Room {
	_, _, key := store.PairKey(a, b)
	return &store.Room{ID: id, Type: store.RoomDirect, PairKey: key, CreatedAt: at(1), UpdatedAt: at(2)}
}

func createRoom(t *testing.T, s store.Store, r *store.Room) *store.Room {
	t.Helper()
	mustNil(t, "CreateRoom "+r.ID, s.CreateRoom(t.Context(), r))
	return r
}

func mustRoom(t *testing.T, s store.Store, id string) *store.Room {
	t.Helper()
	r, err := s.RoomByID(t.Context(), id)
	mustNil(t, "RoomByID "+id, err)
	return r
}

func testRoomRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	g := createRoom(t, s, newGroup("r1", "100001"))
	sameTime(t, "CreatedAt normalised in place", g.CreatedAt, stored(at(1)))
	sameTime(t, "UpdatedAt normalised in place", g.UpdatedAt, stored(at(2)))
	d := createRoom(t, s, newDirect("r2", "ub", "ua"))
	if d.PairKey != "ua:ub" {
		t.Fatalf("store.PairKey: %q", d.PairKey)
	}

	same(t, "RoomByID group", mustRoom(t, s, "r1"), g)
	same(t, "RoomByID direct", mustRoom(t, s, "r2"), d)
	got, err := s.RoomByPairKey(ctx, "ua:ub")
	mustNil(t, "RoomByPairKey", err)
	same(t, "RoomByPairKey", got, d)
}

func testRoomDefaultTimes(t *testing.T, s store.Store) {
	r := newGroup("r1", "1")
	r.CreatedAt, r.UpdatedAt = time.Time{}, time.Time{}
	before := time.Now()
	createRoom(t, s, r)
	recent(t, "defaulted CreatedAt", r.CreatedAt, before)
	sameTime(t, "defaulted UpdatedAt", r.UpdatedAt, r.CreatedAt)
	same(t, "stored room", mustRoom(t, s, "r1"), r)
}

func testRoomNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	createRoom(t, s, newGroup("g1", "1"))
	createRoom(t, s, newGroup("g2", "")) // no number, no pair key
	createRoom(t, s, newDirect("d1", "a", "b"))
	_, err := s.RoomByID(ctx, "missing")
	wantErr(t, "RoomByID of a missing room", err, store.ErrNotFound)
	_, err = s.RoomByPairKey(ctx, "x:y")
	wantErr(t, "RoomByPairKey of a missing pair", err, store.ErrNotFound)
	_, err = s.RoomByPairKey(ctx, "b:a")
	wantErr(t, "RoomByPairKey of an unsorted key", err, store.ErrNotFound)
	// Groups have no pair key: the empty key finds none of them.
	_, err = s.RoomByPairKey(ctx, "")
	wantErr(t, "RoomByPairKey of the empty key", err, store.ErrNotFound)
}

func testRoomDuplicateNumber(t *testing.T, s store.Store) {
	ctx := t.Context()
	g := createRoom(t, s, newGroup("g1", "1"))
	wantErr(t, "CreateRoom with a taken number", s.CreateRoom(ctx, newGroup("g2", "1")), store.ErrDuplicate)
	_, err := s.RoomByID(ctx, "g2")
	wantErr(t, "RoomByID of the loser", err, store.ErrNotFound)
	same(t, "number owner", mustRoom(t, s, "g1"), g)
}

func testRoomDuplicatePairKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := createRoom(t, s, newDirect("d1", "a", "b"))
	wantErr(t, "CreateRoom with a taken pair key", s.CreateRoom(ctx, newDirect("d2", "b", "a")), store.ErrDuplicate)
	_, err := s.RoomByID(ctx, "d2")
	wantErr(t, "RoomByID of the loser", err, store.ErrNotFound)
	got, err := s.RoomByPairKey(ctx, "a:b")
	mustNil(t, "RoomByPairKey", err)
	same(t, "pair key owner", got, d)
}

func testRoomDuplicateID(t *testing.T, s store.Store) {
	ctx := t.Context()
	g := createRoom(t, s, newGroup("g1", "1"))
	wantErr(t, "CreateRoom with a taken id", s.CreateRoom(ctx, newGroup("g1", "9")), store.ErrDuplicate)
	wantErr(t, "CreateRoom direct with a taken id", s.CreateRoom(ctx, newDirect("g1", "a", "b")), store.ErrDuplicate)
	same(t, "id owner", mustRoom(t, s, "g1"), g)
	// The losers' number and pair key were not taken.
	createRoom(t, s, newGroup("g9", "9"))
	createRoom(t, s, newDirect("d1", "a", "b"))
}

// testRoomOptionalFields: groups have no pair key and direct rooms no
// number (and a group may have no number): any number of empty values
// coexist.
func testRoomOptionalFields(t *testing.T, s store.Store) {
	rooms := []*store.Room{
		newGroup("g1", "1"), newGroup("g2", "2"), newGroup("g3", ""), newGroup("g4", ""),
		newDirect("d1", "a", "b"), newDirect("d2", "a", "c"),
	}
	for _, r := range rooms {
		createRoom(t, s, r)
	}
	for _, r := range rooms {
		same(t, "RoomByID "+r.ID, mustRoom(t, s, r.ID), r)
	}
}

func testMarkDisbanded(t *testing.T, s store.Store) {
	ctx := t.Context()
	g := createRoom(t, s, newGroup("r1", "1"))
	other := createRoom(t, s, newGroup("r2", "2"))
	before := time.Now()
	mustNil(t, "MarkDisbanded", s.MarkDisbanded(ctx, "r1"))
	got := mustRoom(t, s, "r1")
	recent(t, "UpdatedAt after MarkDisbanded", got.UpdatedAt, before)
	want := *g
	want.Disbanded, want.UpdatedAt = true, got.UpdatedAt
	same(t, "after MarkDisbanded", got, &want)

	mustNil(t, "MarkDisbanded again", s.MarkDisbanded(ctx, "r1"))
	if got := mustRoom(t, s, "r1"); !got.Disbanded {
		t.Fatalf("after MarkDisbanded again: %+v", got)
	}
	same(t, "other room", mustRoom(t, s, "r2"), other)
	wantErr(t, "MarkDisbanded of a missing room", s.MarkDisbanded(ctx, "missing"), store.ErrNotFound)
	_, err := s.RoomByID(ctx, "missing")
	wantErr(t, "RoomByID after MarkDisbanded of a missing room", err, store.ErrNotFound)
}

func newMember(room, user string, sec int) *store.Member {
	return &store.Member{RoomID: room, UserID: user, RoomType: store.RoomGroup, CreatedAt: at(sec)}
}

func addMember(t *testing.T, s store.Store, m *store.Member) *store.Member {
	t.Helper()
	mustNil(t, "AddMember "+m.RoomID+"/"+m.UserID, s.AddMember(t.Context(), m))
	return m
}

func mustMember(t *testing.T, s store.Store, room, user string) *store.Member {
	t.Helper()
	m, err := s.Member(t.Context(), room, user)
	mustNil(t, "Member "+room+"/"+user, err)
	return m
}

func testMemberRoundTrip(t *testing.T, s store.Store) {
	m := newMember("r1", "u1", 1)
	m.RoomType, m.ReadSeq = store.RoomDirect, 4
	addMember(t, s, m)
	sameTime(t, "CreatedAt normalised in place", m.CreatedAt, stored(at(1)))
	same(t, "Member", mustMember(t, s, "r1", "u1"), m)

	d := &store.Member{RoomID: "r1", UserID: "u2"}
	before := time.Now()
	addMember(t, s, d)
	recent(t, "defaulted CreatedAt", d.CreatedAt, before)
	same(t, "Member with defaults", mustMember(t, s, "r1", "u2"), d)
}

func testMemberDuplicate(t *testing.T, s store.Store) {
	ctx := t.Context()
	m := addMember(t, s, newMember("r1", "u1", 1))
	dup := newMember("r1", "u1", 2)
	dup.ReadSeq = 9
	wantErr(t, "AddMember twice", s.AddMember(ctx, dup), store.ErrDuplicate)
	same(t, "membership kept", mustMember(t, s, "r1", "u1"), m)
	n, err := s.CountMembers(ctx, "r1")
	mustNil(t, "CountMembers", err)
	if n != 1 {
		t.Fatalf("CountMembers = %d, want 1", n)
	}
	// The same user in another room, another user in the same room.
	addMember(t, s, newMember("r2", "u1", 3))
	addMember(t, s, newMember("r1", "u2", 4))
}

func testMemberNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	addMember(t, s, newMember("r1", "u1", 1))
	addMember(t, s, newMember("r2", "u2", 2))
	for _, k := range [][2]string{{"r1", "u2"}, {"r2", "u1"}, {"r9", "u1"}, {"r1", "u9"}} {
		_, err := s.Member(ctx, k[0], k[1])
		wantErr(t, "Member "+k[0]+"/"+k[1], err, store.ErrNotFound)
	}
}

func testMembersList(t *testing.T, s store.Store) {
	ctx := t.Context()
	// Added out of order of CreatedAt: lists are oldest first.
	m2 := addMember(t, s, newMember("r1", "u2", 2))
	m1 := addMember(t, s, newMember("r1", "u1", 3))
	m3 := addMember(t, s, newMember("r1", "u3", 1))
	o1 := addMember(t, s, newMember("r2", "u1", 1))
	o2 := addMember(t, s, newMember("r3", "u1", 5))
	addMember(t, s, newMember("r3", "u2", 6))

	members, err := s.Members(ctx, "r1")
	mustNil(t, "Members", err)
	same(t, "Members(r1)", members, []store.Member{*m3, *m2, *m1})
	n, err := s.CountMembers(ctx, "r1")
	mustNil(t, "CountMembers", err)
	if n != 3 {
		t.Fatalf("CountMembers(r1) = %d, want 3", n)
	}
	mine, err := s.MembershipsOf(ctx, "u1")
	mustNil(t, "MembershipsOf", err)
	same(t, "MembershipsOf(u1)", mine, []store.Member{*o1, *m1, *o2})

	members, err = s.Members(ctx, "empty")
	mustNil(t, "Members of an empty room", err)
	n, err = s.CountMembers(ctx, "empty")
	mustNil(t, "CountMembers of an empty room", err)
	mine, err = s.MembershipsOf(ctx, "nobody")
	mustNil(t, "MembershipsOf a user without rooms", err)
	if len(members) != 0 || n != 0 || len(mine) != 0 {
		t.Fatalf("empty room: Members %+v, CountMembers %d; user without rooms: %+v", members, n, mine)
	}
}

func testRemoveMember(t *testing.T, s store.Store) {
	ctx := t.Context()
	m1 := addMember(t, s, newMember("r1", "u1", 1))
	addMember(t, s, newMember("r1", "u2", 2))
	o := addMember(t, s, newMember("r2", "u2", 3))

	mustNil(t, "RemoveMember", s.RemoveMember(ctx, "r1", "u2"))
	wantErr(t, "RemoveMember again", s.RemoveMember(ctx, "r1", "u2"), store.ErrNotFound)
	wantErr(t, "RemoveMember never added", s.RemoveMember(ctx, "r2", "u1"), store.ErrNotFound)
	wantErr(t, "RemoveMember of a missing room", s.RemoveMember(ctx, "r9", "u1"), store.ErrNotFound)
	_, err := s.Member(ctx, "r1", "u2")
	wantErr(t, "Member after RemoveMember", err, store.ErrNotFound)

	members, err := s.Members(ctx, "r1")
	mustNil(t, "Members", err)
	same(t, "Members after RemoveMember", members, []store.Member{*m1})
	n, err := s.CountMembers(ctx, "r1")
	mustNil(t, "CountMembers", err)
	if n != 1 {
		t.Fatalf("CountMembers after RemoveMember = %d, want 1", n)
	}
	mine, err := s.MembershipsOf(ctx, "u2")
	mustNil(t, "MembershipsOf", err)
	same(t, "MembershipsOf after RemoveMember", mine, []store.Member{*o})

	// The membership can be added again.
	again := addMember(t, s, newMember("r1", "u2", 4))
	same(t, "re-added membership", mustMember(t, s, "r1", "u2"), again)
}

func testRemoveAllMembers(t *testing.T, s store.Store) {
	ctx := t.Context()
	addMember(t, s, newMember("r1", "u1", 1))
	addMember(t, s, newMember("r1", "u2", 2))
	o := addMember(t, s, newMember("r2", "u1", 3))

	mustNil(t, "RemoveAllMembers", s.RemoveAllMembers(ctx, "r1"))
	mustNil(t, "RemoveAllMembers of an emptied room", s.RemoveAllMembers(ctx, "r1"))
	mustNil(t, "RemoveAllMembers of a missing room", s.RemoveAllMembers(ctx, "r9"))

	members, err := s.Members(ctx, "r1")
	mustNil(t, "Members", err)
	n, err := s.CountMembers(ctx, "r1")
	mustNil(t, "CountMembers", err)
	if len(members) != 0 || n != 0 {
		t.Fatalf("after RemoveAllMembers: Members %+v, CountMembers %d", members, n)
	}
	_, err = s.Member(ctx, "r1", "u1")
	wantErr(t, "Member after RemoveAllMembers", err, store.ErrNotFound)
	mine, err := s.MembershipsOf(ctx, "u1")
	mustNil(t, "MembershipsOf", err)
	same(t, "other room's membership", mine, []store.Member{*o})
	mine, err = s.MembershipsOf(ctx, "u2")
	mustNil(t, "MembershipsOf", err)
	if len(mine) != 0 {
		t.Fatalf("MembershipsOf(u2) after RemoveAllMembers: %+v", mine)
	}
	addMember(t, s, newMember("r1", "u1", 4))
}

func testSetReadSeq(t *testing.T, s store.Store) {
	ctx := t.Context()
	addMember(t, s, newMember("r1", "u1", 1))
	peer := addMember(t, s, newMember("r1", "u2", 2))
	elsewhere := addMember(t, s, newMember("r2", "u1", 3))
	readSeq := func() int64 {
		t.Helper()
		return mustMember(t, s, "r1", "u1").ReadSeq
	}
	for _, step := range []struct {
		seq, want int64
	}{
		{0, 0},
		{5, 5},
		{3, 5}, // lower: ignored
		{5, 5}, // same
		{-1, 5},
		{9, 9},
		{1 << 40, 1 << 40},
	} {
		mustNil(t, "SetReadSeq", s.SetReadSeq(ctx, "r1", "u1", step.seq))
		if got := readSeq(); got != step.want {
			t.Fatalf("after SetReadSeq(%d): read seq %d, want %d", step.seq, got, step.want)
		}
	}
	same(t, "other member of the room", mustMember(t, s, "r1", "u2"), peer)
	same(t, "same user in another room", mustMember(t, s, "r2", "u1"), elsewhere)
}

func testSetReadSeqNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	addMember(t, s, newMember("r1", "u1", 1))
	wantErr(t, "SetReadSeq of a missing member", s.SetReadSeq(ctx, "r1", "u2", 1), store.ErrNotFound)
	wantErr(t, "SetReadSeq of a missing room, seq 0", s.SetReadSeq(ctx, "r9", "u1", 0), store.ErrNotFound)
	_, err := s.Member(ctx, "r1", "u2")
	wantErr(t, "Member after SetReadSeq of a missing member", err, store.ErrNotFound)
}
