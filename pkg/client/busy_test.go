package client_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/pkg/client"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// A node answers a connection's frames in order, so behind a busy store a
// request's answer can come long after RequestTimeout while the answers to
// the frames before it keep coming: the client keeps the connection and
// its place, and sends nothing twice.
func TestBusyNodeKeepsTheConnection(t *testing.T) {
	cl := apitest.NewCluster(t, 0, apitest.Options{})
	node := cl.StartNodeWith(apitest.NodeSetup{Store: func(s store.Store) store.Store {
		return &faultyStore{Store: s, delay: 120 * time.Millisecond}
	}})
	a, b := cl.Register("busya"), cl.Register("busyb")
	room := cl.Befriend(a, b)
	var retries sync.Map
	ca := dial(t, a, []string{node.URL}, client.Options{Logger: testLogger(t), RequestTimeout: 400 * time.Millisecond,
		OnRetry: func(id string, err error) { retries.Store(id, err) }})

	const n = 12 // answered one after another: the last about 1.4 s after it was written
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := ca.Send(ctxT(t), room, fmt.Sprintf("busy %d", i), client.SendOptions{}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("send: %v", err)
	}
	if d := time.Since(start); d < 3*400*time.Millisecond {
		t.Fatalf("the sends took %v: the store was not slow enough to test anything", d)
	}
	retries.Range(func(id, err any) bool {
		t.Errorf("%s was sent again: %v", id, err)
		return true
	})
	if s := ca.Stats(); s.Resent != 0 || s.Connects != 1 {
		t.Fatalf("stats %+v: want no resend and one connection", s)
	}
}

// A connection that owes an answer and reads nothing for RequestTimeout is
// dead or stuck: the client replaces it and sends the request again, same
// client_msg_id, on the next one; the message is stored once.
func TestStalledConnectionIsReplaced(t *testing.T) {
	cl := apitest.NewCluster(t, 0, apitest.Options{})
	ss := &faultyStore{hang: map[string]time.Duration{"stall-1": 3 * time.Second}}
	node := cl.StartNodeWith(apitest.NodeSetup{Store: func(s store.Store) store.Store { ss.Store = s; return ss }})
	a, b := cl.Register("stalla"), cl.Register("stallb")
	room := cl.Befriend(a, b)
	var mu sync.Mutex
	var why []error
	ca := dial(t, a, []string{node.URL}, client.Options{Logger: testLogger(t), RequestTimeout: 300 * time.Millisecond,
		OnRetry: func(_ string, err error) { mu.Lock(); why = append(why, err); mu.Unlock() }})

	m, err := ca.Send(ctxT(t), room, "stalled", client.SendOptions{ClientMsgID: "stall-1"})
	if err != nil {
		t.Fatal(err)
	}
	if s := ca.Stats(); s.Connects < 2 || s.Resent < 1 {
		t.Fatalf("stats %+v: want the stalled connection replaced and the send resent", s)
	}
	mu.Lock()
	if len(why) == 0 || !errors.Is(why[0], client.ErrConnectionLost) {
		t.Errorf("retried because of %v, want %v first", why, client.ErrConnectionLost)
	}
	mu.Unlock()
	// Stored once: the hung insert and the resend are one message.
	got := messages(t, dial(t, b, []string{node.URL}, client.Options{Rooms: map[string]int64{room: 0}}), room, 1)
	if got[0].ClientMsgID != "stall-1" || got[0].Seq != m.Seq {
		t.Fatalf("b got %+v, want the acked %+v", got[0], m)
	}
	var h struct {
		Messages []struct {
			ClientMsgID string `json:"client_msg_id"`
		}
	}
	r := cl.Do("GET", "/v1/rooms/"+room+"/messages?limit=100", b.Token, nil)
	r.JSON(t, &h)
	if len(h.Messages) != 1 {
		t.Fatalf("history holds %d messages, want 1: %+v", len(h.Messages), h.Messages)
	}
}
