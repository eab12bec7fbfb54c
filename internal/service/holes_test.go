package service_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/service"
	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
	"github.com/im-websocket-go/im-websocket-go/pkg/kv/memkv"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/mongo"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func setup(t *testing.T) (*service.Service, store.Store, *memkv.KV, *clock, string, string) {
	uri, db := testenv.MongoDB(t)
	ctx := context.Background()
	st, err := mongo.Open(ctx, uri, db, mongo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(ctx) })
	kvs := memkv.New()
	t.Cleanup(func() { kvs.Close() })
	clk := &clock{t: time.Now()}
	svc := service.New(service.Deps{Store: st, KV: kvs, Now: clk.Now})
	room, uid := "room"+testenv.UniqueName("r")[2:], "user1"
	if err := st.AddMember(ctx, &store.Member{RoomID: room, UserID: uid, RoomType: store.RoomGroup}); err != nil {
		t.Fatal(err)
	}
	return svc, st, kvs, clk, room, uid
}

func send(t *testing.T, svc *service.Service, uid, room, id string) *store.Message {
	t.Helper()
	m, _, err := svc.Send(context.Background(), service.SendInput{UserID: uid, RoomID: room, Body: id, ClientMsgID: id})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func seqs(ms []store.Message) []int64 {
	var out []int64
	for _, m := range ms {
		out = append(out, m.Seq)
	}
	return out
}

// A seq allocated but never stored is first waited for, then closed with a
// tombstone; a message arriving late for that seq is refused, so nothing a
// client was told to skip can appear later.
func TestHoleIsWaitedForThenClosed(t *testing.T) {
	svc, st, kvs, clk, room, uid := setup(t)
	ctx := context.Background()
	send(t, svc, uid, room, "a")                                  // seq 1
	if _, err := kvs.Incr(ctx, "seq:{"+room+"}", 0); err != nil { // seq 2: an insert in flight
		t.Fatal(err)
	}
	send(t, svc, uid, room, "c") // seq 3

	p, err := svc.After(ctx, uid, room, 0, 50, true)
	if err != nil || !p.Pending || fmt_(seqs(p.Messages)) != "[1]" || p.Last != 1 {
		t.Fatalf("young gap: %+v %v", p, err)
	}
	clk.Add(svc.Limits().HoleTimeout + time.Second)
	p, err = svc.After(ctx, uid, room, 0, 50, true)
	if err != nil || p.Pending || fmt_(seqs(p.Messages)) != "[1 3]" || p.Last != 3 {
		t.Fatalf("old gap: %+v %v", p, err)
	}
	late := &store.Message{ID: "late", RoomID: room, Seq: 2, From: uid, Body: "late", ClientMsgID: "b", CreatedAt: clk.Now()}
	if err := st.InsertMessage(ctx, late); !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("a late message took a closed seq: %v", err)
	}
	// The sender's retry gets a fresh seq.
	if m := send(t, svc, uid, room, "b"); m.Seq != 4 {
		t.Fatalf("retry got seq %d, want 4", m.Seq)
	}
	// Holes are never shown, counted as unread, or taken as the last message.
	b, _ := svc.Before(ctx, uid, room, 0, 50)
	if fmt_(seqs(b.Messages)) != "[1 3 4]" {
		t.Fatalf("history: %v", seqs(b.Messages))
	}
	if n, _ := st.CountAfter(ctx, room, 0, "someone else"); n != 3 {
		t.Fatalf("unread counts %d, want 3", n)
	}
}

// If the late message lands before the hole is closed, it is delivered.
func TestLateMessageBeforeTombstoneIsKept(t *testing.T) {
	svc, st, kvs, clk, room, uid := setup(t)
	ctx := context.Background()
	send(t, svc, uid, room, "a")
	seq2, _ := kvs.Incr(ctx, "seq:{"+room+"}", 0)
	send(t, svc, uid, room, "c")
	clk.Add(svc.Limits().HoleTimeout + time.Second)
	if err := st.InsertMessage(ctx, &store.Message{ID: "late", RoomID: room, Seq: seq2, From: uid, Body: "b", ClientMsgID: "b", CreatedAt: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	p, err := svc.After(ctx, uid, room, 0, 50, true)
	if err != nil || fmt_(seqs(p.Messages)) != "[1 2 3]" {
		t.Fatalf("%+v %v", p, err)
	}
}

func fmt_(v []int64) string {
	s := "["
	for i, x := range v {
		if i > 0 {
			s += " "
		}
		s += itoa(x)
	}
	return s + "]"
}

func itoa(x int64) string {
	if x == 0 {
		return "0"
	}
	var b []byte
	for ; x > 0; x /= 10 {
		b = append([]byte{byte('0' + x%10)}, b...)
	}
	return string(b)
}
