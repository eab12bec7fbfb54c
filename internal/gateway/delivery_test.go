package gateway_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
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

// history reads room's history (after=0) through the REST API.
func history(t *testing.T, cl *apitest.Cluster, token, room string) (ids []string, seqs []int64, more bool) {
	t.Helper()
	return historyAfter(t, cl, token, room, 0)
}

// historyAfter reads a page of room's history after seq after.
func historyAfter(t *testing.T, cl *apitest.Cluster, token, room string, after int64) (ids []string, seqs []int64, more bool) {
	t.Helper()
	var h struct {
		Messages []protocol.Message
		HasMore  bool `json:"has_more"`
	}
	r := cl.Do("GET", fmt.Sprintf("/v1/rooms/%s/messages?after=%d&limit=100", room, after), token, nil)
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
	// History from 0 holds exactly the acked messages, in order. A client
	// pages on while has_more; a page stops early only before a seq whose
	// release the store could not take at once (it was timing out), which
	// the background release closes within the hole timeout.
	var ids []string
	var seqs []int64
	deadline := time.Now().Add(10 * time.Second)
	for after := int64(0); ; {
		pi, ps, more := historyAfter(t, cl, owner.Token, room, after)
		ids, seqs = append(ids, pi...), append(seqs, ps...)
		if len(ps) > 0 {
			after = ps[len(ps)-1]
		}
		if !more {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("history still incomplete after 10 s: %v", seqs)
		}
		if len(ps) == 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if len(ids) != len(acked) {
		t.Fatalf("history after=0: %d messages, want %d: %v", len(ids), len(acked), seqs)
	}
	for i, s := range seqs {
		if acked[s] != ids[i] || (i > 0 && s <= seqs[i-1]) {
			t.Fatalf("history after=0 is not the acked messages in order: %v %v", seqs, ids)
		}
	}
}

// faultyStore fails chosen inserts after the gateway has taken their seq:
// "drop" refuses the insert, "lose" stores it but loses the answer, "stuck"
// refuses the insert and then the first tombstone written to release it.
type faultyStore struct {
	store.Store
	mu        sync.Mutex
	mode      map[string]string // client_msg_id -> mode, used once
	failHoles int               // tombstone inserts still to refuse
}

func (f *faultyStore) InsertMessage(ctx context.Context, m *store.Message) error {
	f.mu.Lock()
	mode := f.mode[m.ClientMsgID]
	delete(f.mode, m.ClientMsgID)
	if m.Hole && f.failHoles > 0 {
		f.failHoles--
		mode = "drop"
	}
	if mode == "stuck" {
		f.failHoles++
		mode = "drop"
	}
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
// An insert that committed but whose answer was lost is acknowledged. When
// the tombstone cannot be written at once either, it is retried in the
// background, well within the hole timeout.
func TestStoreErrorAfterSeqDoesNotStall(t *testing.T) {
	cl := apitest.NewCluster(t, 1, apitest.Options{})
	fs := &faultyStore{mode: map[string]string{"boom": "drop", "ghost": "lose", "stuck": "stuck"}}
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
	a1.SendMsg(room, "stuck", "stuck")
	if o, err := a1.Ack("stuck", wait); err != nil || o.Code != protocol.CodeUnavailable {
		t.Fatalf("failed insert and release: want an unavailable error, got %+v %v", o, err)
	}
	m3 := mustAck(t, a1, room, "m3")
	boom, _, err := a1.SendReliably(room, "boom", "boom", 5, wait)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []*protocol.Message{m1, m2, ghost, m3, boom.Message} {
		o, err := b0.WaitFor(prompt, isMsg(room))
		if err != nil || o.Message.ID != want.ID {
			t.Fatalf("peer on the other node, waiting for %s: %+v %v", want.ClientMsgID, o.Message, err)
		}
	}
	if ids, _, _ := history(t, cl, b.Token, room); fmt.Sprint(ids) != "[m1 m2 ghost m3 boom]" {
		t.Fatalf("history after=0: %v", ids)
	}
}

// readFailingStore fails every history read while failing is set: the
// store overloaded or unreachable for the gap filler.
type readFailingStore struct {
	store.Store
	failing atomic.Bool
}

func (f *readFailingStore) MessagesAfter(ctx context.Context, room string, after int64, limit int) ([]store.Message, error) {
	if f.failing.Load() {
		return nil, fmt.Errorf("injected read failure: %w", store.ErrUnavailable)
	}
	return f.Store.MessagesAfter(ctx, room, after, limit)
}

// A node that cannot fill a delivery gap from the store gives up after a
// few bounded retries: it delivers what waited beyond the gap and tells the
// room's members there to sync that room, instead of holding messages back
// or dropping them silently.
func TestUnfillableGapAsksMembersToSync(t *testing.T) {
	cl := apitest.NewCluster(t, 1, apitest.Options{})
	fs := &readFailingStore{}
	cl.StartNodeWith(apitest.NodeSetup{Store: func(s store.Store) store.Store { fs.Store = s; return fs }})
	a, b := cl.Register("ga"), cl.Register("gb")
	room := cl.Befriend(a, b)
	a0 := apitest.DialWS(t, cl.Nodes[0].URL, a.Token)
	b1 := apitest.DialWS(t, cl.Nodes[1].URL, b.Token)
	cl.Settle()
	m1 := mustAck(t, a0, room, "m1")
	if o, err := b1.WaitFor(wait, isMsg(room)); err != nil || o.Message.ID != m1.ID {
		t.Fatalf("m1: %+v %v", o.Message, err)
	}
	// A seq whose message never comes (its sender died before storing it)
	// and a store that cannot be read.
	fs.failing.Store(true)
	if err := cl.Redis.Incr(t.Context(), "seq:{"+room+"}").Err(); err != nil {
		t.Fatal(err)
	}
	m3 := mustAck(t, a0, room, "m3")
	if o, err := b1.WaitFor(wait, isMsg(room)); err != nil || o.Message.ID != m3.ID {
		t.Fatalf("m3 beyond the gap: %+v %v", o.Message, err)
	}
	o, err := b1.WaitFor(wait, func(o protocol.Outbound) bool { return o.Type == protocol.TypeEvent && o.Event == "resync" })
	if err != nil || !strings.Contains(string(o.Data), room) {
		t.Fatalf("no resync event naming the room: %+v %v", o, err)
	}
	// The client syncs from its cursor once the store is back.
	fs.failing.Store(false)
	b1.Send(map[string]any{"type": "sync", "rooms": map[string]int64{room: m1.Seq}})
	o, err = b1.WaitFor(wait, func(o protocol.Outbound) bool { return o.Type == protocol.TypeSynced })
	if err != nil || o.LastSeq != m3.Seq {
		t.Fatalf("sync after the gap: %+v %v", o, err)
	}
}
