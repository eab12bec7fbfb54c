package mongo_test

import (
	"context"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/mongo"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/storetest"
)

func TestServerKind(t *testing.T) {
	s, ctx := openStore(t), testCtx(t)
	ferret, err := mongo.IsFerretDB(ctx, s)
	mustNil(t, "IsFerretDB", err)
	t.Logf("server is FerretDB: %v", ferret)
	if os.Getenv("IM_TEST_MONGO_URI") == "" && !ferret {
		t.Fatal("the embedded FerretDB was not detected")
	}
}

// Both paths of SetReadSeq behave alike one call at a time ($max works on
// FerretDB too, only not atomically).
func TestSetReadSeqPaths(t *testing.T) {
	for _, ferret := range []bool{false, true} {
		s, ctx := openStore(t), testCtx(t)
		mongo.SetServerKind(s, ferret)
		mustNil(t, "AddMember", s.AddMember(ctx, &store.Member{RoomID: "r1", UserID: "u1", RoomType: store.RoomGroup}))
		for _, step := range []struct{ set, want int64 }{{5, 5}, {3, 5}, {5, 5}, {9, 9}, {0, 9}} {
			mustNil(t, "SetReadSeq", s.SetReadSeq(ctx, "r1", "u1", step.set))
			m, err := s.Member(ctx, "r1", "u1")
			mustNil(t, "Member", err)
			if m.ReadSeq != step.want {
				t.Fatalf("ferret path %v: SetReadSeq %d: read seq %d, want %d", ferret, step.set, m.ReadSeq, step.want)
			}
		}
		wantErr(t, "SetReadSeq missing", s.SetReadSeq(ctx, "r1", "u2", 1), store.ErrNotFound)
		wantErr(t, "SetReadSeq missing, seq 0", s.SetReadSeq(ctx, "r9", "u1", 0), store.ErrNotFound)
	}
}

// Rounds of 16 concurrent raises to random values, through four Stores
// (four clients, as four processes, so that callers also compete for the
// lock document on FerretDB): the mark ends at the maximum every round and
// never goes down.
func TestSetReadSeqConcurrentExact(t *testing.T) {
	uri, db := testenv.MongoDB(t)
	ctx := testCtx(t)
	var stores [4]*mongo.Store
	for i := range stores {
		s, err := mongo.Open(ctx, uri, db, mongo.Options{})
		mustNil(t, "Open", err)
		t.Cleanup(func() { _ = s.Close(context.Background()) })
		stores[i] = s
	}
	mustNil(t, "AddMember", stores[0].AddMember(ctx, &store.Member{RoomID: "r1", UserID: "u1", RoomType: store.RoomGroup}))

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	var prev int64
	for round := range 6 {
		// Overlapping ranges: some values of each round are below the
		// mark the previous round left.
		vals := make([]int64, 16)
		for i := range vals {
			vals[i] = int64(round*300) + rng.Int64N(1000)
		}
		errs := storetest.Race(len(vals), func(i int) error {
			return stores[i%len(stores)].SetReadSeq(ctx, "r1", "u1", vals[i])
		})
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: SetReadSeq %d: %v", round, vals[i], err)
			}
		}
		m, err := stores[1].Member(ctx, "r1", "u1")
		mustNil(t, "Member", err)
		want := max(prev, slices.Max(vals))
		if m.ReadSeq < prev {
			t.Fatalf("round %d: read seq went down from %d to %d", round, prev, m.ReadSeq)
		}
		if m.ReadSeq != want {
			t.Fatalf("round %d: read seq %d after raises to %v, want %d", round, m.ReadSeq, vals, want)
		}
		prev = m.ReadSeq
	}
}

// A lock whose lease ran out (its holder crashed) is broken at once; a
// live one makes SetReadSeq wait, and fail with ErrUnavailable when the
// context ends first.
func TestSetReadSeqLock(t *testing.T) {
	s, db := openRaw(t)
	ctx := testCtx(t)
	mongo.SetServerKind(s, true) // the lock path, whatever the server
	mustNil(t, "AddMember", s.AddMember(ctx, &store.Member{RoomID: "r1", UserID: "u1", RoomType: store.RoomGroup}))
	locks := db.Collection(mongo.CollMemberLocks)
	byID := bson.D{{Key: "_id", Value: "r1|u1"}}
	readSeq := func() int64 {
		t.Helper()
		m, err := s.Member(ctx, "r1", "u1")
		mustNil(t, "Member", err)
		return m.ReadSeq
	}

	_, err := locks.InsertOne(ctx, bson.D{byID[0], {Key: "expires_at", Value: time.Now().Add(-time.Minute)}})
	mustNil(t, "insert stale lock", err)
	start := time.Now()
	mustNil(t, "SetReadSeq past a stale lock", s.SetReadSeq(ctx, "r1", "u1", 5))
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("breaking a stale lock took %v", d)
	}
	if got := readSeq(); got != 5 {
		t.Fatalf("read seq %d, want 5", got)
	}
	n, err := locks.CountDocuments(ctx, byID)
	mustNil(t, "count locks", err)
	if n != 0 {
		t.Fatalf("%d locks left after SetReadSeq, want 0", n)
	}

	_, err = locks.InsertOne(ctx, bson.D{byID[0], {Key: "expires_at", Value: time.Now().Add(time.Minute)}})
	mustNil(t, "insert live lock", err)
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start = time.Now()
	wantErr(t, "SetReadSeq behind a live lock", s.SetReadSeq(short, "r1", "u1", 9), store.ErrUnavailable)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("waiting for a live lock took %v despite a 300ms deadline", d)
	}
	if got := readSeq(); got != 5 {
		t.Fatalf("read seq %d behind a live lock, want 5", got)
	}
	_, err = locks.DeleteOne(ctx, byID)
	mustNil(t, "release live lock", err)
	mustNil(t, "SetReadSeq after release", s.SetReadSeq(ctx, "r1", "u1", 9))
	if got := readSeq(); got != 9 {
		t.Fatalf("read seq %d, want 9", got)
	}
}
