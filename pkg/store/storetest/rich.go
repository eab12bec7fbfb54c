package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// Rich messages: kinds, replies, mentions, edit and recall, change events,
// reactions, delete-for-me and file attachments.

func richMessageTests() []test {
	return []test{
		{"RoundTrip", testRichRoundTrip},
		{"KindAsStored", testKindAsStored},
		{"MentionsNotShared", testMentionsNotShared},
		{"MessageAt", testMessageAt},
		{"MessagesAt", testMessagesAt},
		{"Edit", testEditMessage},
		{"EditNotFound", testEditNotFound},
		{"Recall", testRecallMessage},
		{"RecallNotFound", testRecallNotFound},
		{"CountAfterEvents", testCountAfterEvents},
	}
}

func reactionTests() []test {
	return []test{
		{"AddRemove", testReactionAddRemove},
		{"DefaultTime", testReactionDefaultTime},
		{"Counts", testReactionCounts},
		{"CountsArguments", testReactionCountsArguments},
		{"Reactors", testReactors},
		{"ReactorsLimits", testReactorsLimits},
	}
}

func hiddenTests() []test {
	return []test{
		{"HideAndRange", testHideAndRange},
		{"Arguments", testHideArguments},
	}
}

func mentionTests() []test {
	return []test{
		{"RoundTrip", testMentionSeqRoundTrip},
		{"MarkMentioned", testMarkMentioned},
		{"MarkMentionedAll", testMarkMentionedAll},
	}
}

func fileTests() []test {
	return []test{
		{"RoundTrip", testFileRoundTrip},
		{"DefaultTime", testFileDefaultTime},
		{"Attach", testAttachFile},
		{"MarkDeleted", testMarkFileDeleted},
		{"Orphans", testOrphanFiles},
		{"Delete", testDeleteFile},
		{"FilesOfMessage", testFilesOfMessage},
	}
}

// newRich is a message with every rich field set: an image replying to
// seq 1, mentioning u2 and everyone.
func newRich(room string, seq int64, from string) *store.Message {
	m := newMessage(room, seq, from)
	m.Kind, m.ReplyTo, m.Mentions = store.KindImage, 1, []string{"u2", store.MentionAll}
	m.Extra = `{"file_id":"f1","w":640,"h":480}`
	return m
}

// newEvent is a change event of kind on the message at target.
func newEvent(room string, seq int64, from, kind string, target int64) *store.Message {
	m := newMessage(room, seq, from)
	m.Kind, m.Target, m.Body = kind, target, ""
	switch kind {
	case store.KindEdit:
		m.Body = "edited"
	case store.KindReact, store.KindUnreact:
		m.Extra = `{"emoji":"👍"}`
	}
	return m
}

func mustMessageAt(t *testing.T, s store.Store, room string, seq int64) *store.Message {
	t.Helper()
	m, err := s.MessageAt(t.Context(), room, seq)
	mustNil(t, fmt.Sprintf("MessageAt %s/%d", room, seq), err)
	return m
}

// readsAll checks that every read of messages returns want, the last
// message of its room.
func readsAll(t *testing.T, s store.Store, want *store.Message) {
	t.Helper()
	ctx := t.Context()
	got, err := s.MessageByClientID(ctx, want.RoomID, want.From, want.ClientMsgID)
	mustNil(t, "MessageByClientID", err)
	same(t, "MessageByClientID", got, want)
	same(t, "MessageAt", mustMessageAt(t, s, want.RoomID, want.Seq), want)
	ms, err := s.MessagesAt(ctx, want.RoomID, []int64{want.Seq})
	mustNil(t, "MessagesAt", err)
	same(t, "MessagesAt", ms, values(want))
	ms, err = s.MessagesAfter(ctx, want.RoomID, want.Seq-1, 1)
	mustNil(t, "MessagesAfter", err)
	same(t, "MessagesAfter", ms, values(want))
	ms, err = s.MessagesBefore(ctx, want.RoomID, want.Seq+1, 1)
	mustNil(t, "MessagesBefore", err)
	same(t, "MessagesBefore", ms, values(want))
	last, err := s.LastMessage(ctx, want.RoomID)
	mustNil(t, "LastMessage", err)
	same(t, "LastMessage", last, want)
}

func testRichRoundTrip(t *testing.T, s store.Store) {
	m := newRich("r1", 1, "u1")
	m.EditedAt, m.Recalled = at(7), true
	insertMessage(t, s, m)
	sameTime(t, "EditedAt normalised in place", m.EditedAt, stored(at(7)))
	readsAll(t, s, m)

	// Every kind, and the change events.
	for i, kind := range []string{store.KindText, store.KindFile, store.KindCustom, store.KindSystem} {
		m := newRich("r2", int64(i+1), "u1")
		m.Kind, m.Mentions, m.ReplyTo = kind, []string{fmt.Sprintf("u%d", i)}, 0
		insertMessage(t, s, m)
		readsAll(t, s, m)
	}
	for i, kind := range []string{store.KindEdit, store.KindRecall, store.KindReact, store.KindUnreact} {
		e := insertMessage(t, s, newEvent("r3", int64(i+2), "u1", kind, 1))
		if !e.IsEvent() {
			t.Fatalf("IsEvent of kind %s: false", kind)
		}
		readsAll(t, s, e)
	}
	if m.IsEvent() {
		t.Fatal("IsEvent of an image: true")
	}
}

// testKindAsStored: the kind is returned as stored, "" included (messages
// of before kinds, read as text), and an empty Mentions is nil.
func testKindAsStored(t *testing.T, s store.Store) {
	m := newMessage("r1", 1, "u1")
	m.Mentions = []string{}
	insertMessage(t, s, m)
	if m.Mentions != nil {
		t.Fatalf("empty Mentions not normalised to nil in place: %#v", m.Mentions)
	}
	got := mustMessageAt(t, s, "r1", 1)
	if got.Kind != "" || got.Mentions != nil || got.Extra != "" || got.ReplyTo != 0 || got.Target != 0 ||
		!got.EditedAt.IsZero() || got.Recalled {
		t.Fatalf("plain message read as %#v", got)
	}
	readsAll(t, s, m)
	text := newMessage("r1", 2, "u1")
	text.Kind = store.KindText
	insertMessage(t, s, text)
	readsAll(t, s, text)
}

// testMentionsNotShared: the caller's Mentions and the ones a read returns
// are the caller's to change.
func testMentionsNotShared(t *testing.T, s store.Store) {
	ctx := t.Context()
	m := insertMessage(t, s, newRich("r1", 1, "u1"))
	m.Mentions[0] = "changed after InsertMessage"
	got := mustMessageAt(t, s, "r1", 1)
	if got.Mentions[0] != "u2" {
		t.Fatalf("stored mentions changed with the caller's: %v", got.Mentions)
	}
	got.Mentions[0] = "changed after MessageAt"
	ms, err := s.MessagesAfter(ctx, "r1", 0, 10)
	mustNil(t, "MessagesAfter", err)
	ms[0].Mentions[1] = "changed after MessagesAfter"
	want := newRich("r1", 1, "u1")
	want.CreatedAt = stored(want.CreatedAt)
	readsAll(t, s, want)
}

func testMessageAt(t *testing.T, s store.Store) {
	ctx := t.Context()
	m := insertMessage(t, s, newMessage("r1", 1, "u1"))
	h := insertMessage(t, s, newHole("r1", 2))
	insertMessage(t, s, newMessage("r2", 3, "u1"))
	same(t, "MessageAt", mustMessageAt(t, s, "r1", 1), m)
	same(t, "MessageAt of a hole", mustMessageAt(t, s, "r1", 2), h)
	for _, k := range []struct {
		room string
		seq  int64
	}{{"r1", 3}, {"r1", 0}, {"r2", 1}, {"r9", 1}} {
		_, err := s.MessageAt(ctx, k.room, k.seq)
		wantErr(t, fmt.Sprintf("MessageAt %s/%d", k.room, k.seq), err, store.ErrNotFound)
	}
}

func testMessagesAt(t *testing.T, s store.Store) {
	ctx := t.Context()
	bySeq := insertSeven(t, s)
	h := insertMessage(t, s, newHole("r1", 8))
	e := insertMessage(t, s, newEvent("r1", 9, "u1", store.KindRecall, 2))
	bySeq[8], bySeq[9] = h, e
	for _, tc := range []struct {
		seqs []int64
		want []int64
	}{
		{[]int64{5, 1, 3}, []int64{1, 3, 5}},
		{[]int64{2, 2, 2, 7}, []int64{2, 7}},
		{[]int64{0, -1, 10, 100, 4}, []int64{4}},
		{[]int64{8, 9}, []int64{8, 9}},
		{[]int64{100}, []int64{}},
		{[]int64{}, []int64{}},
		{nil, []int64{}},
	} {
		ms, err := s.MessagesAt(ctx, "r1", tc.seqs)
		mustNil(t, fmt.Sprintf("MessagesAt %v", tc.seqs), err)
		if got := seqs(ms); !equalSeqs(got, tc.want) {
			t.Fatalf("MessagesAt %v: seqs %v, want %v", tc.seqs, got, tc.want)
		}
		for _, m := range ms {
			same(t, fmt.Sprintf("MessagesAt %v: seq %d", tc.seqs, m.Seq), m, *bySeq[m.Seq])
		}
	}
	ms, err := s.MessagesAt(ctx, "r2", []int64{1, 2})
	mustNil(t, "MessagesAt r2", err)
	if len(ms) != 1 || ms[0].RoomID != "r2" {
		t.Fatalf("MessagesAt r2: %+v", ms)
	}

	many := make([]int64, store.MaxSeqs)
	for i := range many {
		many[i] = int64(i + 1)
	}
	ms, err = s.MessagesAt(ctx, "r1", many)
	mustNil(t, "MessagesAt MaxSeqs", err)
	if len(ms) != 9 {
		t.Fatalf("MessagesAt of MaxSeqs seqs: %v", seqs(ms))
	}
	_, err = s.MessagesAt(ctx, "r1", append(many, 1000))
	tooMany(t, "MessagesAt of MaxSeqs+1 seqs", err)
}

// tooMany checks the error of a call given more than store.MaxSeqs seqs.
func tooMany(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("%s: got %v, want an argument error", what, err)
	}
}

func testEditMessage(t *testing.T, s store.Store) {
	ctx := t.Context()
	m := insertMessage(t, s, newRich("r1", 1, "u1"))
	other := insertMessage(t, s, newRich("r1", 2, "u1"))
	mustNil(t, "EditMessage", s.EditMessage(ctx, "r1", 1, "new body", at(30)))
	want := *m
	want.Body, want.EditedAt = "new body", stored(at(30))
	got := mustMessageAt(t, s, "r1", 1)
	sameTime(t, "EditedAt", got.EditedAt, stored(at(30)))
	same(t, "edited message", got, &want)
	readsAll(t, s, other)

	mustNil(t, "EditMessage again", s.EditMessage(ctx, "r1", 1, "", at(40)))
	want.Body, want.EditedAt = "", stored(at(40))
	same(t, "edited again", mustMessageAt(t, s, "r1", 1), &want)

	before := time.Now()
	mustNil(t, "EditMessage at zero", s.EditMessage(ctx, "r1", 1, "now", time.Time{}))
	got = mustMessageAt(t, s, "r1", 1)
	recent(t, "EditedAt of a zero time", got.EditedAt, before)
	if got.Body != "now" {
		t.Fatalf("body %q, want now", got.Body)
	}
}

func testEditNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	insertMessage(t, s, newMessage("r1", 1, "u1"))
	h := insertMessage(t, s, newHole("r1", 2))
	e := insertMessage(t, s, newEvent("r1", 3, "u1", store.KindEdit, 1))
	r := insertMessage(t, s, newMessage("r1", 4, "u1"))
	mustNil(t, "RecallMessage", s.RecallMessage(ctx, "r1", 4))
	for _, k := range []struct {
		room string
		seq  int64
	}{{"r1", 9}, {"r2", 1}, {"r1", 0}, {"r1", 2}, {"r1", 3}} {
		err := s.EditMessage(ctx, k.room, k.seq, "x", at(9))
		wantErr(t, fmt.Sprintf("EditMessage %s/%d", k.room, k.seq), err, store.ErrNotFound)
	}
	wantErr(t, "EditMessage of a recalled message", s.EditMessage(ctx, "r1", 4, "x", at(9)), store.ErrRecalled)
	same(t, "hole kept", mustMessageAt(t, s, "r1", 2), h)
	same(t, "event kept", mustMessageAt(t, s, "r1", 3), e)
	r.Body, r.Recalled = "", true
	same(t, "recalled message kept", mustMessageAt(t, s, "r1", 4), r)
}

func testRecallMessage(t *testing.T, s store.Store) {
	ctx := t.Context()
	m := newRich("r1", 1, "u1")
	m.EditedAt = at(3)
	insertMessage(t, s, m)
	other := insertMessage(t, s, newRich("r1", 2, "u1"))
	mustNil(t, "RecallMessage", s.RecallMessage(ctx, "r1", 1))
	want := *m
	want.Body, want.Extra, want.Mentions, want.Recalled = "", "", nil, true
	readsAllAt(t, s, &want)
	mustNil(t, "RecallMessage again", s.RecallMessage(ctx, "r1", 1))
	readsAllAt(t, s, &want)
	wantErr(t, "EditMessage after RecallMessage", s.EditMessage(ctx, "r1", 1, "x", at(9)), store.ErrRecalled)
	readsAllAt(t, s, &want)
	readsAll(t, s, other)
}

// readsAllAt checks MessageAt, MessagesAt and MessageByClientID of want.
func readsAllAt(t *testing.T, s store.Store, want *store.Message) {
	t.Helper()
	same(t, "MessageAt", mustMessageAt(t, s, want.RoomID, want.Seq), want)
	ms, err := s.MessagesAt(t.Context(), want.RoomID, []int64{want.Seq})
	mustNil(t, "MessagesAt", err)
	same(t, "MessagesAt", ms, values(want))
	got, err := s.MessageByClientID(t.Context(), want.RoomID, want.From, want.ClientMsgID)
	mustNil(t, "MessageByClientID", err)
	same(t, "MessageByClientID", got, want)
}

func testRecallNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	insertMessage(t, s, newMessage("r1", 1, "u1"))
	h := insertMessage(t, s, newHole("r1", 2))
	e := insertMessage(t, s, newEvent("r1", 3, "u1", store.KindReact, 1))
	for _, k := range []struct {
		room string
		seq  int64
	}{{"r1", 9}, {"r2", 1}, {"r1", 0}, {"r1", 2}, {"r1", 3}} {
		err := s.RecallMessage(ctx, k.room, k.seq)
		wantErr(t, fmt.Sprintf("RecallMessage %s/%d", k.room, k.seq), err, store.ErrNotFound)
	}
	same(t, "hole kept", mustMessageAt(t, s, "r1", 2), h)
	same(t, "event kept", mustMessageAt(t, s, "r1", 3), e)
}

// testCountAfterEvents: the unread count ignores change events and holes,
// whatever else they carry.
func testCountAfterEvents(t *testing.T, s store.Store) {
	ctx := t.Context()
	insertSeven(t, s) // u1: 1, 3, 5, 7; u2: 2, 4, 6
	insertMessage(t, s, newEvent("r1", 8, "u2", store.KindEdit, 2))
	insertMessage(t, s, newEvent("r1", 9, "u2", store.KindRecall, 4))
	insertMessage(t, s, newEvent("r1", 10, "u1", store.KindReact, 2))
	insertMessage(t, s, newEvent("r1", 11, "u1", store.KindUnreact, 2))
	insertMessage(t, s, newHole("r1", 12))
	for i, kind := range []string{store.KindImage, store.KindFile, store.KindCustom, store.KindSystem, store.KindText} {
		m := newRich("r1", int64(13+i), "u2")
		m.Kind = kind
		insertMessage(t, s, m)
	}
	mustNil(t, "RecallMessage", s.RecallMessage(ctx, "r1", 13)) // still counted
	for _, tc := range []struct {
		after   int64
		exclude string
		want    int64
	}{
		{0, "", 12},
		{0, "u1", 8},  // 2, 4, 6, 13..17
		{0, "u2", 4},  // 1, 3, 5, 7
		{7, "", 5},    // 13..17
		{7, "u2", 0},  // only events, a hole and u2's
		{11, "u1", 5}, // 13..17
		{12, "", 5},
		{17, "", 0},
	} {
		n, err := s.CountAfter(ctx, "r1", tc.after, tc.exclude)
		mustNil(t, "CountAfter", err)
		if n != tc.want {
			t.Fatalf("CountAfter(r1, %d, %q) with events = %d, want %d", tc.after, tc.exclude, n, tc.want)
		}
	}
}

func newReaction(room string, seq int64, user, emoji string, sec int) *store.Reaction {
	return &store.Reaction{RoomID: room, Seq: seq, UserID: user, Emoji: emoji, CreatedAt: at(sec)}
}

func addReaction(t *testing.T, s store.Store, r *store.Reaction) *store.Reaction {
	t.Helper()
	mustNil(t, fmt.Sprintf("AddReaction %s/%d %s %s", r.RoomID, r.Seq, r.UserID, r.Emoji), s.AddReaction(t.Context(), r))
	return r
}

func mustCounts(t *testing.T, s store.Store, room string, seqs []int64, user string) map[int64][]store.ReactionCount {
	t.Helper()
	got, err := s.ReactionCounts(t.Context(), room, seqs, user)
	mustNil(t, "ReactionCounts", err)
	if got == nil {
		t.Fatal("ReactionCounts: nil map")
	}
	return got
}

func reactors(t *testing.T, s store.Store, room string, seq int64, emoji, after string, limit int) []store.Reaction {
	t.Helper()
	got, err := s.Reactors(t.Context(), room, seq, emoji, after, limit)
	mustNil(t, fmt.Sprintf("Reactors after %q", after), err)
	return got
}

func testReactionAddRemove(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := addReaction(t, s, newReaction("r1", 1, "u1", "👍", 1))
	sameTime(t, "CreatedAt normalised in place", r.CreatedAt, stored(at(1)))
	wantErr(t, "AddReaction twice", s.AddReaction(ctx, newReaction("r1", 1, "u1", "👍", 2)), store.ErrDuplicate)
	// Another emoji, user, message or room is another reaction.
	heart := addReaction(t, s, newReaction("r1", 1, "u1", "❤️", 3))
	addReaction(t, s, newReaction("r1", 1, "u2", "👍", 4))
	addReaction(t, s, newReaction("r1", 2, "u1", "👍", 5))
	addReaction(t, s, newReaction("r2", 1, "u1", "👍", 6))
	same(t, "Reactors 👍", reactors(t, s, "r1", 1, "👍", "", 10)[0], *r)

	mustNil(t, "RemoveReaction", s.RemoveReaction(ctx, "r1", 1, "u1", "👍"))
	wantErr(t, "RemoveReaction again", s.RemoveReaction(ctx, "r1", 1, "u1", "👍"), store.ErrNotFound)
	for _, k := range []struct {
		room  string
		seq   int64
		user  string
		emoji string
	}{{"r1", 1, "u3", "👍"}, {"r1", 3, "u1", "👍"}, {"r9", 1, "u1", "👍"}, {"r1", 1, "u1", "👎"}} {
		err := s.RemoveReaction(ctx, k.room, k.seq, k.user, k.emoji)
		wantErr(t, fmt.Sprintf("RemoveReaction %+v", k), err, store.ErrNotFound)
	}
	counts := mustCounts(t, s, "r1", []int64{1, 2}, "u1")
	same(t, "counts after RemoveReaction", counts, map[int64][]store.ReactionCount{
		1: {{Emoji: "❤️", Count: 1, Mine: true}, {Emoji: "👍", Count: 1}},
		2: {{Emoji: "👍", Count: 1, Mine: true}},
	})
	same(t, "Reactors ❤️", reactors(t, s, "r1", 1, "❤️", "", 10), values(heart))

	// It can be added again.
	again := addReaction(t, s, newReaction("r1", 1, "u1", "👍", 9))
	same(t, "Reactors after adding again", reactors(t, s, "r1", 1, "👍", "u2", 10), values(again))
}

func testReactionDefaultTime(t *testing.T, s store.Store) {
	r := newReaction("r1", 1, "u1", "👍", 0)
	r.CreatedAt = time.Time{}
	before := time.Now()
	addReaction(t, s, r)
	recent(t, "defaulted CreatedAt", r.CreatedAt, before)
	same(t, "stored reaction", reactors(t, s, "r1", 1, "👍", "", 1), values(r))
}

func testReactionCounts(t *testing.T, s store.Store) {
	// Message 1: 👍 first at 5 (u2, u3, u1), ❤️ first at 3 (u4), 😂 and 🎉
	// both first at 7 (tie: by emoji). Message 2: u1's 👀 only. Message 3
	// of another room.
	for _, r := range []*store.Reaction{
		newReaction("r1", 1, "u2", "👍", 5),
		newReaction("r1", 1, "u3", "👍", 6),
		newReaction("r1", 1, "u1", "👍", 9),
		newReaction("r1", 1, "u4", "❤️", 3),
		newReaction("r1", 1, "u1", "🎉", 7),
		newReaction("r1", 1, "u5", "😂", 7),
		newReaction("r1", 1, "u6", "😂", 8),
		newReaction("r1", 2, "u1", "👀", 1),
		newReaction("r2", 3, "u1", "👍", 1),
		newReaction("r2", 1, "u1", "👍", 1),
	} {
		addReaction(t, s, r)
	}
	one := func(mine1, mineTada bool) []store.ReactionCount {
		return []store.ReactionCount{
			{Emoji: "❤️", Count: 1},
			{Emoji: "👍", Count: 3, Mine: mine1},
			{Emoji: "🎉", Count: 1, Mine: mineTada},
			{Emoji: "😂", Count: 2},
		}
	}
	same(t, "counts for u1", mustCounts(t, s, "r1", []int64{1, 2, 3}, "u1"), map[int64][]store.ReactionCount{
		1: one(true, true),
		2: {{Emoji: "👀", Count: 1, Mine: true}},
	})
	same(t, "counts for u3", mustCounts(t, s, "r1", []int64{3, 2, 1, 1}, "u3"), map[int64][]store.ReactionCount{
		1: one(true, false),
		2: {{Emoji: "👀", Count: 1}},
	})
	same(t, "counts for nobody", mustCounts(t, s, "r1", []int64{1}, ""), map[int64][]store.ReactionCount{
		1: one(false, false),
	})
	same(t, "counts of message 3", mustCounts(t, s, "r2", []int64{3}, "u9"), map[int64][]store.ReactionCount{
		3: {{Emoji: "👍", Count: 1}},
	})
}

func testReactionCountsArguments(t *testing.T, s store.Store) {
	ctx := t.Context()
	addReaction(t, s, newReaction("r1", 1, "u1", "👍", 1))
	for _, seqs := range [][]int64{nil, {}, {2, 3}} {
		if got := mustCounts(t, s, "r1", seqs, "u1"); len(got) != 0 {
			t.Fatalf("ReactionCounts %v: %+v, want none", seqs, got)
		}
	}
	if got := mustCounts(t, s, "r9", []int64{1}, "u1"); len(got) != 0 {
		t.Fatalf("ReactionCounts of another room: %+v, want none", got)
	}
	many := make([]int64, store.MaxSeqs+1)
	for i := range many {
		many[i] = int64(i + 1)
	}
	_, err := s.ReactionCounts(ctx, "r1", many[:store.MaxSeqs], "u1")
	mustNil(t, "ReactionCounts of MaxSeqs seqs", err)
	_, err = s.ReactionCounts(ctx, "r1", many, "u1")
	tooMany(t, "ReactionCounts of MaxSeqs+1 seqs", err)
}

func testReactors(t *testing.T, s store.Store) {
	ctx := t.Context()
	// By time, then user id: u5 (2), u2 (4), u3 (4), u1 (6), u4 (8).
	var rs []*store.Reaction
	for _, r := range []*store.Reaction{
		newReaction("r1", 1, "u3", "👍", 4),
		newReaction("r1", 1, "u1", "👍", 6),
		newReaction("r1", 1, "u5", "👍", 2),
		newReaction("r1", 1, "u4", "👍", 8),
		newReaction("r1", 1, "u2", "👍", 4),
	} {
		rs = append(rs, addReaction(t, s, r))
	}
	u3, u1, u5, u4, u2 := rs[0], rs[1], rs[2], rs[3], rs[4]
	// Others that must not show.
	addReaction(t, s, newReaction("r1", 1, "u6", "❤️", 1))
	addReaction(t, s, newReaction("r1", 2, "u7", "👍", 1))
	addReaction(t, s, newReaction("r2", 1, "u8", "👍", 1))

	same(t, "all", reactors(t, s, "r1", 1, "👍", "", 10), values(u5, u2, u3, u1, u4))
	same(t, "first page", reactors(t, s, "r1", 1, "👍", "", 2), values(u5, u2))
	same(t, "second page", reactors(t, s, "r1", 1, "👍", "u2", 2), values(u3, u1))
	same(t, "last page", reactors(t, s, "r1", 1, "👍", "u1", 2), values(u4))
	if got := reactors(t, s, "r1", 1, "👍", "u4", 2); len(got) != 0 {
		t.Fatalf("after the last: %+v", got)
	}
	if got := reactors(t, s, "r1", 3, "👍", "", 2); len(got) != 0 {
		t.Fatalf("message without reactions: %+v", got)
	}
	for _, after := range []string{"u9", "u6", "u7"} {
		_, err := s.Reactors(ctx, "r1", 1, "👍", after, 2)
		wantErr(t, "Reactors after a user without that reaction "+after, err, store.ErrNotFound)
	}
}

// testReactorsLimits: a limit <= 0 is 50, one above 1000 is 1000.
func testReactorsLimits(t *testing.T, s store.Store) {
	const n = defaultLimit + 5
	for i := range n {
		addReaction(t, s, newReaction("r1", 1, fmt.Sprintf("u%03d", i), "👍", 1))
	}
	for _, limit := range []int{0, -1} {
		if got := reactors(t, s, "r1", 1, "👍", "", limit); len(got) != defaultLimit {
			t.Fatalf("Reactors limit %d: %d reactions, want %d", limit, len(got), defaultLimit)
		}
	}
	got := reactors(t, s, "r1", 1, "👍", "", 1<<30)
	if len(got) != n || got[0].UserID != "u000" || got[n-1].UserID != fmt.Sprintf("u%03d", n-1) {
		t.Fatalf("Reactors limit 1<<30: %d reactions, from %+v", len(got), got[0])
	}
}

func hiddenSeqs(t *testing.T, s store.Store, user, room string, from, to int64) []int64 {
	t.Helper()
	got, err := s.HiddenSeqs(t.Context(), user, room, from, to)
	mustNil(t, "HiddenSeqs", err)
	return got
}

func testHideAndRange(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustNil(t, "HideMessages", s.HideMessages(ctx, "u1", "r1", []int64{5, 1, 3}))
	mustNil(t, "HideMessages again", s.HideMessages(ctx, "u1", "r1", []int64{5, 7, 7}))
	mustNil(t, "HideMessages other user", s.HideMessages(ctx, "u2", "r1", []int64{2}))
	mustNil(t, "HideMessages other room", s.HideMessages(ctx, "u1", "r2", []int64{4}))
	for _, tc := range []struct {
		user, room string
		from, to   int64
		want       []int64
	}{
		{"u1", "r1", 0, 100, []int64{1, 3, 5, 7}},
		{"u1", "r1", 1, 7, []int64{1, 3, 5, 7}},
		{"u1", "r1", 2, 5, []int64{3, 5}},
		{"u1", "r1", 6, 6, []int64{}},
		{"u1", "r1", 7, 7, []int64{7}},
		{"u1", "r1", 8, 100, []int64{}},
		{"u1", "r1", 5, 1, []int64{}},
		{"u2", "r1", 0, 100, []int64{2}},
		{"u1", "r2", 0, 100, []int64{4}},
		{"u3", "r1", 0, 100, []int64{}},
	} {
		got := hiddenSeqs(t, s, tc.user, tc.room, tc.from, tc.to)
		if !equalSeqs(got, tc.want) {
			t.Fatalf("HiddenSeqs(%s, %s, %d, %d) = %v, want %v", tc.user, tc.room, tc.from, tc.to, got, tc.want)
		}
	}
}

func testHideArguments(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustNil(t, "HideMessages nil", s.HideMessages(ctx, "u1", "r1", nil))
	mustNil(t, "HideMessages empty", s.HideMessages(ctx, "u1", "r1", []int64{}))
	many := make([]int64, store.MaxSeqs+1)
	for i := range many {
		many[i] = int64(i + 1)
	}
	tooMany(t, "HideMessages of MaxSeqs+1 seqs", s.HideMessages(ctx, "u1", "r1", many))
	if got := hiddenSeqs(t, s, "u1", "r1", 0, 1000); len(got) != 0 {
		t.Fatalf("hidden after refused calls: %v", got)
	}
	mustNil(t, "HideMessages of MaxSeqs seqs", s.HideMessages(ctx, "u1", "r1", many[:store.MaxSeqs]))
	if got := hiddenSeqs(t, s, "u1", "r1", 0, 1000); len(got) != store.MaxSeqs {
		t.Fatalf("%d seqs hidden, want %d", len(got), store.MaxSeqs)
	}
}

func mentionSeq(t *testing.T, s store.Store, room, user string) int64 {
	t.Helper()
	return mustMember(t, s, room, user).MentionSeq
}

func testMentionSeqRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	m := newMember("r1", "u1", 1)
	m.ReadSeq, m.MentionSeq = 3, 7
	addMember(t, s, m)
	same(t, "Member", mustMember(t, s, "r1", "u1"), m)
	members, err := s.Members(ctx, "r1")
	mustNil(t, "Members", err)
	same(t, "Members", members, []store.Member{*m})
	mine, err := s.MembershipsOf(ctx, "u1")
	mustNil(t, "MembershipsOf", err)
	same(t, "MembershipsOf", mine, []store.Member{*m})
	// SetReadSeq leaves it alone, and MarkMentioned the read seq.
	mustNil(t, "SetReadSeq", s.SetReadSeq(ctx, "r1", "u1", 9))
	mustNil(t, "MarkMentioned", s.MarkMentioned(ctx, "r1", []string{"u1"}, 8))
	m.ReadSeq, m.MentionSeq = 9, 8
	same(t, "after SetReadSeq and MarkMentioned", mustMember(t, s, "r1", "u1"), m)
}

func testMarkMentioned(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, u := range []string{"u1", "u2", "u3"} {
		addMember(t, s, newMember("r1", u, 1))
	}
	elsewhere := addMember(t, s, newMember("r2", "u1", 1))
	check := func(what string, want map[string]int64) {
		t.Helper()
		for u, seq := range want {
			if got := mentionSeq(t, s, "r1", u); got != seq {
				t.Fatalf("%s: mention seq of %s is %d, want %d", what, u, got, seq)
			}
		}
	}
	check("new members", map[string]int64{"u1": 0, "u2": 0, "u3": 0})
	mustNil(t, "MarkMentioned", s.MarkMentioned(ctx, "r1", []string{"u1", "u3", "nobody"}, 5))
	check("u1, u3 at 5", map[string]int64{"u1": 5, "u2": 0, "u3": 5})
	mustNil(t, "MarkMentioned lower", s.MarkMentioned(ctx, "r1", []string{"u1", "u2"}, 4))
	check("never lowered", map[string]int64{"u1": 5, "u2": 4, "u3": 5})
	mustNil(t, "MarkMentioned same", s.MarkMentioned(ctx, "r1", []string{"u3", "u3"}, 5))
	mustNil(t, "MarkMentioned nobody", s.MarkMentioned(ctx, "r1", []string{}, 50))
	mustNil(t, "MarkMentioned non-members only", s.MarkMentioned(ctx, "r1", []string{"u9"}, 50))
	mustNil(t, "MarkMentioned of a missing room", s.MarkMentioned(ctx, "r9", []string{"u1"}, 50))
	check("unchanged", map[string]int64{"u1": 5, "u2": 4, "u3": 5})
	_, err := s.Member(ctx, "r1", "u9")
	wantErr(t, "a non-member is not added", err, store.ErrNotFound)
	same(t, "same user in another room", mustMember(t, s, "r2", "u1"), elsewhere)
}

func testMarkMentionedAll(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, u := range []string{"u1", "u2", "u3"} {
		addMember(t, s, newMember("r1", u, 1))
	}
	elsewhere := addMember(t, s, newMember("r2", "u1", 1))
	mustNil(t, "MarkMentioned u2", s.MarkMentioned(ctx, "r1", []string{"u2"}, 9))
	mustNil(t, "MarkMentioned all", s.MarkMentioned(ctx, "r1", nil, 7))
	for u, want := range map[string]int64{"u1": 7, "u2": 9, "u3": 7} {
		if got := mentionSeq(t, s, "r1", u); got != want {
			t.Fatalf("after MarkMentioned all: mention seq of %s is %d, want %d", u, got, want)
		}
	}
	same(t, "same user in another room", mustMember(t, s, "r2", "u1"), elsewhere)
	mustNil(t, "MarkMentioned all of a missing room", s.MarkMentioned(ctx, "r9", nil, 1))
}

func newFile(id, room string, sec int) *store.File {
	return &store.File{
		ID: id, RoomID: room, UploaderID: "u1", Name: id + ".png", Size: 12345,
		ContentType: "image/png", Width: 640, Height: 480, Key: "blobs/" + id,
		ThumbKey: "thumbs/" + id, ThumbType: "image/jpeg", CreatedAt: at(sec),
	}
}

func createFile(t *testing.T, s store.Store, f *store.File) *store.File {
	t.Helper()
	mustNil(t, "CreateFile "+f.ID, s.CreateFile(t.Context(), f))
	return f
}

func mustFile(t *testing.T, s store.Store, id string) *store.File {
	t.Helper()
	f, err := s.FileByID(t.Context(), id)
	mustNil(t, "FileByID "+id, err)
	return f
}

func testFileRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := createFile(t, s, newFile("f1", "r1", 1))
	sameTime(t, "CreatedAt normalised in place", f.CreatedAt, stored(at(1)))
	same(t, "FileByID", mustFile(t, s, "f1"), f)
	// A plain file: no thumbnail, no size in pixels; and one stored
	// attached and deleted.
	plain := &store.File{ID: "f2", RoomID: "r1", UploaderID: "u2", Name: "a.pdf", Size: 1,
		ContentType: "application/pdf", Key: "blobs/f2", CreatedAt: at(2)}
	createFile(t, s, plain)
	same(t, "FileByID plain", mustFile(t, s, "f2"), plain)
	done := newFile("f3", "r2", 3)
	done.MessageSeq, done.Deleted = 4, true
	createFile(t, s, done)
	same(t, "FileByID attached and deleted", mustFile(t, s, "f3"), done)

	wantErr(t, "CreateFile twice", s.CreateFile(ctx, newFile("f1", "r1", 4)), store.ErrDuplicate)
	same(t, "file kept", mustFile(t, s, "f1"), f)
	_, err := s.FileByID(ctx, "missing")
	wantErr(t, "FileByID missing", err, store.ErrNotFound)
}

func testFileDefaultTime(t *testing.T, s store.Store) {
	f := newFile("f1", "r1", 0)
	f.CreatedAt = time.Time{}
	before := time.Now()
	createFile(t, s, f)
	recent(t, "defaulted CreatedAt", f.CreatedAt, before)
	same(t, "stored file", mustFile(t, s, "f1"), f)
}

func testAttachFile(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := createFile(t, s, newFile("f1", "r1", 1))
	other := createFile(t, s, newFile("f2", "r1", 2))
	mustNil(t, "AttachFile", s.AttachFile(ctx, "f1", 5))
	f.MessageSeq = 5
	same(t, "attached", mustFile(t, s, "f1"), f)
	mustNil(t, "AttachFile same seq", s.AttachFile(ctx, "f1", 5))
	wantErr(t, "AttachFile other seq", s.AttachFile(ctx, "f1", 6), store.ErrConflict)
	same(t, "attached once", mustFile(t, s, "f1"), f)
	same(t, "other file", mustFile(t, s, "f2"), other)
	wantErr(t, "AttachFile missing", s.AttachFile(ctx, "missing", 5), store.ErrNotFound)
	for _, seq := range []int64{0, -1} {
		if err := s.AttachFile(ctx, "f2", seq); err == nil || errors.Is(err, store.ErrNotFound) {
			t.Fatalf("AttachFile seq %d: got %v, want an argument error", seq, err)
		}
	}
	same(t, "not attached to a bad seq", mustFile(t, s, "f2"), other)

	mustNil(t, "MarkFileDeleted", s.MarkFileDeleted(ctx, "f2"))
	wantErr(t, "AttachFile deleted", s.AttachFile(ctx, "f2", 5), store.ErrNotFound)
	mustNil(t, "MarkFileDeleted attached", s.MarkFileDeleted(ctx, "f1"))
	wantErr(t, "AttachFile deleted, same seq", s.AttachFile(ctx, "f1", 5), store.ErrNotFound)
}

func testMarkFileDeleted(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := createFile(t, s, newFile("f1", "r1", 1))
	other := createFile(t, s, newFile("f2", "r1", 2))
	mustNil(t, "MarkFileDeleted", s.MarkFileDeleted(ctx, "f1"))
	mustNil(t, "MarkFileDeleted again", s.MarkFileDeleted(ctx, "f1"))
	f.Deleted = true
	same(t, "deleted", mustFile(t, s, "f1"), f)
	same(t, "other file", mustFile(t, s, "f2"), other)
	wantErr(t, "MarkFileDeleted missing", s.MarkFileDeleted(ctx, "missing"), store.ErrNotFound)
}

func testOrphanFiles(t *testing.T, s store.Store) {
	ctx := t.Context()
	// Never attached: a (1), c (3), b (3), e (5, deleted), f (9).
	// Attached: d (2), g (4, deleted).
	a := createFile(t, s, newFile("a", "r1", 1))
	c := createFile(t, s, newFile("c", "r2", 3))
	b := createFile(t, s, newFile("b", "r1", 3))
	createFile(t, s, newFile("d", "r1", 2))
	e := createFile(t, s, newFile("e", "r1", 5))
	createFile(t, s, newFile("f", "r1", 9))
	createFile(t, s, newFile("g", "r1", 4))
	mustNil(t, "AttachFile d", s.AttachFile(ctx, "d", 1))
	mustNil(t, "AttachFile g", s.AttachFile(ctx, "g", 2))
	mustNil(t, "MarkFileDeleted e", s.MarkFileDeleted(ctx, "e"))
	mustNil(t, "MarkFileDeleted g", s.MarkFileDeleted(ctx, "g"))
	e.Deleted = true

	for _, tc := range []struct {
		before time.Time
		limit  int
		want   []store.File
	}{
		{at(9), 10, values(a, b, c, e)},
		{at(9), 2, values(a, b)},
		{at(3), 10, values(a)},
		{at(3).Add(time.Millisecond), 10, values(a, b, c)},
		{at(1), 10, nil},
		{at(9), 0, nil},
		{at(9), -1, nil},
	} {
		got, err := s.OrphanFiles(ctx, tc.before, tc.limit)
		mustNil(t, "OrphanFiles", err)
		if len(got) == 0 && len(tc.want) == 0 {
			continue
		}
		same(t, fmt.Sprintf("OrphanFiles(%v, %d)", tc.before, tc.limit), got, tc.want)
	}
}

func testDeleteFile(t *testing.T, s store.Store) {
	ctx := t.Context()
	createFile(t, s, newFile("f1", "r1", 1))
	other := createFile(t, s, newFile("f2", "r1", 2))
	mustNil(t, "DeleteFile", s.DeleteFile(ctx, "f1"))
	mustNil(t, "DeleteFile again", s.DeleteFile(ctx, "f1"))
	mustNil(t, "DeleteFile missing", s.DeleteFile(ctx, "missing"))
	_, err := s.FileByID(ctx, "f1")
	wantErr(t, "FileByID after DeleteFile", err, store.ErrNotFound)
	got, err := s.OrphanFiles(ctx, at(59), 10)
	mustNil(t, "OrphanFiles", err)
	same(t, "orphans after DeleteFile", got, values(other))
	// The id is free again.
	again := createFile(t, s, newFile("f1", "r2", 3))
	same(t, "created again", mustFile(t, s, "f1"), again)
}

func testFilesOfMessage(t *testing.T, s store.Store) {
	ctx := t.Context()
	b := createFile(t, s, newFile("b", "r1", 2))
	a := createFile(t, s, newFile("a", "r1", 2))
	c := createFile(t, s, newFile("c", "r1", 1))
	createFile(t, s, newFile("d", "r1", 1)) // another message
	createFile(t, s, newFile("e", "r2", 1)) // same seq, another room
	createFile(t, s, newFile("f", "r1", 1)) // not attached
	for id, seq := range map[string]int64{"a": 5, "b": 5, "c": 5, "d": 6, "e": 5} {
		mustNil(t, "AttachFile "+id, s.AttachFile(ctx, id, seq))
	}
	mustNil(t, "MarkFileDeleted c", s.MarkFileDeleted(ctx, "c"))
	a.MessageSeq, b.MessageSeq, c.MessageSeq, c.Deleted = 5, 5, 5, true
	got, err := s.FilesOfMessage(ctx, "r1", 5)
	mustNil(t, "FilesOfMessage", err)
	same(t, "FilesOfMessage", got, values(c, a, b))
	got, err = s.FilesOfMessage(ctx, "r1", 7)
	mustNil(t, "FilesOfMessage of a message without files", err)
	if len(got) != 0 {
		t.Fatalf("FilesOfMessage r1/7: %+v", got)
	}
}
