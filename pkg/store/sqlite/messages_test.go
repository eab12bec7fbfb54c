package sqlite_test

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

func newMessage(room string, seq int64, from string) *store.Message {
	return &store.Message{
		ID: fmt.Sprintf("m-%s-%d", room, seq), RoomID: room, Seq: seq, From: from,
		Body: fmt.Sprintf("body %d", seq), ClientMsgID: fmt.Sprintf("c-%s-%d", room, seq), CreatedAt: at(int(seq % 60)),
	}
}

func seqs(ms []store.Message) []int64 {
	out := []int64{}
	for _, m := range ms {
		out = append(out, m.Seq)
	}
	return out
}

func TestMessages(t *testing.T) {
	s, ctx := openStore(t), testCtx(t)
	_, err := s.LastMessage(ctx, "r1")
	wantErr(t, "LastMessage of empty room", err, store.ErrNotFound)

	var stored []*store.Message
	// Insert out of order to check that ordering comes from seq.
	for _, seq := range []int64{3, 1, 5, 2, 4, 7, 6} {
		from := "u1"
		if seq%2 == 0 {
			from = "u2"
		}
		m := newMessage("r1", seq, from)
		mustNil(t, "InsertMessage", s.InsertMessage(ctx, m))
		stored = append(stored, m)
	}
	mustNil(t, "InsertMessage other room", s.InsertMessage(ctx, newMessage("r2", 1, "u1")))

	got, err := s.MessageByClientID(ctx, "u1", "c-r1-3")
	mustNil(t, "MessageByClientID", err)
	if !reflect.DeepEqual(got, stored[0]) {
		t.Fatalf("MessageByClientID: got %+v, want %+v", got, stored[0])
	}
	_, err = s.MessageByClientID(ctx, "u2", "c-r1-3")
	wantErr(t, "MessageByClientID other sender", err, store.ErrNotFound)

	last, err := s.LastMessage(ctx, "r1")
	mustNil(t, "LastMessage", err)
	if last.Seq != 7 || last.ID != "m-r1-7" {
		t.Fatalf("LastMessage: %+v", last)
	}

	for _, tc := range []struct {
		name  string
		after bool
		seq   int64
		limit int
		want  []int64
	}{
		{"after 0", true, 0, 0, []int64{1, 2, 3, 4, 5, 6, 7}},
		{"after 2 limit 3", true, 2, 3, []int64{3, 4, 5}},
		{"after 6", true, 6, 10, []int64{7}},
		{"after 7", true, 7, 10, []int64{}},
		{"before 100", false, 100, 0, []int64{7, 6, 5, 4, 3, 2, 1}},
		{"before 6 limit 2", false, 6, 2, []int64{5, 4}},
		{"before 1", false, 1, 10, []int64{}},
		{"negative limit", true, 0, -5, []int64{1, 2, 3, 4, 5, 6, 7}},
	} {
		var ms []store.Message
		if tc.after {
			ms, err = s.MessagesAfter(ctx, "r1", tc.seq, tc.limit)
		} else {
			ms, err = s.MessagesBefore(ctx, "r1", tc.seq, tc.limit)
		}
		mustNil(t, tc.name, err)
		if !reflect.DeepEqual(seqs(ms), tc.want) {
			t.Fatalf("%s: got seqs %v, want %v", tc.name, seqs(ms), tc.want)
		}
		for _, m := range ms {
			if m.RoomID != "r1" {
				t.Fatalf("%s: message of room %s", tc.name, m.RoomID)
			}
		}
	}
	ms, err := s.MessagesAfter(ctx, "r1", 4, 1)
	mustNil(t, "MessagesAfter", err)
	if !reflect.DeepEqual(ms, []store.Message{*stored[2]}) {
		t.Fatalf("MessagesAfter full message: got %+v, want %+v", ms, stored[2])
	}

	for _, tc := range []struct {
		after   int64
		exclude string
		want    int64
	}{
		{0, "", 7},
		{0, "u1", 3}, // 2, 4, 6
		{0, "u2", 4}, // 1, 3, 5, 7
		{4, "u1", 1}, // 6
		{4, "nobody", 3},
		{7, "", 0},
	} {
		n, err := s.CountAfter(ctx, "r1", tc.after, tc.exclude)
		mustNil(t, "CountAfter", err)
		if n != tc.want {
			t.Fatalf("CountAfter(%d, %q) = %d, want %d", tc.after, tc.exclude, n, tc.want)
		}
	}
}

func TestMessagesDefaultLimit(t *testing.T) {
	s, ctx := openStore(t), testCtx(t)
	const n = 60
	for seq := int64(1); seq <= n; seq++ {
		mustNil(t, "InsertMessage", s.InsertMessage(ctx, newMessage("r1", seq, "u1")))
	}
	ms, err := s.MessagesAfter(ctx, "r1", 0, 0)
	mustNil(t, "MessagesAfter", err)
	if len(ms) != 50 || ms[0].Seq != 1 || ms[49].Seq != 50 {
		t.Fatalf("MessagesAfter default limit: %d messages %v", len(ms), seqs(ms))
	}
	ms, err = s.MessagesBefore(ctx, "r1", n+1, 0)
	mustNil(t, "MessagesBefore", err)
	if len(ms) != 50 || ms[0].Seq != n || ms[49].Seq != n-49 {
		t.Fatalf("MessagesBefore default limit: %d messages %v", len(ms), seqs(ms))
	}
}

func TestInsertMessageDuplicates(t *testing.T) {
	s, ctx := openStore(t), testCtx(t)
	mustNil(t, "InsertMessage", s.InsertMessage(ctx, newMessage("r1", 1, "u1")))

	sameSeq := newMessage("r1", 1, "u2")
	sameSeq.ID, sameSeq.ClientMsgID = "other", "other"
	wantErr(t, "same (room, seq)", s.InsertMessage(ctx, sameSeq), store.ErrDuplicate)

	sameClient := newMessage("r1", 2, "u1")
	sameClient.ClientMsgID = "c-r1-1"
	wantErr(t, "same (from, client id)", s.InsertMessage(ctx, sameClient), store.ErrDuplicate)

	// The same client id from another sender, or the same seq in another
	// room, is fine.
	otherSender := newMessage("r1", 2, "u2")
	otherSender.ClientMsgID = "c-r1-1"
	mustNil(t, "same client id, other sender", s.InsertMessage(ctx, otherSender))
	mustNil(t, "same seq, other room", s.InsertMessage(ctx, newMessage("r2", 1, "u1")))
	if err := s.InsertMessage(ctx, nil); err == nil {
		t.Fatal("InsertMessage(nil): no error")
	}
}
