package storetest

import (
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

func friendTests() []test {
	return []test{
		{"RoundTrip", testFriendshipRoundTrip},
		{"DefaultTime", testFriendshipDefaultTime},
		{"Duplicate", testFriendshipDuplicate},
		{"NotFound", testFriendshipNotFound},
		{"FriendshipsOf", testFriendshipsOf},
		{"Delete", testDeleteFriendship},
	}
}

func requestTests() []test {
	return []test{
		{"RoundTrip", testRequestRoundTrip},
		{"DefaultTime", testRequestDefaultTime},
		{"Duplicate", testRequestDuplicate},
		{"NotFound", testRequestNotFound},
		{"Lists", testRequestLists},
		{"Delete", testDeleteRequest},
	}
}

func newFriendship(a, b string, sec int) *store.Friendship {
	return &store.Friendship{UserA: a, UserB: b, RoomID: "r-" + a + "-" + b, CreatedAt: at(sec)}
}

func createFriendship(t *testing.T, s store.Store, f *store.Friendship) *store.Friendship {
	t.Helper()
	mustNil(t, "CreateFriendship "+f.UserA+"/"+f.UserB, s.CreateFriendship(t.Context(), f))
	return f
}

func testFriendshipRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := createFriendship(t, s, newFriendship("u2", "u1", 1))
	if f.UserA != "u1" || f.UserB != "u2" {
		t.Fatalf("ids not sorted in place: %+v", f)
	}
	sameTime(t, "CreatedAt normalised in place", f.CreatedAt, stored(at(1)))
	for _, p := range [][2]string{{"u1", "u2"}, {"u2", "u1"}} {
		got, err := s.Friendship(ctx, p[0], p[1])
		mustNil(t, "Friendship "+p[0]+"/"+p[1], err)
		same(t, "Friendship "+p[0]+"/"+p[1], got, f)
	}
}

func testFriendshipDefaultTime(t *testing.T, s store.Store) {
	f := newFriendship("u1", "u2", 0)
	f.CreatedAt = time.Time{}
	before := time.Now()
	createFriendship(t, s, f)
	recent(t, "defaulted CreatedAt", f.CreatedAt, before)
	got, err := s.Friendship(t.Context(), "u1", "u2")
	mustNil(t, "Friendship", err)
	same(t, "stored friendship", got, f)
}

func testFriendshipDuplicate(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := createFriendship(t, s, newFriendship("u1", "u2", 1))
	wantErr(t, "same pair", s.CreateFriendship(ctx, newFriendship("u1", "u2", 2)), store.ErrDuplicate)
	wantErr(t, "same pair swapped", s.CreateFriendship(ctx, newFriendship("u2", "u1", 3)), store.ErrDuplicate)
	got, err := s.Friendship(ctx, "u2", "u1")
	mustNil(t, "Friendship", err)
	same(t, "friendship kept", got, f)
	all, err := s.FriendshipsOf(ctx, "u1")
	mustNil(t, "FriendshipsOf", err)
	same(t, "FriendshipsOf", all, []store.Friendship{*f})
}

func testFriendshipNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	createFriendship(t, s, newFriendship("u1", "u2", 1))
	createFriendship(t, s, newFriendship("u2", "u3", 2))
	for _, p := range [][2]string{{"u1", "u3"}, {"u3", "u1"}, {"u1", "u1"}, {"u9", "u8"}} {
		_, err := s.Friendship(ctx, p[0], p[1])
		wantErr(t, "Friendship "+p[0]+"/"+p[1], err, store.ErrNotFound)
	}
	all, err := s.FriendshipsOf(ctx, "u9")
	mustNil(t, "FriendshipsOf a user without friends", err)
	if len(all) != 0 {
		t.Fatalf("FriendshipsOf(u9): %+v", all)
	}
}

func testFriendshipsOf(t *testing.T, s store.Store) {
	ctx := t.Context()
	// u1 on either side; created out of order of CreatedAt.
	f2 := createFriendship(t, s, newFriendship("u1", "u3", 2))
	f1 := createFriendship(t, s, newFriendship("u2", "u1", 1))
	f3 := createFriendship(t, s, newFriendship("u0", "u1", 3))
	f4 := createFriendship(t, s, newFriendship("u2", "u3", 4))

	all, err := s.FriendshipsOf(ctx, "u1")
	mustNil(t, "FriendshipsOf", err)
	same(t, "FriendshipsOf(u1)", all, []store.Friendship{*f1, *f2, *f3})
	all, err = s.FriendshipsOf(ctx, "u2")
	mustNil(t, "FriendshipsOf", err)
	same(t, "FriendshipsOf(u2)", all, []store.Friendship{*f1, *f4})
}

func testDeleteFriendship(t *testing.T, s store.Store) {
	ctx := t.Context()
	createFriendship(t, s, newFriendship("u1", "u2", 1))
	other := createFriendship(t, s, newFriendship("u1", "u3", 2))

	mustNil(t, "DeleteFriendship swapped", s.DeleteFriendship(ctx, "u2", "u1"))
	wantErr(t, "DeleteFriendship again", s.DeleteFriendship(ctx, "u1", "u2"), store.ErrNotFound)
	wantErr(t, "DeleteFriendship never created", s.DeleteFriendship(ctx, "u2", "u3"), store.ErrNotFound)
	_, err := s.Friendship(ctx, "u1", "u2")
	wantErr(t, "Friendship after delete", err, store.ErrNotFound)
	all, err := s.FriendshipsOf(ctx, "u1")
	mustNil(t, "FriendshipsOf", err)
	same(t, "FriendshipsOf after delete", all, []store.Friendship{*other})
	all, err = s.FriendshipsOf(ctx, "u2")
	mustNil(t, "FriendshipsOf", err)
	if len(all) != 0 {
		t.Fatalf("FriendshipsOf(u2) after delete: %+v", all)
	}
	// The pair is free again.
	again := createFriendship(t, s, newFriendship("u2", "u1", 3))
	got, err := s.Friendship(ctx, "u1", "u2")
	mustNil(t, "Friendship", err)
	same(t, "re-created friendship", got, again)
}

func newRequest(id, from, to string, sec int) *store.FriendRequest {
	return &store.FriendRequest{ID: id, From: from, To: to, Message: "hi " + id, CreatedAt: at(sec)}
}

func createRequest(t *testing.T, s store.Store, r *store.FriendRequest) *store.FriendRequest {
	t.Helper()
	mustNil(t, "CreateFriendRequest "+r.ID, s.CreateFriendRequest(t.Context(), r))
	return r
}

func mustRequest(t *testing.T, s store.Store, id string) *store.FriendRequest {
	t.Helper()
	r, err := s.FriendRequestByID(t.Context(), id)
	mustNil(t, "FriendRequestByID "+id, err)
	return r
}

func testRequestRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := createRequest(t, s, newRequest("q1", "u1", "u2", 1))
	sameTime(t, "CreatedAt normalised in place", r.CreatedAt, stored(at(1)))
	// The other direction is a different request.
	back := createRequest(t, s, newRequest("q2", "u2", "u1", 2))

	same(t, "FriendRequestByID", mustRequest(t, s, "q1"), r)
	got, err := s.FriendRequestBetween(ctx, "u1", "u2")
	mustNil(t, "FriendRequestBetween", err)
	same(t, "FriendRequestBetween u1->u2", got, r)
	got, err = s.FriendRequestBetween(ctx, "u2", "u1")
	mustNil(t, "FriendRequestBetween", err)
	same(t, "FriendRequestBetween u2->u1", got, back)
}

func testRequestDefaultTime(t *testing.T, s store.Store) {
	r := newRequest("q1", "u1", "u2", 0)
	r.CreatedAt = time.Time{}
	before := time.Now()
	createRequest(t, s, r)
	recent(t, "defaulted CreatedAt", r.CreatedAt, before)
	same(t, "stored request", mustRequest(t, s, "q1"), r)
}

func testRequestDuplicate(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := createRequest(t, s, newRequest("q1", "u1", "u2", 1))
	wantErr(t, "same (from, to)", s.CreateFriendRequest(ctx, newRequest("q2", "u1", "u2", 2)), store.ErrDuplicate)
	wantErr(t, "same id", s.CreateFriendRequest(ctx, newRequest("q1", "u8", "u9", 3)), store.ErrDuplicate)
	same(t, "request kept", mustRequest(t, s, "q1"), r)
	_, err := s.FriendRequestByID(ctx, "q2")
	wantErr(t, "FriendRequestByID of the loser", err, store.ErrNotFound)
	_, err = s.FriendRequestBetween(ctx, "u8", "u9")
	wantErr(t, "FriendRequestBetween of the loser", err, store.ErrNotFound)
	// The losers' id and pair were not taken.
	createRequest(t, s, newRequest("q2", "u8", "u9", 4))
}

func testRequestNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	createRequest(t, s, newRequest("q1", "u1", "u2", 1))
	_, err := s.FriendRequestByID(ctx, "nope")
	wantErr(t, "FriendRequestByID of a missing request", err, store.ErrNotFound)
	_, err = s.FriendRequestBetween(ctx, "u2", "u1")
	wantErr(t, "FriendRequestBetween, other direction", err, store.ErrNotFound)
	_, err = s.FriendRequestBetween(ctx, "u1", "u3")
	wantErr(t, "FriendRequestBetween of a missing pair", err, store.ErrNotFound)
	to, err := s.FriendRequestsTo(ctx, "u1")
	mustNil(t, "FriendRequestsTo", err)
	from, err := s.FriendRequestsFrom(ctx, "u2")
	mustNil(t, "FriendRequestsFrom", err)
	if len(to) != 0 || len(from) != 0 {
		t.Fatalf("FriendRequestsTo(u1) %+v, FriendRequestsFrom(u2) %+v; want none", to, from)
	}
}

func testRequestLists(t *testing.T, s store.Store) {
	ctx := t.Context()
	// Created out of order of CreatedAt: lists are oldest first.
	r2 := createRequest(t, s, newRequest("q2", "u3", "u2", 2))
	r1 := createRequest(t, s, newRequest("q1", "u1", "u2", 1))
	r3 := createRequest(t, s, newRequest("q3", "u2", "u1", 3))
	r4 := createRequest(t, s, newRequest("q4", "u1", "u3", 4))
	r0 := createRequest(t, s, newRequest("q0", "u4", "u2", 0))

	to, err := s.FriendRequestsTo(ctx, "u2")
	mustNil(t, "FriendRequestsTo", err)
	same(t, "FriendRequestsTo(u2)", to, []store.FriendRequest{*r0, *r1, *r2})
	from, err := s.FriendRequestsFrom(ctx, "u1")
	mustNil(t, "FriendRequestsFrom", err)
	same(t, "FriendRequestsFrom(u1)", from, []store.FriendRequest{*r1, *r4})
	to, err = s.FriendRequestsTo(ctx, "u1")
	mustNil(t, "FriendRequestsTo", err)
	same(t, "FriendRequestsTo(u1)", to, []store.FriendRequest{*r3})
}

func testDeleteRequest(t *testing.T, s store.Store) {
	ctx := t.Context()
	createRequest(t, s, newRequest("q1", "u1", "u2", 1))
	r2 := createRequest(t, s, newRequest("q2", "u3", "u2", 2))

	mustNil(t, "DeleteFriendRequest", s.DeleteFriendRequest(ctx, "q1"))
	wantErr(t, "DeleteFriendRequest again", s.DeleteFriendRequest(ctx, "q1"), store.ErrNotFound)
	wantErr(t, "DeleteFriendRequest of a missing request", s.DeleteFriendRequest(ctx, "nope"), store.ErrNotFound)
	_, err := s.FriendRequestByID(ctx, "q1")
	wantErr(t, "FriendRequestByID after delete", err, store.ErrNotFound)
	_, err = s.FriendRequestBetween(ctx, "u1", "u2")
	wantErr(t, "FriendRequestBetween after delete", err, store.ErrNotFound)
	to, err := s.FriendRequestsTo(ctx, "u2")
	mustNil(t, "FriendRequestsTo", err)
	same(t, "FriendRequestsTo after delete", to, []store.FriendRequest{*r2})
	from, err := s.FriendRequestsFrom(ctx, "u1")
	mustNil(t, "FriendRequestsFrom", err)
	if len(from) != 0 {
		t.Fatalf("FriendRequestsFrom(u1) after delete: %+v", from)
	}
	// The pair is free again, under a new id.
	again := createRequest(t, s, newRequest("q3", "u1", "u2", 3))
	got, err := s.FriendRequestBetween(ctx, "u1", "u2")
	mustNil(t, "FriendRequestBetween", err)
	same(t, "re-created request", got, again)
}
