package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// Admin: bans and the pages of every user and room (the admin API).
func adminTests() []test {
	return []test{
		{"BanRoundTrip", testBanRoundTrip},
		{"BanReplace", testBanReplace},
		{"BanNotFound", testBanNotFound},
		{"BansOf", testBansOf},
		{"UsersPage", testUsersPage},
		{"RoomsPage", testRoomsPage},
		{"ConcurrentPutBan", testConcurrentPutBan},
	}
}

func testBanRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	b := &store.Ban{UserID: "u1", Reason: "spam", CreatedAt: at(3)}
	mustNil(t, "PutBan", s.PutBan(ctx, b))
	if want := at(3).UTC().Truncate(time.Millisecond); !b.CreatedAt.Equal(want) || b.CreatedAt.Location() != time.UTC {
		t.Fatalf("PutBan normalised CreatedAt to %v, want %v", b.CreatedAt, want)
	}
	got, err := s.BanOf(ctx, "u1")
	mustNil(t, "BanOf", err)
	if got.UserID != "u1" || got.Reason != "spam" || !got.CreatedAt.Equal(b.CreatedAt) || got.CreatedAt.Location() != time.UTC {
		t.Fatalf("BanOf = %+v, want %+v", got, b)
	}
	mustNil(t, "DeleteBan", s.DeleteBan(ctx, "u1"))
	_, err = s.BanOf(ctx, "u1")
	wantErr(t, "BanOf after DeleteBan", err, store.ErrNotFound)
	// Banned again after an unban.
	mustNil(t, "PutBan again", s.PutBan(ctx, &store.Ban{UserID: "u1", Reason: "again"}))
	got, err = s.BanOf(ctx, "u1")
	mustNil(t, "BanOf again", err)
	if got.Reason != "again" || got.CreatedAt.IsZero() {
		t.Fatalf("BanOf again = %+v", got)
	}
}

func testBanReplace(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustNil(t, "PutBan", s.PutBan(ctx, &store.Ban{UserID: "u1", Reason: "first", CreatedAt: at(1)}))
	mustNil(t, "PutBan replace", s.PutBan(ctx, &store.Ban{UserID: "u1", Reason: "second", CreatedAt: at(5)}))
	got, err := s.BanOf(ctx, "u1")
	mustNil(t, "BanOf", err)
	if got.Reason != "second" || !got.CreatedAt.Equal(at(5).Truncate(time.Millisecond)) {
		t.Fatalf("BanOf after a replace = %+v", got)
	}
	bs, err := s.BansOf(ctx, []string{"u1"})
	mustNil(t, "BansOf", err)
	if len(bs) != 1 {
		t.Fatalf("BansOf after a replace = %+v, want one ban", bs)
	}
}

func testBanNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.BanOf(ctx, "nobody")
	wantErr(t, "BanOf", err, store.ErrNotFound)
	wantErr(t, "DeleteBan", s.DeleteBan(ctx, "nobody"), store.ErrNotFound)
	mustNil(t, "PutBan", s.PutBan(ctx, &store.Ban{UserID: "u1", Reason: "x"}))
	mustNil(t, "DeleteBan", s.DeleteBan(ctx, "u1"))
	wantErr(t, "DeleteBan twice", s.DeleteBan(ctx, "u1"), store.ErrNotFound)
	if err := s.PutBan(ctx, nil); err == nil {
		t.Fatal("PutBan(nil) succeeded")
	}
}

func testBansOf(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, id := range []string{"u1", "u3", "u4"} {
		mustNil(t, "PutBan "+id, s.PutBan(ctx, &store.Ban{UserID: id, Reason: "r " + id}))
	}
	bs, err := s.BansOf(ctx, []string{"u1", "u2", "u3", "u1"})
	mustNil(t, "BansOf", err)
	var ids []string
	for _, b := range bs {
		ids = append(ids, b.UserID)
		if b.Reason != "r "+b.UserID {
			t.Fatalf("BansOf: %+v", b)
		}
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"u1", "u3"}) {
		t.Fatalf("BansOf = %v, want [u1 u3]", ids)
	}
	bs, err = s.BansOf(ctx, nil)
	mustNil(t, "BansOf none", err)
	if len(bs) != 0 {
		t.Fatalf("BansOf(nil) = %v", bs)
	}
	if _, err := s.BansOf(ctx, make([]string, store.MaxBanIDs+1)); err == nil {
		t.Fatalf("BansOf with %d ids succeeded", store.MaxBanIDs+1)
	}
}

func testUsersPage(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, id := range []string{"u3", "u1", "u5", "u2", "u4"} {
		createUser(t, s, newUser(id, "acct"+id))
	}
	mustNil(t, "MarkDeleted", s.MarkDeleted(ctx, "u4", at(9)))
	var ids []string
	after := ""
	for range 4 {
		page, err := s.UsersPage(ctx, after, 2)
		mustNil(t, "UsersPage", err)
		if len(page) > 2 {
			t.Fatalf("UsersPage limit 2 returned %d", len(page))
		}
		if len(page) == 0 {
			break
		}
		for _, u := range page {
			ids = append(ids, u.ID)
		}
		after = page[len(page)-1].ID
	}
	if !slices.Equal(ids, []string{"u1", "u2", "u3", "u4", "u5"}) {
		t.Fatalf("UsersPage pages = %v", ids)
	}
	page, err := s.UsersPage(ctx, "u2", 0)
	mustNil(t, "UsersPage", err)
	if len(page) != 3 || page[0].ID != "u3" || page[0].Account != "acctu3" || page[1].DeletedAt.IsZero() {
		t.Fatalf("UsersPage after u2 = %+v", page)
	}
}

func testRoomsPage(t *testing.T, s store.Store) {
	ctx := t.Context()
	createRoom(t, s, newGroup("r2", "n2"))
	createRoom(t, s, newDirect("r1", "a", "b"))
	createRoom(t, s, newGroup("r4", "n4"))
	createRoom(t, s, newDirect("r3", "a", "c"))
	mustNil(t, "MarkDisbanded", s.MarkDisbanded(ctx, "r4"))
	ids := func(rs []store.Room) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	all, err := s.RoomsPage(ctx, "", false, 0)
	mustNil(t, "RoomsPage", err)
	if !slices.Equal(ids(all), []string{"r1", "r2", "r3", "r4"}) {
		t.Fatalf("RoomsPage = %v", ids(all))
	}
	page, err := s.RoomsPage(ctx, "r1", false, 2)
	mustNil(t, "RoomsPage", err)
	if !slices.Equal(ids(page), []string{"r2", "r3"}) {
		t.Fatalf("RoomsPage after r1 limit 2 = %v", ids(page))
	}
	groups, err := s.RoomsPage(ctx, "", true, 0)
	mustNil(t, "RoomsPage groups", err)
	if !slices.Equal(ids(groups), []string{"r2", "r4"}) || groups[0].Name != "g r2" || !groups[1].Disbanded {
		t.Fatalf("RoomsPage groups = %+v", groups)
	}
	groups, err = s.RoomsPage(ctx, "r2", true, 10)
	mustNil(t, "RoomsPage groups after r2", err)
	if !slices.Equal(ids(groups), []string{"r4"}) {
		t.Fatalf("RoomsPage groups after r2 = %v", ids(groups))
	}
}

// testConcurrentPutBan: racing bans of one user all succeed (a replace,
// not a duplicate) and leave exactly one of them.
func testConcurrentPutBan(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = s.PutBan(ctx, &store.Ban{UserID: "u1", Reason: fmt.Sprint("r", i)}) })
	}
	wg.Wait()
	for i, err := range errs {
		mustNil(t, fmt.Sprint("PutBan ", i), err)
	}
	bs, err := s.BansOf(ctx, []string{"u1"})
	mustNil(t, "BansOf", err)
	if len(bs) != 1 || len(bs[0].Reason) != 2 {
		t.Fatalf("after %d racing bans: %+v", n, bs)
	}
}
