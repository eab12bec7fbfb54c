package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

func messageTests() []test {
	return []test{
		{"RoundTrip", testMessageRoundTrip},
		{"DefaultTime", testMessageDefaultTime},
		{"DuplicateSeq", testMessageDuplicateSeq},
		{"DuplicateClientID", testMessageDuplicateClientID},
		{"ClientIDOtherRoom", testMessageClientIDOtherRoom},
		{"DuplicateID", testMessageDuplicateID},
		{"EmptyRoom", testMessagesEmptyRoom},
		{"Ranges", testMessageRanges},
		{"DefaultLimit", testDefaultLimit},
		{"MaxLimit", testMaxLimit},
		{"LastMessage", testLastMessage},
		{"CountAfter", testCountAfter},
		{"Holes", testHoles},
	}
}

func newMessage(room string, seq int64, from string) *store.Message {
	return &store.Message{
		ID: fmt.Sprintf("m-%s-%d", room, seq), RoomID: room, Seq: seq, From: from,
		Body: fmt.Sprintf("body %d", seq), ClientMsgID: fmt.Sprintf("c-%s-%d", room, seq),
		CreatedAt: at(int(seq % 60)),
	}
}

// newHole is a tombstone as the service writes it: no sender, no body, a
// client id of its own.
func newHole(room string, seq int64) *store.Message {
	return &store.Message{
		ID: fmt.Sprintf("h-%s-%d", room, seq), RoomID: room, Seq: seq, Hole: true,
		ClientMsgID: fmt.Sprintf("hole:%s:%d", room, seq), CreatedAt: at(int(seq % 60)),
	}
}

func insertMessage(t *testing.T, s store.Store, m *store.Message) *store.Message {
	t.Helper()
	mustNil(t, fmt.Sprintf("InsertMessage %s/%d", m.RoomID, m.Seq), s.InsertMessage(t.Context(), m))
	return m
}

func seqs(ms []store.Message) []int64 {
	out := []int64{}
	for _, m := range ms {
		out = append(out, m.Seq)
	}
	return out
}

// values dereferences ps (messages, reactions, files, ...).
func values[T any](ps ...*T) []T {
	out := make([]T, len(ps))
	for i, p := range ps {
		out[i] = *p
	}
	return out
}

func testMessageRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	m := insertMessage(t, s, newMessage("r1", 1, "u1"))
	sameTime(t, "CreatedAt normalised in place", m.CreatedAt, stored(at(1)))
	insertMessage(t, s, newMessage("r2", 1, "u2"))

	got, err := s.MessageByClientID(ctx, "r1", "u1", "c-r1-1")
	mustNil(t, "MessageByClientID", err)
	same(t, "MessageByClientID", got, m)
	_, err = s.MessageByClientID(ctx, "r1", "u2", "c-r1-1")
	wantErr(t, "MessageByClientID, other sender", err, store.ErrNotFound)
	_, err = s.MessageByClientID(ctx, "r2", "u1", "c-r1-1")
	wantErr(t, "MessageByClientID, other room", err, store.ErrNotFound)
	_, err = s.MessageByClientID(ctx, "r1", "u1", "missing")
	wantErr(t, "MessageByClientID, missing client id", err, store.ErrNotFound)

	ms, err := s.MessagesAfter(ctx, "r1", 0, 10)
	mustNil(t, "MessagesAfter", err)
	same(t, "MessagesAfter", ms, values(m))
	ms, err = s.MessagesBefore(ctx, "r1", 2, 10)
	mustNil(t, "MessagesBefore", err)
	same(t, "MessagesBefore", ms, values(m))
	last, err := s.LastMessage(ctx, "r1")
	mustNil(t, "LastMessage", err)
	same(t, "LastMessage", last, m)
}

func testMessageDefaultTime(t *testing.T, s store.Store) {
	m := newMessage("r1", 1, "u1")
	m.CreatedAt = time.Time{}
	before := time.Now()
	insertMessage(t, s, m)
	recent(t, "defaulted CreatedAt", m.CreatedAt, before)
	got, err := s.MessageByClientID(t.Context(), "r1", "u1", m.ClientMsgID)
	mustNil(t, "MessageByClientID", err)
	same(t, "stored message", got, m)
}

func testMessageDuplicateSeq(t *testing.T, s store.Store) {
	ctx := t.Context()
	m := insertMessage(t, s, newMessage("r1", 1, "u1"))
	loser := newMessage("r1", 1, "u2")
	loser.ID, loser.ClientMsgID = "other", "other"
	wantErr(t, "same (room, seq)", s.InsertMessage(ctx, loser), store.ErrDuplicate)

	// MessageByClientID tells a lost seq race from a retry.
	_, err := s.MessageByClientID(ctx, "r1", "u2", "other")
	wantErr(t, "MessageByClientID of the loser", err, store.ErrNotFound)
	ms, err := s.MessagesAfter(ctx, "r1", 0, 10)
	mustNil(t, "MessagesAfter", err)
	same(t, "messages kept", ms, values(m))

	// The same seq in another room is fine, and the loser's id and client
	// id were not taken.
	insertMessage(t, s, newMessage("r2", 1, "u1"))
	loser.Seq = 2
	insertMessage(t, s, loser)
}

func testMessageDuplicateClientID(t *testing.T, s store.Store) {
	ctx := t.Context()
	m := insertMessage(t, s, newMessage("r1", 1, "u1"))
	retry := newMessage("r1", 2, "u1")
	retry.ID, retry.ClientMsgID = "retry", m.ClientMsgID
	wantErr(t, "same (room, from, client id)", s.InsertMessage(ctx, retry), store.ErrDuplicate)

	got, err := s.MessageByClientID(ctx, "r1", "u1", m.ClientMsgID)
	mustNil(t, "MessageByClientID", err)
	same(t, "MessageByClientID after a retry", got, m)
	ms, err := s.MessagesAfter(ctx, "r1", 0, 10)
	mustNil(t, "MessagesAfter", err)
	same(t, "messages kept", ms, values(m))

	// The same client id from another sender is fine, and the retry's seq
	// and id were not taken.
	other := newMessage("r1", 2, "u2")
	other.ClientMsgID = m.ClientMsgID
	insertMessage(t, s, other)
	retry.RoomID, retry.Seq, retry.ClientMsgID = "r1", 3, "fresh"
	insertMessage(t, s, retry)
}

// The idempotency rule is room-scoped: the same client id from the same
// sender in another room is another message, found by its own room.
func testMessageClientIDOtherRoom(t *testing.T, s store.Store) {
	ctx := t.Context()
	m := insertMessage(t, s, newMessage("r1", 1, "u1"))
	other := newMessage("r2", 1, "u1")
	other.ID, other.ClientMsgID = "other", m.ClientMsgID
	insertMessage(t, s, other)

	got, err := s.MessageByClientID(ctx, "r1", "u1", m.ClientMsgID)
	mustNil(t, "MessageByClientID r1", err)
	same(t, "MessageByClientID r1", got, m)
	got, err = s.MessageByClientID(ctx, "r2", "u1", m.ClientMsgID)
	mustNil(t, "MessageByClientID r2", err)
	same(t, "MessageByClientID r2", got, other)

	// Each room still holds one copy under it: a retry in r2 is refused.
	retry := newMessage("r2", 2, "u1")
	retry.ID, retry.ClientMsgID = "retry", m.ClientMsgID
	wantErr(t, "retry in r2", s.InsertMessage(ctx, retry), store.ErrDuplicate)
	for room, want := range map[string]*store.Message{"r1": m, "r2": other} {
		ms, err := s.MessagesAfter(ctx, room, 0, 10)
		mustNil(t, "MessagesAfter "+room, err)
		same(t, "messages of "+room, ms, values(want))
	}
}

func testMessageDuplicateID(t *testing.T, s store.Store) {
	ctx := t.Context()
	m := insertMessage(t, s, newMessage("r1", 1, "u1"))
	dup := newMessage("r1", 2, "u1")
	dup.ID = m.ID
	wantErr(t, "same id", s.InsertMessage(ctx, dup), store.ErrDuplicate)
	ms, err := s.MessagesAfter(ctx, "r1", 0, 10)
	mustNil(t, "MessagesAfter", err)
	same(t, "messages kept", ms, values(m))
}

func testMessagesEmptyRoom(t *testing.T, s store.Store) {
	ctx := t.Context()
	insertMessage(t, s, newMessage("other", 1, "u1"))
	_, err := s.LastMessage(ctx, "r1")
	wantErr(t, "LastMessage of an empty room", err, store.ErrNotFound)
	after, err := s.MessagesAfter(ctx, "r1", 0, 10)
	mustNil(t, "MessagesAfter", err)
	before, err := s.MessagesBefore(ctx, "r1", 100, 10)
	mustNil(t, "MessagesBefore", err)
	n, err := s.CountAfter(ctx, "r1", 0, "")
	mustNil(t, "CountAfter", err)
	if len(after) != 0 || len(before) != 0 || n != 0 {
		t.Fatalf("empty room: MessagesAfter %v, MessagesBefore %v, CountAfter %d", seqs(after), seqs(before), n)
	}
}

// insertSeven stores seqs 1..7 of room r1 out of order (u1 sent the odd
// ones, u2 the even ones) and seq 1 of r2, and returns r1's by seq.
func insertSeven(t *testing.T, s store.Store) map[int64]*store.Message {
	t.Helper()
	bySeq := map[int64]*store.Message{}
	for _, seq := range []int64{3, 1, 5, 2, 4, 7, 6} {
		from := "u1"
		if seq%2 == 0 {
			from = "u2"
		}
		bySeq[seq] = insertMessage(t, s, newMessage("r1", seq, from))
	}
	insertMessage(t, s, newMessage("r2", 1, "u1"))
	return bySeq
}

func testMessageRanges(t *testing.T, s store.Store) {
	ctx := t.Context()
	bySeq := insertSeven(t, s)
	for _, tc := range []struct {
		name  string
		after bool
		seq   int64
		limit int
		want  []int64
	}{
		{"after 0", true, 0, 0, []int64{1, 2, 3, 4, 5, 6, 7}},
		{"after -1", true, -1, 10, []int64{1, 2, 3, 4, 5, 6, 7}},
		{"after 2 limit 3", true, 2, 3, []int64{3, 4, 5}},
		{"after 6", true, 6, 10, []int64{7}},
		{"after 7", true, 7, 10, []int64{}},
		{"after 0 limit 1", true, 0, 1, []int64{1}},
		{"negative limit", true, 0, -5, []int64{1, 2, 3, 4, 5, 6, 7}},
		{"before 100", false, 100, 0, []int64{7, 6, 5, 4, 3, 2, 1}},
		{"before 8", false, 8, 10, []int64{7, 6, 5, 4, 3, 2, 1}},
		{"before 6 limit 2", false, 6, 2, []int64{5, 4}},
		{"before 2", false, 2, 10, []int64{1}},
		{"before 1", false, 1, 10, []int64{}},
		{"before 100 negative limit", false, 100, -1, []int64{7, 6, 5, 4, 3, 2, 1}},
	} {
		var ms []store.Message
		var err error
		if tc.after {
			ms, err = s.MessagesAfter(ctx, "r1", tc.seq, tc.limit)
		} else {
			ms, err = s.MessagesBefore(ctx, "r1", tc.seq, tc.limit)
		}
		mustNil(t, tc.name, err)
		if got := seqs(ms); !equalSeqs(got, tc.want) {
			t.Fatalf("%s: got seqs %v, want %v", tc.name, got, tc.want)
		}
		for _, m := range ms {
			same(t, fmt.Sprintf("%s: seq %d", tc.name, m.Seq), m, *bySeq[m.Seq])
		}
	}
}

func equalSeqs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// insertN stores seqs 1..n of room r1, with empty bodies.
func insertN(t *testing.T, s store.Store, n int64) {
	t.Helper()
	for seq := int64(1); seq <= n; seq++ {
		m := newMessage("r1", seq, "u1")
		m.Body = ""
		insertMessage(t, s, m)
	}
}

// checkRun fails the test unless ms holds count messages with seqs first,
// first+step, ...
func checkRun(t *testing.T, what string, ms []store.Message, err error, count int, first, step int64) {
	t.Helper()
	mustNil(t, what, err)
	if len(ms) != count {
		t.Fatalf("%s: %d messages, want %d", what, len(ms), count)
	}
	for i, m := range ms {
		if want := first + int64(i)*step; m.Seq != want {
			t.Fatalf("%s: message %d has seq %d, want %d", what, i, m.Seq, want)
		}
	}
}

// testDefaultLimit: a limit <= 0 is defaultLimit.
func testDefaultLimit(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = defaultLimit + 10
	insertN(t, s, n)
	for _, limit := range []int{0, -1} {
		ms, err := s.MessagesAfter(ctx, "r1", 0, limit)
		checkRun(t, fmt.Sprintf("MessagesAfter limit %d", limit), ms, err, defaultLimit, 1, 1)
		ms, err = s.MessagesBefore(ctx, "r1", n+1, limit)
		checkRun(t, fmt.Sprintf("MessagesBefore limit %d", limit), ms, err, defaultLimit, n, -1)
	}
	ms, err := s.MessagesAfter(ctx, "r1", 0, defaultLimit+1)
	checkRun(t, "MessagesAfter over the default", ms, err, defaultLimit+1, 1, 1)
}

// testMaxLimit: limits above maxLimit are lowered to it. It stores
// maxLimit+1 messages, the slowest test of the suite.
func testMaxLimit(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = maxLimit + 1
	insertN(t, s, n)
	for _, limit := range []int{maxLimit, maxLimit + 1, 1 << 30} {
		ms, err := s.MessagesAfter(ctx, "r1", 0, limit)
		checkRun(t, fmt.Sprintf("MessagesAfter limit %d", limit), ms, err, maxLimit, 1, 1)
		ms, err = s.MessagesBefore(ctx, "r1", n+1, limit)
		checkRun(t, fmt.Sprintf("MessagesBefore limit %d", limit), ms, err, maxLimit, n, -1)
	}
	ms, err := s.MessagesAfter(ctx, "r1", 1, maxLimit+1)
	checkRun(t, "MessagesAfter 1, over the maximum", ms, err, maxLimit, 2, 1)
}

func testLastMessage(t *testing.T, s store.Store) {
	ctx := t.Context()
	bySeq := insertSeven(t, s)
	last, err := s.LastMessage(ctx, "r1")
	mustNil(t, "LastMessage", err)
	same(t, "LastMessage(r1)", last, bySeq[7])
	last, err = s.LastMessage(ctx, "r2")
	mustNil(t, "LastMessage", err)
	if last.RoomID != "r2" || last.Seq != 1 {
		t.Fatalf("LastMessage(r2): %+v", last)
	}
	// A message at a lower seq, stored later, does not change it.
	insertMessage(t, s, newMessage("r2", 0, "u1"))
	last, err = s.LastMessage(ctx, "r2")
	mustNil(t, "LastMessage", err)
	if last.Seq != 1 {
		t.Fatalf("LastMessage(r2) after a lower seq: %+v", last)
	}
}

func testCountAfter(t *testing.T, s store.Store) {
	ctx := t.Context()
	insertSeven(t, s)
	for _, tc := range []struct {
		after   int64
		exclude string
		want    int64
	}{
		{0, "", 7},
		{-1, "", 7},
		{0, "u1", 3}, // 2, 4, 6
		{0, "u2", 4}, // 1, 3, 5, 7
		{4, "u1", 1}, // 6
		{4, "nobody", 3},
		{6, "", 1},
		{7, "", 0},
		{100, "", 0},
	} {
		n, err := s.CountAfter(ctx, "r1", tc.after, tc.exclude)
		mustNil(t, "CountAfter", err)
		if n != tc.want {
			t.Fatalf("CountAfter(r1, %d, %q) = %d, want %d", tc.after, tc.exclude, n, tc.want)
		}
	}
}

// testHoles: a tombstone takes its seq, is returned by the range queries
// and LastMessage with Hole set, and is never counted.
func testHoles(t *testing.T, s store.Store) {
	ctx := t.Context()
	m1 := insertMessage(t, s, newMessage("r1", 1, "u1"))
	h2 := insertMessage(t, s, newHole("r1", 2))
	h3 := insertMessage(t, s, newHole("r1", 3))
	m4 := insertMessage(t, s, newMessage("r1", 4, "u2"))
	h5 := insertMessage(t, s, newHole("r1", 5))

	wantErr(t, "message at a hole's seq", s.InsertMessage(ctx, newMessage("r1", 2, "u1")), store.ErrDuplicate)
	wantErr(t, "hole at a message's seq", s.InsertMessage(ctx, newHole("r1", 4)), store.ErrDuplicate)
	wantErr(t, "hole twice", s.InsertMessage(ctx, newHole("r1", 5)), store.ErrDuplicate)

	ms, err := s.MessagesAfter(ctx, "r1", 0, 10)
	mustNil(t, "MessagesAfter", err)
	same(t, "MessagesAfter", ms, values(m1, h2, h3, m4, h5))
	ms, err = s.MessagesAfter(ctx, "r1", 1, 1)
	mustNil(t, "MessagesAfter", err)
	same(t, "MessagesAfter 1 limit 1", ms, values(h2))
	ms, err = s.MessagesBefore(ctx, "r1", 10, 10)
	mustNil(t, "MessagesBefore", err)
	same(t, "MessagesBefore", ms, values(h5, m4, h3, h2, m1))
	last, err := s.LastMessage(ctx, "r1")
	mustNil(t, "LastMessage", err)
	same(t, "LastMessage", last, h5)
	if !last.Hole || ms[1].Hole {
		t.Fatalf("Hole flags: last %+v, seq 4 %+v", last, ms[1])
	}

	for _, tc := range []struct {
		after   int64
		exclude string
		want    int64
	}{
		{0, "", 2},
		{0, "u1", 1},
		{0, "u2", 1},
		{1, "", 1},
		{4, "", 0}, // only a hole after 4
		{0, "nobody", 2},
	} {
		n, err := s.CountAfter(ctx, "r1", tc.after, tc.exclude)
		mustNil(t, "CountAfter", err)
		if n != tc.want {
			t.Fatalf("CountAfter(r1, %d, %q) with holes = %d, want %d", tc.after, tc.exclude, n, tc.want)
		}
	}
}
