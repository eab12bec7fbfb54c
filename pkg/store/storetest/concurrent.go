package storetest

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// Racers per concurrency test.
const (
	racers      = 20
	tokenRacers = 16
	readRacers  = 16
	readRounds  = 5
)

// The "create once" rules rest on unique indexes: of the racing inserts of
// one key exactly one wins and the others get ErrDuplicate. A password
// change is a compare-and-swap: of racing changes from one hash exactly one
// wins and the others get ErrConflict.
func concurrentTests() []test {
	return []test{
		{"CreateUserSameAccount", testRaceUserAccount},
		{"CreateUserSameEmail", testRaceUserEmail},
		{"CreateDirectRoomSamePair", testRaceDirectRoom},
		{"CreateGroupSameNumber", testRaceGroupNumber},
		{"AddMember", testRaceAddMember},
		{"CreateFriendship", testRaceFriendship},
		{"CreateFriendRequest", testRaceFriendRequest},
		{"InsertMessageSameClientID", testRaceMessageClientID},
		{"InsertMessageSameSeq", testRaceMessageSeq},
		{"ConsumeRefreshToken", testRaceConsume},
		{"SetReadSeq", testRaceSetReadSeq},
		{"SetPasswordHash", testRaceSetPasswordHash},
		{"SetEmailSameAddress", testRaceSetEmail},
	}
}

func testRaceUserAccount(t *testing.T, s store.Store) {
	ctx := t.Context()
	errs := Race(racers, func(i int) error {
		u := newUser(fmt.Sprintf("u%d", i), "alice")
		u.Email = fmt.Sprintf("alice%d@example.com", i)
		return s.CreateUser(ctx, u)
	})
	w := ExactlyOne(t, "same account", errs)
	got, err := s.UserByAccount(ctx, "alice")
	mustNil(t, "UserByAccount", err)
	if got.ID != fmt.Sprintf("u%d", w) {
		t.Fatalf("stored user %s, winner u%d", got.ID, w)
	}
	for i := range racers {
		if i == w {
			continue
		}
		_, err := s.UserByEmail(ctx, fmt.Sprintf("alice%d@example.com", i))
		wantErr(t, fmt.Sprintf("UserByEmail of loser %d", i), err, store.ErrNotFound)
	}
}

func testRaceUserEmail(t *testing.T, s store.Store) {
	ctx := t.Context()
	errs := Race(racers, func(i int) error {
		u := newUser(fmt.Sprintf("u%d", i), fmt.Sprintf("acct%d", i))
		u.Email = "same@example.com"
		return s.CreateUser(ctx, u)
	})
	w := ExactlyOne(t, "same email", errs)
	got, err := s.UserByEmail(ctx, "same@example.com")
	mustNil(t, "UserByEmail", err)
	if got.ID != fmt.Sprintf("u%d", w) {
		t.Fatalf("stored user %s, winner u%d", got.ID, w)
	}
	for i := range racers {
		if i == w {
			continue
		}
		_, err := s.UserByAccount(ctx, fmt.Sprintf("acct%d", i))
		wantErr(t, fmt.Sprintf("UserByAccount of loser %d", i), err, store.ErrNotFound)
	}
}

func testRaceDirectRoom(t *testing.T, s store.Store) {
	ctx := t.Context()
	errs := Race(racers, func(i int) error {
		a, b := "ua", "ub"
		if i%2 == 1 {
			a, b = b, a
		}
		return s.CreateRoom(ctx, newDirect(fmt.Sprintf("d%d", i), a, b))
	})
	w := ExactlyOne(t, "same pair key", errs)
	got, err := s.RoomByPairKey(ctx, "ua:ub")
	mustNil(t, "RoomByPairKey", err)
	if got.ID != fmt.Sprintf("d%d", w) {
		t.Fatalf("stored room %s, winner d%d", got.ID, w)
	}
}

func testRaceGroupNumber(t *testing.T, s store.Store) {
	ctx := t.Context()
	errs := Race(racers, func(i int) error {
		return s.CreateRoom(ctx, newGroup(fmt.Sprintf("g%d", i), "100001"))
	})
	w := ExactlyOne(t, "same number", errs)
	for i := range racers {
		_, err := s.RoomByID(ctx, fmt.Sprintf("g%d", i))
		if i == w {
			mustNil(t, "RoomByID of the winner", err)
		} else {
			wantErr(t, fmt.Sprintf("RoomByID of loser %d", i), err, store.ErrNotFound)
		}
	}
}

func testRaceAddMember(t *testing.T, s store.Store) {
	ctx := t.Context()
	errs := Race(racers, func(i int) error {
		m := newMember("r1", "u1", i)
		m.ReadSeq = int64(i)
		return s.AddMember(ctx, m)
	})
	w := ExactlyOne(t, "same membership", errs)
	n, err := s.CountMembers(ctx, "r1")
	mustNil(t, "CountMembers", err)
	if n != 1 {
		t.Fatalf("%d memberships stored, want 1", n)
	}
	if m := mustMember(t, s, "r1", "u1"); m.ReadSeq != int64(w) {
		t.Fatalf("stored membership %+v, winner %d", m, w)
	}
}

func testRaceFriendship(t *testing.T, s store.Store) {
	ctx := t.Context()
	errs := Race(racers, func(i int) error {
		f := &store.Friendship{UserA: "ua", UserB: "ub", RoomID: fmt.Sprintf("r%d", i)}
		if i%2 == 1 {
			f.UserA, f.UserB = f.UserB, f.UserA
		}
		return s.CreateFriendship(ctx, f)
	})
	w := ExactlyOne(t, "same pair", errs)
	all, err := s.FriendshipsOf(ctx, "ub")
	mustNil(t, "FriendshipsOf", err)
	if len(all) != 1 || all[0].RoomID != fmt.Sprintf("r%d", w) {
		t.Fatalf("stored %+v, winner r%d", all, w)
	}
}

func testRaceFriendRequest(t *testing.T, s store.Store) {
	ctx := t.Context()
	errs := Race(racers, func(i int) error {
		return s.CreateFriendRequest(ctx, newRequest(fmt.Sprintf("q%d", i), "u1", "u2", i))
	})
	w := ExactlyOne(t, "same (from, to)", errs)
	got, err := s.FriendRequestBetween(ctx, "u1", "u2")
	mustNil(t, "FriendRequestBetween", err)
	if got.ID != fmt.Sprintf("q%d", w) {
		t.Fatalf("stored request %s, winner q%d", got.ID, w)
	}
	to, err := s.FriendRequestsTo(ctx, "u2")
	mustNil(t, "FriendRequestsTo", err)
	if len(to) != 1 {
		t.Fatalf("%d requests stored, want 1", len(to))
	}
}

func testRaceMessageClientID(t *testing.T, s store.Store) {
	ctx := t.Context()
	errs := Race(racers, func(i int) error {
		m := newMessage("r1", int64(i+1), "u1")
		m.ID, m.ClientMsgID = fmt.Sprintf("m%d", i), "same"
		return s.InsertMessage(ctx, m)
	})
	w := ExactlyOne(t, "same (from, client id)", errs)
	got, err := s.MessageByClientID(ctx, "u1", "same")
	mustNil(t, "MessageByClientID", err)
	if got.ID != fmt.Sprintf("m%d", w) || got.Seq != int64(w+1) {
		t.Fatalf("stored %+v, winner m%d", got, w)
	}
	ms, err := s.MessagesAfter(ctx, "r1", 0, 100)
	mustNil(t, "MessagesAfter", err)
	if len(ms) != 1 {
		t.Fatalf("%d messages stored, want 1: seqs %v", len(ms), seqs(ms))
	}
}

func testRaceMessageSeq(t *testing.T, s store.Store) {
	ctx := t.Context()
	errs := Race(racers, func(i int) error {
		m := newMessage("r1", 1, fmt.Sprintf("u%d", i))
		m.ID, m.ClientMsgID = fmt.Sprintf("m%d", i), fmt.Sprintf("c%d", i)
		return s.InsertMessage(ctx, m)
	})
	w := ExactlyOne(t, "same (room, seq)", errs)
	ms, err := s.MessagesAfter(ctx, "r1", 0, 100)
	mustNil(t, "MessagesAfter", err)
	if len(ms) != 1 || ms[0].ID != fmt.Sprintf("m%d", w) {
		t.Fatalf("stored %+v, winner m%d", ms, w)
	}
	for i := range racers {
		if i == w {
			continue
		}
		_, err := s.MessageByClientID(ctx, fmt.Sprintf("u%d", i), fmt.Sprintf("c%d", i))
		wantErr(t, fmt.Sprintf("MessageByClientID of loser %d", i), err, store.ErrNotFound)
	}
}

func testRaceConsume(t *testing.T, s store.Store) {
	ctx := t.Context()
	insertToken(t, s, newToken("h", "f", 1))
	errs := Race(tokenRacers, func(int) error { return s.ConsumeRefreshToken(ctx, "h") })
	ExactlyOne(t, "consume", errs)
	wantErr(t, "ConsumeRefreshToken after the race", s.ConsumeRefreshToken(ctx, "h"), store.ErrDuplicate)
}

// testRaceSetReadSeq: racing SetReadSeq calls all succeed and leave the
// highest seq, round after round (the mark never goes down).
func testRaceSetReadSeq(t *testing.T, s store.Store) {
	ctx := t.Context()
	addMember(t, s, newMember("r1", "u1", 1))
	peer := addMember(t, s, newMember("r1", "u2", 2))
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0))
	var want int64
	for round := range readRounds {
		seqs := make([]int64, readRacers)
		for i := range seqs {
			// Overlapping ranges: some rounds raise the mark, some don't.
			seqs[i] = 1 + int64(round)*100 + rng.Int64N(300)
			want = max(want, seqs[i])
		}
		errs := Race(readRacers, func(i int) error { return s.SetReadSeq(ctx, "r1", "u1", seqs[i]) })
		allNil(t, fmt.Sprintf("round %d (seed %d): SetReadSeq", round, seed), errs)
		if got := mustMember(t, s, "r1", "u1").ReadSeq; got != want {
			t.Fatalf("round %d (seed %d): read seq %d after racing SetReadSeq %v, want the maximum %d",
				round, seed, got, seqs, want)
		}
	}
	same(t, "other member", mustMember(t, s, "r1", "u2"), peer)
}
