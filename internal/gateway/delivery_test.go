package gateway_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// prompt is how soon a message must reach a member on another node once
// its sender has the ack: a functional bound (far below the 5 s hole
// timeout that a stalled room would wait), not a benchmark.
const prompt = time.Second

// history reads room's whole history (after=0) through the REST API.
func history(t *testing.T, cl *apitest.Cluster, token, room string) (ids []string, seqs []int64, more bool) {
	t.Helper()
	var h struct {
		Messages []protocol.Message
		HasMore  bool `json:"has_more"`
	}
	r := cl.Do("GET", "/v1/rooms/"+room+"/messages?after=0&limit=100", token, nil)
	if r.Status != 200 {
		t.Fatalf("history: %d", r.Status)
	}
	r.JSON(t, &h)
	for _, m := range h.Messages {
		ids, seqs = append(ids, m.ClientMsgID), append(seqs, m.Seq)
	}
	return ids, seqs, h.HasMore
}

func mustAck(t *testing.T, c *apitest.WS, room, cmid string) *protocol.Message {
	t.Helper()
	if err := c.SendMsg(room, cmid, cmid); err != nil {
		t.Fatal(err)
	}
	o, err := c.Ack(cmid, wait)
	if err != nil || o.Type != protocol.TypeAck {
		t.Fatalf("ack of %s: %+v %v", cmid, o, err)
	}
	return o.Message
}

// A client that resends a stored message (same client_msg_id) gets the
// first ack back, and the room does not stall: the next message reaches the
// peer on the other node at once, and history has both with no gap.
func TestRetriedSendDoesNotStallTheRoom(t *testing.T) {
	cl := apitest.NewCluster(t, 2, apitest.Options{})
	a, b := cl.Register("ra"), cl.Register("rb")
	room := cl.Befriend(a, b)
	a0 := apitest.DialWS(t, cl.Nodes[0].URL, a.Token)
	b1 := apitest.DialWS(t, cl.Nodes[1].URL, b.Token)
	cl.Settle()

	m1 := mustAck(t, a0, room, "m1")
	again := mustAck(t, a0, room, "m1")
	if again.ID != m1.ID || again.Seq != m1.Seq {
		t.Fatalf("retry acked %+v, first %+v", again, m1)
	}
	m2 := mustAck(t, a0, room, "m2")
	for _, want := range []*protocol.Message{m1, m2} {
		o, err := b1.WaitFor(prompt, isMsg(room))
		if err != nil || o.Message.ID != want.ID {
			t.Fatalf("peer on the other node, waiting for %s: %+v %v", want.ClientMsgID, o.Message, err)
		}
	}
	if ids, _, more := history(t, cl, b.Token, room); fmt.Sprint(ids) != "[m1 m2]" || more {
		t.Fatalf("history after=0: %v more=%v", ids, more)
	}
}

// Sixteen senders on two nodes each send every message twice (a retry
// after the ack, as after a reconnect): every member still gets every
// message promptly, once, in order, and history is complete.
func TestConcurrentRetriesDoNotStall(t *testing.T) {
	cl := apitest.NewCluster(t, 2, apitest.Options{})
	room, owner, conns := groupAcrossNodes(t, cl, 16, "cr")
	acked := sendAllReliably(t, conns, room, 3, true)
	for i, c := range conns {
		expectExactly(t, fmt.Sprintf("member %d (node %d)", i, i%2), c, room, acked, prompt)
	}
	ids, seqs, more := history(t, cl, owner.Token, room)
	if len(ids) != len(acked) || more {
		t.Fatalf("history after=0: %d messages (more=%v), want %d: %v", len(ids), more, len(acked), seqs)
	}
	for i, s := range seqs {
		if acked[s] != ids[i] || (i > 0 && s <= seqs[i-1]) {
			t.Fatalf("history after=0 is not the acked messages in order: %v %v", seqs, ids)
		}
	}
}

// faultyStore fails chosen inserts after the gateway has taken their seq:
// "drop" refuses the insert, "lose" stores it but loses the answer.
type faultyStore struct {
	store.Store
	mu   sync.Mutex
	mode map[string]string // client_msg_id -> mode, used once
}

func (f *faultyStore) InsertMessage(ctx context.Context, m *store.Message) error {
	f.mu.Lock()
	mode := f.mode[m.ClientMsgID]
	delete(f.mode, m.ClientMsgID)
	f.mu.Unlock()
	switch mode {
	case "drop":
		return fmt.Errorf("injected failure: %w", store.ErrUnavailable)
	case "lose":
		if err := f.Store.InsertMessage(ctx, m); err != nil {
			return err
		}
		return fmt.Errorf("injected lost answer: %w", store.ErrUnavailable)
	}
	return f.Store.InsertMessage(ctx, m)
}

// A store error after the seq was taken does not stall the room: the
// failed send is answered `unavailable` and its seq released at once, so
// the next message reaches the other node promptly; its retry is stored.
// An insert that committed but whose answer was lost is acknowledged.
func TestStoreErrorAfterSeqDoesNotStall(t *testing.T) {
	cl := apitest.NewCluster(t, 1, apitest.Options{})
	fs := &faultyStore{mode: map[string]string{"boom": "drop", "ghost": "lose"}}
	cl.StartNodeWith(apitest.NodeSetup{Store: func(s store.Store) store.Store { fs.Store = s; return fs }})
	a, b := cl.Register("fa"), cl.Register("fb")
	room := cl.Befriend(a, b)
	a1 := apitest.DialWS(t, cl.Nodes[1].URL, a.Token) // on the faulty node
	b0 := apitest.DialWS(t, cl.Nodes[0].URL, b.Token)
	cl.Settle()

	m1 := mustAck(t, a1, room, "m1")
	a1.SendMsg(room, "boom", "boom")
	if o, err := a1.Ack("boom", wait); err != nil || o.Type != protocol.TypeError || o.Code != protocol.CodeUnavailable {
		t.Fatalf("failed insert: want an unavailable error, got %+v %v", o, err)
	}
	m2 := mustAck(t, a1, room, "m2")
	ghost := mustAck(t, a1, room, "ghost") // stored, answer lost: acked all the same
	boom, _, err := a1.SendReliably(room, "boom", "boom", 5, wait)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []*protocol.Message{m1, m2, ghost, boom.Message} {
		o, err := b0.WaitFor(prompt, isMsg(room))
		if err != nil || o.Message.ID != want.ID {
			t.Fatalf("peer on the other node, waiting for %s: %+v %v", want.ClientMsgID, o.Message, err)
		}
	}
	if ids, _, _ := history(t, cl, b.Token, room); fmt.Sprint(ids) != "[m1 m2 ghost boom]" {
		t.Fatalf("history after=0: %v", ids)
	}
}
