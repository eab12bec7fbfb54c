package sqlite_test

import (
	"reflect"
	"testing"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

func TestFriendships(t *testing.T) {
	s, ctx := openStore(t), testCtx(t)
	f1 := &store.Friendship{UserA: "u2", UserB: "u1", RoomID: "r12", CreatedAt: at(1)}
	mustNil(t, "CreateFriendship", s.CreateFriendship(ctx, f1))
	if f1.UserA != "u1" || f1.UserB != "u2" {
		t.Fatalf("ids not sorted: %+v", f1)
	}
	f2 := &store.Friendship{UserA: "u1", UserB: "u3", RoomID: "r13", CreatedAt: at(2)}
	mustNil(t, "CreateFriendship", s.CreateFriendship(ctx, f2))
	f3 := &store.Friendship{UserA: "u0", UserB: "u1", RoomID: "r01", CreatedAt: at(3)}
	mustNil(t, "CreateFriendship", s.CreateFriendship(ctx, f3))

	wantErr(t, "same pair", s.CreateFriendship(ctx, &store.Friendship{UserA: "u1", UserB: "u2"}), store.ErrDuplicate)
	wantErr(t, "same pair swapped", s.CreateFriendship(ctx, &store.Friendship{UserA: "u2", UserB: "u1"}), store.ErrDuplicate)

	for _, pair := range [][2]string{{"u1", "u2"}, {"u2", "u1"}} {
		got, err := s.Friendship(ctx, pair[0], pair[1])
		mustNil(t, "Friendship", err)
		if !reflect.DeepEqual(got, f1) {
			t.Fatalf("Friendship%v: got %+v, want %+v", pair, got, f1)
		}
	}
	_, err := s.Friendship(ctx, "u2", "u3")
	wantErr(t, "Friendship missing", err, store.ErrNotFound)

	all, err := s.FriendshipsOf(ctx, "u1")
	mustNil(t, "FriendshipsOf", err)
	if !reflect.DeepEqual(all, []store.Friendship{*f1, *f2, *f3}) {
		t.Fatalf("FriendshipsOf(u1): got %+v", all)
	}
	all, err = s.FriendshipsOf(ctx, "u2")
	mustNil(t, "FriendshipsOf", err)
	if !reflect.DeepEqual(all, []store.Friendship{*f1}) {
		t.Fatalf("FriendshipsOf(u2): got %+v", all)
	}

	mustNil(t, "DeleteFriendship swapped", s.DeleteFriendship(ctx, "u2", "u1"))
	wantErr(t, "DeleteFriendship again", s.DeleteFriendship(ctx, "u1", "u2"), store.ErrNotFound)
	all, err = s.FriendshipsOf(ctx, "u2")
	mustNil(t, "FriendshipsOf", err)
	if len(all) != 0 {
		t.Fatalf("FriendshipsOf after delete: %+v", all)
	}
	mustNil(t, "CreateFriendship after delete", s.CreateFriendship(ctx, &store.Friendship{UserA: "u1", UserB: "u2", RoomID: "r12"}))
	if err := s.CreateFriendship(ctx, nil); err == nil {
		t.Fatal("CreateFriendship(nil): no error")
	}
}

func TestFriendRequests(t *testing.T) {
	s, ctx := openStore(t), testCtx(t)
	req := func(id, from, to string, sec int) *store.FriendRequest {
		r := &store.FriendRequest{ID: id, From: from, To: to, Message: "hi " + id, CreatedAt: at(sec)}
		mustNil(t, "CreateFriendRequest", s.CreateFriendRequest(ctx, r))
		return r
	}
	r1 := req("q1", "u1", "u2", 1)
	r2 := req("q2", "u3", "u2", 2)
	r3 := req("q3", "u2", "u1", 3) // the other direction is a different request
	r4 := req("q4", "u1", "u3", 4)

	wantErr(t, "same from/to", s.CreateFriendRequest(ctx, &store.FriendRequest{ID: "q5", From: "u1", To: "u2"}), store.ErrDuplicate)
	wantErr(t, "same id", s.CreateFriendRequest(ctx, &store.FriendRequest{ID: "q1", From: "u9", To: "u8"}), store.ErrDuplicate)

	got, err := s.FriendRequestByID(ctx, "q1")
	mustNil(t, "FriendRequestByID", err)
	if !reflect.DeepEqual(got, r1) {
		t.Fatalf("FriendRequestByID: got %+v, want %+v", got, r1)
	}
	got, err = s.FriendRequestBetween(ctx, "u2", "u1")
	mustNil(t, "FriendRequestBetween", err)
	if !reflect.DeepEqual(got, r3) {
		t.Fatalf("FriendRequestBetween: got %+v, want %+v", got, r3)
	}
	_, err = s.FriendRequestBetween(ctx, "u3", "u1")
	wantErr(t, "FriendRequestBetween missing", err, store.ErrNotFound)
	_, err = s.FriendRequestByID(ctx, "nope")
	wantErr(t, "FriendRequestByID missing", err, store.ErrNotFound)

	to, err := s.FriendRequestsTo(ctx, "u2")
	mustNil(t, "FriendRequestsTo", err)
	if !reflect.DeepEqual(to, []store.FriendRequest{*r1, *r2}) {
		t.Fatalf("FriendRequestsTo: got %+v", to)
	}
	from, err := s.FriendRequestsFrom(ctx, "u1")
	mustNil(t, "FriendRequestsFrom", err)
	if !reflect.DeepEqual(from, []store.FriendRequest{*r1, *r4}) {
		t.Fatalf("FriendRequestsFrom: got %+v", from)
	}

	mustNil(t, "DeleteFriendRequest", s.DeleteFriendRequest(ctx, "q1"))
	wantErr(t, "DeleteFriendRequest again", s.DeleteFriendRequest(ctx, "q1"), store.ErrNotFound)
	to, err = s.FriendRequestsTo(ctx, "u2")
	mustNil(t, "FriendRequestsTo", err)
	if !reflect.DeepEqual(to, []store.FriendRequest{*r2}) {
		t.Fatalf("FriendRequestsTo after delete: got %+v", to)
	}
	// The pair is free again once the request is gone.
	req("q6", "u1", "u2", 6)
	if err := s.CreateFriendRequest(ctx, nil); err == nil {
		t.Fatal("CreateFriendRequest(nil): no error")
	}
}
