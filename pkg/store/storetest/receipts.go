package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// readersRacers mark a group read at once (issue #15: counts exact with
// 50 members reading concurrently).
const readersRacers = 50

func receiptTests() []test {
	return []test{
		{"ReadCounts", testReadCounts},
		{"ReadCountsEmpty", testReadCountsEmpty},
		{"ReadCountsTooMany", testReadCountsTooMany},
		{"Readers", testReaders},
	}
}

func blockTests() []test {
	return []test{
		{"RoundTrip", testBlockRoundTrip},
		{"Duplicate", testBlockDuplicate},
		{"Unblock", testUnblock},
		{"BlocksOf", testBlocksOf},
	}
}

// readRoom makes room r1 with members u1..u4 whose read marks are 0, 2, 5
// and 9.
func readRoom(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i, seq := range []int64{0, 2, 5, 9} {
		u := fmt.Sprintf("u%d", i+1)
		addMember(t, s, newMember("r1", u, i+1))
		mustNil(t, "SetReadSeq "+u, s.SetReadSeq(ctx, "r1", u, seq))
	}
	addMember(t, s, newMember("r2", "u9", 1))
	mustNil(t, "SetReadSeq r2", s.SetReadSeq(t.Context(), "r2", "u9", 100))
}

func testReadCounts(t *testing.T, s store.Store) {
	readRoom(t, s)
	got, err := s.ReadCounts(t.Context(), "r1", []store.SeqFrom{
		{Seq: 1, From: "u1"}, // u2, u3, u4
		{Seq: 2, From: "u2"}, // u3, u4 (not the sender u2)
		{Seq: 5, From: "u1"}, // u3, u4
		{Seq: 6, From: "u4"}, // nobody but the sender
		{Seq: 9, From: "u9"}, // u4 (u9 is not a member here)
		{Seq: 10, From: "u1"},
	})
	mustNil(t, "ReadCounts", err)
	same(t, "ReadCounts", got, map[int64]int64{1: 3, 2: 2, 5: 2, 6: 0, 9: 1, 10: 0})
}

func testReadCountsEmpty(t *testing.T, s store.Store) {
	readRoom(t, s)
	got, err := s.ReadCounts(t.Context(), "r1", nil)
	mustNil(t, "ReadCounts of none", err)
	same(t, "ReadCounts of none", got, map[int64]int64{})
	got, err = s.ReadCounts(t.Context(), "missing", []store.SeqFrom{{Seq: 1, From: "u1"}})
	mustNil(t, "ReadCounts of a room without members", err)
	same(t, "ReadCounts of a room without members", got, map[int64]int64{1: 0})
}

func testReadCountsTooMany(t *testing.T, s store.Store) {
	msgs := make([]store.SeqFrom, store.MaxSeqs+1)
	for i := range msgs {
		msgs[i] = store.SeqFrom{Seq: int64(i + 1), From: "u1"}
	}
	if _, err := s.ReadCounts(t.Context(), "r1", msgs); err == nil {
		t.Fatalf("ReadCounts of %d messages succeeded, want an error", len(msgs))
	}
	if _, err := s.ReadCounts(t.Context(), "r1", msgs[:store.MaxSeqs]); err != nil {
		t.Fatalf("ReadCounts of %d messages: %v", store.MaxSeqs, err)
	}
}

func readerIDs(ms []store.Member) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, m.UserID)
	}
	return out
}

func testReaders(t *testing.T, s store.Store) {
	readRoom(t, s)
	ctx := t.Context()
	all, err := s.Readers(ctx, "r1", 2, "", "", 0)
	mustNil(t, "Readers", err)
	same(t, "Readers of seq 2", readerIDs(all), []string{"u2", "u3", "u4"})
	if all[2].ReadSeq != 9 || all[2].RoomID != "r1" {
		t.Fatalf("Readers: %+v, want u4 of r1 at read seq 9", all[2])
	}
	got, err := s.Readers(ctx, "r1", 2, "u3", "", 0)
	mustNil(t, "Readers excluding u3", err)
	same(t, "Readers excluding u3", readerIDs(got), []string{"u2", "u4"})
	page, err := s.Readers(ctx, "r1", 1, "", "", 2)
	mustNil(t, "Readers page 1", err)
	same(t, "Readers page 1", readerIDs(page), []string{"u2", "u3"})
	page, err = s.Readers(ctx, "r1", 1, "", "u3", 2)
	mustNil(t, "Readers page 2", err)
	same(t, "Readers page 2", readerIDs(page), []string{"u4"})
	page, err = s.Readers(ctx, "r1", 10, "", "", 0)
	mustNil(t, "Readers of an unread seq", err)
	same(t, "Readers of an unread seq", readerIDs(page), []string{})
}

// testRaceReadCounts: 50 members of a group raise their read marks at
// once (several rounds, not all of them rising); the counts read after
// each round are exact.
func testRaceReadCounts(t *testing.T, s store.Store) {
	ctx := t.Context()
	users := make([]string, readersRacers)
	for i := range users {
		users[i] = fmt.Sprintf("u%02d", i)
		addMember(t, s, newMember("g", users[i], i%60))
	}
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	marks := make([]int64, readersRacers)
	msgs := make([]store.SeqFrom, 40)
	for i := range msgs {
		msgs[i] = store.SeqFrom{Seq: int64(i + 1), From: users[i%7]}
	}
	for round := range 3 {
		want := make([]int64, readersRacers)
		for i := range want {
			want[i] = rng.Int64N(41)
		}
		// A store that cannot keep up answers ErrUnavailable (FerretDB's
		// lock lease runs out under load): the caller tries again, as
		// the service's clients do.
		errs := Race(readersRacers, func(i int) error {
			var err error
			for try := 0; try < 10; try++ {
				if err = s.SetReadSeq(ctx, "g", users[i], want[i]); !errors.Is(err, store.ErrUnavailable) {
					return err
				}
			}
			return err
		})
		allNil(t, fmt.Sprintf("round %d (seed %d): SetReadSeq", round, seed), errs)
		for i := range marks {
			marks[i] = max(marks[i], want[i])
		}
		got, err := s.ReadCounts(ctx, "g", msgs)
		mustNil(t, "ReadCounts", err)
		for _, m := range msgs {
			var n int64
			for i, u := range users {
				if u != m.From && marks[i] >= m.Seq {
					n++
				}
			}
			if got[m.Seq] != n {
				t.Fatalf("round %d (seed %d): seq %d read by %d, want %d", round, seed, m.Seq, got[m.Seq], n)
			}
		}
	}
}

func testBlockRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	b := &store.Block{Blocker: "u1", Blocked: "u2", CreatedAt: at(1)}
	mustNil(t, "BlockUser", s.BlockUser(ctx, b))
	sameTime(t, "CreatedAt normalised in place", b.CreatedAt, stored(at(1)))
	for _, tc := range []struct {
		a, b string
		want bool
	}{{"u1", "u2", true}, {"u2", "u1", false}, {"u1", "u3", false}} {
		got, err := s.IsBlocked(ctx, tc.a, tc.b)
		mustNil(t, "IsBlocked", err)
		if got != tc.want {
			t.Fatalf("IsBlocked(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
	bs, err := s.BlocksOf(ctx, "u1", 0)
	mustNil(t, "BlocksOf", err)
	same(t, "BlocksOf", bs, []store.Block{*b})
	since := time.Now()
	z := &store.Block{Blocker: "u3", Blocked: "u1"}
	mustNil(t, "BlockUser without a time", s.BlockUser(ctx, z))
	recent(t, "default CreatedAt", z.CreatedAt, since)
}

func testBlockDuplicate(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustNil(t, "BlockUser", s.BlockUser(ctx, &store.Block{Blocker: "u1", Blocked: "u2"}))
	wantErr(t, "BlockUser again", s.BlockUser(ctx, &store.Block{Blocker: "u1", Blocked: "u2"}), store.ErrDuplicate)
	mustNil(t, "BlockUser the other way", s.BlockUser(ctx, &store.Block{Blocker: "u2", Blocked: "u1"}))
	if err := s.BlockUser(ctx, nil); err == nil {
		t.Fatal("BlockUser(nil) succeeded, want an error")
	}
}

func testUnblock(t *testing.T, s store.Store) {
	ctx := t.Context()
	wantErr(t, "UnblockUser of none", s.UnblockUser(ctx, "u1", "u2"), store.ErrNotFound)
	mustNil(t, "BlockUser", s.BlockUser(ctx, &store.Block{Blocker: "u1", Blocked: "u2"}))
	mustNil(t, "BlockUser other way", s.BlockUser(ctx, &store.Block{Blocker: "u2", Blocked: "u1"}))
	wantErr(t, "UnblockUser the wrong way round", s.UnblockUser(ctx, "u1", "u3"), store.ErrNotFound)
	mustNil(t, "UnblockUser", s.UnblockUser(ctx, "u1", "u2"))
	wantErr(t, "UnblockUser again", s.UnblockUser(ctx, "u1", "u2"), store.ErrNotFound)
	if got, err := s.IsBlocked(ctx, "u1", "u2"); err != nil || got {
		t.Fatalf("IsBlocked after UnblockUser = %v, %v; want false", got, err)
	}
	if got, err := s.IsBlocked(ctx, "u2", "u1"); err != nil || !got {
		t.Fatalf("IsBlocked of the other direction = %v, %v; want true", got, err)
	}
	mustNil(t, "BlockUser after UnblockUser", s.BlockUser(ctx, &store.Block{Blocker: "u1", Blocked: "u2"}))
}

func testBlocksOf(t *testing.T, s store.Store) {
	ctx := t.Context()
	b1 := &store.Block{Blocker: "u1", Blocked: "u2", CreatedAt: at(3)}
	b2 := &store.Block{Blocker: "u3", Blocked: "u1", CreatedAt: at(1)}
	b3 := &store.Block{Blocker: "u1", Blocked: "u4", CreatedAt: at(3)}
	other := &store.Block{Blocker: "u2", Blocked: "u3", CreatedAt: at(0)}
	for _, b := range []*store.Block{b1, b2, b3, other} {
		mustNil(t, "BlockUser", s.BlockUser(ctx, b))
	}
	got, err := s.BlocksOf(ctx, "u1", 0)
	mustNil(t, "BlocksOf", err)
	same(t, "BlocksOf u1 (made and suffered, oldest first)", got, []store.Block{*b2, *b1, *b3})
	got, err = s.BlocksOf(ctx, "u1", 2)
	mustNil(t, "BlocksOf limit 2", err)
	same(t, "BlocksOf u1 limit 2", got, []store.Block{*b2, *b1})
	got, err = s.BlocksOf(ctx, "nobody", 0)
	mustNil(t, "BlocksOf nobody", err)
	if len(got) != 0 {
		t.Fatalf("BlocksOf nobody = %v, want none", got)
	}
}

// testRaceBlock: of racing blocks of one pair exactly one is stored.
func testRaceBlock(t *testing.T, s store.Store) {
	ctx := t.Context()
	errs := Race(racers, func(int) error { return s.BlockUser(ctx, &store.Block{Blocker: "u1", Blocked: "u2"}) })
	exactlyOne(t, "BlockUser", errs, store.ErrDuplicate)
	bs, err := s.BlocksOf(ctx, "u1", 0)
	mustNil(t, "BlocksOf", err)
	if len(bs) != 1 {
		t.Fatalf("BlocksOf after racing blocks = %v, want one", bs)
	}
}
