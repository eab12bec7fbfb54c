package gateway_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/internal/gateway"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// slowInserts makes every message insert take d, as a saturated store does.
type slowInserts struct {
	store.Store
	d time.Duration
}

func (s slowInserts) InsertMessage(ctx context.Context, m *store.Message) error {
	time.Sleep(s.d)
	return s.Store.InsertMessage(ctx, m)
}

// A node that is behind answers its old sends at once: three senders
// pipeline six sends each into one send slot (inserts of 100 ms), so
// frames wait behind others. StoreQueueWait is a minute here, so without
// StoreMaxFrameAge every send would wait for the slot and none would be
// refused; with it, sends older than 50 ms that find the slot taken are
// answered `unavailable` without waiting. Every frame is answered, and
// the refused ones, sent again with the same client_msg_id, are stored
// once each, in the order acked.
func TestOldSendsAreRefusedAtOnceWhenTheNodeIsBehind(t *testing.T) {
	cl := apitest.NewCluster(t, 1, apitest.Options{})
	node := cl.StartNodeWith(apitest.NodeSetup{
		Store: func(s store.Store) store.Store { return slowInserts{s, 100 * time.Millisecond} },
		Tweak: []apitest.NodeOptions{func(o *gateway.Options) {
			o.MaxStoreInFlight = 2 // one send slot, one kept for recovery
			o.StoreQueueWait = time.Minute
			o.StoreMaxFrameAge = 50 * time.Millisecond
		}},
	})
	const senders, each = 3, 6
	type sender struct {
		ws   *apitest.WS
		peer *apitest.User
		room string
	}
	var ss []sender
	for i := range senders {
		a, b := cl.Register(fmt.Sprintf("ov%d", i)), cl.Register(fmt.Sprintf("ovp%d", i))
		room := cl.Befriend(a, b)
		ss = append(ss, sender{apitest.DialWS(t, node.URL, a.Token), b, room})
	}
	cl.Settle()

	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		refused int
	)
	for i, s := range ss {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range each { // pipelined: all before the first answer
				if err := s.ws.SendMsg(s.room, "m", fmt.Sprintf("ov-%d-%d", i, k)); err != nil {
					t.Error(err)
					return
				}
			}
			for k := range each {
				cmid := fmt.Sprintf("ov-%d-%d", i, k)
				o, err := s.ws.Ack(cmid, wait)
				if err != nil {
					t.Errorf("no answer to %s: %v", cmid, err)
					return
				}
				if o.Type == protocol.TypeAck {
					continue
				}
				if o.Code != protocol.CodeUnavailable || o.RetryAfterMS <= 0 {
					t.Errorf("%s: %+v, want an ack or unavailable with retry_after_ms", cmid, o)
					return
				}
				mu.Lock()
				refused++
				mu.Unlock()
				if _, _, err := s.ws.SendReliably(s.room, "m", cmid, 20, wait); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if refused == 0 {
		t.Fatal("no send was refused: with a minute's wait for the slot, old sends should be answered at once")
	}
	t.Logf("%d of %d sends refused at first, all stored after a retry", refused, senders*each)
	for i, s := range ss {
		ids, seqs, _ := historyAfter(t, cl, s.peer.Token, s.room, 0)
		seen := map[string]bool{}
		for j, id := range ids {
			if seen[id] || (j > 0 && seqs[j] <= seqs[j-1]) {
				t.Fatalf("sender %d: history %v %v has a duplicate or is out of order", i, ids, seqs)
			}
			seen[id] = true
		}
		if len(ids) != each {
			t.Fatalf("sender %d: %d messages stored, want %d", i, len(ids), each)
		}
	}
}
