package storetest

import (
	"errors"
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
	// reactRacers react to one message at once, each a user of its own.
	reactRacers = 50
	// sameReactRacers add the same reaction at once.
	sameReactRacers = 10
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
		{"AddReactionDistinctUsers", testRaceReactions},
		{"AddReactionSameUser", testRaceSameReaction},
		{"MarkMentioned", testRaceMarkMentioned},
		{"AttachFile", testRaceAttachFile},
		{"EditRecall", testRaceEditRecall},
		{"ReadCounts", testRaceReadCounts},
		{"BlockUser", testRaceBlock},
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
	got, err := s.MessageByClientID(ctx, "r1", "u1", "same")
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
		_, err := s.MessageByClientID(ctx, "r1", fmt.Sprintf("u%d", i), fmt.Sprintf("c%d", i))
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

// testRaceReactions: reactions of distinct users to one message at once
// are all counted, whatever the server (the stores count rows).
func testRaceReactions(t *testing.T, s store.Store) {
	ctx := t.Context()
	errs := Race(reactRacers, func(i int) error {
		return s.AddReaction(ctx, newReaction("r1", 1, fmt.Sprintf("u%03d", i), "👍", i%60))
	})
	allNil(t, "AddReaction", errs)
	counts := mustCounts(t, s, "r1", []int64{1}, "u007")
	same(t, "counts after racing reactions", counts, map[int64][]store.ReactionCount{
		1: {{Emoji: "👍", Count: reactRacers, Mine: true}},
	})
	if got := reactors(t, s, "r1", 1, "👍", "", 100); len(got) != reactRacers {
		t.Fatalf("%d reactors, want %d", len(got), reactRacers)
	}
	// Half of them take theirs back at once, while others react.
	errs = Race(reactRacers, func(i int) error {
		if i%2 == 0 {
			return s.RemoveReaction(ctx, "r1", 1, fmt.Sprintf("u%03d", i), "👍")
		}
		return s.AddReaction(ctx, newReaction("r1", 1, fmt.Sprintf("u%03d", i), "❤️", 30))
	})
	allNil(t, "RemoveReaction and AddReaction", errs)
	counts = mustCounts(t, s, "r1", []int64{1}, "u000")
	same(t, "counts after racing removals", counts, map[int64][]store.ReactionCount{
		1: {{Emoji: "👍", Count: reactRacers / 2}, {Emoji: "❤️", Count: reactRacers / 2}},
	})
}

// testRaceSameReaction: of racing adds of one reaction exactly one wins.
func testRaceSameReaction(t *testing.T, s store.Store) {
	ctx := t.Context()
	errs := Race(sameReactRacers, func(i int) error {
		return s.AddReaction(ctx, newReaction("r1", 1, "u1", "👍", i))
	})
	w := ExactlyOne(t, "same reaction", errs)
	got := reactors(t, s, "r1", 1, "👍", "", 100)
	same(t, "stored reaction", got, values(newReactionStored("r1", 1, "u1", "👍", w)))
	same(t, "counts", mustCounts(t, s, "r1", []int64{1}, "u1"), map[int64][]store.ReactionCount{
		1: {{Emoji: "👍", Count: 1, Mine: true}},
	})
}

// newReactionStored is newReaction as the store keeps it.
func newReactionStored(room string, seq int64, user, emoji string, sec int) *store.Reaction {
	r := newReaction(room, seq, user, emoji, sec)
	r.CreatedAt = stored(r.CreatedAt)
	return r
}

// testRaceMarkMentioned: racing MarkMentioned calls (of some members and
// of all) and SetReadSeq calls on the same memberships all succeed and
// leave each mark at its maximum: neither write loses the other's.
func testRaceMarkMentioned(t *testing.T, s store.Store) {
	ctx := t.Context()
	users := []string{"u1", "u2", "u3"}
	for _, u := range users {
		addMember(t, s, newMember("r1", u, 1))
	}
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0))
	wantMention := map[string]int64{}
	var wantRead int64
	for round := range readRounds {
		type call struct {
			read  bool
			users []string
			seq   int64
		}
		calls := make([]call, readRacers)
		for i := range calls {
			c := call{seq: 1 + int64(round)*100 + rng.Int64N(300)}
			switch i % 4 {
			case 0:
				c.read = true // u1's read mark
				wantRead = max(wantRead, c.seq)
			case 1:
				c.users = nil // everyone
			default:
				c.users = users[:1+rng.IntN(len(users))]
			}
			if !c.read {
				targets := c.users
				if targets == nil {
					targets = users
				}
				for _, u := range targets {
					wantMention[u] = max(wantMention[u], c.seq)
				}
			}
			calls[i] = c
		}
		errs := Race(len(calls), func(i int) error {
			c := calls[i]
			if c.read {
				return s.SetReadSeq(ctx, "r1", "u1", c.seq)
			}
			return s.MarkMentioned(ctx, "r1", c.users, c.seq)
		})
		allNil(t, fmt.Sprintf("round %d (seed %d)", round, seed), errs)
		for _, u := range users {
			m := mustMember(t, s, "r1", u)
			if m.MentionSeq != wantMention[u] {
				t.Fatalf("round %d (seed %d): %s mention seq %d, want the maximum %d", round, seed, u, m.MentionSeq, wantMention[u])
			}
			if u == "u1" && m.ReadSeq != wantRead {
				t.Fatalf("round %d (seed %d): read seq %d, want the maximum %d", round, seed, m.ReadSeq, wantRead)
			}
		}
	}
}

// testRaceAttachFile: of racing attachments of one file to different
// messages exactly one wins, the others get ErrConflict.
func testRaceAttachFile(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := createFile(t, s, newFile("f1", "r1", 1))
	errs := Race(racers, func(i int) error { return s.AttachFile(ctx, "f1", int64(i+1)) })
	w := exactlyOne(t, "attach to different seqs", errs, store.ErrConflict)
	f.MessageSeq = int64(w + 1)
	same(t, "attached file", mustFile(t, s, "f1"), f)
	// Racing attachments to the seq it has all succeed.
	errs = Race(racers, func(int) error { return s.AttachFile(ctx, "f1", f.MessageSeq) })
	allNil(t, "attach to the same seq", errs)
}

// testRaceEditRecall: edits racing a recall never bring the body back:
// each edit succeeds before the recall or fails with ErrRecalled after
// it, and the message ends recalled.
func testRaceEditRecall(t *testing.T, s store.Store) {
	ctx := t.Context()
	m := insertMessage(t, s, newRich("r1", 1, "u1"))
	errs := Race(racers, func(i int) error {
		if i == racers/2 {
			return s.RecallMessage(ctx, "r1", 1)
		}
		return s.EditMessage(ctx, "r1", 1, fmt.Sprintf("edit %d", i), at(i))
	})
	for i, err := range errs {
		if err != nil && (i == racers/2 || !errors.Is(err, store.ErrRecalled)) {
			t.Fatalf("caller %d: %v", i, err)
		}
	}
	got := mustMessageAt(t, s, "r1", 1)
	if !got.Recalled || got.Body != "" || got.Extra != "" || got.Mentions != nil {
		t.Fatalf("after racing edits and a recall: %+v", got)
	}
	want := *m
	want.Body, want.Extra, want.Mentions, want.Recalled, want.EditedAt = "", "", nil, true, got.EditedAt
	same(t, "recalled message", got, &want)
}
